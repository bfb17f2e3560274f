#include "daemon/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ntsd::daemon {
namespace {

constexpr uid_t kNobody = 65534;

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr) << "run under bazel test (TEST_TMPDIR)";
    base_ = std::string(tmp) + "/state_dir_test_" + std::to_string(::getpid());
    std::filesystem::remove_all(base_);
    std::filesystem::create_directories(base_);
    ::chmod(base_.c_str(), 0755);  // nobody must be able to reach what is handed over
    dir_ = base_ + "/state";
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  static StateOwner me() { return {::geteuid(), ::getegid(), ""}; }
  static void touch(const std::string& path, mode_t mode) {
    { std::ofstream(path) << "x"; }
    ::chmod(path.c_str(), mode);
  }
  // Root in bazel's sandbox may sit in a user namespace where 65534 is not
  // mapped (chown: EINVAL); the BUILD rule runs this test unsandboxed.
  static bool can_chown_to_nobody(const std::string& path) {
    return ::chown(path.c_str(), kNobody, kNobody) == 0 && ::chown(path.c_str(), 0, 0) == 0;
  }
  static uid_t owner_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_uid;
  }
  std::string base_, dir_;
};

TEST(StateDirectoryTest, WhereStateLivesAndNoTmpFallback) {
  std::string error;
  DaemonOptions options;
  options.state_dir = "/srv/ntsd";
  EXPECT_EQ(state_directory(options, true, &error), "/srv/ntsd");
  options.state_dir.clear();
  EXPECT_EQ(state_directory(options, false, &error), "/var/lib/ntsd");

  const char* saved_home = std::getenv("HOME");
  const std::string home = saved_home ? saved_home : "";
  ::unsetenv("XDG_STATE_HOME");
  ::setenv("HOME", "/home/op", 1);
  EXPECT_EQ(state_directory(options, true, &error), "/home/op/.local/state/ntsd");
  ::setenv("XDG_STATE_HOME", "/xdg", 1);
  EXPECT_EQ(state_directory(options, true, &error), "/xdg/ntsd");
  ::setenv("XDG_STATE_HOME", "relative", 1);  // not absolute: ignored
  EXPECT_EQ(state_directory(options, true, &error), "/home/op/.local/state/ntsd");
  ::unsetenv("XDG_STATE_HOME");
  for (const char* bad : {static_cast<const char*>(nullptr), "", "relative/home"}) {
    if (bad == nullptr) {
      ::unsetenv("HOME");
    } else {
      ::setenv("HOME", bad, 1);
    }
    error.clear();
    EXPECT_EQ(state_directory(options, true, &error), "");
    EXPECT_NE(error.find("--state-dir"), std::string::npos) << error;
    EXPECT_NE(error.find("HOME"), std::string::npos) << error;
  }
  if (saved_home) ::setenv("HOME", home.c_str(), 1);
}

TEST_F(StateDirTest, NewFolderIsPrivate) {
  std::string error;
  ASSERT_TRUE(make_state_directory(dir_, me(), &error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  ASSERT_TRUE(make_state_directory(dir_, me(), &error)) << error;  // again: unchanged, fine
}

TEST_F(StateDirTest, RejectsFolderWritableByGroupOrOthers) {
  std::string error;
  ASSERT_TRUE(make_state_directory(dir_, me(), &error)) << error;
  for (mode_t bad : {0770, 0707, 0777, 0720, 0702}) {
    ASSERT_EQ(::chmod(dir_.c_str(), bad), 0);
    error.clear();
    EXPECT_FALSE(make_state_directory(dir_, me(), &error)) << std::oct << bad;
    EXPECT_NE(error.find(dir_), std::string::npos) << error;
    EXPECT_NE(error.find("writable by group or others"), std::string::npos) << error;
    EXPECT_NE(error.find("chmod go-w " + dir_), std::string::npos) << error;
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  EXPECT_FALSE(make_state_directory(dir_, me(), &error));
  EXPECT_NE(error.find("mode 0777"), std::string::npos) << error;
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // readable is fine: the files are 0600
  EXPECT_TRUE(make_state_directory(dir_, me(), &error)) << error;
}

TEST_F(StateDirTest, RejectsStateFilesWritableByOthersOrSymlinked) {
  std::string error;
  ASSERT_TRUE(make_state_directory(dir_, me(), &error)) << error;
  touch(dir_ + "/keyseed", 0620);
  EXPECT_FALSE(make_state_directory(dir_, me(), &error));
  EXPECT_NE(error.find(dir_ + "/keyseed has mode 0620"), std::string::npos) << error;
  ::chmod((dir_ + "/keyseed").c_str(), 0600);
  EXPECT_TRUE(make_state_directory(dir_, me(), &error)) << error;
  touch(base_ + "/elsewhere", 0600);
  ASSERT_EQ(::symlink((base_ + "/elsewhere").c_str(), (dir_ + "/nts-client-cookies").c_str()), 0);
  EXPECT_FALSE(make_state_directory(dir_, me(), &error));
  EXPECT_NE(error.find(dir_ + "/nts-client-cookies is a symbolic link"), std::string::npos) << error;
  ::unlink((dir_ + "/nts-client-cookies").c_str());
  ASSERT_EQ(::mkdir((dir_ + "/demo-pki").c_str(), 0777), 0);
  ::chmod((dir_ + "/demo-pki").c_str(), 0777);
  EXPECT_FALSE(make_state_directory(dir_, me(), &error));
  EXPECT_NE(error.find("demo-pki has mode 0777"), std::string::npos) << error;
}

// Root-only cases: ownership (root can create files owned by others).
TEST_F(StateDirTest, RejectsFolderOrFileOwnedBySomeoneElse) {
  if (::geteuid() != 0 || !can_chown_to_nobody(base_)) GTEST_SKIP() << "needs root that can chown to 65534";
  std::string error;
  ASSERT_TRUE(make_state_directory(dir_, me(), &error)) << error;
  ASSERT_EQ(::chown(dir_.c_str(), kNobody, kNobody), 0);
  EXPECT_FALSE(make_state_directory(dir_, me(), &error));  // root runs as root: nobody's folder is not its
  EXPECT_NE(error.find("state folder " + dir_ + " is owned by nobody (uid 65534)"), std::string::npos) << error;
  EXPECT_NE(error.find("chown -R 0:0 " + dir_), std::string::npos) << error;
  ASSERT_EQ(::chown(dir_.c_str(), 0, 0), 0);
  touch(dir_ + "/keyseed", 0600);
  ASSERT_EQ(::chown((dir_ + "/keyseed").c_str(), kNobody, kNobody), 0);
  EXPECT_FALSE(make_state_directory(dir_, me(), &error));
  EXPECT_NE(error.find("state file " + dir_ + "/keyseed is owned by nobody"), std::string::npos) << error;
  // Some third user's file is refused even when handing over to nobody.
  ASSERT_EQ(::chown((dir_ + "/keyseed").c_str(), 12345, 12345), 0);
  EXPECT_FALSE(make_state_directory(dir_, {kNobody, kNobody, "nobody"}, &error));
  EXPECT_NE(error.find("uid 12345"), std::string::npos) << error;
}

TEST_F(StateDirTest, RootHandsItsFolderOverToTheDaemonUser) {
  if (::geteuid() != 0 || !can_chown_to_nobody(base_)) GTEST_SKIP() << "needs root that can chown to 65534";
  const StateOwner nobody{kNobody, kNobody, "nobody"};
  std::string error;
  ASSERT_TRUE(make_state_directory(dir_, nobody, &error)) << error;
  EXPECT_EQ(owner_of(dir_), kNobody);  // a new folder is the daemon user's at once
  // Written as root before the switch, as at a real start:
  touch(dir_ + "/keyseed", 0600);
  touch(dir_ + "/unrelated", 0600);
  ASSERT_EQ(::mkdir((dir_ + "/demo-pki").c_str(), 0700), 0);
  touch(dir_ + "/demo-pki/key.pem", 0600);
  touch(dir_ + "/demo-pki/cert.pem", 0644);
  ASSERT_EQ(::chown(dir_.c_str(), 0, 0), 0);  // e.g. left by an earlier run as root
  EXPECT_TRUE(make_state_directory(dir_, nobody, &error)) << error;  // root-owned: to be handed over
  ASSERT_TRUE(hand_over_state_directory(dir_, nobody, &error)) << error;
  for (const char* path : {"", "/keyseed", "/demo-pki", "/demo-pki/key.pem", "/demo-pki/cert.pem"}) {
    EXPECT_EQ(owner_of(dir_ + path), kNobody) << path;
  }
  EXPECT_EQ(owner_of(dir_ + "/unrelated"), 0u);  // only ntsd's own entries
  // A shared root-owned folder is never given away.
  ASSERT_EQ(::chown(dir_.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  EXPECT_FALSE(make_state_directory(dir_, nobody, &error));
  EXPECT_NE(error.find("only a root-owned folder of mode 0700"), std::string::npos) << error;
}

}  // namespace
}  // namespace ntsd::daemon
