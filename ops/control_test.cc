#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "ops/control_client.h"
#include "ops/control_protocol.h"
#include "ops/control_render.h"
#include "ops/control_server.h"
#include "ops/status_json.h"

namespace ntsd::ops {
namespace {

using nlohmann::json;

// A fixed snapshot: the daemon's StatusCollector is exercised by the
// integration test against the real binary; here the protocol and rendering.
class FixedSource final : public StatusSource {
 public:
  DaemonStatus collect() const override {
    DaemonStatus s;
    s.now_unix_ns = 1'800'000'000LL * 1'000'000'000;
    s.started_unix_ns = s.now_unix_ns - 90LL * 1'000'000'000;
    s.build.version = "0.1.0";
    s.served = server::local_reference_state();
    s.server.workers.resize(2);
    s.server.workers[0].received = 10;
    s.server.workers[0].replied = 9;
    s.server.workers[0].dropped[static_cast<size_t>(server::DropReason::kTooShort)] = 1;
    s.server.workers[1].received = 5;
    s.server.workers[1].replied = 5;
    s.server.workers[1].nts_replied = 4;
    s.server.total.received = 15;
    s.server.total.replied = 14;
    s.server.total.nts_replied = 4;
    s.server.total.dropped[static_cast<size_t>(server::DropReason::kTooShort)] = 1;
    s.server.total.cookie_key_age[0] = 4;
    s.server.endpoints = {"127.0.0.1:11123"};
    s.server.io_backend = "io_uring";
    NtsSection n;
    n.ke.handshakes_ok = 3;
    n.ke.tls13 = 3;
    n.ke.aead_siv256 = 3;
    n.keys = {20000, 86400, 20001LL * 86400, 14};
    n.ke_port = 14460;
    n.certificate = "CN=demo";
    s.nts = n;
    ClockSection c;
    clock::SourceReport src;
    src.name = "upstream.example:4460";
    src.address = "192.0.2.1:123";
    src.nts = true;
    src.status = clock::SourceStatus::kSystemPeer;
    src.state = clock::SourceState::kPolling;
    src.reach = 0377;
    src.poll = 6;
    src.valid = true;
    src.offset = -0.000012;
    src.delay = 0.000345;
    src.jitter = 0.000006;
    src.cookies = 7;
    src.last_ke_ns = s.now_unix_ns - 120LL * 1'000'000'000;
    c.sources.push_back(src);
    clock::SourceReport dead;
    dead.name = "dead.example";
    dead.status = clock::SourceStatus::kUnusable;
    dead.unfit = clock::Unfit::kNoData;
    c.sources.push_back(dead);
    c.system.sync = clock::SyncStatus::kSynchronized;
    c.discipline.stats.valid = true;
    c.discipline.stats.offset = 0.0000021;
    c.discipline.stats.drift_ppm = -12.5;
    s.clock = c;
    return s;
  }
  ClientsSection clients(size_t limit) const override {
    ClientsSection c;
    c.tracked = true;
    c.entries = 1;
    c.capacity = 65536;
    const int64_t now = collect().now_unix_ns;
    c.busiest.push_back({"127.0.0.1", 0, 100, 3, 1, now - 10'000'000'000, now - 1'000'000'000, 70, 64});
    c.busiest.resize(std::min<size_t>(limit, 1));
    return c;
  }
};

class RecordingActions final : public Actions {
 public:
  bool reload_certificate(std::string* message) override {
    ++reloads;
    *message = "certificate reloaded: CN=demo";
    return true;
  }
  bool rotate_key(std::string* message) override {
    *message = "rotate: already ahead";
    return false;
  }
  int reloads = 0;
};

TEST(ControlProtocol, ParsesCommandsAndArguments) {
  std::string error;
  EXPECT_EQ(parse_request("status", &error)->command, Command::kStatus);
  EXPECT_EQ(parse_request("sources\n", &error)->command, Command::kSources);
  EXPECT_EQ(parse_request("  server \r\n", &error)->command, Command::kServer);
  EXPECT_EQ(parse_request("clients", &error)->rows, kDefaultClientRows);
  EXPECT_EQ(parse_request("clients\t7", &error)->rows, 7u);
  EXPECT_EQ(request_line(*parse_request("clients 7", &error)), "clients 7");
  EXPECT_EQ(request_line(*parse_request("rotate", &error)), "rotate");
}

TEST(ControlProtocol, RejectsMalformedRequests) {
  std::string error;
  for (const char* bad : {"", "   ", "bogus", "status now", "clients 0", "clients 1001", "clients -1", "clients 5x",
                          "clients 5 6", "STATUS", "status\x01", "stat\xc3\xa9"}) {
    EXPECT_FALSE(parse_request(bad, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
  EXPECT_FALSE(parse_request(std::string(kMaxRequestBytes + 1, 'a'), &error));
  EXPECT_NE(error.find("longer"), std::string::npos);
  EXPECT_FALSE(parse_request(std::string_view("sta\0tus", 7), &error));
}

TEST(ControlProtocol, PrivilegedIsRootOrTheSocketGroup) {
  EXPECT_TRUE(may_run_privileged({1, 0, 0, {}}, 118));
  EXPECT_TRUE(may_run_privileged({1, 1000, 118, {}}, 118));
  EXPECT_TRUE(may_run_privileged({1, 1000, 1000, {4, 118}}, 118));
  EXPECT_FALSE(may_run_privileged({1, 65534, 65534, {4}}, 118));
}

TEST(ControlProtocol, AnswersWithJson) {
  FixedSource source;
  RecordingActions actions;
  json reply = json::parse(answer_request("status", false, source, &actions));
  EXPECT_TRUE(reply["ok"]);
  EXPECT_EQ(reply["command"], "status");
  EXPECT_EQ(reply["data"]["stratum"], 10);
  EXPECT_EQ(reply["data"]["refid"], "127.127.1.1");
  EXPECT_EQ(reply["data"]["sync"], "synchronized");
  EXPECT_EQ(reply["data"]["system_peer"], "upstream.example:4460");
  EXPECT_DOUBLE_EQ(reply["data"]["frequency_ppm"].get<double>(), -12.5);

  reply = json::parse(answer_request("server", false, source, &actions));
  EXPECT_EQ(reply["data"]["total"]["received"], 15);
  EXPECT_EQ(reply["data"]["workers"].size(), 2u);
  EXPECT_EQ(reply["data"]["total"]["dropped_by_reason"]["too_short"], 1);

  reply = json::parse(answer_request("sources", false, source, &actions));
  EXPECT_EQ(reply["data"]["sources"][0]["selection"], "selected");
  EXPECT_EQ(reply["data"]["sources"][1]["selection"], "unreachable");
  EXPECT_EQ(reply["data"]["sources"][0]["cookies"], 7);

  reply = json::parse(answer_request("nts", false, source, &actions));
  EXPECT_EQ(reply["data"]["keys"]["current_epoch"], 20000);
  EXPECT_EQ(reply["data"]["ke"]["tls_versions"]["TLSv1.3"], 3);
  EXPECT_EQ(reply["data"]["cookie_opens_by_key_age"]["current"], 4);

  reply = json::parse(answer_request("clients 5", false, source, &actions));
  EXPECT_EQ(reply["data"]["clients"][0]["address"], "127.0.0.1");
  // The bucket drained one second since the last request: 69 of 64 + 8: limited.
  EXPECT_EQ(reply["data"]["clients"][0]["bucket_s"], 69);
  EXPECT_EQ(reply["data"]["clients"][0]["state"], "limited");
}

TEST(ControlProtocol, PrivilegedCommandsNeedPrivilege) {
  FixedSource source;
  RecordingActions actions;
  json reply = json::parse(answer_request("reload", false, source, &actions));
  EXPECT_FALSE(reply["ok"]);
  EXPECT_NE(reply["error"].get<std::string>().find("permission denied"), std::string::npos);
  EXPECT_EQ(actions.reloads, 0);
  reply = json::parse(answer_request("reload", true, source, &actions));
  EXPECT_TRUE(reply["ok"]);
  EXPECT_EQ(actions.reloads, 1);
  reply = json::parse(answer_request("rotate", true, source, &actions));
  EXPECT_FALSE(reply["ok"]);
  EXPECT_EQ(reply["error"], "rotate: already ahead");
  reply = json::parse(answer_request("rotate", true, source, nullptr));
  EXPECT_FALSE(reply["ok"]);
  reply = json::parse(answer_request("nonsense", true, source, &actions));
  EXPECT_FALSE(reply["ok"]);
}

TEST(ControlRender, Tables) {
  FixedSource source;
  const DaemonStatus s = source.collect();
  const std::string status = render_text(Command::kStatus, status_json(s));
  EXPECT_NE(status.find("stratum          10\n"), std::string::npos) << status;
  EXPECT_NE(status.find("frequency        -12.500 ppm"), std::string::npos) << status;
  EXPECT_NE(status.find("offset           +2.100us"), std::string::npos) << status;
  const std::string sources = render_text(Command::kSources, sources_json(s));
  EXPECT_NE(sources.find("*  upstream.example:4460  192.0.2.1:123  selected"), std::string::npos) << sources;
  EXPECT_NE(sources.find("377    64    -12.000us  345.000us  6.000us  7        120s ago"), std::string::npos) << sources;
  const std::string server = render_text(Command::kServer, server_json(s));
  EXPECT_NE(server.find("total   15        14       4"), std::string::npos) << server;
  EXPECT_NE(server.find("drops by reason  too_short 1"), std::string::npos) << server;
  const std::string nts = render_text(Command::kNts, nts_json(s));
  EXPECT_NE(nts.find("TLS versions     TLSv1.3 3"), std::string::npos) << nts;
  const std::string clients = render_text(Command::kClients, clients_json(source.clients(20), s.now_unix_ns));
  EXPECT_NE(clients.find("127.0.0.1  0       100       3        1    90.909ms      1s ago  69/64 s  limited"), std::string::npos) << clients;
  EXPECT_NE(render_text(Command::kClients, clients_json({}, 0)).find("restrict"), std::string::npos);
  EXPECT_EQ(human_seconds(-0.0000123, true), "-12.300us");
  EXPECT_EQ(human_seconds(1.5, false), "1.500s");
  EXPECT_EQ(human_age(3600), "60m");
}

std::string temp_dir() {
  // Not TEST_TMPDIR: a Unix socket path must fit in 107 bytes.
  char tmpl[] = "/tmp/ntsd-control-XXXXXX";
  return ::mkdtemp(tmpl);
}

ControlSocketOptions options_in(const std::string& dir) {
  ControlSocketOptions o;
  o.path = dir + "/ntsd.sock";
  o.owner = ::geteuid();
  o.group = ::getegid();
  o.timeout_ms = 500;
  return o;
}

TEST(ControlServer, ServesRequestsOnARealSocket) {
  const std::string dir = temp_dir();
  FixedSource source;
  RecordingActions actions;
  std::string error;
  auto server = ControlServer::bind(options_in(dir), &error);
  ASSERT_TRUE(server) << error;
  struct stat st {};
  ASSERT_EQ(::stat(server->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  server->start(source, &actions, nullptr);
  ControlReply r = control_request(server->path(), "status", 2000);
  ASSERT_EQ(r.failure, ControlFailure::kNone) << r.error;
  EXPECT_EQ(json::parse(r.line)["data"]["stratum"], 10);
  // Privileged: this test's own uid/gid is in the socket's group.
  r = control_request(server->path(), "reload", 2000);
  EXPECT_TRUE(json::parse(r.line)["ok"]);
  // Too long: refused with an error reply, not a hang.
  r = control_request(server->path(), std::string(300, 'x'), 2000);
  ASSERT_EQ(r.failure, ControlFailure::kNone) << r.error;
  EXPECT_FALSE(json::parse(r.line)["ok"]);

  // Silent clients hold their slot until the deadline, then lose it; the
  // extra ones are told "busy"; nobody blocks the server for good.
  std::vector<int> silent;
  for (int i = 0; i < 6; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, server->path().c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    silent.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  r = control_request(server->path(), "status", 2000);
  ASSERT_EQ(r.failure, ControlFailure::kNone) << r.error;
  const bool busy_or_ok = r.line.find("busy") != std::string::npos || json::parse(r.line)["ok"] == true;
  EXPECT_TRUE(busy_or_ok) << r.line;
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past the 500 ms deadline
  r = control_request(server->path(), "server", 2000);
  ASSERT_EQ(r.failure, ControlFailure::kNone) << r.error;
  EXPECT_TRUE(json::parse(r.line)["ok"]) << r.line;
  for (int fd : silent) ::close(fd);

  const std::string path = server->path();
  server.reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // removed at stop
  r = control_request(path, "status", 500);
  EXPECT_EQ(r.failure, ControlFailure::kNoSocket);
  std::filesystem::remove_all(dir);
}

TEST(ControlServer, StaleLiveAndForeignFiles) {
  const std::string dir = temp_dir();
  const ControlSocketOptions options = options_in(dir);
  std::string error;
  // A stale socket (bound, then its process gone: closed without unlink).
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, options.path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  auto first = ControlServer::bind(options, &error);
  ASSERT_TRUE(first) << error;
  // A live one is not taken over.
  auto second = ControlServer::bind(options, &error);
  EXPECT_FALSE(second);
  EXPECT_NE(error.find("another process"), std::string::npos) << error;
  second.reset();
  EXPECT_EQ(::access(options.path.c_str(), F_OK), 0);  // still the first one's
  first.reset();
  // A regular file is never removed.
  const int f = ::open(options.path.c_str(), O_CREAT | O_WRONLY, 0600);
  ::close(f);
  EXPECT_FALSE(ControlServer::bind(options, &error));
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  EXPECT_EQ(::access(options.path.c_str(), F_OK), 0);
  // A missing folder is created (one level), mode 0750.
  ControlSocketOptions nested = options;
  nested.path = dir + "/run/ntsd.sock";
  auto third = ControlServer::bind(nested, &error);
  ASSERT_TRUE(third) << error;
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  third.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ntsd::ops
