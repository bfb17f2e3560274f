#include "config/values.h"

#include <array>
#include <charconv>
#include <cmath>

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
