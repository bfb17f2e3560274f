// Fuzzes the cookie jar parser (//clock:cookie_file) with arbitrary file text.
// Invariants: sessions only from a file of ours; every warning names the file
// and a line that exists; a parsed jar formats back to text that parses to the
// same sessions; a shorter max age only drops sessions, never adds any.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "clock/cookie_file.h"

namespace {

using namespace ntsd::clock;

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kName = "fuzz.cookies";

void check_warnings(const CookieFileLoad& r, std::string_view text) {
  size_t lines = 1;
  for (char c : text) lines += c == '\n';
  for (const std::string& w : r.warnings) {
    check(w.rfind(std::string(kName) + ":", 0) == 0);
    size_t i = kName.size() + 1;
    size_t line = 0;
    while (i < w.size() && w[i] >= '0' && w[i] <= '9' && line <= lines) {
      line = line * 10 + static_cast<size_t>(w[i] - '0');
      ++i;
    }
    check(line >= 1 && line <= lines);
    check(w.compare(i, 2, ": ") == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CookieLoadOptions forever;
  forever.now = 1'764'547'200;
  forever.max_age = int64_t{1} << 41;  // beyond any KE time the parser accepts
  const CookieFileLoad r = parse_cookie_file(text, kName, forever);

  check(r.kind != CookieFileKind::kMissing && r.kind != CookieFileKind::kUnreadable);
  check_warnings(r, text);
  check(r.may_overwrite() == (r.kind != CookieFileKind::kForeign));
  if (r.kind != CookieFileKind::kOurs) {
    check(r.sessions.empty());
    check(!r.warnings.empty());
    return 0;
  }
  check(r.warnings.empty());
  check(r.dropped_stale == 0);
  check(r.sessions.size() <= kMaxPersistedSessions);
  for (const PersistedSession& s : r.sessions) {
    check(s.cookies.size() <= kMaxPersistedCookies);
    check(!s.c2s.empty() && s.c2s.size() <= kMaxPersistedKeySize && s.s2c.size() == s.c2s.size());
    for (const auto& c : s.cookies) check(!c.empty() && c.size() <= kMaxPersistedCookieSize);
  }

  SecretText canonical;
  std::string error;
  check(format_cookie_file(r.sessions, canonical, error));
  const CookieFileLoad again =
      parse_cookie_file(std::string_view(canonical.data(), canonical.size()), kName, forever);
  check(again.kind == CookieFileKind::kOurs);
  check(again.warnings.empty());
  check(again.sessions == r.sessions);

  CookieLoadOptions day = forever;
  day.max_age = 86400;
  const CookieFileLoad recent = parse_cookie_file(text, kName, day);
  check(recent.kind == CookieFileKind::kOurs);
  check(recent.sessions.size() + recent.dropped_stale == r.sessions.size());
  for (const PersistedSession& s : recent.sessions) {
    check(s.ke_time >= day.now - day.max_age && s.ke_time <= day.now + day.max_age);
  }
  return 0;
}
