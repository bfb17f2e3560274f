#include "crypto/nonce_source.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ntsd::crypto
