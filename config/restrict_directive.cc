// `restrict` lines: NTPsec's access-commands, numeric addresses only.
#include <string>

#include "config/address.h"
#include "config/directives.h"
#include "config/values.h"

namespace ntsd::config {
namespace {

constexpr std::string_view kTarget =
    "an IPv4 or IPv6 address (optionally /PREFIX), 'default' or 'source'";

std::string flag_list() { return "a restrict flag: " + names_list(restrict_flag_names()); }

}  // namespace

void parse_restrict(Cursor& c, Context& ctx) {
  RestrictEntry r;
  IpFamily qualifier = IpFamily::kAny;
  if (c.peek() == "-4" || c.peek() == "-6") {
    qualifier = c.next() == "-4" ? IpFamily::kIPv4 : IpFamily::kIPv6;
  }
  if (c.done()) {
    ctx.error("'restrict' without an address",
              "'restrict [-4|-6] ADDRESS|default|source [mask M] [flag ...]'");
    return;
  }
  const std::string_view target = c.next();
  bool have_prefix = false;
  if (target == "default") {
    r.is_default = true;
    r.family = qualifier;
  } else if (target == "source") {
    r.is_source = true;
    r.family = qualifier;
  } else {
    std::string_view addr_text = target;
    std::optional<int64_t> cidr;
    if (const size_t slash = target.find('/'); slash != std::string_view::npos) {
      addr_text = target.substr(0, slash);
      const auto ip = parse_ip(addr_text);
      const int64_t max_bits = ip ? address_bits(ip->family) : 128;
      cidr = parse_int(target.substr(slash + 1), 0, max_bits);
      if (ip && !cidr) {
        ctx.error(c.quote(0, c.pos()),
                  "a prefix length 0.." + std::to_string(max_bits) + " after '/'");
      }
    }
    const auto ip = parse_ip(addr_text);
    if (!ip) {
      ctx.error(c.quote(0, c.pos()), kTarget);
      return;  // without an address the mask and flags cannot be checked
    }
    if (qualifier != IpFamily::kAny && qualifier != ip->family) {
      ctx.error(c.quote(0, c.pos()), qualifier == IpFamily::kIPv4 ? "an IPv4 address after -4"
                                                                  : "an IPv6 address after -6");
    }
    r.family = ip->family;
    r.address = ip->bytes;
    r.prefix_len = static_cast<uint8_t>(cidr.value_or(address_bits(ip->family)));
    have_prefix = cidr.has_value();
  }

  if (c.peek() == "mask") {
    c.next();
    const size_t mask_start = c.pos() - 1;
    const auto mask_text = ctx.value(c, "'mask M' with a netmask such as 255.255.255.0");
    if (mask_text) {
      const auto mask = parse_ip(*mask_text);
      if (r.is_default || r.is_source) {
        ctx.error(c.quote(0, c.pos()), "no mask after '" + std::string(target) +
                                           "' (it needs none; give an address to mask)");
      } else if (have_prefix) {
        ctx.error(c.quote(0, c.pos()), "either ADDRESS/PREFIX or 'mask M', not both");
      } else if (!mask) {
        ctx.error(c.quote(mask_start, c.pos()),
                  "a netmask such as 255.255.255.0 or ffff:ffff:ffff:ffff::");
      } else if (mask->family != r.family) {
        ctx.error(c.quote(0, c.pos()), r.family == IpFamily::kIPv4
                                           ? "an IPv4 netmask for an IPv4 address"
                                           : "an IPv6 netmask for an IPv6 address");
      } else if (const auto prefix = prefix_from_mask(*mask)) {
        r.prefix_len = static_cast<uint8_t>(*prefix);
      } else {
        ctx.error(c.quote(mask_start, c.pos()) + " has non-contiguous bits",
                  "a netmask whose one-bits are contiguous from the left, such as 255.255.0.0");
      }
    }
  }
  // NTPsec masks the address with the mask silently; so does ntsd, so that
  // `restrict 192.168.1.5 mask 255.255.255.0` means the whole /24.
  if (!r.is_default && !r.is_source) clear_host_bits(r.address, r.prefix_len);

  while (!c.done()) {
    const std::string_view flag = c.next();
    if (const auto f = lookup(restrict_flag_names(), flag)) {
      r.flags |= bit(*f);
    } else if (flag == "mask") {
      ctx.error("'mask' after the flags", "'mask M' right after the address");
      c.next();
    } else {
      ctx.error("unknown restrict flag " + quoted(flag), flag_list());
    }
  }
  // ntsd's `limited64` only changes how IPv6 clients are keyed; on an entry
  // that can only match IPv4 clients it would silently mean `limited`.
  if (r.has(RestrictFlag::kLimited64) && r.family == IpFamily::kIPv4) {
    ctx.error("'limited64' on an IPv4 entry",
              "'limited' (limited64 keys IPv6 clients per /64; IPv4 clients are keyed per "
              "address either way)");
  }
  ctx.config.restricts.push_back(r);
}

}  // namespace ntsd::config
