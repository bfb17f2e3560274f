#include "config/values.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace ntsd::config {

std::optional<int64_t> parse_int(std::string_view text, int64_t lo, int64_t hi) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < lo || value > hi) return std::nullopt;
  return value;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

// One spelling only, the one `date -u +%Y-%m-%dT%H:%M:%SZ` prints: the switch
// time of a fleet seed must read the same on every member, so no local zones,
// offsets or fractions that a reader could take two ways.
std::optional<int64_t> parse_utc_time(std::string_view t) {
  if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':' || t[19] != 'Z') {
    return std::nullopt;
  }
  auto field = [&](size_t at, size_t len) -> int64_t {
    int64_t v = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  const int64_t y = field(0, 4), mo = field(5, 2), d = field(8, 2), h = field(11, 2),
                mi = field(14, 2), s = field(17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
      s > 59) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

std::string format_utc_time(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400, secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  // civil_from_days (Hinnant).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  char out[64];
  std::snprintf(out, sizeof out, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return out;
}

std::optional<double> parse_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

namespace {

struct AeadName {
  std::string_view name;
  uint16_t id;
};

constexpr std::array<AeadName, 4> kAeads = {{
    {"AES_SIV_CMAC_256", kAeadAesSivCmac256},
    {"AES_SIV_CMAC_384", kAeadAesSivCmac384},
    {"AES_SIV_CMAC_512", kAeadAesSivCmac512},
    {"AES_128_GCM_SIV", kAeadAes128GcmSiv},
}};

constexpr std::array<NamedBit<RestrictFlag>, 15> kRestrictFlags = {{
    {"kod", RestrictFlag::kKod},
    {"limited", RestrictFlag::kLimited},
    {"nomodify", RestrictFlag::kNomodify},
    {"nopeer", RestrictFlag::kNopeer},
    {"noquery", RestrictFlag::kNoquery},
    {"notrap", RestrictFlag::kNotrap},
    {"ignore", RestrictFlag::kIgnore},
    {"noserve", RestrictFlag::kNoserve},
    {"notrust", RestrictFlag::kNotrust},
    {"nomrulist", RestrictFlag::kNomrulist},
    {"ntpport", RestrictFlag::kNtpport},
    {"version", RestrictFlag::kVersion},
    {"flake", RestrictFlag::kFlake},
    {"mssntp", RestrictFlag::kMssntp},
    {"limited64", RestrictFlag::kLimited64},
}};

constexpr std::array<NamedBit<StatsFile>, 8> kStatsFiles = {{
    {"loopstats", StatsFile::kLoopstats},
    {"peerstats", StatsFile::kPeerstats},
    {"clockstats", StatsFile::kClockstats},
    {"rawstats", StatsFile::kRawstats},
    {"sysstats", StatsFile::kSysstats},
    {"protostats", StatsFile::kProtostats},
    {"timingstats", StatsFile::kTimingstats},
    {"usestats", StatsFile::kUsestats},
}};

constexpr std::array<NamedBit<FileGenType>, 7> kFileGenTypes = {{
    {"none", FileGenType::kNone},
    {"pid", FileGenType::kPid},
    {"day", FileGenType::kDay},
    {"week", FileGenType::kWeek},
    {"month", FileGenType::kMonth},
    {"year", FileGenType::kYear},
    {"age", FileGenType::kAge},
}};

}  // namespace

std::optional<uint16_t> aead_from_name(std::string_view name) {
  // NTPsec spells them AES_SIV_CMAC_256; RFC 8915 and chrony write
  // AEAD_AES_SIV_CMAC_256 or AES-SIV-CMAC-256. Accept all three.
  std::string norm(name);
  for (char& c : norm) {
    if (c == '-') c = '_';
  }
  std::string_view v = norm;
  if (v.size() > 5 && iequals(v.substr(0, 5), "AEAD_")) v.remove_prefix(5);
  for (const auto& a : kAeads) {
    if (iequals(v, a.name)) return a.id;
  }
  return std::nullopt;
}

std::string_view aead_name(uint16_t id) {
  for (const auto& a : kAeads) {
    if (a.id == id) return a.name;
  }
  return {};
}

std::optional<TlsVersion> tls_from_name(std::string_view name) {
  if (iequals(name, "TLS1.2") || iequals(name, "TLSv1.2")) return TlsVersion::kTls12;
  if (iequals(name, "TLS1.3") || iequals(name, "TLSv1.3")) return TlsVersion::kTls13;
  return std::nullopt;
}

std::string_view tls_name(TlsVersion v) { return v == TlsVersion::kTls12 ? "TLS1.2" : "TLS1.3"; }

std::span<const NamedBit<RestrictFlag>> restrict_flag_names() { return kRestrictFlags; }
std::span<const NamedBit<StatsFile>> stats_file_names() { return kStatsFiles; }
std::span<const NamedBit<FileGenType>> filegen_type_names() { return kFileGenTypes; }

}  // namespace ntsd::config
