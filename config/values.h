#pragma once
// Scalar values of ntp.conf and the keyword tables shared by the parser and
// to_text(): integers, numbers, AEAD and TLS names, restrict flags, statistics.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ntsd::config {

// Whole decimal text in [lo, hi] -> value; nullopt for anything else (signs allowed, no spaces).
std::optional<int64_t> parse_int(std::string_view text, int64_t lo, int64_t hi);
// Decimal floating-point text (e.g. "1.5", "4", "1e-3"), finite -> value.
std::optional<double> parse_number(std::string_view text);
// "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, UTC, no fraction), years 1970..9999 → unix seconds;
// nullopt for anything else (another zone, a date that does not exist).
std::optional<int64_t> parse_utc_time(std::string_view text);
// Unix seconds → "YYYY-MM-DDTHH:MM:SSZ" (the form parse_utc_time reads).
std::string format_utc_time(int64_t unix_seconds);
// True when a and b are equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);

// AEAD_AES_SIV_CMAC_256 style names (NTPsec's, case-insensitive, '-' or '_') -> IANA id.
std::optional<uint16_t> aead_from_name(std::string_view name);
// IANA id -> NTPsec name ("AES_SIV_CMAC_256"); "" for an unknown id.
std::string_view aead_name(uint16_t id);
// "TLS1.2" / "TLS1.3" (also "TLSv1.3", case-insensitive) -> version.
std::optional<TlsVersion> tls_from_name(std::string_view name);
// Version -> "TLS1.2" / "TLS1.3".
std::string_view tls_name(TlsVersion v);

template <typename E>
struct NamedBit {
  std::string_view name;
  E value;
};

// Every NTPsec restrict flag with its name, in documentation order.
std::span<const NamedBit<RestrictFlag>> restrict_flag_names();
// Every NTPsec statistics file name.
std::span<const NamedBit<StatsFile>> stats_file_names();
// Every filegen type name.
std::span<const NamedBit<FileGenType>> filegen_type_names();

// Name -> entry of a table, exact (lower-case) match.
template <typename E>
std::optional<E> lookup(std::span<const NamedBit<E>> table, std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}
// Value -> name in a table ("" if absent).
template <typename E>
std::string_view name_of(std::span<const NamedBit<E>> table, E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return {};
}
// "a, b, c" of a table's names, for "expected ..." messages.
template <typename E>
std::string names_list(std::span<const NamedBit<E>> table) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

}  // namespace ntsd::config
