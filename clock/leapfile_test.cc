#include "clock/leapfile.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace ntsd::clock {
namespace {

using proto::Leap;

// Copies under clock/testdata/: Debian tzdata 2025b's file (expires 2026-06-28)
// and hand-made files whose hashes were computed as NIST's tools do.
const std::string kDir = "clock/testdata/";
constexpr int64_t k2017 = 1'483'228'800;     // 2017-01-01, the last real leap (TAI-UTC 37)
constexpr int64_t k2026Jan = 1'767'225'600;  // 2026-01-01
constexpr int64_t k2026Dec = 1'796'083'200;  // 2026-12-01
constexpr int64_t k2027 = 1'798'761'600;     // 2027-01-01: the hand-made leaps
constexpr int64_t kDay = 86400;

LeapTable load_ok(const std::string& name, int64_t now) {
  const LeapLoad r = load_leapfile(kDir + name, now);
  EXPECT_TRUE(r.table.has_value()) << (r.warnings.empty() ? "" : r.warnings[0]);
  return r.table.value_or(LeapTable{});
}

TEST(Leapfile, debian_file_parses_with_a_good_hash) {
  const LeapLoad r = load_leapfile(kDir + "leap-seconds.list", k2026Jan);
  ASSERT_TRUE(r.table.has_value());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  EXPECT_FALSE(r.expired);
  EXPECT_EQ(r.table->hash, LeapHash::kGood);
  ASSERT_EQ(r.table->entries.size(), 28u);
  EXPECT_EQ(r.table->entries.front(), (LeapEntry{63'072'000, 10}));  // 1972-01-01
  EXPECT_EQ(r.table->entries.back(), (LeapEntry{k2017, 37}));
  EXPECT_EQ(r.table->expires, 1'782'604'800);  // 2026-06-28
  EXPECT_EQ(r.table->updated, 3'960'835'200 - 2'208'988'800);

  const LeapState s = leap_state(*r.table, k2026Jan);
  EXPECT_EQ(s.leap, Leap::kNone);
  EXPECT_EQ(s.tai_utc, 37);
  EXPECT_EQ(s.next_leap, 0);
  EXPECT_FALSE(s.scheduled);
}

TEST(Leapfile, the_installed_file_if_any_has_a_good_hash) {
  const std::string path = "/usr/share/zoneinfo/leap-seconds.list";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (tzdata)";
  const LeapLoad r = load_leapfile(path, 0);
  ASSERT_TRUE(r.table.has_value()) << r.warnings[0];
  EXPECT_EQ(r.table->hash, LeapHash::kGood);
  EXPECT_GE(r.table->entries.size(), 28u);
}

TEST(Leapfile, expired_file_warns_and_still_gives_the_table) {
  const LeapLoad r = load_leapfile(kDir + "leap-seconds.list", k2026Dec);
  ASSERT_TRUE(r.table.has_value());
  EXPECT_TRUE(r.expired);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].rfind(kDir + "leap-seconds.list: expired on 2026-06-28", 0), 0u)
      << r.warnings[0];
  EXPECT_EQ(leap_state(*r.table, k2026Dec).tai_utc, 37);
}

TEST(Leapfile, announces_the_2016_insertion_on_its_last_day_only) {
  const LeapTable t = load_ok("leap-seconds.list", k2026Jan);
  LeapState s = leap_state(t, k2017 - 28 * kDay - 1);
  EXPECT_EQ(s.leap, Leap::kNone);
  EXPECT_FALSE(s.scheduled);
  EXPECT_EQ(s.tai_utc, 36);
  s = leap_state(t, k2017 - 28 * kDay);
  EXPECT_EQ(s.leap, Leap::kNone);
  EXPECT_TRUE(s.scheduled);
  EXPECT_EQ(s.next_leap, k2017);
  EXPECT_EQ(s.next_step, 1);
  EXPECT_EQ(leap_indicator(t, k2017 - kDay - 1), Leap::kNone);
  EXPECT_EQ(leap_indicator(t, k2017 - kDay), Leap::kInsert61);  // 2016-12-31 00:00:00
  EXPECT_EQ(leap_indicator(t, k2017 - 1), Leap::kInsert61);     // 23:59:59 (and 23:59:60)
  s = leap_state(t, k2017);
  EXPECT_EQ(s.leap, Leap::kNone);
  EXPECT_EQ(s.tai_utc, 37);
  EXPECT_EQ(s.next_leap, 0);
  // Before the table: nothing known.
  EXPECT_EQ(leap_state(t, 0).tai_utc, 0);
  EXPECT_EQ(leap_indicator(t, 0), Leap::kNone);
}

TEST(Leapfile, insertion_pending) {
  const LeapTable t = load_ok("leap-insert-pending.list", k2026Dec);
  EXPECT_EQ(t.hash, LeapHash::kGood);
  EXPECT_EQ(leap_indicator(t, k2026Dec), Leap::kNone);
  EXPECT_TRUE(leap_state(t, k2027 - 20 * kDay).scheduled);
  EXPECT_EQ(leap_indicator(t, k2027 - 20 * kDay), Leap::kNone);
  EXPECT_EQ(leap_indicator(t, k2027 - kDay / 2), Leap::kInsert61);
  EXPECT_EQ(leap_indicator(t, k2027), Leap::kNone);
  EXPECT_EQ(leap_state(t, k2027).tai_utc, 38);
}

TEST(Leapfile, deletion_pending) {
  const LeapTable t = load_ok("leap-delete-pending.list", k2026Dec);
  const LeapState s = leap_state(t, k2027 - kDay / 2);
  EXPECT_EQ(s.leap, Leap::kDelete59);
  EXPECT_EQ(s.next_step, -1);
  EXPECT_EQ(s.tai_utc, 37);
  EXPECT_EQ(leap_state(t, k2027).tai_utc, 36);
}

TEST(Leapfile, reject_bad_hash) {
  const LeapLoad r = load_leapfile(kDir + "leap-bad-hash.list", k2026Dec);
  EXPECT_FALSE(r.table.has_value());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("does not match"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("leap-bad-hash.list"), std::string::npos);
}

TEST(Leapfile, no_hash_line_is_used_with_a_warning) {
  const LeapLoad r = load_leapfile(kDir + "leap-no-hash.list", k2026Dec);
  ASSERT_TRUE(r.table.has_value());
  EXPECT_EQ(r.table->hash, LeapHash::kMissing);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("no hash"), std::string::npos);
}

TEST(Leapfile, hash_words_without_leading_zeros) {
  // NIST writes each 32-bit word of the hash without leading zeros ("cc325" is 000cc325).
  const std::string text =
      "#$ 3900000654\n#@ 4007750400\n3692217600 37 # 1 Jan 2017\n"
      "#h cc325 8f9306f6 3eeafeec 61aaa188 e63a3694\n";
  LeapLoad r = parse_leapfile(text, "x", k2026Dec);
  ASSERT_TRUE(r.table.has_value()) << r.warnings[0];
  EXPECT_EQ(r.table->hash, LeapHash::kGood);
  EXPECT_TRUE(r.warnings.empty());
  r = parse_leapfile(text.substr(0, text.find("#h")) +
                         "#h 000cc325 8f9306f6 3eeafeec 61aaa188 "
                         "e63a3694\n",
                     "x", k2026Dec);
  EXPECT_TRUE(r.table.has_value());
  r = parse_leapfile(text.substr(0, text.find("#h")) + "#h cc325 8f9306f6 3eeafeec 61aaa188\n", "x",
                     k2026Dec);
  EXPECT_FALSE(r.table.has_value());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("malformed hash"), std::string::npos);
}

TEST(Leapfile, reject_malformed_data_naming_the_line) {
  struct Case {
    const char* what;
    const char* text;
    int line;
  };
  const Case cases[] = {
      {"not a month start", "#@ 4007750400\n3692217601 37\n", 2},
      {"not ascending", "#@ 4007750400\n3692217600 37\n3644697600 36\n", 3},
      {"garbage in number", "#@ 4007750400\n3692217600x 37\n", 2},
      {"no offset", "#@ 4007750400\n# c\n3692217600\n", 3},
      {"before 1970", "#@ 4007750400\n2208988799 1\n", 2},
      {"bad expiry", "#@ soon\n", 1},
      {"absurd number", "#@ 99999999999999999999999\n", 1},
  };
  for (const Case& c : cases) {
    const LeapLoad r = parse_leapfile(c.text, "f", k2026Dec);
    EXPECT_FALSE(r.table.has_value()) << c.what;
    ASSERT_EQ(r.warnings.size(), 1u) << c.what;
    EXPECT_EQ(r.warnings[0].rfind("f:" + std::to_string(c.line) + ": ", 0), 0u)
        << c.what << ": " << r.warnings[0];
  }
}

TEST(Leapfile, missing_file_is_a_warning) {
  const LeapLoad r = load_leapfile(kDir + "no-such-file", k2026Dec);
  EXPECT_FALSE(r.table.has_value());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace ntsd::clock
