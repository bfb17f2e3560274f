// `server` / `pool` lines (NTPsec assoc-options and NTS client options).
#include <string>

#include "config/address.h"
#include "config/directives.h"
#include "config/values.h"

namespace ntsd::config {
namespace {

constexpr std::string_view kServerOptions =
    "a server option: nts, iburst, burst, minpoll N, maxpoll N, noval, prefer, noselect, "
    "port N, version N, ca FILE, aead NAME";
constexpr std::string_view kPoll = "a poll exponent 0..17";

}  // namespace

void parse_server(Cursor& c, Context& ctx) {
  UpstreamServer s;
  s.is_pool = c.directive() == "pool";
  const std::string usage = "'" + std::string(c.directive()) + " HOST[:PORT] [options]'";
  if (c.peek() == "-4" || c.peek() == "-6") {
    s.family = c.next() == "-4" ? IpFamily::kIPv4 : IpFamily::kIPv6;
  }
  if (c.done()) {
    ctx.error(quoted(c.directive()) + " without a host", usage);
    return;
  }
  const std::string_view host_token = c.next();
  const auto hp = split_host_port(host_token);
  if (!hp) {
    ctx.error(c.quote(0, c.pos()),
              "a host name, IPv4 address or IPv6 address, optionally [bracketed] with :PORT "
              "1..65535");
    return;
  }
  s.host = std::string(hp->host);
  s.port = hp->port;
  if (const auto ip = parse_ip(s.host);
      ip && s.family != IpFamily::kAny && ip->family != s.family) {
    ctx.error(c.quote(0, c.pos()), s.family == IpFamily::kIPv4 ? "an IPv4 address after -4"
                                                               : "an IPv6 address after -6");
  }

  bool minpoll_set = false, maxpoll_set = false;
  bool nts_only_option = false;
  while (!c.done()) {
    const size_t start = c.pos();
    const std::string_view opt = c.next();
    if (opt == "nts") {
      s.nts = true;
    } else if (opt == "iburst") {
      s.iburst = true;
    } else if (opt == "burst") {
      s.burst = true;
    } else if (opt == "noval") {
      s.noval = true;
      nts_only_option = true;
    } else if (opt == "prefer") {
      s.prefer = true;
    } else if (opt == "noselect") {
      s.noselect = true;
    } else if (opt == "minpoll" || opt == "maxpoll") {
      const bool is_min = opt == "minpoll";
      if ((is_min ? minpoll_set : maxpoll_set)) {
        ctx.error("second " + quoted(opt) + " on one line", "each option once");
      }
      if (const auto v = ctx.int_value(c, 0, 17, kPoll)) {
        (is_min ? s.minpoll : s.maxpoll) = static_cast<int>(*v);
        (is_min ? minpoll_set : maxpoll_set) = true;
      }
    } else if (opt == "port") {
      if (const auto v = ctx.int_value(c, 1, 65535, "a port 1..65535")) {
        if (s.port) {
          ctx.error(c.quote(start, c.pos()) + " after a port was already given",
                    "the port once, either as HOST:PORT or as 'port N'");
        }
        s.port = static_cast<uint16_t>(*v);
      }
    } else if (opt == "version") {
      if (const auto v = ctx.int_value(c, 1, 4, "an NTP version 1..4")) {
        s.version = static_cast<int>(*v);
      }
    } else if (opt == "ca") {
      if (const auto v = ctx.value(c, "'ca FILE|DIR'")) s.ca = std::string(*v);
      nts_only_option = true;
    } else if (opt == "aead") {
      if (const auto v = ctx.value(c, "an AEAD name such as AES_SIV_CMAC_256")) {
        const auto id = aead_from_name(*v);
        if (id) {
          s.aead = *id;
        } else {
          ctx.error(c.quote(start, c.pos()),
                    "an AEAD name: AES_SIV_CMAC_256, AES_SIV_CMAC_384, AES_SIV_CMAC_512 or "
                    "AES_128_GCM_SIV");
        }
      }
      nts_only_option = true;
    } else {
      // Unknown option: its arity is unknown too, so the rest of the line
      // cannot be read reliably; one error for the line is the honest result.
      ctx.error("unknown " + std::string(c.directive()) + " option " + quoted(opt), kServerOptions);
      return;
    }
  }

  if (minpoll_set && maxpoll_set && s.minpoll > s.maxpoll) {
    ctx.error("'minpoll " + std::to_string(s.minpoll) + "' above 'maxpoll " +
                  std::to_string(s.maxpoll) + "'",
              "minpoll <= maxpoll");
  } else if (s.minpoll > s.maxpoll) {
    // One bound given, past the other's default: NTPsec moves the default.
    if (minpoll_set)
      s.maxpoll = s.minpoll;
    else
      s.minpoll = s.maxpoll;
  }
  if (nts_only_option && !s.nts) {
    ctx.warn(quoted(s.host) + ": noval, ca and aead only apply with 'nts'");
  }
  ctx.config.servers.push_back(std::move(s));
}

}  // namespace ntsd::config
