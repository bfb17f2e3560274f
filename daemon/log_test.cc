// Log lines: levels, the journal's priority prefix, logconfig masking, the
// logfile reopened after logrotate, and the levels given to clock/'s lines.
#include "daemon/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ntsd::daemon {
namespace {

using namespace config;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tmpdir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

// Runs `body` with stderr sent to a file; returns what it wrote.
template <typename F>
std::string capture_stderr(F body) {
  const std::string path = tmpdir() + "/stderr.txt";
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  body();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  return read_file(path);
}

TEST(Log, StderrAndJournalForms) {
  EXPECT_EQ(format_stderr_line(Level::kWarning, "nts key k is not readable", false),
            "ntsd: warning: nts key k is not readable\n");
  EXPECT_EQ(format_stderr_line(Level::kInfo, "serving NTP on 127.0.0.1:123", false),
            "ntsd: serving NTP on 127.0.0.1:123\n");
  // systemd's sd-daemon.h: SD_ERR "<3>", SD_WARNING "<4>", SD_NOTICE "<5>", SD_INFO "<6>".
  EXPECT_EQ(format_stderr_line(Level::kError, "not started: x", true),
            "<3>error: not started: x\n");
  EXPECT_EQ(format_stderr_line(Level::kWarning, "w", true), "<4>warning: w\n");
  EXPECT_EQ(format_stderr_line(Level::kNotice, "ready", true), "<5>ready\n");
  EXPECT_EQ(format_stderr_line(Level::kInfo, "i", true), "<6>i\n");
}

TEST(Log, JournalStreamMustNameStderr) {
  const std::string path = tmpdir() + "/journal-standin";
  std::ofstream(path) << "";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
  bool while_redirected = false;
  const int file = ::open(path.c_str(), O_WRONLY | O_APPEND);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  while_redirected = stderr_is_journal();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  EXPECT_TRUE(while_redirected);
  EXPECT_FALSE(stderr_is_journal());  // inherited by a child whose stderr went elsewhere
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_FALSE(stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderr_is_journal());
}

TEST(Log, LogconfigMasksNoticesButNeverWarnings) {
  const std::string out = capture_stderr([] {
    set_log_mask(kLogSyncStatus | kLogClockEvents);  // logconfig =syncall +clockall, as used
    log_notice(kLogSysEvents, "hidden sys event");
    log_info(kLogPeerEvents, "hidden peer event");
    log_notice(kLogSyncStatus, "shown sync status");
    log_warning("shown warning %d", 1);
    log_error("shown error");
    log_notice(kLogRequested, "shown counters");
    log_clock_line("clock: 127.0.0.1: reachable");            // peerevents: hidden
    log_clock_line("clock: synchronised to 127.0.0.1 (x)");   // syncstatus: shown
    log_clock_line("clock: warning: driftfile: bad number");  // a warning: shown
    set_log_mask(kLogAll);
  });
  EXPECT_EQ(out,
            "ntsd: shown sync status\n"
            "ntsd: warning: shown warning 1\n"
            "ntsd: error: shown error\n"
            "ntsd: shown counters\n"
            "ntsd: clock: synchronised to 127.0.0.1 (x)\n"
            "ntsd: warning: clock: driftfile: bad number\n");
}

TEST(Log, ClockLinesGetLevelsAndClasses) {
  struct Case {
    const char* line;
    Level level;
    uint32_t cls;
  } cases[] = {
      {"clock: PANIC: the upstreams' time is more than tinker panic away", Level::kError,
       kLogClockEvents},
      {"clock: STEPPED THE CLOCK WHILE SERVING by 1.5 s", Level::kWarning, kLogClockEvents},
      {"clock: stepped the clock at start by 0.5 s", Level::kNotice, kLogClockEvents},
      {"clock: nts.example:4460: NTS-KE failed: timeout", Level::kWarning, kLogPeerEvents},
      {"clock: nts.example:4460: NTS-KE ok: 8 cookies, AEAD 15", Level::kNotice, kLogPeerEvents},
      {"clock: 127.0.0.1: unreachable", Level::kNotice, kLogPeerEvents},
      {"clock: 127.0.0.1: falsetick", Level::kNotice, kLogPeerStatus},
      {"clock: 127.0.0.1: NTS session restored from /var/lib/ntsd/c (8 cookies)", Level::kInfo,
       kLogPeerInfo},
      {"clock: synchronised to 127.0.0.1 (127.0.0.1:123): stratum 2", Level::kNotice,
       kLogSyncStatus},
      {"clock: no source selectable: holdover (0 survivors)", Level::kNotice, kLogSyncStatus},
      {"clock: driftfile /var/lib/ntp/drift: -3.2 ppm", Level::kInfo, kLogClockInfo},
      {"clock: set frequency failed: EPERM", Level::kError, kLogClockEvents},
  };
  for (const Case& c : cases) {
    const ClockLineClass got = classify_clock_line(c.line);
    EXPECT_EQ(got.level, c.level) << c.line;
    EXPECT_EQ(got.log_class, c.cls) << c.line;
    EXPECT_EQ(got.text, c.line);
  }
  const ClockLineClass w = classify_clock_line("clock: warning: leapfile /x not used");
  EXPECT_EQ(w.level, Level::kWarning);
  EXPECT_EQ(w.text, "clock: leapfile /x not used");
}

TEST(Log, LogfileIsReopenedAfterRotation) {
  const std::string path = tmpdir() + "/ntsd.log";
  ::unlink(path.c_str());
  ::unlink((path + ".1").c_str());
  std::string error;
  ASSERT_TRUE(set_log_file(path, &error)) << error;
  capture_stderr([] { log_notice(kLogSysEvents, "before rotation"); });
  // logrotate `create`: rename, then a new file; SIGHUP -> reopen.
  ASSERT_EQ(::rename(path.c_str(), (path + ".1").c_str()), 0);
  std::ofstream(path) << "";
  capture_stderr([] { log_notice(kLogSysEvents, "still to the old file"); });
  ASSERT_TRUE(reopen_log_file(&error)) << error;
  capture_stderr([] { log_warning("after rotation"); });
  const std::string old_text = read_file(path + ".1");
  const std::string new_text = read_file(path);
  EXPECT_NE(old_text.find("ntsd["), std::string::npos) << old_text;
  EXPECT_NE(old_text.find("]: before rotation\n"), std::string::npos) << old_text;
  EXPECT_NE(old_text.find("]: still to the old file\n"), std::string::npos) << old_text;
  EXPECT_EQ(old_text.find("after rotation"), std::string::npos) << old_text;
  EXPECT_NE(new_text.find("]: warning: after rotation\n"), std::string::npos) << new_text;
  EXPECT_EQ(new_text.substr(0, 2), "20");  // 20YY-MM-DDTHH:MM:SSZ
  // A folder that vanished: the old file keeps the lines, the error says why.
  const std::string gone = tmpdir() + "/gone";
  ::mkdir(gone.c_str(), 0700);
  ASSERT_TRUE(set_log_file(gone + "/x.log", &error)) << error;
  ::unlink((gone + "/x.log").c_str());
  ::rmdir(gone.c_str());
  EXPECT_FALSE(reopen_log_file(&error));
  EXPECT_EQ(error, gone + "/x.log: No such file or directory");
}

}  // namespace
}  // namespace ntsd::daemon
