#include "clock/leapfile.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ntsd::clock {
namespace {

constexpr int64_t kNtpToUnix = 2'208'988'800;  // 1900-01-01 to 1970-01-01
constexpr int64_t kSecondsPerDay = 86400;
// ntpd schedules a leap 28 days ahead (NTPsec ntpd/ntp_leapsec.c leapsec_raw():
// "Start 28 days earlier. Avoids month arithmetic.").
constexpr int64_t kScheduleWindow = 28 * kSecondsPerDay;
// The list has 28 entries after 53 years; a thousand is absurd, not data.
constexpr size_t kMaxEntries = 1000;
constexpr size_t kMaxFileSize = 1u << 20;
// NTP seconds in the file are bounded so that Unix times stay far from overflow.
constexpr uint64_t kMaxNtpSeconds = uint64_t{1} << 40;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view skip_space(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// NTPsec parsefail(): a number must end at the end, a space or a '#'.
bool number_ends(std::string_view rest) {
  return rest.empty() || rest.front() == '#' || is_space(rest.front());
}

// Reads decimal digits (no sign) at the start of `s`; advances `s`.
bool read_unsigned(std::string_view& s, uint64_t max, uint64_t& out) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && is_digit(s[i])) {
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (v > max) return false;
    ++i;
  }
  if (i == 0) return false;
  s.remove_prefix(i);
  out = v;
  return number_ends(s);
}

bool read_signed(std::string_view& s, int64_t limit, int64_t& out) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  uint64_t v = 0;
  if (!read_unsigned(s, static_cast<uint64_t>(limit), v)) return false;
  out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

// NTPsec leapsec_raw(): a transition must be at the exact start of a month.
bool month_start(int64_t unix_s) {
  using namespace std::chrono;
  if (unix_s % kSecondsPerDay != 0) return false;
  const year_month_day ymd{sys_days{days{unix_s / kSecondsPerDay}}};
  return static_cast<unsigned>(ymd.day()) == 1;
}

std::string date_text(int64_t unix_s) {
  using namespace std::chrono;
  int64_t day = unix_s / kSecondsPerDay;
  if (unix_s % kSecondsPerDay < 0) --day;
  const year_month_day ymd{sys_days{days{day}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

// NTPsec do_leap_hash(): five whitespace-separated hex words, NIST writes them
// without leading zeros, so each is read as a 32-bit number (big-endian bytes).
bool parse_hash(std::string_view s, uint8_t (&out)[20]) {
  for (int w = 0; w < 5; ++w) {
    s = skip_space(s);
    size_t i = 0;
    uint32_t v = 0;
    while (i < s.size() && i < 9) {
      const char c = s[i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) break;
      v = v << 4 | static_cast<uint32_t>(d);
      ++i;
    }
    if (i == 0 || i > 8 || (i < s.size() && !is_space(s[i]))) return false;
    s.remove_prefix(i);
    for (int b = 0; b < 4; ++b) out[w * 4 + b] = static_cast<uint8_t>(v >> (24 - 8 * b));
  }
  return skip_space(s).empty();
}

using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// NTPsec do_hash_data(): the digits of a line, up to its first '#'.
void hash_digits(EVP_MD_CTX* ctx, std::string_view s) {
  char buf[64];
  size_t n = 0;
  for (char c : s) {
    if (c == '#') break;
    if (!is_digit(c)) continue;
    buf[n++] = c;
    if (n == sizeof buf) {
      EVP_DigestUpdate(ctx, buf, n);
      n = 0;
    }
  }
  if (n > 0) EVP_DigestUpdate(ctx, buf, n);
}

}  // namespace

// The file is read as NTPsec reads it (ntpd/ntp_leapsec.c): the hash first
// (leapsec_validate(): SHA-1 over the digits of the `#$`, `#@` and data
// lines; no `#h` line is accepted with a complaint, a wrong one rejects the
// file), then the data (leapsec_load(): ascending month starts, `#$`/`#@`
// times), then the expiry check against the caller's time.
LeapLoad parse_leapfile(std::string_view text, std::string_view name, int64_t now) {
  LeapLoad out;
  const std::string file(name);
  auto line_warning = [&](size_t line, const std::string& what) {
    out.warnings.push_back(file + ":" + std::to_string(line) + ": " + what +
                           "; leap second file ignored");
  };
  if (text.size() > kMaxFileSize) {
    out.warnings.push_back(file + ": larger than 1 MiB; leap second file ignored");
    return out;
  }

  LeapTable table;
  const MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha1(), nullptr) != 1) {
    out.warnings.push_back(file + ": SHA-1 unavailable in OpenSSL; leap second file ignored");
    return out;
  }
  uint8_t want[20] = {};
  bool have_hash = false;
  bool bad_hash_line = false;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);

    if (line.substr(0, 2) == "#h") {
      // A later `#h` line replaces an earlier one, as in NTPsec.
      have_hash = true;
      bad_hash_line = !parse_hash(line.substr(2), want);
    } else if (line.substr(0, 2) == "#$" || line.substr(0, 2) == "#@") {
      hash_digits(ctx.get(), line.substr(2));
      std::string_view rest = skip_space(line.substr(2));
      uint64_t ntp = 0;
      if (!read_unsigned(rest, kMaxNtpSeconds, ntp) || ntp < static_cast<uint64_t>(kNtpToUnix)) {
        line_warning(line_no, "expected NTP seconds after " + std::string(line.substr(0, 2)));
        return out;
      }
      (line[1] == '$' ? table.updated : table.expires) = static_cast<int64_t>(ntp) - kNtpToUnix;
    } else if (!line.empty() && is_digit(line.front())) {
      hash_digits(ctx.get(), line);
      std::string_view rest = line;
      uint64_t ntp = 0;
      int64_t offset = 0;
      if (!read_unsigned(rest, kMaxNtpSeconds, ntp) || ntp < static_cast<uint64_t>(kNtpToUnix)) {
        line_warning(line_no, "expected NTP seconds of a leap (1900-based, after 1970)");
        return out;
      }
      rest = skip_space(rest);
      if (!read_signed(rest, 32767, offset)) {
        line_warning(line_no, "expected TAI-UTC seconds after the time");
        return out;
      }
      const LeapEntry e{static_cast<int64_t>(ntp) - kNtpToUnix, static_cast<int>(offset)};
      if (!month_start(e.start)) {
        line_warning(line_no, "leap time " + std::to_string(ntp) + " is not 00:00 UTC on the 1st");
        return out;
      }
      if (!table.entries.empty() && e.start <= table.entries.back().start) {
        line_warning(line_no, "times not ascending");
        return out;
      }
      if (table.entries.size() == kMaxEntries) {
        line_warning(line_no, "more than 1000 entries");
        return out;
      }
      table.entries.push_back(e);
    }
    // Anything else is a comment.
  }

  uint8_t got[20] = {};
  unsigned got_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), got, &got_len) != 1 || got_len != sizeof got) {
    out.warnings.push_back(file + ": SHA-1 failed in OpenSSL; leap second file ignored");
    return out;
  }
  if (!have_hash) {
    table.hash = LeapHash::kMissing;
    out.warnings.push_back(file +
                           ": no hash (#h) line, so damage cannot be detected; using it "
                           "anyway");
  } else if (bad_hash_line) {
    out.warnings.push_back(file + ": malformed hash (#h) line; leap second file ignored");
    return out;
  } else if (std::memcmp(want, got, sizeof got) != 0) {
    out.warnings.push_back(file +
                           ": SHA-1 hash (#h) does not match the data (damaged or "
                           "edited); leap second file ignored");
    return out;
  } else {
    table.hash = LeapHash::kGood;
  }

  // NTPsec check_leap_expiration(): an expired table is still used (what it
  // lists stays true) but can no longer announce a new leap.
  if (table.expires == 0) {
    out.expired = true;
    out.warnings.push_back(file +
                           ": no expiry (#@) line; treat it as expired and get a current "
                           "leap-seconds.list (Debian: package tzdata)");
  } else if (now >= table.expires) {
    out.expired = true;
    out.warnings.push_back(file + ": expired on " + date_text(table.expires) +
                           "; a leap second announced since then is unknown to ntsd. Get a "
                           "current leap-seconds.list (Debian: package tzdata)");
  }
  out.table = std::move(table);
  return out;
}

LeapLoad load_leapfile(const std::string& path, int64_t now) {
  LeapLoad out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.warnings.push_back(path + ": cannot open leap second file: " + std::strerror(errno));
    return out;
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.warnings.push_back(path + ": cannot read leap second file: " + std::strerror(errno));
      ::close(fd);
      return out;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxFileSize) break;
  }
  ::close(fd);
  return parse_leapfile(text, path, now);
}

// Which leap bits to send follows NTPsec: leapsec_query() (ntpd/ntp_leapsec.c)
// reports LSPROX_SCHEDULE from 28 days before the transition and
// LSPROX_ANNOUNCE during the last day (86400 s) before it, and timer()
// (ntpd/ntp_timer.c) sets sys_leap to add/delete only at LSPROX_ANNOUNCE
// ("if (leapsec >= LSPROX_ANNOUNCE && leapdif)"). So the LI bits announce a
// leap during the last UTC day of the month, not the whole month as NTP
// Classic 4.2.6 did. The transition is taken at the listed time itself, as
// NTPsec does with a kernel that performs the leap (electric mode).
LeapState leap_state(const LeapTable& table, int64_t now) {
  LeapState st;
  const auto& e = table.entries;
  size_t i = 0;
  while (i < e.size() && e[i].start <= now) ++i;
  if (i == 0) return st;  // before the table: nothing known (not even the first TAI-UTC)
  st.tai_utc = e[i - 1].tai_utc;
  if (i == e.size()) return st;
  const int step = e[i].tai_utc - st.tai_utc;
  if (step == 0) return st;
  st.next_leap = e[i].start;
  st.next_step = step > 0 ? 1 : -1;
  st.scheduled = now >= e[i].start - kScheduleWindow;
  if (now >= e[i].start - kSecondsPerDay) {
    st.leap = step > 0 ? proto::Leap::kInsert61 : proto::Leap::kDelete59;
  }
  return st;
}

}  // namespace ntsd::clock
