// logconfig: NTPsec's keywords and signs, and the warnings for classes ntsd
// has no messages for.
#include "config/logconfig.h"

#include <gtest/gtest.h>

#include "config/parser.h"

namespace ntsd::config {
namespace {

uint32_t mask_of(std::initializer_list<std::string_view> items) {
  uint32_t mask = kLogAll;
  for (std::string_view item : items) EXPECT_TRUE(apply_logconfig_item(item, mask)) << item;
  return mask;
}

TEST(LogConfig, ManualExamples) {
  // miscopt.html: "=syncstatus +sysevents" and the reference-server minimum.
  EXPECT_EQ(mask_of({"=syncstatus", "+sysevents"}), uint32_t{kLogSyncStatus | kLogSysEvents});
  EXPECT_EQ(mask_of({"=syncall", "+clockall"}), 0xff00u);
  EXPECT_EQ(mask_of({"-peerall"}), kLogAll & ~0x00f0u);
  EXPECT_EQ(mask_of({"=allevents"}), 0x2222u);
  EXPECT_EQ(mask_of({"=all", "-clockinfo"}), kLogAll & ~uint32_t{kLogClockInfo});
  EXPECT_EQ(mask_of({"=sysinfo", "peerevents"}),
            uint32_t{kLogSysInfo | kLogPeerEvents});  // no sign adds
}

TEST(LogConfig, RejectsUnknownClasses) {
  uint32_t mask = 0x1234;
  for (std::string_view bad : {"", "+", "=sys", "syncal", "+netall", "allx", "clockinfos"}) {
    EXPECT_FALSE(apply_logconfig_item(bad, mask)) << bad;
  }
  EXPECT_EQ(mask, 0x1234u);
}

TEST(LogConfig, ParserAppliesItemsAndWarnsAboutSilentClasses) {
  const ParseResult r =
      parse_config_text("logconfig =syncall +clockall\nlogconfig +peerstatistics\n", "ntp.conf");
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->log_mask, 0xff00u | kLogPeerStatistics);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "ntp.conf:2: logconfig '+peerstatistics': ntsd has no such messages; accepted, changes "
            "nothing");

  const ParseResult bad = parse_config_text("logconfig =syncall +bogusall\n", "ntp.conf");
  EXPECT_FALSE(bad.config);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_NE(bad.errors[0].find("ntp.conf:1: unknown log class '+bogusall'"), std::string::npos)
      << bad.errors[0];

  EXPECT_EQ(parse_config_text("", "ntp.conf").config->log_mask, kLogAll);
}

}  // namespace
}  // namespace ntsd::config
