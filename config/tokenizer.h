#pragma once
// Splits ntp.conf text into numbered lines of whitespace-separated tokens, the
// way NTPsec's scanner does: `#` starts a comment anywhere outside a quoted
// string, "double quotes" group a token with spaces, CR before LF is ignored.

#include <string>
#include <string_view>
#include <vector>

namespace ntsd::config {

struct Line {
  int number = 0;                        // 1-based
  std::vector<std::string_view> tokens;  // views into the text (quotes removed)
  std::string error_found;               // lexical problem, if any; tokens stop there
  std::string error_expected;
};

// Lines that hold at least one token or a lexical error; blank and comment-only lines are dropped.
std::vector<Line> split_lines(std::string_view text);

// Number of lines in text (a trailing newline does not start another line; empty text has 1).
int count_lines(std::string_view text);

}  // namespace ntsd::config
