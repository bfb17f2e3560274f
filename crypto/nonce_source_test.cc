#include "crypto/nonce_source.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <vector>

namespace ntsd::crypto {
namespace {

TEST(NonceSourceTest, DistinctNoncesOfAnyLength) {
  NonceSource src;
  std::set<std::string> seen;
  for (size_t len : {1, 12, 16, 17, 256, 1000}) {
    for (int i = 0; i < 200; ++i) {
      std::vector<uint8_t> buf(len);
      ASSERT_TRUE(src.fill(buf));
      if (len >= 12) {
        EXPECT_TRUE(seen.insert(std::string(buf.begin(), buf.end())).second);
      }
    }
  }
  NonceSource other;
  std::vector<uint8_t> a(16), b(16);
  ASSERT_TRUE(src.fill(a));
  ASSERT_TRUE(other.fill(b));
  EXPECT_NE(a, b);  // independent keys
}

// Two sources with one fixed key agree past the 2^20 blocks after which a random key is
// replaced (they used to fail there, and a differential fuzz run comparing two responders
// with such sources diverged from a third once they did).
TEST(NonceSourceTest, FixedKeyRunsOnInStep) {
  const std::array<uint8_t, 16> key = {1, 2, 3};
  NonceSource a(key), b(key);
  std::vector<uint8_t> x(16 * 4096 + 16), y(16 * 4096 + 16);
  std::vector<uint8_t> first;
  for (int i = 0; i < 260; ++i) {  // 260 * 4097 blocks > 2^20
    ASSERT_TRUE(a.fill(x)) << i;
    ASSERT_TRUE(b.fill(y)) << i;
    ASSERT_EQ(x, y) << i;
    if (i == 0) first = x;
  }
  EXPECT_NE(x, first);
}

}  // namespace
}  // namespace ntsd::crypto
