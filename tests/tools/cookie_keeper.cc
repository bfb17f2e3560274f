// cookie_keeper: the NTS client of tests/integration/crash_safety_test.sh.
// Keeps NTS sessions (keys + cookies) across ntsd restarts in a store file in
// the upstream client's cookie-jar format (clock/cookie_file.h, written
// atomically), and checks later that the server still opens every cookie.
//
//   cookie_keeper fetch --ke-port P --ca FILE --store FILE
//       one NTS-KE against 127.0.0.1:P (TLS verified with FILE); the session
//       is appended to the store (at most 256 sessions).
//   cookie_keeper check --store FILE --port P [--timeout-ms N]
//       for every stored session and each of its cookies, one NTS request
//       (the cookie, no placeholder) to 127.0.0.1:P — P, because the NTP port
//       of a restarted `--port 0` ntsd is not the one the KE reply named;
//       the reply must verify (s2c key, Unique Identifier, one fresh cookie).
//       Prints one JSON line; exit 0 only if every cookie verified.
//   cookie_keeper inspect --store FILE
//       exit 0 if FILE is missing or a whole, parseable cookie jar (what ntsd's
//       own `nts cookie` file must be after a kill -9), 1 otherwise.
//
// Loopback only; every wait is bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "clock/cookie_file.h"
#include "clock/nts_codec.h"
#include "clock/nts_ke.h"
#include "crypto/aead.h"

namespace {

namespace clock = ntsd::clock;
namespace crypto = ntsd::crypto;

struct Options {
  std::string command;
  std::string store;
  std::string ca;
  uint16_t ke_port = 0;
  uint16_t port = 0;
  int timeout_ms = 500;
};

int usage() {
  std::fprintf(stderr,
               "usage: cookie_keeper fetch --ke-port P --ca FILE --store FILE\n"
               "       cookie_keeper check --store FILE --port P [--timeout-ms N]\n"
               "       cookie_keeper inspect --store FILE\n");
  return 2;
}

bool parse_port(const char* text, uint16_t& out) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

std::optional<Options> parse(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  Options o;
  o.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return std::nullopt;
    const char* v = argv[++i];
    if (a == "--store") {
      o.store = v;
    } else if (a == "--ca") {
      o.ca = v;
    } else if (a == "--ke-port") {
      if (!parse_port(v, o.ke_port)) return std::nullopt;
    } else if (a == "--port") {
      if (!parse_port(v, o.port)) return std::nullopt;
    } else if (a == "--timeout-ms") {
      o.timeout_ms = std::atoi(v);
      if (o.timeout_ms < 10 || o.timeout_ms > 10000) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (o.store.empty()) return std::nullopt;
  if (o.command == "fetch" && (o.ke_port == 0 || o.ca.empty())) return std::nullopt;
  if (o.command == "check" && o.port == 0) return std::nullopt;
  if (o.command != "fetch" && o.command != "check" && o.command != "inspect") return std::nullopt;
  return o;
}

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// The store must be whole and ours: a missing file is an empty store; anything else is an error.
bool load_store(const std::string& path, std::vector<clock::PersistedSession>& sessions) {
  clock::CookieLoadOptions load_options;
  load_options.now = unix_now();
  clock::CookieFileLoad load = clock::load_cookie_file(path, load_options);
  for (const std::string& w : load.warnings) std::fprintf(stderr, "cookie_keeper: %s\n", w.c_str());
  if (load.kind == clock::CookieFileKind::kMissing) return true;
  if (load.kind != clock::CookieFileKind::kOurs || load.dropped_stale != 0) return false;
  sessions = std::move(load.sessions);
  return true;
}

int fetch(const Options& o) {
  std::vector<clock::PersistedSession> sessions;
  if (!load_store(o.store, sessions)) {
    std::fprintf(stderr, "cookie_keeper: store %s is not a whole cookie jar\n", o.store.c_str());
    return 1;
  }
  if (sessions.size() >= clock::kMaxPersistedSessions) {
    std::fprintf(stderr, "cookie_keeper: store %s is full (256 sessions)\n", o.store.c_str());
    return 1;
  }
  clock::KeTarget target;
  target.host = "127.0.0.1";
  target.port = o.ke_port;
  target.ca = o.ca;
  target.timeout_ms = 3000;
  std::string error;
  std::optional<clock::NtsSession> session = clock::establish_session(target, &error);
  if (!session) {
    std::fprintf(stderr, "cookie_keeper: NTS-KE with 127.0.0.1:%u failed: %s\n", o.ke_port,
                 error.c_str());
    return 1;
  }
  clock::PersistedSession p;
  // The cookie-jar format keys sessions by NTS-KE server; each fetch is its own entry.
  p.ke_server =
      "fetch" + std::to_string(sessions.size() + 1) + "@127.0.0.1:" + std::to_string(o.ke_port);
  p.ke_time = unix_now();
  p.aead = static_cast<uint16_t>(session->aead);
  p.ntp_host = session->ntp_host.empty() ? "127.0.0.1" : session->ntp_host;
  p.ntp_port = session->ntp_port;
  const crypto::Bytes c2s = session->c2s_key.bytes(), s2c = session->s2c_key.bytes();
  p.c2s.assign(c2s.begin(), c2s.end());
  p.s2c.assign(s2c.begin(), s2c.end());
  p.cookies = session->jar.cookies();
  const size_t cookies = p.cookies.size();
  sessions.push_back(std::move(p));
  if (!clock::save_cookie_file(o.store, sessions, error)) {
    std::fprintf(stderr, "cookie_keeper: cannot save %s: %s\n", o.store.c_str(), error.c_str());
    return 1;
  }
  std::printf("{\"sessions\":%zu,\"cookies\":%zu}\n", sessions.size(), cookies);
  return 0;
}

enum class Outcome { kVerified, kNak, kTimeout, kFailed };

// One request with `cookie`, its reply awaited up to timeout_ms (one resend after a timeout).
Outcome exchange(int fd, const clock::PersistedSession& p, crypto::AeadId aead,
                 const std::vector<uint8_t>& cookie, int timeout_ms, std::mt19937_64& rng) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::vector<std::vector<uint8_t>> one = {cookie};
    clock::NtsSession session = clock::make_session(aead, crypto::Bytes(p.c2s.data(), p.c2s.size()),
                                                    crypto::Bytes(p.s2c.data(), p.s2c.size()), one);
    if (!session.c2s || !session.s2c) return Outcome::kFailed;
    std::array<uint8_t, clock::kUniqueIdLength> uid{};
    for (size_t i = 0; i < uid.size(); i += 8) {
      const uint64_t word = rng();
      std::memcpy(uid.data() + i, &word, 8);
    }
    std::array<uint8_t, clock::kMaxRequestLength> request{};
    clock::RequestRecord record;
    const size_t length =
        clock::build_nts_request_with_placeholders(session, rng() | 1, uid, 0, request, record);
    if (length == 0) return Outcome::kFailed;
    if (::send(fd, request.data(), length, 0) != static_cast<ssize_t>(length))
      return Outcome::kFailed;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;  // re-checks the deadline
      std::array<uint8_t, 2048> reply{};
      const ssize_t n = ::recv(fd, reply.data(), reply.size(), 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Outcome::kFailed;  // e.g. ECONNREFUSED: nobody listens
      }
      const clock::ReplyVerdict verdict = clock::verify_nts_reply(
          session, record, std::span<const uint8_t>(reply.data(), static_cast<size_t>(n)),
          clock::CookieCount::kAtMostAsked);
      if (verdict == clock::ReplyVerdict::kFailed) continue;  // a late reply to an earlier attempt
      if (verdict == clock::ReplyVerdict::kVerified) return Outcome::kVerified;
      if (verdict == clock::ReplyVerdict::kNak) return Outcome::kNak;
      return Outcome::kFailed;
    }
  }
  return Outcome::kTimeout;
}

int check(const Options& o) {
  std::vector<clock::PersistedSession> sessions;
  if (!load_store(o.store, sessions)) {
    std::fprintf(stderr, "cookie_keeper: store %s is not a whole cookie jar\n", o.store.c_str());
    return 1;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(o.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    std::perror("cookie_keeper: socket");
    return 1;
  }
  std::mt19937_64 rng(std::random_device{}());
  size_t cookies = 0, verified = 0, naks = 0, timeouts = 0, failed = 0;
  for (const clock::PersistedSession& p : sessions) {
    const std::optional<crypto::AeadId> aead = crypto::aead_from_wire(p.aead);
    for (const std::vector<uint8_t>& cookie : p.cookies) {
      ++cookies;
      const Outcome outcome =
          aead ? exchange(fd, p, *aead, cookie, o.timeout_ms, rng) : Outcome::kFailed;
      switch (outcome) {
        case Outcome::kVerified:
          ++verified;
          break;
        case Outcome::kNak:
          ++naks;
          break;
        case Outcome::kTimeout:
          ++timeouts;
          break;
        case Outcome::kFailed:
          ++failed;
          break;
      }
      if (outcome != Outcome::kVerified) {
        std::fprintf(stderr, "cookie_keeper: %s (ke-time %lld) cookie %zu: %s\n",
                     p.ke_server.c_str(), static_cast<long long>(p.ke_time), cookies,
                     outcome == Outcome::kNak       ? "NAK"
                     : outcome == Outcome::kTimeout ? "timeout"
                                                    : "failed");
      }
    }
  }
  ::close(fd);
  std::printf(
      "{\"sessions\":%zu,\"cookies\":%zu,\"verified\":%zu,\"nak\":%zu,\"timeout\":%zu,\"failed\":%"
      "zu}\n",
      sessions.size(), cookies, verified, naks, timeouts, failed);
  return cookies == verified ? 0 : 1;
}

int inspect(const Options& o) {
  clock::CookieLoadOptions load_options;
  load_options.now = unix_now();
  const clock::CookieFileLoad load = clock::load_cookie_file(o.store, load_options);
  for (const std::string& w : load.warnings) std::fprintf(stderr, "cookie_keeper: %s\n", w.c_str());
  const char* kind = "other";
  switch (load.kind) {
    case clock::CookieFileKind::kMissing:
      kind = "missing";
      break;
    case clock::CookieFileKind::kEmpty:
      kind = "empty";
      break;
    case clock::CookieFileKind::kOurs:
      kind = "ours";
      break;
    case clock::CookieFileKind::kCorrupt:
      kind = "corrupt";
      break;
    case clock::CookieFileKind::kForeign:
      kind = "foreign";
      break;
    case clock::CookieFileKind::kUnreadable:
      kind = "unreadable";
      break;
  }
  std::printf("{\"kind\":\"%s\",\"sessions\":%zu}\n", kind, load.sessions.size());
  const bool whole = load.kind == clock::CookieFileKind::kMissing ||
                     (load.kind == clock::CookieFileKind::kOurs && load.warnings.empty());
  return whole ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> o = parse(argc, argv);
  if (!o) return usage();
  if (o->command == "fetch") return fetch(*o);
  if (o->command == "check") return check(*o);
  return inspect(*o);
}
