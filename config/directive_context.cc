#include "config/directive_context.h"

#include "config/values.h"

namespace ntsd::config {

std::string quoted(std::string_view text) {
  // Long tokens (a fuzzer's, or a pasted certificate) would drown the message.
  constexpr size_t kMax = 80;
  std::string out = "'";
  if (text.size() > kMax) {
    out.append(text.substr(0, kMax));
    out += "...";
  } else {
    out.append(text);
  }
  out += "'";
  return out;
}

std::string Cursor::quote(size_t from, size_t to) const {
  // `nts`, `tos` and `discard` lines hold several subcommands; naming the
  // subcommand alone ('rotate 59') would lose which directive it belongs to.
  const std::string_view d = directive();
  std::string joined =
      from > 0 && (d == "nts" || d == "tos" || d == "discard") ? std::string(d) : "";
  for (size_t i = from; i < to && i < tokens_.size(); ++i) {
    if (!joined.empty()) joined += ' ';
    joined.append(tokens_[i]);
  }
  return quoted(joined);
}

std::string Context::prefix() const {
  std::string out(file_);
  out += ':';
  out += std::to_string(line_);
  out += ": ";
  return out;
}

void Context::error(std::string_view found, std::string_view expected) {
  std::string msg = prefix();
  msg.append(found);
  msg += ", expected ";
  msg.append(expected);
  errors_.push_back(std::move(msg));
}

void Context::warn(std::string_view text) {
  std::string msg = prefix();
  msg.append(text);
  warnings_.push_back(std::move(msg));
}

bool Context::once(const std::string& setting) {
  // A repeated setting is an error rather than "last one wins": with two
  // `nts cert` lines, whichever ntsd picked, the operator meant the other one
  // half the time.
  const auto [it, inserted] = first_line_.emplace(setting, line_);
  if (inserted) return true;
  error("second " + quoted(setting) + " (first on line " + std::to_string(it->second) + ")",
        "each setting at most once");
  return false;
}

std::optional<std::string_view> Context::value(Cursor& c, std::string_view expected) {
  if (c.done()) {
    error(c.quote(c.pos() - 1, c.pos()) + " without a value", expected);
    return std::nullopt;
  }
  return c.next();
}

std::optional<int64_t> Context::int_value(Cursor& c, int64_t lo, int64_t hi,
                                          std::string_view expected) {
  const size_t start = c.pos() - 1;  // the keyword
  const auto text = value(c, expected);
  if (!text) return std::nullopt;
  const auto v = parse_int(*text, lo, hi);
  if (!v) error(c.quote(start, c.pos()), expected);
  return v;
}

}  // namespace ntsd::config
