#include "clock/cookie_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "testing/test_files.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kNow = 1'764'547'200;  // 2025-12-01

using testing::temp_dir;

using testing::read_file;
using testing::write_file;

PersistedSession session(const std::string& ke, int64_t ke_time, int cookies, uint8_t fill) {
  PersistedSession s;
  s.ke_server = ke;
  s.ke_time = ke_time;
  s.aead = 15;
  s.ntp_host = "ntp-" + ke.substr(0, ke.find(':'));
  s.ntp_port = 123;
  s.c2s.assign(32, fill);
  s.s2c.assign(32, static_cast<uint8_t>(fill ^ 0xff));
  for (int i = 0; i < cookies; ++i) s.cookies.push_back(std::vector<uint8_t>(104, fill + i));
  return s;
}

CookieLoadOptions at_now() {
  CookieLoadOptions o;
  o.now = kNow;
  return o;
}

TEST(CookieFile, round_trip_through_disk) {
  const std::string dir = temp_dir("round_trip");
  const std::string path = dir + "/nts-cookies";
  std::vector<PersistedSession> sessions = {session("nts.ntp.se:4443", kNow - 3600, 8, 1),
                                            session("[2001:db8::1]:4460", kNow - 86400, 0, 7)};
  sessions[1].aead = 30;
  sessions[1].c2s.assign(16, 0x11);
  sessions[1].s2c.assign(16, 0x22);
  sessions[1].ntp_host = "2001:db8::123";
  sessions[1].ntp_port = 4123;
  std::string error;
  ASSERT_TRUE(save_cookie_file(path, sessions, error)) << error;

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const CookieFileLoad load = load_cookie_file(path, at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kOurs);
  EXPECT_TRUE(load.warnings.empty()) << load.warnings.front();
  EXPECT_TRUE(load.may_overwrite());
  EXPECT_EQ(load.sessions, sessions);
  EXPECT_EQ(read_file(path).rfind("ntsd-cookie-jar 1\n", 0), 0u);
}

TEST(CookieFile, missing_file_is_no_sessions_and_no_warning) {
  const CookieFileLoad load = load_cookie_file(temp_dir("missing") + "/does-not-exist", at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kMissing);
  EXPECT_TRUE(load.sessions.empty());
  EXPECT_TRUE(load.warnings.empty());
  EXPECT_TRUE(load.may_overwrite());
}

TEST(CookieFile, stale_sessions_are_dropped_on_load) {
  const std::vector<PersistedSession> sessions = {session("fresh:4460", kNow - 27 * 86400, 2, 1),
                                                  session("old:4460", kNow - 29 * 86400, 2, 2),
                                                  session("future:4460", kNow + 40 * 86400, 2, 3)};
  SecretText text;
  std::string error;
  ASSERT_TRUE(format_cookie_file(sessions, text, error)) << error;
  CookieFileLoad load =
      parse_cookie_file(std::string_view(text.data(), text.size()), "jar", at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kOurs);
  ASSERT_EQ(load.sessions.size(), 1u);
  EXPECT_EQ(load.sessions[0].ke_server, "fresh:4460");
  EXPECT_EQ(load.dropped_stale, 2u);

  CookieLoadOptions week = at_now();
  week.max_age = 7 * 86400;
  load = parse_cookie_file(std::string_view(text.data(), text.size()), "jar", week);
  EXPECT_TRUE(load.sessions.empty());
  EXPECT_EQ(load.dropped_stale, 3u);
}

// NTPsec's `nts cookie` file (ntpd/nts_cookie.c, nts_write_cookie_keys): server master keys.
constexpr char kNtpsecKeys[] =
    "T: 1700000000\n"
    "L: 32\n"
    "I: 3735928559\n"
    "K: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

TEST(CookieFile, reject_ntpsec_key_file_as_foreign_and_never_overwrite_it) {
  const std::string dir = temp_dir("foreign");
  const std::string path = dir + "/nts-keys";
  write_file(path, kNtpsecKeys);
  const CookieFileLoad load = load_cookie_file(path, at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kForeign);
  EXPECT_TRUE(load.sessions.empty());
  EXPECT_FALSE(load.may_overwrite());
  ASSERT_EQ(load.warnings.size(), 1u);
  EXPECT_EQ(load.warnings[0].rfind(path + ":1: not an ntsd NTS cookie file", 0), 0u)
      << load.warnings[0];

  std::string error;
  EXPECT_FALSE(save_cookie_file(path, {}, error));
  EXPECT_NE(error.find("refusing to overwrite"), std::string::npos) << error;
  EXPECT_EQ(read_file(path), kNtpsecKeys);
}

TEST(CookieFile, reject_symlink_and_never_overwrite_it) {
  const std::string dir = temp_dir("symlink");
  std::string error;
  const std::vector<PersistedSession> one = {session("a:4460", kNow, 1, 1)};
  ASSERT_TRUE(save_cookie_file(dir + "/real", one, error)) << error;
  std::filesystem::create_symlink(dir + "/real", dir + "/link");
  const CookieFileLoad load = load_cookie_file(dir + "/link", at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kUnreadable);
  EXPECT_FALSE(load.may_overwrite());
  ASSERT_EQ(load.warnings.size(), 1u);
  EXPECT_NE(load.warnings[0].find("symbolic link"), std::string::npos);
  EXPECT_FALSE(save_cookie_file(dir + "/link", one, error));
  EXPECT_TRUE(std::filesystem::is_symlink(dir + "/link"));
}

TEST(CookieFile, reject_other_format_version_as_foreign) {
  const CookieFileLoad load = parse_cookie_file("ntsd-cookie-jar 2\neof 0\n", "jar", at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kForeign);
  EXPECT_FALSE(load.may_overwrite());
  ASSERT_EQ(load.warnings.size(), 1u);
  EXPECT_NE(load.warnings[0].find("another version of ntsd"), std::string::npos);
}

TEST(CookieFile, empty_file_may_be_replaced) {
  const std::string dir = temp_dir("empty");
  const std::string path = dir + "/jar";
  write_file(path, "");
  const CookieFileLoad load = load_cookie_file(path, at_now());
  EXPECT_EQ(load.kind, CookieFileKind::kEmpty);
  EXPECT_TRUE(load.may_overwrite());
  std::string error;
  EXPECT_TRUE(save_cookie_file(path, {}, error)) << error;
  EXPECT_EQ(load_cookie_file(path, at_now()).kind, CookieFileKind::kOurs);
}

struct CorruptCase {
  const char* what;
  std::string text;
  int line;
};

TEST(CookieFile, reject_corrupt_files_with_a_warning_naming_the_line) {
  SecretText good;
  std::string error;
  const std::vector<PersistedSession> one = {session("a:4460", kNow, 2, 5)};
  ASSERT_TRUE(format_cookie_file(one, good, error));
  const std::string g(good.data(), good.size());
  const std::string head = "ntsd-cookie-jar 1\n";
  const size_t block_start = g.find("\nsource ") + 1;
  const size_t eof_start = g.find("\neof ") + 1;
  const std::string block = g.substr(block_start, eof_start - block_start);
  const std::vector<CorruptCase> cases = {
      {"truncated, no eof", g.substr(0, eof_start), 11},
      {"truncated mid-line", g.substr(0, g.find("\ncookie ") + 20), 9},
      {"eof count wrong", head + block + "eof 2\n", 11},
      {"unknown field", head + "source a:4460\nfoo 1\n", 3},
      {"odd hex", head + "source a:4460\nke-time 1\naead 15\nntp a 123\nc2s abc\n", 6},
      {"key too long", head + "source a:4460\nc2s " + std::string(130, 'a') + "\n", 3},
      {"ninth cookie",
       head + "source a:4460\n" +
           [] {
             std::string s;
             for (int i = 0; i < 9; ++i) s += "cookie 00\n";
             return s;
           }(),
       11},
      {"cookie too long", head + "source a:4460\ncookie " + std::string(514, '0') + "\n", 3},
      {"missing field", head + "source a:4460\nke-time 1\nend\neof 1\n", 4},
      {"key lengths differ",
       head + "source a:4460\nke-time 1\naead 15\nntp a 123\nc2s 00\ns2c 0000\nend\neof 1\n", 8},
      {"port zero", head + "source a:4460\nntp a 0\n", 3},
      {"huge ke-time", head + "source a:4460\nke-time 99999999999999999999\n", 3},
      {"negative ke-time", head + "source a:4460\nke-time -5\n", 3},
      {"duplicate source", head + block + block + "eof 2\n", 11},
      {"control character", head + "source a\x01:4460\n", 2},
      {"text after eof", g + "source b:4460\n", 13},
      {"long line", head + "# " + std::string(2000, 'x') + "\n", 2},
  };
  for (const auto& c : cases) {
    const CookieFileLoad load = parse_cookie_file(c.text, "jar", at_now());
    EXPECT_EQ(load.kind, CookieFileKind::kCorrupt) << c.what;
    EXPECT_TRUE(load.sessions.empty()) << c.what;
    EXPECT_TRUE(load.may_overwrite()) << c.what;
    ASSERT_EQ(load.warnings.size(), 1u) << c.what;
    EXPECT_EQ(load.warnings[0].rfind("jar:" + std::to_string(c.line) + ": ", 0), 0u)
        << c.what << ": " << load.warnings[0];
  }
}

TEST(CookieFile, reject_out_of_bounds_sessions_on_save) {
  const std::string path = temp_dir("bounds") + "/jar";
  std::string error;
  std::vector<PersistedSession> bad = {session("a:4460", kNow, 9, 1)};
  EXPECT_FALSE(save_cookie_file(path, bad, error));
  bad = {session("has space:4460", kNow, 1, 1)};
  EXPECT_FALSE(save_cookie_file(path, bad, error));
  bad = {session("a:4460", kNow, 1, 1), session("a:4460", kNow, 1, 2)};
  EXPECT_FALSE(save_cookie_file(path, bad, error));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(CookieFile, warns_when_readable_by_others) {
  const std::string path = temp_dir("mode") + "/jar";
  std::string error;
  const std::vector<PersistedSession> one = {session("a:4460", kNow, 1, 1)};
  ASSERT_TRUE(save_cookie_file(path, one, error)) << error;
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const CookieFileLoad load = load_cookie_file(path, at_now());
  EXPECT_EQ(load.sessions.size(), 1u);
  ASSERT_EQ(load.warnings.size(), 1u);
  EXPECT_NE(load.warnings[0].find("mode 0644"), std::string::npos);
  ASSERT_TRUE(save_cookie_file(path, one, error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(CookieFile, cleanse_session_wipes_keys) {
  PersistedSession s = session("a:4460", kNow, 3, 9);
  cleanse_session(s);
  EXPECT_TRUE(s.c2s.empty());
  EXPECT_TRUE(s.s2c.empty());
  EXPECT_TRUE(s.cookies.empty());
}

// A writer killed with SIGKILL at random moments: the file under the final
// name always parses, and holds one of the versions the writer wrote.
TEST(CookieFile, kill_9_at_any_moment_leaves_the_old_or_the_new_file) {
  const std::string dir = temp_dir("kill9");
  const std::string path = dir + "/jar";
  auto version = [](int v) {
    std::vector<PersistedSession> s;
    for (int i = 0; i <= v % 5; ++i) {
      s.push_back(session("src" + std::to_string(i) + ":4460", kNow - v, 8, uint8_t(v + i)));
    }
    return s;
  };
  std::string error;
  ASSERT_TRUE(save_cookie_file(path, version(0), error)) << error;
  std::mt19937 rng(20251201);
  int newest = 0;
  for (int round = 0; round < 40; ++round) {
    // The writer says after each completed save (one byte down a pipe); every
    // other round the kill waits for the first, so some kills surely land
    // after a save completed however slow fsync is (a loaded machine, ASan),
    // and the others may land in the first save itself.
    int done[2];
    ASSERT_EQ(::pipe(done), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(done[0]);
      std::string e;
      for (int v = 1;; ++v) {
        if (!save_cookie_file(path, version(v), e)) ::_exit(3);
        const char one = 1;
        if (v < 1000 && ::write(done[1], &one, 1) != 1) ::_exit(4);  // < 1000: never fills the pipe
      }
    }
    ::close(done[1]);
    if (round % 2 == 0) {
      char byte = 0;
      ASSERT_EQ(::read(done[0], &byte, 1), 1) << "round " << round << ": the writer saved nothing";
    }
    ::usleep(200 + rng() % 20000);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    ::close(done[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer failed by itself, status " << status;

    CookieLoadOptions o = at_now();
    o.max_age = int64_t{1} << 40;
    const CookieFileLoad load = load_cookie_file(path, o);
    ASSERT_EQ(load.kind, CookieFileKind::kOurs)
        << "round " << round << ": " << (load.warnings.empty() ? "" : load.warnings[0]);
    ASSERT_FALSE(load.sessions.empty());
    const int v = static_cast<int>(kNow - load.sessions[0].ke_time);
    EXPECT_EQ(load.sessions, version(v)) << "round " << round;
    newest = std::max(newest, v);
  }
  EXPECT_GT(newest, 0) << "the writer never completed a save before being killed";
}

}  // namespace
}  // namespace ntsd::clock
