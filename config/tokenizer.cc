#include "config/tokenizer.h"

#include <cstdio>

namespace ntsd::config {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Control bytes have no business in a directive; a NUL would silently cut a
// path short when it reaches open(). UTF-8 (>= 0x80) passes: paths may use it.
bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

std::string describe_byte(char c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "control byte 0x%02x", static_cast<unsigned char>(c));
  return buf;
}

Line tokenize_line(std::string_view text, int number) {
  Line line;
  line.number = number;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (c == '#') break;
    if (c == '"') {
      const size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) {
        line.error_found = "unterminated quoted string";
        line.error_expected = "a closing '\"' on the same line";
        return line;
      }
      const std::string_view token = text.substr(i + 1, close - i - 1);
      for (char q : token) {
        if (is_control(q) && q != '\t') {
          line.error_found = describe_byte(q) + " inside a quoted string";
          line.error_expected = "printable text";
          return line;
        }
      }
      line.tokens.push_back(token);
      i = close + 1;
      continue;
    }
    if (is_control(c)) {
      line.error_found = describe_byte(c);
      line.error_expected = "printable text";
      return line;
    }
    const size_t start = i;
    while (i < text.size() && !is_space(text[i]) && text[i] != '#' && text[i] != '"' &&
           !is_control(text[i])) {
      ++i;
    }
    line.tokens.push_back(text.substr(start, i - start));
  }
  return line;
}

}  // namespace

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  int number = 1;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    Line line = tokenize_line(text.substr(start, end - start), number);
    if (!line.tokens.empty() || !line.error_found.empty()) lines.push_back(std::move(line));
    if (end == text.size()) break;
    start = end + 1;
    ++number;
  }
  return lines;
}

int count_lines(std::string_view text) {
  int n = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && i + 1 < text.size()) ++n;
  }
  return n;
}

}  // namespace ntsd::config
