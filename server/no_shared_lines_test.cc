// Nothing on the hot path writes a cache line shared between workers.
//
// Two workers share what ntsd's workers share (one ServerStateCell, one
// KeyPublisher, one AccessTable, the clock and the NTS crypto) and each has
// what a worker owns (counters, key-reader slot, responder, rate table, mode-6
// inbox, I/O backend; here the in-memory one). They serve plain, NTS, rate
// limited and mode-6 traffic on two threads at once; then, by address
// arithmetic, no line written by one thread holds bytes another thread writes,
// and no line a worker writes holds bytes every worker reads each batch (the
// state cell, the key publisher's epoch and snapshot pointer).
//
// Both workers are built on one thread, one object after the other, so heap
// neighbours are the other worker's objects: only alignment, not the
// allocator's per-thread arenas (which Server::start relies on too, building
// each worker on its own thread), keeps them apart.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/parser.h"
#include "crypto/key_ring.h"
#include "proto/ntp_packet.h"
#include "server/worker.h"
#include "testing/memory_packet_io.h"
#include "testing/nts_test_client.h"

namespace ntsd::server {
namespace {

using ntsd::testing::ipv4_peer;
using ntsd::testing::MemoryPacketIo;

constexpr uintptr_t kLine = 64;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kNow = int64_t{1'900'000'000} * kSecond;

// The types a worker writes every round: each must start and end on a line
// boundary wherever it is allocated (the address checks below then hold by
// construction, not by allocator luck).
static_assert(alignof(WorkerCounters) >= kLine);
static_assert(alignof(Worker) >= kLine);
static_assert(alignof(NtpResponder) >= kLine);
static_assert(alignof(RateLimiter) >= kLine);
static_assert(alignof(Mode6Inbox) >= kLine);
static_assert(alignof(ServerStateCell) >= kLine);

// [begin, end) of some bytes, who writes them, and what they are.
struct Region {
  std::string writer;  // empty: read by every worker, written rarely (publish)
  std::string what;
  uintptr_t begin = 0, end = 0;
  std::string to_string() const {
    std::ostringstream out;
    out << (writer.empty() ? "shared" : writer) << ": " << what << " [0x" << std::hex << begin << ", 0x" << end
        << ")";
    return out.str();
  }
};

Region bytes_region(std::string writer, std::string what, std::span<const std::byte> bytes) {
  const auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  return {std::move(writer), std::move(what), begin, begin + bytes.size()};
}

template <typename T>
Region object_region(std::string writer, std::string what, const T& object) {
  return bytes_region(std::move(writer), std::move(what), std::as_bytes(std::span(&object, 1)));
}

// [first, last) as a region: a run of members of one object.
template <typename A, typename B>
Region member_region(std::string writer, std::string what, const A& first, const B& last) {
  const auto begin = reinterpret_cast<uintptr_t>(&first);
  const auto end = reinterpret_cast<uintptr_t>(&last) + sizeof(last);
  return {std::move(writer), std::move(what), begin, end};
}

bool share_a_line(const Region& a, const Region& b) {
  if (a.begin == a.end || b.begin == b.end) return false;
  return a.begin / kLine <= (b.end - 1) / kLine && b.begin / kLine <= (a.end - 1) / kLine;
}

// Every pair of regions written by different threads, and every written
// region against every shared one: the pairs that share a line.
std::vector<std::string> shared_lines(const std::vector<Region>& regions) {
  std::vector<std::string> found;
  for (size_t i = 0; i < regions.size(); ++i) {
    for (size_t j = i + 1; j < regions.size(); ++j) {
      const Region& a = regions[i];
      const Region& b = regions[j];
      if (a.writer == b.writer) continue;  // one thread, or both read-mostly
      if (share_a_line(a, b)) found.push_back(a.to_string() + " and " + b.to_string());
    }
  }
  return found;
}

TEST(SharedLines, the_check_sees_neighbours_in_one_line_and_not_across_lines) {
  struct alignas(kLine) Line {
    uint64_t a, b;
  };
  Line lines[2];
  const Region a = object_region("worker 0", "a", lines[0].a), b = object_region("worker 1", "b", lines[0].b);
  EXPECT_TRUE(share_a_line(a, b));
  EXPECT_EQ(shared_lines({a, b}).size(), 1u);
  EXPECT_TRUE(shared_lines({a, object_region("worker 0", "b", lines[0].b)}).empty());  // one writer
  EXPECT_TRUE(shared_lines({a, object_region("worker 1", "next line", lines[1].a)}).empty());
  EXPECT_EQ(shared_lines({a, object_region("", "read by all", lines[0].b)}).size(), 1u);
}

// Two workers built and served as Server::start does, minus the sockets.
class TwoWorkers : public ::testing::Test {
 protected:
  static constexpr int kWorkers = 2;

  void SetUp() override {
    const std::vector<uint8_t> seed(32, 5);
    ring_ = std::make_unique<crypto::KeyRing>(seed);
    keys_ = std::make_unique<crypto::KeyPublisher>(ring_->snapshot_at(kNow / kSecond));
    const auto parsed = config::parse_config_text("restrict default limited kod\nrestrict 127.0.0.1\n", "t.conf");
    ASSERT_TRUE(parsed.config.has_value());
    access_ = std::make_shared<const AccessTable>(parsed.config->restricts);
    // Interleaved, so that each object's heap neighbour is the other worker's.
    for (int w = 0; w < kWorkers; ++w) counters_[w] = std::make_unique<WorkerCounters>();
    for (int w = 0; w < kWorkers; ++w) inbox_[w] = std::make_unique<Mode6Inbox>();
    std::unique_ptr<MemoryPacketIo> io[kWorkers];
    std::unique_ptr<NtpResponder> responder[kWorkers];
    for (int w = 0; w < kWorkers; ++w) io[w] = std::make_unique<MemoryPacketIo>();
    for (int w = 0; w < kWorkers; ++w) {
      responder[w] = std::make_unique<NtpResponder>(state_, keys_.get(), crypto::auto_nts_crypto(), false);
    }
    for (int w = 0; w < kWorkers; ++w) {
      std::string error;
      ASSERT_TRUE(io[w]->start(&error)) << error;  // a Worker takes a started backend
      io_[w] = io[w].get();
      responder_[w] = responder[w].get();
      WorkerOptions options{&clock_, access_, RateLimitParams{.hash_seed = 1}, inbox_[w].get()};
      worker_[w] = std::make_unique<Worker>(std::move(io[w]), std::move(responder[w]), options, *counters_[w]);
    }
  }

  // What each thread writes while serving, and what every worker reads.
  std::vector<Region> regions() const {
    std::vector<Region> r;
    for (int w = 0; w < kWorkers; ++w) {
      const std::string me = "worker " + std::to_string(w);
      const WorkerCounters& c = *counters_[w];
      r.push_back(member_region(me, "counters", c.received, c.cookie_key_age));
      // The ops thread's counters in the same block (mode6_service.cc).
      r.push_back(member_region("ops thread", me + "'s mode-6 reply counters", c.mode6_answered,
                                c.mode6_send_errors));
      r.push_back(object_region(me, "Worker (batch arrays, gate)", *worker_[w]));
      r.push_back(object_region(me, "NtpResponder (nonce source, scratch pointer)", *responder_[w]));
      r.push_back(bytes_region(me, "key-reader slot", keys_->reader_slot_bytes(responder_[w]->key_reader())));
      r.push_back(object_region(me, "rate table", *worker_[w]->rate_limiter()));
      r.push_back(object_region(me, "mode-6 inbox", *inbox_[w]));
      for (const auto& bytes : io_[w]->written_memory()) r.push_back(bytes_region(me, "PacketIo", bytes));
    }
    r.push_back(bytes_region("key rotation thread", "publisher's mutex and retired list", keys_->writer_bytes()));
    r.push_back(object_region("", "ServerStateCell", state_));
    r.push_back(bytes_region("", "key publisher's epoch", keys_->epoch_bytes()));
    r.push_back(bytes_region("", "key publisher's snapshot pointer", keys_->current_bytes()));
    r.push_back(object_region("", "key snapshot", *keys_->load()));
    r.push_back(object_region("", "access table", *access_));
    r.push_back(object_region("", "clock", clock_));
    return r;
  }

  ServerStateCell state_{local_reference_state()};
  clock::SimulatedClock clock_{kNow};
  std::unique_ptr<crypto::KeyRing> ring_;
  std::unique_ptr<crypto::KeyPublisher> keys_;
  std::shared_ptr<const AccessTable> access_;
  std::unique_ptr<WorkerCounters> counters_[kWorkers];
  std::unique_ptr<Mode6Inbox> inbox_[kWorkers];
  MemoryPacketIo* io_[kWorkers] = {};
  NtpResponder* responder_[kWorkers] = {};
  std::unique_ptr<Worker> worker_[kWorkers];  // declared last: destroyed before keys_ and the counters
};

TEST_F(TwoWorkers, nothing_a_worker_writes_on_its_hot_path_shares_a_cache_line_with_another_thread) {
  // Traffic for every path: plain, NTS, KoD RATE (the limited table), mode 6.
  const auto session = ntsd::testing::sealed_session(keys_->load()->current(), 1);
  const auto nts = ntsd::testing::request_bytes(session, 77, std::vector<uint8_t>(32, 1));
  std::vector<uint8_t> plain(48, 0);
  plain[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  plain[47] = 1;
  const std::vector<uint8_t> mode6 = {0x16, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  constexpr int kRequests = 300;
  for (int w = 0; w < kWorkers; ++w) {
    for (int i = 0; i < kRequests; ++i) {
      // A client each, but the first 40 requests come in pairs from one
      // client at once: the first served, the second kissed (KoD RATE).
      const int client = i < 40 ? i / 2 : i;
      const std::string address =
          "10." + std::to_string(w) + "." + std::to_string(client / 200) + "." + std::to_string(client % 200);
      io_[w]->queue({i % 3 == 0 ? nts : plain, ipv4_peer(address.c_str(), 40000), kNow + i});
    }
    io_[w]->queue({mode6, ipv4_peer("127.0.0.1", 5000), kNow});
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([this, w] {
      while (worker_[w]->run_once(0) > 0) {
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_TRUE(io_[w]->violations().empty());
    EXPECT_EQ(counters_[w]->received.get(), kRequests + 1u);
    EXPECT_EQ(counters_[w]->replied.get(), static_cast<uint64_t>(kRequests));
    EXPECT_EQ(counters_[w]->kod_rate.get(), 20u);
    EXPECT_GT(counters_[w]->nts_replied.get(), 80u);
    EXPECT_EQ(counters_[w]->mode6_queued.get(), 1u);
  }

  // Each worker's key-reader slot is its own, and each one's rounds release it.
  ASSERT_NE(responder_[0]->key_reader(), responder_[1]->key_reader());
  keys_->publish(ring_->snapshot_at(kNow / kSecond + 86400));
  worker_[0]->run_once(0);
  keys_->reclaim();
  EXPECT_EQ(keys_->retired_count(), 1u);  // worker 1 may still hold it
  worker_[1]->run_once(0);
  keys_->reclaim();
  EXPECT_EQ(keys_->retired_count(), 0u);

  const std::vector<Region> all = regions();
  for (const Region& r : all) EXPECT_LT(r.begin, r.end) << r.to_string();
  for (const std::string& shared : shared_lines(all)) ADD_FAILURE() << "one cache line: " << shared;
}

}  // namespace
}  // namespace ntsd::server
