// `nts` lines. NTPsec's grammar takes a list of subcommands on one line
// (`nts enable mintls TLS1.3`), so this reads subcommands until the line ends.
#include <algorithm>
#include <array>
#include <string>

#include "config/address.h"
#include "config/directives.h"
#include "config/values.h"

namespace ntsd::config {
namespace {

constexpr std::string_view kSubcommands =
    "an nts subcommand: enable, disable, cert FILE, key FILE, ca FILE|DIR, cookie FILE, "
    "aead NAME..., mintls V, maxtls V, tlsciphers LIST, tlsciphersuites LIST, port N, "
    "keyseed FILE [from TIME], rotate SECONDS, keepkeys DAYS, kethreads N, kerate N, keburst N, kemaxconn N, keperaddr N, ntpserver HOST, "
    "require";

constexpr std::string_view kAeadNames =
    "an AEAD name: AES_SIV_CMAC_256, AES_SIV_CMAC_384, AES_SIV_CMAC_512 or AES_128_GCM_SIV";

constexpr std::array<std::string_view, 23> kKeywords = {
    "enable",          "disable",   "cert",    "key",    "ca",
    "cookie",          "aead",      "mintls",  "maxtls", "tlsciphers",
    "tlsciphersuites", "port",      "keyseed", "rotate", "keepkeys",
    "kethreads",       "kerate",    "keburst", "kemaxconn", "keperaddr", "ntpserver", "require", "nts"};

bool is_keyword(std::string_view t) {
  return std::find(kKeywords.begin(), kKeywords.end(), t) != kKeywords.end();
}

// `nts SUB VALUE` for a single-valued string setting.
void string_setting(Cursor& c, Context& ctx, std::string_view sub, std::string& out,
                    std::string_view expected) {
  const bool first = ctx.once("nts " + std::string(sub));
  const auto v = ctx.value(c, expected);
  if (v && first) out = std::string(*v);
}

void aead_list(Cursor& c, Context& ctx, size_t start) {
  const bool first = ctx.once("nts aead");
  std::vector<uint16_t> ids;
  // Names run until the next subcommand keyword or the end of the line.
  while (!c.done() && !is_keyword(c.peek())) {
    const std::string_view name = c.next();
    const auto id = aead_from_name(name);
    if (!id) {
      ctx.error("unknown AEAD " + quoted(name), kAeadNames);
    } else if (std::find(ids.begin(), ids.end(), *id) != ids.end()) {
      ctx.error(c.quote(start, c.pos()) + " lists " + quoted(name) + " twice", "each AEAD once");
    } else {
      ids.push_back(*id);
    }
  }
  if (c.pos() == start + 1) {
    ctx.error("'nts aead' without a value", kAeadNames);
    return;
  }
  if (first) ctx.config.nts.aead_ids = std::move(ids);
}

void tls_setting(Cursor& c, Context& ctx, std::string_view sub, size_t start) {
  const bool first = ctx.once("nts " + std::string(sub));
  const auto v = ctx.value(c, "a TLS version: TLS1.2 or TLS1.3");
  if (!v) return;
  const auto version = tls_from_name(*v);
  if (!version) {
    ctx.error(c.quote(start, c.pos()), "a TLS version: TLS1.2 or TLS1.3");
    return;
  }
  if (sub == "maxtls" && *version == TlsVersion::kTls12) {
    ctx.error(c.quote(start, c.pos()), "TLS1.3 (RFC 8915 allows NTS-KE over TLS 1.3 only)");
    return;
  }
  if (*version == TlsVersion::kTls12) {
    ctx.warn(
        "'nts mintls TLS1.2' is accepted for NTPsec compatibility; NTS-KE still requires "
        "TLS 1.3 (RFC 8915)");
  }
  if (!first) return;
  (sub == "mintls" ? ctx.config.nts.mintls : ctx.config.nts.maxtls) = *version;
}

constexpr std::string_view kUtcTime = "a UTC time such as 2027-01-15T00:00:00Z (YYYY-MM-DDTHH:MM:SSZ)";

// `nts keyseed FILE`, or `nts keyseed FILE from TIME`: the seed for the
// epochs starting at or after TIME (seed rotation without invalidating
// cookies). One of each at most; the `from` line needs the plain one, which
// parse_config_text checks once the whole file is read.
void keyseed(Cursor& c, Context& ctx, size_t start) {
  const auto file = ctx.value(c, "'nts keyseed FILE [from TIME]'");
  if (!file) return;
  if (c.peek() != "from") {
    if (ctx.once("nts keyseed")) ctx.config.nts.keyseed = std::string(*file);
    return;
  }
  c.next();
  const bool first = ctx.once("nts keyseed from");
  const auto time = ctx.value(c, kUtcTime);
  if (!time) return;
  const auto seconds = parse_utc_time(*time);
  if (!seconds) {
    ctx.error(c.quote(start, c.pos()), kUtcTime);
    return;
  }
  if (!first) return;
  ctx.config.nts.keyseed_new = std::string(*file);
  ctx.config.nts.keyseed_from = *seconds;
}

}  // namespace

void parse_nts(Cursor& c, Context& ctx) {
  NtsSettings& nts = ctx.config.nts;
  if (c.done()) {
    ctx.error("'nts' without a subcommand", kSubcommands);
    return;
  }
  while (!c.done()) {
    const size_t start = c.pos();
    const std::string_view sub = c.next();
    if (sub == "enable") {
      nts.enabled = true;  // the last of enable/disable wins, as in NTPsec
    } else if (sub == "disable") {
      nts.enabled = false;
    } else if (sub == "require") {
      nts.require_nts = true;
    } else if (sub == "cert") {
      string_setting(c, ctx, sub, nts.cert, "'nts cert FILE'");
    } else if (sub == "key") {
      string_setting(c, ctx, sub, nts.key, "'nts key FILE'");
    } else if (sub == "ca") {
      string_setting(c, ctx, sub, nts.ca, "'nts ca FILE|DIR'");
    } else if (sub == "cookie") {
      string_setting(c, ctx, sub, nts.cookie_file, "'nts cookie FILE'");
    } else if (sub == "keyseed") {
      keyseed(c, ctx, start);
    } else if (sub == "tlsciphers") {
      string_setting(c, ctx, sub, nts.tls_ciphers, "'nts tlsciphers LIST'");
    } else if (sub == "tlsciphersuites") {
      string_setting(c, ctx, sub, nts.tls_ciphersuites, "'nts tlsciphersuites LIST'");
    } else if (sub == "aead") {
      aead_list(c, ctx, start);
    } else if (sub == "mintls" || sub == "maxtls") {
      tls_setting(c, ctx, sub, start);
    } else if (sub == "port") {
      const bool first = ctx.once("nts port");
      const auto v = ctx.int_value(c, 1, 65535, "an NTS-KE port 1..65535");
      if (v && first) nts.ke_port = static_cast<uint16_t>(*v);
    } else if (sub == "rotate") {
      const bool first = ctx.once("nts rotate");
      // Upper bound one year: a longer period is a typo, and keys must rotate.
      const auto v = ctx.int_value(c, 60, 366 * 86400, "a key rotation period 60..31622400 s");
      if (v && first) nts.rotate_seconds = *v;
    } else if (sub == "keepkeys") {
      const bool first = ctx.once("nts keepkeys");
      const auto v = ctx.int_value(c, 1, 365, "a key retention 1..365 days");
      if (v && first) nts.keep_days = static_cast<int>(*v);
    } else if (sub == "kethreads") {
      const bool first = ctx.once("nts kethreads");
      const auto v = ctx.int_value(c, 1, 1024, "an NTS-KE thread count 1..1024");
      if (v && first) nts.ke_threads = static_cast<int>(*v);
    } else if (sub == "kerate") {
      const bool first = ctx.once("nts kerate");
      const auto v = ctx.int_value(c, 0, 100000, "NTS-KE sessions per second per address 0..100000 (0: no limit)");
      if (v && first) nts.ke_rate = static_cast<int>(*v);
    } else if (sub == "keburst") {
      const bool first = ctx.once("nts keburst");
      const auto v = ctx.int_value(c, 1, 100000, "an NTS-KE burst per address 1..100000");
      if (v && first) nts.ke_burst = static_cast<int>(*v);
    } else if (sub == "kemaxconn") {
      const bool first = ctx.once("nts kemaxconn");
      // At least 16: fewer would let a handful of connections shut the KE service.
      const auto v = ctx.int_value(c, 16, 1000000, "an NTS-KE connection cap 16..1000000");
      if (v && first) nts.ke_max_connections = static_cast<int>(*v);
    } else if (sub == "keperaddr") {
      const bool first = ctx.once("nts keperaddr");
      const auto v = ctx.int_value(c, 0, 100000,
                                   "NTS-KE connections per client address 0..100000 (0: no per-address cap)");
      if (v && first) nts.ke_per_address = static_cast<int>(*v);
    } else if (sub == "ntpserver") {
      const auto v = ctx.value(c, "'nts ntpserver HOST[:PORT]'");
      if (!v) continue;
      if (!split_host_port(*v)) {
        ctx.error(c.quote(start, c.pos()),
                  "a host name, IPv4 address or IPv6 address, optionally [bracketed] with :PORT "
                  "1..65535");
        continue;
      }
      nts.ntp_servers.emplace_back(*v);
    } else {
      ctx.error("unknown nts subcommand " + quoted(sub), kSubcommands);
      return;  // its arguments are unknown; the rest of the line would only add noise
    }
  }
}

}  // namespace ntsd::config

namespace ntsd::config {

// NTPsec's Quick Start turns the server on with `nts enable`; the NTS
// configuration guide operators follow gives only `nts cert` and `nts key`
// and promises that this serves NTS. Both forms must work, so an explicit
// enable/disable decides when present and otherwise a complete certificate
// and key pair does. Half a pair is not a server: the parser warns about it.
NtsServerMode nts_server_mode(const NtsSettings& nts) {
  if (nts.enabled) return *nts.enabled ? NtsServerMode::kOnEnabled : NtsServerMode::kOffDisabled;
  return !nts.cert.empty() && !nts.key.empty() ? NtsServerMode::kOnCertAndKey : NtsServerMode::kOffNoCertKey;
}

const char* nts_server_mode_text(NtsServerMode mode) {
  switch (mode) {
    case NtsServerMode::kOnEnabled:
      return "NTS server: on (nts enable)";
    case NtsServerMode::kOnCertAndKey:
      return "NTS server: on (nts cert + nts key)";
    case NtsServerMode::kOffDisabled:
      return "NTS server: off (nts disable); NTS requests are dropped and counted";
    case NtsServerMode::kOffNoCertKey:
      return "NTS server: off (no nts enable, and not both nts cert and nts key); "
             "NTS requests are dropped and counted";
  }
  return "NTS server: ?";
}

}  // namespace ntsd::config
