#include "clock/driftfile.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "testing/test_files.h"

namespace ntsd::clock {
namespace {

constexpr int64_t kHour = DriftfileWriter::kIntervalNs;
constexpr int64_t kMinute = kHour / 60;
constexpr int64_t kStart = 1'764'547'200LL * 1'000'000'000;  // 2025-12-01

using testing::temp_dir;

using testing::read_file;
using testing::write_file;

TEST(Driftfile, parses_ntpsec_files) {
  struct Case {
    const char* text;
    double ppm;
  } cases[] = {
      {"-12.345\n", -12.345},
      {"-12.345678\n", -12.345678},
      {"12.345678", 12.345678},
      {"  +3.5  \n\n", 3.5},
      {"0\n", 0.0},
      {"1e2\n", 100.0},
      {"500.000000\n", 500.0},
      {"-500\n", -500.0},
      {"\t.25\r\n", 0.25},
  };
  for (const Case& c : cases) {
    const DriftRead r = parse_driftfile(c.text, "ntp.drift");
    ASSERT_TRUE(r.ppm.has_value()) << c.text << ": " << r.warning;
    EXPECT_DOUBLE_EQ(*r.ppm, c.ppm) << c.text;
    EXPECT_TRUE(r.warning.empty()) << r.warning;
  }
  const DriftRead zero = parse_driftfile("-0.000000\n", "ntp.drift");
  ASSERT_TRUE(zero.ppm);
  EXPECT_FALSE(std::signbit(*zero.ppm));
}

TEST(Driftfile, parse_reject_corrupt_files_with_a_warning_naming_the_file) {
  const char* cases[] = {"",      "\n\n  ", "abc\n", "12.5abc\n", "12.5 0.3\n",
                         "nan\n", "inf\n",  "-inf",  "+-5\n",     "0x10\n",
                         "--1\n", "+\n",    "1,5\n", "12.5\n7\n"};
  for (const char* text : cases) {
    const DriftRead r = parse_driftfile(text, "/var/lib/ntsd/ntp.drift");
    EXPECT_FALSE(r.ppm.has_value()) << '"' << text << '"';
    EXPECT_EQ(r.warning.rfind("/var/lib/ntsd/ntp.drift: ", 0), 0u) << r.warning;
  }
  EXPECT_NE(parse_driftfile("", "f").warning.find("empty"), std::string::npos);
  EXPECT_NE(parse_driftfile(std::string(5000, ' ') + "1", "f").warning.find("4096"),
            std::string::npos);
}

TEST(Driftfile, parse_reject_out_of_range) {
  for (const char* text : {"500.000001\n", "-600\n", "1e300\n"}) {
    const DriftRead r = parse_driftfile(text, "d");
    EXPECT_FALSE(r.ppm.has_value()) << text;
    EXPECT_NE(r.warning.find("outside"), std::string::npos) << r.warning;
  }
}

TEST(Driftfile, reads_a_file_ntpsec_wrote) {
  const std::string dir = temp_dir("ntpsec");
  write_file(dir + "/ntp.drift", "-12.345678\n");
  const DriftRead r = read_driftfile(dir + "/ntp.drift");
  ASSERT_TRUE(r.ppm) << r.warning;
  EXPECT_DOUBLE_EQ(*r.ppm, -12.345678);
  write_file(dir + "/bad.drift", std::string("12.3\0", 5));  // a NUL after the number
  EXPECT_EQ(read_driftfile(dir + "/bad.drift").warning.rfind(dir + "/bad.drift: ", 0), 0u);
}

TEST(Driftfile, missing_file_is_no_value_and_no_warning) {
  const std::string dir = temp_dir("missing");
  const DriftRead r = read_driftfile(dir + "/ntp.drift");
  EXPECT_FALSE(r.ppm.has_value());
  EXPECT_TRUE(r.warning.empty()) << r.warning;
}

TEST(Driftfile, unreadable_file_is_a_warning) {
  const std::string dir = temp_dir("unreadable");
  const DriftRead r = read_driftfile(dir);  // a directory: read fails with EISDIR
  EXPECT_FALSE(r.ppm.has_value());
  EXPECT_EQ(r.warning.rfind(dir + ": ", 0), 0u) << r.warning;
}

TEST(Driftfile, write_is_ntpsec_format_mode_0644_whatever_the_umask) {
  const std::string dir = temp_dir("write");
  const std::string path = dir + "/ntp.drift";
  const mode_t old_umask = ::umask(077);
  std::string error;
  const bool ok = write_driftfile(path, -12.345, error);
  ::umask(old_umask);
  ASSERT_TRUE(ok) << error;
  EXPECT_EQ(read_file(path), "-12.345000\n");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  ASSERT_TRUE(write_driftfile(path, 3.25, error)) << error;  // over an existing file
  EXPECT_EQ(read_file(path), "3.250000\n");
  const DriftRead r = read_driftfile(path);
  ASSERT_TRUE(r.ppm);
  EXPECT_DOUBLE_EQ(*r.ppm, 3.25);
}

TEST(Driftfile, write_reject_values_it_could_not_read_back) {
  const std::string dir = temp_dir("write_reject");
  std::string error;
  EXPECT_FALSE(write_driftfile(dir + "/a", std::numeric_limits<double>::quiet_NaN(), error));
  EXPECT_FALSE(write_driftfile(dir + "/a", 600.0, error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(std::filesystem::exists(dir + "/a"));
  EXPECT_FALSE(write_driftfile(dir + "/no/such/dir/drift", 1.0, error));
  EXPECT_NE(error.find("no/such/dir"), std::string::npos) << error;
}

TEST(Driftfile, format_round_trips_to_a_microppm) {
  for (double ppm : {0.0, 1e-7, -1e-7, 12.3456789, -499.9999994, 500.0, -0.0000005}) {
    const DriftRead r = parse_driftfile(format_driftfile(ppm), "d");
    ASSERT_TRUE(r.ppm) << ppm;
    EXPECT_NEAR(*r.ppm, ppm, 0.5e-6) << format_driftfile(ppm);
  }
  EXPECT_EQ(format_driftfile(-0.0), "0.000000\n");
}

TEST(DriftfileWriter, writes_at_most_hourly) {
  const std::string dir = temp_dir("hourly");
  const std::string path = dir + "/ntp.drift";
  DriftfileWriter w(path, std::nullopt, kStart);
  std::string error;
  EXPECT_EQ(w.maybe_write(kStart, 1.0, &error), DriftWrite::kNotDue);
  EXPECT_EQ(w.maybe_write(kStart + 59 * kMinute, 1.0, &error), DriftWrite::kNotDue);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(w.maybe_write(kStart + kHour, 1.0, &error), DriftWrite::kWritten) << error;
  EXPECT_EQ(read_file(path), "1.000000\n");
  // A big change within the hour waits for the next check.
  EXPECT_EQ(w.maybe_write(kStart + kHour + kMinute, 50.0, &error), DriftWrite::kNotDue);
  EXPECT_EQ(w.maybe_write(kStart + 2 * kHour, 50.0, &error), DriftWrite::kWritten);
  EXPECT_EQ(read_file(path), "50.000000\n");
  EXPECT_DOUBLE_EQ(*w.on_disk(), 50.0);
}

// NTPsec's write_stats(): write when the change is at least the threshold,
// else halve it; a write resets it to 0.1 ppm (1e-7).
TEST(DriftfileWriter, threshold_halves_each_quiet_hour_like_ntpsec) {
  const std::string dir = temp_dir("threshold");
  const std::string path = dir + "/ntp.drift";
  DriftfileWriter w(path, 1.0, kStart);
  std::string error;
  EXPECT_DOUBLE_EQ(w.threshold_ppm(), 0.1);
  EXPECT_EQ(w.maybe_write(kStart + kHour, 1.03, &error), DriftWrite::kUnchanged);
  EXPECT_DOUBLE_EQ(w.threshold_ppm(), 0.05);
  EXPECT_EQ(w.maybe_write(kStart + 2 * kHour, 1.03, &error), DriftWrite::kUnchanged);
  EXPECT_DOUBLE_EQ(w.threshold_ppm(), 0.025);
  EXPECT_FALSE(std::filesystem::exists(path)) << "a steady clock costs no writes";
  EXPECT_EQ(w.maybe_write(kStart + 3 * kHour, 1.03, &error), DriftWrite::kWritten) << error;
  EXPECT_DOUBLE_EQ(w.threshold_ppm(), 0.1);
  EXPECT_EQ(read_file(path), "1.030000\n");
  EXPECT_EQ(w.maybe_write(kStart + 4 * kHour, 1.129, &error), DriftWrite::kUnchanged);
  EXPECT_EQ(w.maybe_write(kStart + 5 * kHour, 1.20, &error), DriftWrite::kWritten);
}

TEST(DriftfileWriter, writes_at_stop_only_if_moved) {
  const std::string dir = temp_dir("stop");
  const std::string path = dir + "/ntp.drift";
  std::string error;
  {
    DriftfileWriter w(path, std::nullopt, kStart);
    EXPECT_EQ(w.write_at_stop(-7.5, &error), DriftWrite::kWritten) << error;  // nothing on disk yet
    EXPECT_EQ(read_file(path), "-7.500000\n");
  }
  const DriftRead r = read_driftfile(path);
  ASSERT_TRUE(r.ppm);
  DriftfileWriter w(path, r.ppm, kStart);
  EXPECT_EQ(w.write_at_stop(-7.55, &error), DriftWrite::kUnchanged);
  EXPECT_DOUBLE_EQ(w.threshold_ppm(), 0.1) << "the stop does not halve the threshold";
  EXPECT_EQ(read_file(path), "-7.500000\n");
  EXPECT_EQ(w.write_at_stop(-7.7, &error), DriftWrite::kWritten);
  EXPECT_EQ(read_file(path), "-7.700000\n");
}

TEST(DriftfileWriter, time_going_back_restarts_the_hour) {
  const std::string dir = temp_dir("back");
  DriftfileWriter w(dir + "/d", std::nullopt, kStart);
  std::string error;
  EXPECT_EQ(w.maybe_write(kStart - kHour, 2.0, &error), DriftWrite::kNotDue);
  EXPECT_EQ(w.maybe_write(kStart - kMinute, 2.0, &error), DriftWrite::kNotDue);
  EXPECT_EQ(w.maybe_write(kStart, 2.0, &error), DriftWrite::kWritten);
}

TEST(DriftfileWriter, failure_is_reported_and_retried_next_hour) {
  const std::string dir = temp_dir("fail");
  const std::string sub = dir + "/later";
  DriftfileWriter w(sub + "/ntp.drift", std::nullopt, kStart);
  std::string error;
  EXPECT_EQ(w.maybe_write(kStart + kHour, 4.0, &error), DriftWrite::kFailed);
  EXPECT_NE(error.find(sub), std::string::npos) << error;
  EXPECT_FALSE(w.on_disk().has_value());
  std::filesystem::create_directories(sub);
  EXPECT_EQ(w.maybe_write(kStart + 2 * kHour, 4.0, &error), DriftWrite::kWritten) << error;
  EXPECT_EQ(w.maybe_write(kStart + 3 * kHour, std::numeric_limits<double>::quiet_NaN(), &error),
            DriftWrite::kFailed);
  EXPECT_EQ(read_file(sub + "/ntp.drift"), "4.000000\n");
}

// A writer killed with SIGKILL at random moments while a reader reads: every
// read, during and after, sees a whole file holding one of the values written.
TEST(Driftfile, kill_9_never_leaves_a_torn_file) {
  const std::string dir = temp_dir("kill9");
  const std::string path = dir + "/ntp.drift";
  // Values k/4 - 250 (k = 0..1999) are exact in binary and in "%.6f".
  auto value = [](int k) { return (k % 2000) / 4.0 - 250.0; };
  bool moved = false;
  auto check = [&](const DriftRead& r, const char* when, int round) {
    ASSERT_TRUE(r.ppm.has_value()) << when << " round " << round << ": " << r.warning;
    moved = moved || *r.ppm != value(0);
    const double k = (*r.ppm + 250.0) * 4.0;
    EXPECT_EQ(k, std::floor(k)) << when << " round " << round << ": " << *r.ppm;
  };
  std::string error;
  ASSERT_TRUE(write_driftfile(path, value(0), error)) << error;
  std::mt19937 rng(20251201);
  int reads = 0;
  for (int round = 0; round < 30; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::string e;
      for (int k = 1;; ++k) {
        if (!write_driftfile(path, value(k), e)) ::_exit(3);
      }
    }
    const int deadline_us = 200 + static_cast<int>(rng() % 20000);
    for (int waited = 0; waited < deadline_us; waited += 100) {
      check(read_driftfile(path), "while writing", round);
      ++reads;
      ::usleep(100);
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer failed by itself, status " << status;
    check(read_driftfile(path), "after kill", round);
  }
  EXPECT_GT(reads, 30);
  EXPECT_TRUE(moved) << "the writer never completed a write before being killed";
  // A stale temp file from the killed writer is harmless and replaced by the next write.
  ASSERT_TRUE(write_driftfile(path, 1.0, error)) << error;
  EXPECT_EQ(read_file(path), "1.000000\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace ntsd::clock
