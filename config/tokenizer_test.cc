#include "config/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ntsd::config {
namespace {

std::vector<std::string> tokens(const Line& line) {
  return {line.tokens.begin(), line.tokens.end()};
}

TEST(Tokenizer, SplitsOnSpacesAndTabsAndNumbersLines) {
  const auto lines = split_lines("server a nts\n\n\tpool\tb  iburst \n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].number, 1);
  EXPECT_EQ(tokens(lines[0]), (std::vector<std::string>{"server", "a", "nts"}));
  EXPECT_EQ(lines[1].number, 3);
  EXPECT_EQ(tokens(lines[1]), (std::vector<std::string>{"pool", "b", "iburst"}));
}

TEST(Tokenizer, CommentsAnywhere) {
  const auto lines =
      split_lines("# whole line\nserver a # trailing\nnts enable#glued\n   # indented\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(tokens(lines[0]), (std::vector<std::string>{"server", "a"}));
  EXPECT_EQ(lines[1].number, 3);
  EXPECT_EQ(tokens(lines[1]), (std::vector<std::string>{"nts", "enable"}));
}

TEST(Tokenizer, CrLfAndNoFinalNewline) {
  const auto lines = split_lines("server a\r\n\r\nnts enable\r\ndriftfile /x");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(tokens(lines[0]), (std::vector<std::string>{"server", "a"}));
  EXPECT_EQ(lines[1].number, 3);
  EXPECT_EQ(tokens(lines[2]), (std::vector<std::string>{"driftfile", "/x"}));
  EXPECT_EQ(lines[2].number, 4);
}

TEST(Tokenizer, QuotedStringsKeepSpacesAndHashes) {
  const auto lines = split_lines("nts cert \"/etc/my certs/#1.pem\" # comment\ndriftfile \"\"\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(tokens(lines[0]), (std::vector<std::string>{"nts", "cert", "/etc/my certs/#1.pem"}));
  EXPECT_EQ(tokens(lines[1]), (std::vector<std::string>{"driftfile", ""}));
}

TEST(Tokenizer, LexicalErrors) {
  auto lines = split_lines("nts cert \"/unterminated\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].error_found, "unterminated quoted string");
  lines = split_lines("ok line\nserver a\x01 b\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].number, 2);
  EXPECT_EQ(lines[1].error_found, "control byte 0x01");
  EXPECT_EQ(lines[1].error_expected, "printable text");
  lines = split_lines(std::string("server a\0b\n", 11));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].error_found, "control byte 0x00");
}

TEST(Tokenizer, Utf8PassesThrough) {
  const auto lines = split_lines("# クラスタ\ndriftfile /var/lib/ntp/\xc3\xa9t\xc3\xa9\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].error_found.empty());
  EXPECT_EQ(lines[0].tokens[1], "/var/lib/ntp/\xc3\xa9t\xc3\xa9");
}

TEST(Tokenizer, CountLines) {
  EXPECT_EQ(count_lines(""), 1);
  EXPECT_EQ(count_lines("a"), 1);
  EXPECT_EQ(count_lines("a\n"), 1);
  EXPECT_EQ(count_lines("a\nb"), 2);
  EXPECT_EQ(count_lines("\n\n"), 2);
}

}  // namespace
}  // namespace ntsd::config
