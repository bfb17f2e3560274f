#include "crypto/seed_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "crypto/key_ring.h"
#include "crypto/secret_file.h"

namespace ntsd::crypto {
namespace {

constexpr char kHex[] = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

class SeedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr) << "run under bazel test (TEST_TMPDIR)";
    dir_ = std::string(tmp) + "/seed_test_" + std::to_string(::getpid());
    ::mkdir(dir_.c_str(), 0700);
    path_ = dir_ + "/ntsd.seed";
    ::unlink(path_.c_str());
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  void write(const std::string& content, mode_t mode = 0600) {
    {
      std::ofstream f(path_, std::ios::binary | std::ios::trunc);
      f << content;
    }
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
  }
  std::string dir_, path_;
};

TEST_F(SeedFileTest, CreateThenReadBack) {
  std::string error;
  auto seed = load_or_create_seed(path_, error);
  ASSERT_TRUE(seed.has_value()) << error;
  EXPECT_EQ(seed->size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 65);  // 64 hex digits and a newline
  auto again = load_or_create_seed(path_, error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*seed, *again);  // persisted, not regenerated
  EXPECT_NE(::access((path_ + ".tmp").c_str(), F_OK), 0);
}

TEST_F(SeedFileTest, RefusesGroupOrWorldReadableOrWritable) {
  std::string error;
  ASSERT_TRUE(create_seed_file(path_, error)) << error;
  for (mode_t bad : {0644, 0640, 0604, 0620, 0602}) {
    ASSERT_EQ(::chmod(path_.c_str(), bad), 0);
    EXPECT_FALSE(read_seed_file(path_, error).has_value()) << std::oct << bad;
    EXPECT_NE(error.find("chmod 600 " + path_), std::string::npos) << error;
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  EXPECT_FALSE(read_seed_file(path_, error).has_value());
  EXPECT_NE(error.find("0644"), std::string::npos) << error;
  ASSERT_EQ(::chmod(path_.c_str(), 0400), 0);
  EXPECT_TRUE(read_seed_file(path_, error).has_value()) << error;
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(read_seed_file(path_, error).has_value()) << error;
}

TEST_F(SeedFileTest, ExactlySixtyFourHexDigitsWithOrWithoutOneNewline) {
  std::string error;
  write(kHex);
  auto bare = read_seed_file(path_, error);
  ASSERT_TRUE(bare.has_value()) << error;
  write(std::string(kHex) + "\n");
  auto with_newline = read_seed_file(path_, error);
  ASSERT_TRUE(with_newline.has_value()) << error;
  EXPECT_EQ(*bare, *with_newline);
  ASSERT_EQ(bare->size(), 32u);
  EXPECT_EQ((*bare)[0], 0x00);
  EXPECT_EQ((*bare)[10], 0xaa);
  EXPECT_EQ((*bare)[26], 0xaa);  // upper and lower case decode alike
  EXPECT_EQ((*bare)[31], 0xff);
}

// Every looser spelling is refused, with the fix in the message: two fleet
// members must never read one secret as two different seeds.
TEST_F(SeedFileTest, RejectsEveryOtherFormat) {
  const std::string hex = kHex;
  const struct {
    const char* name;
    std::string content;
    const char* why;
  } cases[] = {
      {"raw 32 bytes", std::string(32, '\xee'), "byte 0 is not a hex digit"},
      {"raw 40 bytes", std::string(40, '\xee'), "byte 0 is not a hex digit"},
      {"empty", "", "holds 0 bytes"},
      {"short hex", "abcdef\n", "byte 6 is not a hex digit"},
      {"63 digits", hex.substr(0, 63), "holds 63 bytes"},
      {"65 digits", hex + "a", "holds 65 bytes"},
      {"128 digits (a 64-byte seed)", hex + hex, "holds 128 bytes"},
      {"two newlines", hex + "\n\n", "holds 66 bytes"},
      {"CRLF", hex + "\r\n", "holds 66 bytes"},
      {"leading space", " " + hex, "byte 0 is not a hex digit"},
      {"inner space", hex.substr(0, 32) + " " + hex.substr(32), "byte 32 is not a hex digit"},
      {"0x prefix", "0x" + hex.substr(2), "byte 1 is not a hex digit"},
      {"non-hex letter", hex.substr(0, 40) + "g" + hex.substr(41), "byte 40 is not a hex digit"},
  };
  for (const auto& c : cases) {
    write(c.content);
    std::string error;
    EXPECT_FALSE(read_seed_file(path_, error).has_value()) << c.name;
    EXPECT_NE(error.find(c.why), std::string::npos) << c.name << ": " << error;
    EXPECT_NE(error.find("exactly 64 hex digits"), std::string::npos) << c.name << ": " << error;
    EXPECT_NE(error.find("openssl rand -hex 32 > " + path_), std::string::npos) << c.name << ": " << error;
  }
}

TEST_F(SeedFileTest, MissingAndNotRegular) {
  std::string error;
  EXPECT_FALSE(read_seed_file(dir_ + "/missing", error).has_value());
  EXPECT_NE(error.find("missing"), std::string::npos);
  EXPECT_FALSE(read_seed_file(dir_, error).has_value());
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

// The atomic writer's temp file is created with O_EXCL|O_NOFOLLOW: a symlink
// planted under the temp name is removed, never followed.
TEST_F(SeedFileTest, TempFileSymlinkIsNotFollowed) {
  const std::string victim = dir_ + "/victim";
  { std::ofstream(victim) << "keep"; }
  ASSERT_EQ(::symlink(victim.c_str(), (path_ + ".tmp").c_str()), 0);
  std::string error;
  ASSERT_TRUE(create_seed_file(path_, error)) << error;
  std::ifstream in(victim);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "keep");
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  ::unlink(victim.c_str());
}

}  // namespace
}  // namespace ntsd::crypto
