#pragma once
// What a directive handler works with: a cursor over the tokens of one line,
// and the config being built plus the error and warning lists, each message
// shaped `FILE:LINE: <what was found>, expected <what was expected>`.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/tokenizer.h"

namespace ntsd::config {

class Cursor {
 public:
  explicit Cursor(const Line& line) : tokens_(line.tokens) {}
  bool done() const { return pos_ >= tokens_.size(); }
  std::string_view peek() const { return done() ? std::string_view() : tokens_[pos_]; }
  std::string_view next() { return done() ? std::string_view() : tokens_[pos_++]; }
  std::string_view directive() const { return tokens_.front(); }
  // The last token taken by next() (the keyword whose value is wanted).
  std::string_view last() const { return pos_ == 0 ? std::string_view() : tokens_[pos_ - 1]; }
  // Tokens [from, to) joined by single spaces and quoted: 'minpoll 99'.
  std::string quote(size_t from, size_t to) const;
  size_t pos() const { return pos_; }

 private:
  const std::vector<std::string_view>& tokens_;
  size_t pos_ = 0;
};

class Context {
 public:
  Context(Config& config, std::string_view file, std::vector<std::string>& errors,
          std::vector<std::string>& warnings)
      : config(config), file_(file), errors_(errors), warnings_(warnings) {}

  Config& config;

  void set_line(int line) { line_ = line; }
  int line() const { return line_; }
  // Records "FILE:LINE: found, expected expected".
  void error(std::string_view found, std::string_view expected);
  // Records "FILE:LINE: text" as a warning.
  void warn(std::string_view text);
  // First use of a single-valued setting returns true; a repeat records an error and returns false.
  bool once(const std::string& setting);
  // The line where `setting` was first given through once(), 0 if never.
  int first_line(const std::string& setting) const {
    const auto it = first_line_.find(setting);
    return it == first_line_.end() ? 0 : it->second;
  }
  // Next token as the value of the keyword just taken, or an error "'kw' without a value".
  std::optional<std::string_view> value(Cursor& c, std::string_view expected);
  // Next token as an integer in [lo, hi], or an error quoting keyword and value.
  std::optional<int64_t> int_value(Cursor& c, int64_t lo, int64_t hi, std::string_view expected);
  // Errors recorded so far, all lines.
  size_t error_count() const { return errors_.size(); }

 private:
  std::string prefix() const;

  std::string_view file_;
  std::vector<std::string>& errors_;
  std::vector<std::string>& warnings_;
  std::map<std::string, int> first_line_;
  int line_ = 0;
};

// Text quoted for a message ('text'), cut short with "..." past 80 bytes.
std::string quoted(std::string_view text);

}  // namespace ntsd::config
