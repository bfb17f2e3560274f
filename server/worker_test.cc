// The worker on an in-memory PacketIo (//testing:memory_packet_io) and a
// simulated clock: what it answers, drops and counts, what it hands to the
// mode-6 queue, how it uses the backend (lent buffers, release after every
// batch, batches split at kBatchSize) and the Responder (idle after every
// round). No sockets, no threads.
#include "server/worker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "config/parser.h"
#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "proto/ntp_packet.h"
#include "testing/memory_packet_io.h"
#include "testing/nts_test_client.h"

namespace ntsd::server {
namespace {

using ntsd::testing::Datagram;
using ntsd::testing::ipv4_peer;
using ntsd::testing::ipv6_peer;
using ntsd::testing::MemoryPacketIo;
using ntsd::testing::SentDatagram;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kClockNow = int64_t{1'900'000'000} * kSecond;  // the simulated clock
constexpr int64_t kKernelStamp = kClockNow - 3'000'000;         // a datagram's SO_TIMESTAMPNS stamp

std::vector<uint8_t> client_request(uint64_t transmit, size_t size = 48) {
  std::vector<uint8_t> packet(size, 0);
  packet[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  proto::store_timestamp(packet, proto::kOffsetTransmit, proto::NtpTimestamp{transmit});
  return packet;
}

// An ntpq "read variables" request (mode 6).
const std::vector<uint8_t> kMode6Request = {0x16, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};

std::shared_ptr<const AccessTable> access_table(const char* lines) {
  const auto parsed = config::parse_config_text(lines, "test.conf");
  EXPECT_TRUE(parsed.config.has_value());
  return std::make_shared<const AccessTable>(parsed.config->restricts);
}

proto::NtpHeader header_of(const SentDatagram& sent) {
  const auto header = proto::parse_header(sent.payload);
  EXPECT_TRUE(header.has_value());
  return header.value_or(proto::NtpHeader{});
}

// A trivial Responder: echoes each request as a mode-4 packet of the same
// size, and records what the worker gave it and when.
class RecordingResponder final : public Responder {
 public:
  explicit RecordingResponder(const MemoryPacketIo& io) : io_(io) {}

  struct Seen {
    std::vector<uint8_t> bytes;
    proto::NtpTimestamp rx_time;
    bool nts_only, kiss_rate;
    size_t buffer_size;
    bool buffer_in_send_buffers;
  };
  std::vector<std::string> events;
  std::vector<Seen> seen;
  std::vector<proto::NtpTimestamp> tx_times;
  size_t sent_at_idle = 0, releases_at_idle = 0;
  size_t drop_index = SIZE_MAX;  // this request of each batch is dropped (kNtsMalformed)

  void prepare(std::span<const Request> requests, std::span<Reply> replies) override {
    events.push_back("prepare");
    EXPECT_EQ(requests.size(), replies.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      const Request& r = requests[i];
      seen.push_back({{r.bytes.begin(), r.bytes.end()}, r.rx_time, r.nts_only, r.kiss_rate,
                      replies[i].buffer.size(), io_.in_send_buffers(replies[i].buffer.data())});
      if (i == drop_index) {
        replies[i].verdict = Verdict::drop(DropReason::kNtsMalformed);
        continue;
      }
      std::copy(r.bytes.begin(), r.bytes.end(), replies[i].buffer.begin());
      replies[i].buffer[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kServer);
      replies[i].verdict = Verdict::reply(r.bytes.size());
    }
  }
  void finish(proto::NtpTimestamp tx_time, std::span<Reply>) override {
    events.push_back("finish");
    tx_times.push_back(tx_time);
  }
  void idle() override {
    events.push_back("idle");
    sent_at_idle = io_.sent().size();
    releases_at_idle = io_.calls().release;
  }

 private:
  const MemoryPacketIo& io_;
};

// A clock that moves on by `step` at every read, to tell the reads apart.
class SteppingClock final : public clock::Clock {
 public:
  SteppingClock(int64_t start, int64_t step) : next_(start), step_(step) {}
  int64_t now_unix_ns() const override {
    ++reads;
    const int64_t now = next_;
    next_ += step_;
    return now;
  }
  mutable int reads = 0;

 private:
  mutable int64_t next_;
  int64_t step_;
};

class WorkerTest : public ::testing::Test {
 protected:
  // Builds and starts the worker over a new MemoryPacketIo with `sockets` sockets.
  void build(std::unique_ptr<Responder> responder, WorkerOptions options = {}, size_t sockets = 1) {
    auto io = std::make_unique<MemoryPacketIo>(sockets);
    std::string error;
    ASSERT_TRUE(io->start(&error)) << error;  // a Worker takes a started backend (open_packet_io)
    io_ = io.get();
    if (options.clock == nullptr) options.clock = &clock_;
    worker_ = std::make_unique<Worker>(std::move(io), std::move(responder), options, counters_);
  }
  void build_ntp(crypto::KeyPublisher* keys = nullptr, WorkerOptions options = {}, size_t sockets = 1) {
    build(std::make_unique<NtpResponder>(state_, keys, crypto::auto_nts_crypto(), false), options, sockets);
  }
  RecordingResponder* build_recording(WorkerOptions options = {}) {
    auto io = std::make_unique<MemoryPacketIo>();
    std::string error;
    EXPECT_TRUE(io->start(&error)) << error;
    auto responder = std::make_unique<RecordingResponder>(*io);
    RecordingResponder* raw = responder.get();
    io_ = io.get();
    options.clock = options.clock != nullptr ? options.clock : &clock_;
    worker_ = std::make_unique<Worker>(std::move(io), std::move(responder), options, counters_);
    return raw;
  }

  void TearDown() override {
    if (io_ == nullptr) return;
    for (const std::string& v : io_->violations()) ADD_FAILURE() << "PacketIo contract: " << v;
  }

  uint64_t dropped(DropReason why) const { return counters_.dropped[static_cast<size_t>(why)].get(); }

  ServerStateCell state_{local_reference_state()};
  clock::SimulatedClock clock_{kClockNow};
  WorkerCounters counters_;
  MemoryPacketIo* io_ = nullptr;  // owned by worker_
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, answers_a_plain_request_in_place_in_a_lent_buffer) {
  build_ntp(nullptr, {}, 2);
  const auto peer = ipv6_peer("2001:db8::7", 50123);
  io_->queue({client_request(0x0123'4567'89ab'cdefull), peer, kKernelStamp, 1});
  EXPECT_EQ(worker_->run_once(0), 1u);

  ASSERT_EQ(io_->sent().size(), 1u);
  const SentDatagram& sent = io_->sent()[0];
  EXPECT_EQ(sent.peer, peer) << sent.peer.to_string();
  EXPECT_EQ(sent.socket_index, 1);  // out by the socket it came in on
  ASSERT_EQ(sent.payload.size(), 48u);
  const proto::NtpHeader reply = header_of(sent);
  EXPECT_EQ(reply.mode, proto::Mode::kServer);
  EXPECT_EQ(reply.version, 4);
  EXPECT_EQ(reply.stratum, 10);
  EXPECT_EQ(reply.reference_id, 0x7f7f0101u);
  EXPECT_EQ(reply.origin_time.raw, 0x0123'4567'89ab'cdefull);
  EXPECT_EQ(reply.receive_time, proto::ntp_from_unix_ns(kKernelStamp));  // the kernel's stamp
  EXPECT_EQ(reply.transmit_time, proto::ntp_from_unix_ns(kClockNow));    // the clock, at send
  // Zero copy: the reply was written where the backend lent it, at the start of the buffer.
  EXPECT_TRUE(io_->in_send_buffers(sent.data));
  EXPECT_EQ(sent.offset, 0u);

  EXPECT_EQ(counters_.received.get(), 1u);
  EXPECT_EQ(counters_.replied.get(), 1u);
  EXPECT_EQ(counters_.bytes_in.get(), 48u);
  EXPECT_EQ(counters_.bytes_out.get(), 48u);
  EXPECT_EQ(counters_.batches.get(), 1u);
  EXPECT_EQ(counters_.heartbeats.get(), 1u);
  EXPECT_EQ(counters_.send_errors.get(), 0u);
  const auto& calls = io_->calls();
  EXPECT_EQ(calls.receive, 1u);
  EXPECT_EQ(calls.lend, 1u);
  EXPECT_EQ(calls.send, 1u);
  EXPECT_EQ(calls.release, 1u);
}

// One clock read gives the receive stamp of every unstamped datagram of the
// batch; a later one gives the transmit stamp.
TEST_F(WorkerTest, unstamped_datagrams_get_the_batch_clock_read_and_transmit_reads_later) {
  SteppingClock stepping(kClockNow, 1'000'000);
  WorkerOptions options;
  options.clock = &stepping;
  build_ntp(nullptr, options);
  io_->queue({client_request(1)});
  io_->queue({client_request(2), ipv4_peer("192.0.2.2", 123), kKernelStamp});
  io_->queue({client_request(3)});
  EXPECT_EQ(worker_->run_once(0), 3u);
  EXPECT_EQ(stepping.reads, 2);
  ASSERT_EQ(io_->sent().size(), 3u);
  const auto first = header_of(io_->sent()[0]), second = header_of(io_->sent()[1]),
             third = header_of(io_->sent()[2]);
  EXPECT_EQ(first.receive_time, proto::ntp_from_unix_ns(kClockNow));
  EXPECT_EQ(second.receive_time, proto::ntp_from_unix_ns(kKernelStamp));
  EXPECT_EQ(third.receive_time, proto::ntp_from_unix_ns(kClockNow));
  for (const auto& h : {first, second, third}) {
    EXPECT_EQ(h.transmit_time, proto::ntp_from_unix_ns(kClockNow + 1'000'000));
  }
}

TEST_F(WorkerTest, drops_and_counts_truncated_short_and_malformed_datagrams) {
  build_ntp();
  io_->queue({.payload = client_request(1), .truncated = true});       // MSG_TRUNC
  io_->queue({.payload = client_request(2, 1600)});                     // longer than kMaxDatagram
  io_->queue({.payload = std::vector<uint8_t>(10, 0x23)});              // too short
  auto server_mode = client_request(3);
  server_mode[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kServer);
  io_->queue({.payload = server_mode});
  io_->queue({.payload = client_request(42)});
  EXPECT_EQ(worker_->run_once(0), 5u);

  ASSERT_EQ(io_->sent().size(), 1u);
  EXPECT_EQ(header_of(io_->sent()[0]).origin_time.raw, 42u);
  EXPECT_EQ(dropped(DropReason::kTruncated), 2u);
  EXPECT_EQ(dropped(DropReason::kTooShort), 1u);
  EXPECT_EQ(dropped(DropReason::kNotClientMode), 1u);
  EXPECT_EQ(counters_.received.get(), 5u);
  EXPECT_EQ(counters_.replied.get(), 1u);
  EXPECT_EQ(counters_.bytes_in.get(), 48u + kMaxDatagram + 10 + 48 + 48);
  CounterTotals totals;
  totals.add(counters_);
  EXPECT_EQ(totals.dropped_total(), 4u);
}

TEST_F(WorkerTest, restrict_ignore_drops_and_limited_kod_kisses_through_the_access_table) {
  WorkerOptions options;
  options.access = access_table(
      "restrict default limited kod\n"
      "restrict 203.0.113.9 ignore\n"
      "restrict 192.0.2.60 limited\n");
  options.rate_limit.hash_seed = 1;
  build_ntp(nullptr, options);
  ASSERT_NE(worker_->rate_limiter(), nullptr);
  // Same instant: the first request of an address is served, a second one
  // within `discard minimum` is over the limit.
  const auto kod_peer = ipv4_peer("192.0.2.50", 40000), quiet_peer = ipv4_peer("192.0.2.60", 40000);
  io_->queue({client_request(1), ipv4_peer("203.0.113.9", 40000), kKernelStamp});
  io_->queue({client_request(2), kod_peer, kKernelStamp});
  io_->queue({client_request(3), kod_peer, kKernelStamp});
  io_->queue({client_request(4), quiet_peer, kKernelStamp});
  io_->queue({client_request(5), quiet_peer, kKernelStamp});
  EXPECT_EQ(worker_->run_once(0), 5u);

  EXPECT_EQ(dropped(DropReason::kRestricted), 1u);
  EXPECT_EQ(dropped(DropReason::kRateLimited), 1u);  // the second from 192.0.2.60 (no kod)
  EXPECT_EQ(counters_.kod_rate.get(), 1u);
  ASSERT_EQ(io_->sent().size(), 3u);
  const auto served = header_of(io_->sent()[0]);
  EXPECT_EQ(served.origin_time.raw, 2u);
  EXPECT_EQ(served.stratum, 10);
  const auto kiss = header_of(io_->sent()[1]);
  EXPECT_EQ(io_->sent()[1].peer, kod_peer);
  EXPECT_EQ(kiss.origin_time.raw, 3u);
  EXPECT_EQ(kiss.stratum, 0);
  EXPECT_EQ(kiss.reference_id, proto::refid_from_ascii("RATE"));
  EXPECT_EQ(header_of(io_->sent()[2]).origin_time.raw, 4u);
  EXPECT_EQ(worker_->rate_limiter()->size(), 2u);
}

TEST_F(WorkerTest, hands_mode6_requests_to_the_inbox_and_drops_what_the_gate_refuses) {
  Mode6Inbox inbox;
  WorkerOptions options;
  options.mode6 = &inbox;
  build_ntp(nullptr, options, 2);
  const auto ntpq = ipv4_peer("127.0.0.1", 5555);
  io_->queue({kMode6Request, ntpq, kKernelStamp, 1});
  io_->queue({kMode6Request, ipv4_peer("192.0.2.1", 5555), kKernelStamp});  // no restrict lines: loopback only
  io_->queue({client_request(9)});
  EXPECT_EQ(worker_->run_once(0), 3u);

  EXPECT_EQ(counters_.mode6_queued.get(), 1u);
  EXPECT_EQ(dropped(DropReason::kMode6Denied), 1u);
  Mode6Datagram queued;
  ASSERT_TRUE(inbox.queue.try_pop(&queued));
  EXPECT_TRUE(std::ranges::equal(queued.payload(), kMode6Request));
  EXPECT_EQ(queued.socket_index, 1);
  EXPECT_EQ(queued.peer_len, ntpq.length);
  EXPECT_EQ(std::memcmp(&queued.peer, &ntpq.address, ntpq.length), 0);
  EXPECT_FALSE(inbox.queue.try_pop(&queued));
  // The worker answers no mode-6 request itself; the NTP request is answered.
  ASSERT_EQ(io_->sent().size(), 1u);
  EXPECT_EQ(header_of(io_->sent()[0]).origin_time.raw, 9u);
}

TEST_F(WorkerTest, without_an_inbox_mode6_goes_to_the_responder_and_is_dropped) {
  build_ntp();
  io_->queue({kMode6Request, ipv4_peer("127.0.0.1", 5555)});
  EXPECT_EQ(worker_->run_once(0), 1u);
  EXPECT_TRUE(io_->sent().empty());
  EXPECT_EQ(counters_.mode6_queued.get(), 0u);
  EXPECT_EQ(dropped(DropReason::kTooShort), 1u);  // 12 bytes: no NTP packet
}

class WorkerNtsTest : public WorkerTest {
 protected:
  // The worker's responder holds a reader slot of keys_: it goes first.
  void TearDown() override {
    WorkerTest::TearDown();
    worker_.reset();
    io_ = nullptr;
  }
  const std::vector<uint8_t> seed_ = std::vector<uint8_t>(32, 9);
  crypto::KeyRing ring_{seed_};
  crypto::KeyPublisher keys_{ring_.snapshot_at(kClockNow / kSecond)};
  const std::vector<uint8_t> uid_ = std::vector<uint8_t>(32, 0x77);
};

// A real NTS exchange through the worker: the reply verifies under the
// client's S2C key and carries one fresh cookie that opens under the
// server's keys; a tampered cookie in the same batch gets a NAK.
TEST_F(WorkerNtsTest, answers_an_nts_request_with_a_fresh_cookie_and_naks_a_tampered_one) {
  build_ntp(&keys_);
  const auto session = ntsd::testing::sealed_session(keys_.load()->current(), 21);
  clock::RequestRecord record;
  const auto request = ntsd::testing::request_bytes(session, 4242, uid_, 0, &record);
  const auto peer = ipv4_peer("198.51.100.20", 41000);
  io_->queue({request, peer, kKernelStamp});
  const auto tampered = ntsd::testing::with_tampered_cookie(session, 40, 4);
  io_->queue({ntsd::testing::request_bytes(tampered, 4343, uid_), peer, kKernelStamp});
  EXPECT_EQ(worker_->run_once(0), 2u);

  ASSERT_EQ(io_->sent().size(), 2u);
  const SentDatagram& reply = io_->sent()[0];
  EXPECT_EQ(reply.payload.size(), request.size());
  EXPECT_TRUE(io_->in_send_buffers(reply.data));
  const auto cookies = ntsd::testing::verified_cookies(session, record, reply.payload);
  ASSERT_TRUE(cookies);
  ASSERT_EQ(cookies->size(), 1u);
  crypto::SessionKeys opened;
  EXPECT_EQ(crypto::open_cookie(*keys_.load(), (*cookies)[0], opened), crypto::CookieStatus::kOk);
  EXPECT_TRUE(std::ranges::equal(opened.s2c_key(), session.s2c_key.bytes()));
  const auto header = header_of(reply);
  EXPECT_EQ(header.origin_time.raw, 4242u);
  EXPECT_EQ(header.receive_time, proto::ntp_from_unix_ns(kKernelStamp));
  EXPECT_EQ(header.transmit_time, proto::ntp_from_unix_ns(kClockNow));

  EXPECT_EQ(header_of(io_->sent()[1]).reference_id, proto::refid_from_ascii("NTSN"));
  EXPECT_EQ(counters_.nts_replied.get(), 1u);
  EXPECT_EQ(counters_.cookie_key_age[static_cast<size_t>(KeyAge::kCurrent)].get(), 1u);
  EXPECT_EQ(counters_.naks[static_cast<size_t>(NakReason::kTampered)].get(), 1u);
  EXPECT_EQ(counters_.replied.get(), 2u);
}

TEST_F(WorkerNtsTest, without_keys_nts_requests_are_dropped_and_counted) {
  build_ntp(nullptr);
  const auto session = ntsd::testing::sealed_session(keys_.load()->current(), 22);
  io_->queue({ntsd::testing::request_bytes(session, 1, uid_)});
  EXPECT_EQ(worker_->run_once(0), 1u);
  EXPECT_TRUE(io_->sent().empty());
  EXPECT_EQ(dropped(DropReason::kNtsNotAvailable), 1u);
}

// The key snapshot a batch used is let go after every round, idle ones too:
// a retired snapshot is freed once the worker has run a round.
TEST_F(WorkerNtsTest, every_round_passes_a_quiescent_point_so_old_key_snapshots_are_freed) {
  auto responder = std::make_unique<NtpResponder>(state_, &keys_, crypto::auto_nts_crypto(), false);
  ASSERT_NE(responder->key_reader(), crypto::SnapshotPublisherBase::kNoReader);
  build(std::move(responder));
  keys_.publish(ring_.snapshot_at(kClockNow / kSecond + 86400));
  EXPECT_EQ(keys_.retired_count(), 1u);  // the worker may still hold it
  EXPECT_EQ(worker_->run_once(0), 0u);  // idle
  keys_.reclaim();
  EXPECT_EQ(keys_.retired_count(), 0u);

  keys_.publish(ring_.snapshot_at(kClockNow / kSecond + 2 * 86400));
  EXPECT_EQ(keys_.retired_count(), 1u);
  io_->queue({client_request(1)});
  EXPECT_EQ(worker_->run_once(0), 1u);  // busy
  keys_.reclaim();
  EXPECT_EQ(keys_.retired_count(), 0u);
}

TEST_F(WorkerTest, counts_send_errors) {
  build_ntp();
  for (uint64_t t = 1; t <= 3; ++t) io_->queue({client_request(t)});
  io_->fail_next_sends(2);
  EXPECT_EQ(worker_->run_once(0), 3u);
  EXPECT_EQ(io_->sent().size(), 1u);
  EXPECT_EQ(counters_.replied.get(), 3u);  // handed to the backend
  EXPECT_EQ(counters_.send_errors.get(), 2u);
}

TEST_F(WorkerTest, splits_a_queue_longer_than_a_batch_into_rounds_in_order) {
  build_ntp();
  constexpr size_t kQueued = kBatchSize + kBatchSize / 2 + 4;
  for (uint64_t t = 1; t <= kQueued; ++t) io_->queue({client_request(t)});
  EXPECT_EQ(worker_->run_once(0), kBatchSize);
  EXPECT_EQ(io_->sent().size(), kBatchSize);
  EXPECT_EQ(worker_->run_once(0), kQueued - kBatchSize);
  EXPECT_EQ(worker_->run_once(0), 0u);
  ASSERT_EQ(io_->sent().size(), kQueued);
  for (size_t i = 0; i < kQueued; ++i) {
    EXPECT_EQ(header_of(io_->sent()[i]).origin_time.raw, i + 1);
    EXPECT_EQ(io_->sent()[i].buffer, i % kBatchSize);  // reply k of a round in lent buffer k
  }
  EXPECT_EQ(counters_.batches.get(), 2u);
  EXPECT_EQ(counters_.heartbeats.get(), 3u);
  EXPECT_EQ(counters_.replied.get(), kQueued);
  EXPECT_EQ(io_->calls().release, 2u);
}

// A backend may return fewer than asked (io_uring: what completed): each
// round answers what it got.
TEST_F(WorkerTest, answers_short_receives_round_by_round) {
  build_ntp();
  for (uint64_t t = 1; t <= 25; ++t) io_->queue({client_request(t)});
  io_->set_max_per_receive(10);
  EXPECT_EQ(worker_->run_once(0), 10u);
  EXPECT_EQ(worker_->run_once(0), 10u);
  EXPECT_EQ(worker_->run_once(0), 5u);
  EXPECT_EQ(io_->sent().size(), 25u);
  EXPECT_EQ(header_of(io_->sent()[24]).origin_time.raw, 25u);
}

TEST_F(WorkerTest, an_idle_round_returns_zero_and_lets_the_responder_go_idle) {
  RecordingResponder* responder = build_recording();
  EXPECT_EQ(worker_->run_once(7), 0u);
  EXPECT_EQ(responder->events, std::vector<std::string>{"idle"});
  EXPECT_EQ(io_->calls().last_timeout_ms, 7);
  EXPECT_EQ(io_->calls().empty_receive, 1u);
  EXPECT_EQ(io_->calls().lend, 0u);
  EXPECT_EQ(io_->calls().send, 0u);
  EXPECT_EQ(counters_.heartbeats.get(), 1u);
  EXPECT_EQ(counters_.batches.get(), 0u);

  io_->queue({client_request(5)});
  EXPECT_EQ(worker_->run_once(7), 1u);
  EXPECT_EQ(responder->events, (std::vector<std::string>{"idle", "prepare", "finish", "idle"}));
  // idle() comes after the batch is sent and released.
  EXPECT_EQ(responder->sent_at_idle, 1u);
  EXPECT_EQ(responder->releases_at_idle, 1u);
  ASSERT_EQ(responder->tx_times.size(), 1u);
  EXPECT_EQ(responder->tx_times[0], proto::ntp_from_unix_ns(kClockNow));
}

// What a Responder is given: each admitted request's bytes, receive time and
// admission flags, and a lent buffer as long as the request; its drop
// verdicts are counted and its replies sent from the buffer they were written to.
TEST_F(WorkerTest, a_responder_gets_admitted_requests_and_request_sized_lent_buffers) {
  WorkerOptions options;
  options.access = access_table(
      "restrict default\n"
      "restrict 192.0.2.70 notrust\n"
      "restrict 192.0.2.80 limited kod\n");
  options.rate_limit.hash_seed = 1;
  RecordingResponder* responder = build_recording(options);
  responder->drop_index = 1;
  io_->queue({client_request(1, 48), ipv4_peer("192.0.2.1", 1), kKernelStamp});
  io_->queue({client_request(2, 68), ipv4_peer("192.0.2.70", 1), kKernelStamp + 1000});
  io_->queue({client_request(3, 100), ipv4_peer("192.0.2.80", 1), kKernelStamp + 2000});
  io_->queue({client_request(4, 52), ipv4_peer("192.0.2.80", 1), kKernelStamp + 3000});
  EXPECT_EQ(worker_->run_once(0), 4u);

  ASSERT_EQ(responder->seen.size(), 4u);
  const size_t sizes[] = {48, 68, 100, 52};
  for (size_t i = 0; i < 4; ++i) {
    const auto& seen = responder->seen[i];
    EXPECT_EQ(seen.bytes, client_request(i + 1, sizes[i]));
    EXPECT_EQ(seen.rx_time, proto::ntp_from_unix_ns(kKernelStamp + static_cast<int64_t>(i) * 1000));
    EXPECT_EQ(seen.buffer_size, sizes[i]);
    EXPECT_TRUE(seen.buffer_in_send_buffers);
  }
  EXPECT_FALSE(responder->seen[0].nts_only);
  EXPECT_TRUE(responder->seen[1].nts_only);
  EXPECT_FALSE(responder->seen[2].kiss_rate);
  EXPECT_TRUE(responder->seen[3].kiss_rate);  // second from 192.0.2.80 at the same second

  EXPECT_EQ(dropped(DropReason::kNtsMalformed), 1u);
  ASSERT_EQ(io_->sent().size(), 3u);
  EXPECT_EQ(io_->sent()[1].buffer, 2u);  // reply 2 was written into lent buffer 2
  EXPECT_EQ(io_->sent()[1].payload.size(), 100u);
  EXPECT_EQ(header_of(io_->sent()[1]).transmit_time.raw, 3u);  // the echo
  EXPECT_EQ(header_of(io_->sent()[2]).transmit_time.raw, 4u);
}

}  // namespace
}  // namespace ntsd::server
