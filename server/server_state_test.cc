#include "server/server_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ntsd::server {
namespace {

TEST(ServerStateCell, load_returns_what_was_published) {
  ServerStateCell cell(local_reference_state());
  EXPECT_EQ(cell.load().stratum, 10);
  ServerState state = local_reference_state(3);
  state.reference_id = 0x0a000001;
  cell.publish(state);
  EXPECT_EQ(cell.load().stratum, 3);
  EXPECT_EQ(cell.load().reference_id, 0x0a000001u);
}

// Readers must never see a mix of two published states.
TEST(ServerStateCell, readers_never_see_a_torn_state) {
  auto make = [](uint32_t n) {
    ServerState state;
    state.stratum = static_cast<uint8_t>(n % 16);
    state.reference_id = n;
    state.root_delay = proto::NtpShort{n};
    state.root_dispersion = proto::NtpShort{n};
    state.reference_time = proto::NtpTimestamp{uint64_t{n} << 32 | n};
    return state;
  };
  ServerStateCell cell(make(0));
  std::atomic<bool> done{false};
  std::atomic<uint64_t> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      const ServerState s = cell.load();
      const uint32_t n = s.reference_id;
      if (s.root_delay.raw != n || s.root_dispersion.raw != n ||
          s.reference_time.raw != (uint64_t{n} << 32 | n) || s.stratum != n % 16) {
        torn.fetch_add(1);
      }
    }
  });
  for (uint32_t n = 1; n <= 200'000; ++n) cell.publish(make(n));
  done.store(true);
  reader.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(cell.load().reference_id, 200'000u);
}

}  // namespace
}  // namespace ntsd::server
