#include "config/logconfig.h"

namespace ntsd::config {
namespace {

// NTPsec's keyword tables (ntp_config.c get_logmask): a class, or "all" for
// every class, then a kind, or "all" for every kind.
constexpr struct {
  std::string_view name;
  int shift;
} kClasses[] = {{"sys", 0}, {"peer", 4}, {"clock", 8}, {"sync", 12}};

constexpr struct {
  std::string_view name;
  uint32_t bits;
} kKinds[] = {{"info", 0x1}, {"events", 0x2}, {"status", 0x4}, {"statistics", 0x8}, {"all", 0xf}};

}  // namespace

uint32_t logconfig_item_bits(std::string_view item) {
  if (!item.empty() && (item.front() == '+' || item.front() == '-' || item.front() == '='))
    item.remove_prefix(1);
  // NTPsec also takes a bare "all".
  if (item == "all") return kLogAll;
  for (const auto& kind : kKinds) {
    if (item.size() <= kind.name.size() || item.substr(item.size() - kind.name.size()) != kind.name)
      continue;
    const std::string_view cls = item.substr(0, item.size() - kind.name.size());
    if (cls == "all") return kind.bits * 0x1111;  // that kind in every class
    for (const auto& c : kClasses) {
      if (cls == c.name) return kind.bits << c.shift;
    }
  }
  return 0;
}

bool apply_logconfig_item(std::string_view item, uint32_t& mask) {
  const uint32_t bits = logconfig_item_bits(item);
  if (bits == 0) return false;
  const char sign = item.empty() ? '+' : item.front();
  if (sign == '=') {
    mask = bits;
  } else if (sign == '-') {
    mask &= ~bits;
  } else {
    mask |= bits;
  }
  return true;
}

}  // namespace ntsd::config
