#include "server/mode6_responder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ntsd::server {
namespace {

using proto::Mode6Error;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

std::vector<uint8_t> request(uint8_t opcode, uint16_t association, const std::string& names = "",
                             size_t pad_to = 0) {
  // As NTPsec 1.2.2's ntpq sends it: LI 3, VN 2, mode 6, sequence 7, data padded to 4.
  std::vector<uint8_t> p = {0xd6, opcode, 0, 7, 0, 0, static_cast<uint8_t>(association >> 8),
                            static_cast<uint8_t>(association), 0, 0, static_cast<uint8_t>(names.size() >> 8),
                            static_cast<uint8_t>(names.size())};
  p.insert(p.end(), names.begin(), names.end());
  while (p.size() % 4 != 0 || p.size() < pad_to) p.push_back(0);
  return p;
}

clock::SourceReport source(const std::string& address, bool nts, clock::SourceStatus status) {
  clock::SourceReport r;
  r.name = nts ? "time.example:4460" : address;
  r.address = address;
  r.nts = nts;
  r.state = clock::SourceState::kPolling;
  r.status = status;
  r.reach = 0xff;
  r.poll = 6;
  r.stratum = 1;
  r.valid = true;
  r.header.stratum = 1;
  r.header.reference_id = 0x47505300;  // "GPS"
  r.header.root_delay = 0.0005;
  r.offset = 0.000123;
  r.delay = 0.0021;
  r.jitter = 0.00005;
  r.cookies = 7;
  r.counters.verified = 10;
  r.sample_time_ns = kNow - 5'000'000'000;
  return r;
}

ops::DaemonStatus status_with_sources(size_t n = 2) {
  ops::DaemonStatus s;
  s.now_unix_ns = kNow;
  s.started_unix_ns = kNow - 3600'000'000'000;
  s.build.version = "0.1.0";
  s.served.leap = proto::Leap::kNone;
  s.served.stratum = 2;
  s.served.precision = -24;
  s.served.reference_id = 0xc0000201;
  s.served.root_delay = proto::NtpShort{0x00000080};       // 1.953 ms
  s.served.root_dispersion = proto::NtpShort{0x00000100};  // 3.906 ms
  s.server.total.received = 1234;
  s.server.total.replied = 1200;
  s.server.total.nts_replied = 900;
  s.server.total.batches = 50;
  s.server.total.dropped[static_cast<size_t>(DropReason::kTooShort)] = 4;
  s.server.total.dropped[static_cast<size_t>(DropReason::kRestricted)] = 30;
  s.server.total.cookie_key_age[static_cast<size_t>(KeyAge::kCurrent)] = 800;
  s.server.total.cookie_key_age[static_cast<size_t>(KeyAge::kPrevious)] = 90;
  s.server.total.cookie_key_age[static_cast<size_t>(KeyAge::kOlder)] = 10;
  s.server.total.naks[static_cast<size_t>(NakReason::kExpiredKey)] = 3;
  s.server.total.naks[static_cast<size_t>(NakReason::kTampered)] = 2;
  ops::NtsSection nts;
  nts.ke.responses_cookies = 40;
  nts.ke.cookies_issued = 320;
  nts.ke.handshake_failed_tls = 1;
  s.nts = nts;
  ops::ClockSection c;
  c.system.sync = clock::SyncStatus::kSynchronized;
  c.system.jitter = 0.0001;
  c.discipline.stats.valid = true;
  c.discipline.stats.offset = -0.00025;
  c.discipline.stats.drift_ppm = 12.5;
  c.discipline.stats.time_constant = 6;
  for (size_t i = 0; i < n; ++i) {
    c.sources.push_back(source("192.0.2." + std::to_string(i + 1) + ":123", i == 0,
                               i == 0 ? clock::SourceStatus::kSystemPeer : clock::SourceStatus::kCandidate));
  }
  s.clock = c;
  return s;
}

std::string body_of(const Mode6Reply& reply) {
  std::string body;
  for (size_t i = 0; i < reply.count; ++i) {
    const auto& f = reply.fragments[i];
    const size_t count = size_t{f[10]} << 8 | f[11];
    body.append(reinterpret_cast<const char*>(f.data()) + 12, count);
  }
  return body;
}

uint16_t status_of(const Mode6Reply& reply) { return reply.fragments[0][4] << 8 | reply.fragments[0][5]; }

void expect_no_amplification(const std::vector<uint8_t>& req, const Mode6Reply& reply) {
  ASSERT_GE(reply.count, 1u);
  if (reply.wire_size() > req.size()) {
    EXPECT_EQ(reply.count, 1u) << "a short request got several fragments";
  }
  for (size_t i = 0; i < reply.count; ++i) {
    EXPECT_LE(reply.sizes[i], proto::kMode6MaxFragment);
    EXPECT_EQ(reply.sizes[i] % 4, 0u);
  }
}

TEST(Mode6Responder, readstat_lists_associations_and_status_words) {
  const auto s = status_with_sources();
  const auto req = request(1, 0);
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  ASSERT_EQ(reply.count, 1u);
  // Header: response to READSTAT, sequence echoed, system status word:
  // leap none, sync source NTP (6), no events.
  EXPECT_EQ(reply.fragments[0][0], 0x16);
  EXPECT_EQ(reply.fragments[0][1], 0x81);
  EXPECT_EQ(reply.fragments[0][3], 7);
  EXPECT_EQ(status_of(reply), 0x0600);
  // Association 1: configured, auth enabled, authentic, reachable, sys.peer
  // (0xf6); association 2: configured, reachable, candidate (0x94).
  const std::string want = {0, 1, static_cast<char>(0xf6), 0, 0, 2, static_cast<char>(0x94), 0};
  EXPECT_EQ(body_of(reply), want);
  expect_no_amplification(req, reply);
}

TEST(Mode6Responder, rv_gives_the_system_summary_in_one_fragment) {
  const auto s = status_with_sources();
  const auto req = request(2, 0);
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  ASSERT_EQ(reply.count, 1u);
  const std::string body = body_of(reply);
  EXPECT_NE(body.find("version=\"ntsd 0.1.0\", leap=0, stratum=2, precision=-24"), std::string::npos) << body;
  EXPECT_NE(body.find("rootdelay=1.953"), std::string::npos) << body;
  EXPECT_NE(body.find("rootdisp=3.906"), std::string::npos) << body;
  EXPECT_NE(body.find("refid=192.0.2.1"), std::string::npos) << body;
  EXPECT_NE(body.find("peer=1"), std::string::npos) << body;
  EXPECT_NE(body.find("offset=-0.250000"), std::string::npos) << body;
  EXPECT_NE(body.find("frequency=12.500000"), std::string::npos) << body;
  EXPECT_NE(body.find("clk_wander="), std::string::npos) << body;
  EXPECT_EQ(body.substr(body.size() - 2), "\r\n");
  for (size_t pos = 0; (pos = body.find("\r\n", pos)) != std::string::npos; pos += 2) {
    EXPECT_EQ(body[pos - 1], pos + 2 == body.size() ? body[pos - 1] : ',');  // breaks follow a comma
  }
}

TEST(Mode6Responder, sysinfo_names_in_the_order_asked) {
  const auto s = status_with_sources();
  const auto req = request(2, 0,
                           "peeradr,peermode,leap,stratum,precision,rootdelay,rootdisp,rootdist,refid,reftime,"
                           "sys_jitter,clk_jitter,clk_wander,authdelay");
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  const std::string body = body_of(reply);
  EXPECT_EQ(body.rfind("peeradr=192.0.2.1:123, peermode=3, leap=0, stratum=2,", 0), 0u) << body;
  EXPECT_NE(body.find("rootdist=4.883"), std::string::npos) << body;  // 1.953 / 2 + 3.906
  EXPECT_NE(body.find("authdelay=0.000"), std::string::npos) << body;
  expect_no_amplification(req, reply);
}

TEST(Mode6Responder, ntsinfo_maps_ntsd_counters) {
  const auto s = status_with_sources();
  const auto req = request(
      2, 0,
      "nts_client_send,nts_client_recv_good,nts_client_recv_bad,nts_server_recv_good,nts_server_recv_bad,"
      "nts_server_send,nts_cookie_make,nts_cookie_decode,nts_cookie_decode_old,nts_cookie_decode_old2,"
      "nts_cookie_decode_older,nts_cookie_decode_too_old,nts_cookie_decode_error,nts_ke_probes_good,"
      "nts_ke_probes_bad,nts_ke_serves_good,nts_ke_serves_bad");
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  ASSERT_EQ(reply.count, 1u);
  const std::string body = body_of(reply);
  for (const char* want :
       {"nts_client_recv_good=10", "nts_server_recv_good=900", "nts_server_recv_bad=5", "nts_server_send=900",
        "nts_cookie_make=1220", "nts_cookie_decode=800", "nts_cookie_decode_old=90", "nts_cookie_decode_older=10",
        "nts_cookie_decode_too_old=3", "nts_cookie_decode_error=2", "nts_ke_serves_good=40",
        "nts_ke_serves_bad=1"}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << " in " << body;
  }
}

TEST(Mode6Responder, iostats) {
  const auto s = status_with_sources();
  const auto req = request(2, 0,
                           "iostats_reset,total_rbuf,free_rbuf,used_rbuf,rbuf_lowater,io_dropped,io_ignored,"
                           "io_received,io_sent,io_sendfailed,io_wakeups,io_goodwakeups");
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  const std::string body = body_of(reply);
  for (const char* want : {"iostats_reset=3600", "io_dropped=4", "io_ignored=30", "io_received=1234",
                           "io_sent=1200", "io_wakeups=50"}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << " in " << body;
  }
}

TEST(Mode6Responder, peer_variables_for_ntpq_peers) {
  const auto s = status_with_sources();
  const auto req = request(2, 1);
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  ASSERT_EQ(reply.count, 1u);
  EXPECT_EQ(status_of(reply), 0xf600);
  const std::string body = body_of(reply);
  for (const char* want : {"srcadr=192.0.2.1", "srcport=123", "srchost=\"time.example:4460\"", "hmode=3",
                           "stratum=1", "refid=GPS", "reach=0xff", "hpoll=6", "delay=2.100000",
                           "offset=0.123000", "ntscookies=7"}) {
    EXPECT_NE(body.find(want), std::string::npos) << want << " in " << body;
  }
  // A plain source has no cookie count (ntpq shows 'u', not a digit).
  ASSERT_EQ(respond_mode6(request(2, 2), s, kNow, &reply), Mode6Outcome::kAnswered);
  EXPECT_EQ(body_of(reply).find("ntscookies"), std::string::npos);
}

TEST(Mode6Responder, local_reference_without_upstreams) {
  ops::DaemonStatus s;
  s.build.version = "0.1.0";
  s.served = local_reference_state();
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(request(1, 0), s, kNow, &reply), Mode6Outcome::kAnswered);
  EXPECT_EQ(body_of(reply), "");
  EXPECT_EQ(status_of(reply), 0x0500);  // sync_local
  ASSERT_EQ(respond_mode6(request(2, 0), s, kNow, &reply), Mode6Outcome::kAnswered);
  EXPECT_NE(body_of(reply).find("stratum=10, "), std::string::npos);
  EXPECT_NE(body_of(reply).find("refid=127.127.1.1"), std::string::npos);
}

TEST(Mode6Responder, respond_reject_writes_as_prohibited) {
  const auto s = status_with_sources();
  for (uint8_t opcode : {3, 5, 6, 8, 9, 31}) {
    const auto req = request(opcode, 0, "stratum=1");
    Mode6Reply reply;
    ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kRefused) << int{opcode};
    ASSERT_EQ(reply.count, 1u);
    EXPECT_EQ(reply.sizes[0], 12u);
    EXPECT_EQ(reply.fragments[0][1], 0xc0 | opcode);  // R and E
    EXPECT_EQ(status_of(reply), 0x0700);              // administratively prohibited
  }
}

TEST(Mode6Responder, respond_reject_unimplemented_opcodes) {
  const auto s = status_with_sources();
  for (uint8_t opcode : {0, 4, 7, 10, 11, 12, 20}) {
    Mode6Reply reply;
    ASSERT_EQ(respond_mode6(request(opcode, 0), s, kNow, &reply), Mode6Outcome::kRefused) << int{opcode};
    EXPECT_EQ(reply.error, Mode6Error::kBadOpcode);
  }
}

TEST(Mode6Responder, respond_reject_unknown_association_and_variable) {
  const auto s = status_with_sources();
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(request(2, 3), s, kNow, &reply), Mode6Outcome::kRefused);
  EXPECT_EQ(status_of(reply), 0x0400);
  ASSERT_EQ(respond_mode6(request(2, 0, "stratum,no_such_thing"), s, kNow, &reply), Mode6Outcome::kRefused);
  EXPECT_EQ(status_of(reply), 0x0500);
  ASSERT_EQ(respond_mode6(request(2, 1, "bogus"), s, kNow, &reply), Mode6Outcome::kRefused);
  EXPECT_EQ(reply.error, Mode6Error::kUnknownVariable);
}

TEST(Mode6Responder, respond_reject_malformed_names) {
  const auto s = status_with_sources();
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(request(2, 0, std::string("stra\x01tum")), s, kNow, &reply), Mode6Outcome::kRefused);
  EXPECT_EQ(reply.error, Mode6Error::kBadFormat);
  ASSERT_EQ(respond_mode6(request(2, 0, "=1"), s, kNow, &reply), Mode6Outcome::kRefused);
  EXPECT_EQ(reply.error, Mode6Error::kBadFormat);
  // Spaces, empty items and a value (ignored by a read) are fine.
  ASSERT_EQ(respond_mode6(request(2, 0, " stratum, ,leap=9"), s, kNow, &reply), Mode6Outcome::kAnswered);
  EXPECT_EQ(body_of(reply), "stratum=2, leap=0\r\n");
}

TEST(Mode6Responder, respond_reject_non_requests_silently) {
  const auto s = status_with_sources();
  Mode6Reply reply;
  auto req = request(2, 0);
  req[1] |= 0x80;  // a response
  EXPECT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kDropped);
  EXPECT_EQ(reply.count, 0u);
  EXPECT_EQ(respond_mode6(std::span(req).first(8), s, kNow, &reply), Mode6Outcome::kDropped);
}

TEST(Mode6Responder, short_request_gets_one_fragment_of_whole_entries) {
  // 200 associations: 800 octets of status words. A 12-octet request gets
  // one fragment of 117 whole entries (468 octets), never the rest.
  const auto s = status_with_sources(200);
  const auto req = request(1, 0);
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  ASSERT_EQ(reply.count, 1u);
  EXPECT_EQ(body_of(reply).size(), 468u);
  EXPECT_EQ(reply.fragments[0][1] & 0x20, 0);  // no "more": ntpq takes it as complete
  expect_no_amplification(req, reply);
}

TEST(Mode6Responder, request_as_large_as_the_reply_gets_every_fragment) {
  // 130 associations: 520 octets = fragments of 480 + 64 = 544 octets on the
  // wire. A request padded to 544 octets may have all of it.
  const auto s = status_with_sources(130);
  const auto req = request(1, 0, "", 544);
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  ASSERT_EQ(reply.count, 2u);
  EXPECT_EQ(reply.wire_size(), 544u);
  EXPECT_EQ(body_of(reply).size(), 520u);
  EXPECT_NE(reply.fragments[0][1] & 0x20, 0);
  EXPECT_EQ(reply.fragments[1][8] << 8 | reply.fragments[1][9], 468);
  // One octet less and it is one fragment again.
  const auto smaller = request(1, 0, "", 540);
  ASSERT_EQ(respond_mode6(smaller, s, kNow, &reply), Mode6Outcome::kAnswered);
  EXPECT_EQ(reply.count, 1u);
}

TEST(Mode6Responder, long_variable_list_is_cut_at_a_variable) {
  const auto s = status_with_sources();
  std::string names;
  for (int i = 0; i < 40; ++i) names += "io_received,nts_cookie_decode_too_old,";
  names.resize(std::min(names.size(), proto::kMode6MaxData));
  while (names.back() != ',') names.pop_back();
  names.pop_back();
  const auto req = request(2, 0, names);
  Mode6Reply reply;
  ASSERT_EQ(respond_mode6(req, s, kNow, &reply), Mode6Outcome::kAnswered);
  expect_no_amplification(req, reply);
  const std::string body = body_of(reply);
  EXPECT_LE(body.size(), proto::kMode6MaxData);
  EXPECT_EQ(body.substr(body.size() - 2), "\r\n");
  EXPECT_NE(body.substr(body.size() - 6, 4).find('='), 0u);  // ends with a whole "name=value"
}

}  // namespace
}  // namespace ntsd::server
