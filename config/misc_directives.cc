// The smaller directives: paths, statistics, filegen, tos, logconfig,
// discard, interface, and ntsd's ntpport / workers / metrics.
#include <cstdio>
#include <string>

#include "config/address.h"
#include "config/directives.h"
#include "config/logconfig.h"
#include "config/values.h"

namespace ntsd::config {
namespace {

std::string stats_list() { return "a statistics name: " + names_list(stats_file_names()); }

// Rejects anything left on the line after a fixed-arity directive.
void expect_end(Cursor& c, Context& ctx, std::string_view usage) {
  if (c.done()) return;
  const size_t start = c.pos();
  while (!c.done()) c.next();
  ctx.error("extra " + c.quote(start, c.pos()) + " after " + c.quote(0, start), usage);
}

}  // namespace

void parse_path(Cursor& c, Context& ctx) {
  const std::string name(c.directive());
  const std::string usage = "'" + name + (name == "statsdir" ? " DIR'" : " FILE'");
  const bool first = ctx.once(name);
  const auto v = ctx.value(c, usage);
  if (!v) return;
  expect_end(c, ctx, usage);
  if (!first) return;
  Config& cfg = ctx.config;
  std::string& out = name == "driftfile"  ? cfg.driftfile
                     : name == "logfile"  ? cfg.logfile
                     : name == "statsdir" ? cfg.statsdir
                                          : cfg.leapfile;
  out = std::string(*v);
}

void parse_statistics(Cursor& c, Context& ctx) {
  if (c.done()) {
    ctx.error("'statistics' without a name", stats_list());
    return;
  }
  // Repeated `statistics` lines add up, as in NTPsec.
  while (!c.done()) {
    const std::string_view name = c.next();
    if (const auto s = lookup(stats_file_names(), name)) {
      ctx.config.statistics |= bit(*s);
    } else {
      ctx.error("unknown statistics name " + quoted(name), stats_list());
    }
  }
}

void parse_filegen(Cursor& c, Context& ctx) {
  FileGen fg;
  if (c.done()) {
    ctx.error("'filegen' without a name", stats_list());
    return;
  }
  const std::string_view name = c.next();
  const auto stats = lookup(stats_file_names(), name);
  if (!stats) {
    ctx.error("unknown statistics name " + quoted(name), stats_list());
    return;
  }
  fg.stats = *stats;
  fg.file = std::string(name);
  while (!c.done()) {
    const size_t start = c.pos();
    const std::string_view opt = c.next();
    if (opt == "file") {
      if (const auto v = ctx.value(c, "'file NAME'")) fg.file = std::string(*v);
    } else if (opt == "type") {
      const std::string types = "a filegen type: " + names_list(filegen_type_names());
      if (const auto v = ctx.value(c, types)) {
        if (const auto t = lookup(filegen_type_names(), *v)) {
          fg.type = *t;
        } else {
          ctx.error(c.quote(start, c.pos()), types);
        }
      }
    } else if (opt == "enable" || opt == "disable") {
      fg.enable = opt == "enable";
    } else if (opt == "link" || opt == "nolink") {
      fg.link = opt == "link";
    } else {
      ctx.error("unknown filegen option " + quoted(opt),
                "file NAME, type TYPE, enable, disable, link or nolink");
      return;
    }
  }
  ctx.config.filegens.push_back(std::move(fg));
}

void parse_tos(Cursor& c, Context& ctx) {
  struct TosKind {
    std::string_view name;
    double lo, hi;
    bool integer;
  };
  // NTPsec's tos options; integer ones take whole numbers. Bounds are the
  // ones that make sense (strata 0..16, counts >= 1), not NTPsec's.
  static constexpr TosKind kKinds[] = {
      {"ceiling", 0, 16, true},     {"floor", 0, 16, true},     {"orphan", 1, 16, true},
      {"orphanwait", 0, 1e6, true}, {"minsane", 0, 1e3, true},  {"mindist", 0, 1e3, false},
      {"maxdisp", 0, 1e3, false},   {"maxdist", 0, 1e3, false}, {"minclock", 1, 1e3, false},
      {"maxclock", 1, 1e3, false},  {"cohort", 0, 1, true},
  };
  const std::string expected =
      "a tos option: ceiling, floor, orphan, orphanwait, minsane, mindist, maxdisp, maxdist, "
      "minclock, maxclock or cohort, each with a value";
  if (c.done()) {
    ctx.error("'tos' without an option", expected);
    return;
  }
  while (!c.done()) {
    const size_t start = c.pos();
    const std::string_view name = c.next();
    const TosKind* kind = nullptr;
    for (const auto& k : kKinds) {
      if (k.name == name) kind = &k;
    }
    if (!kind) {
      ctx.error("unknown tos option " + quoted(name), expected);
      return;
    }
    char range[96];
    std::snprintf(range, sizeof range, "%s %g..%g", kind->integer ? "a whole number" : "a number",
                  kind->lo, kind->hi);
    const auto text = ctx.value(c, range);
    if (!text) return;
    const auto v = parse_number(*text);
    if (!v || *v < kind->lo || *v > kind->hi || (kind->integer && *v != static_cast<int64_t>(*v))) {
      ctx.error(c.quote(start, c.pos()), range);
      continue;
    }
    ctx.config.tos.push_back({std::string(name), *v});
  }
}

// NTPsec's `tinker`: only the two settings of the clock discipline that ntsd
// has (step and panic thresholds); NTPsec's PLL knobs (allan, dispersion,
// freq, huffpuff, stepout) tune an algorithm ntsd does not use, so they are
// named as unsupported rather than silently ignored.
void parse_tinker(Cursor& c, Context& ctx) {
  const std::string_view expected = "'tinker step SECONDS' or 'tinker panic SECONDS'";
  if (c.done()) {
    ctx.error("'tinker' without an option", expected);
    return;
  }
  while (!c.done()) {
    const size_t start = c.pos();
    const std::string_view name = c.next();
    if (name != "step" && name != "panic") {
      ctx.error("tinker option " + quoted(name) + " is not supported by ntsd", expected);
      return;
    }
    const bool first = ctx.once(std::string("tinker ") + std::string(name));
    const auto text = ctx.value(c, "a number of seconds 0..100000 (0: off)");
    if (!text) return;
    const auto v = parse_number(*text);
    if (!v || *v < 0 || *v > 100000) {
      ctx.error(c.quote(start, c.pos()), "a number of seconds 0..100000 (0: off)");
      continue;
    }
    if (first) (name == "step" ? ctx.config.tinker_step : ctx.config.tinker_panic) = *v;
  }
}

// NTPsec's semantics (config/logconfig.h), applied item by item in order. A
// class ntsd has no messages for is accepted, so an NTPsec file keeps
// working, with a warning saying it changes nothing.
void parse_logconfig(Cursor& c, Context& ctx) {
  const std::string_view expected =
      "a log class such as =syncall or +clockall: an optional +, - or = then all, or one of "
      "all, clock, peer, sys, sync followed by all, info, events, status or statistics";
  if (c.done()) {
    ctx.error("'logconfig' without a class", expected);
    return;
  }
  while (!c.done()) {
    const std::string_view item = c.next();
    if (!apply_logconfig_item(item, ctx.config.log_mask)) {
      ctx.error("unknown log class " + quoted(item), expected);
      continue;
    }
    ctx.config.logconfig.emplace_back(item);
    if ((logconfig_item_bits(item) & kLogUsedByNtsd) == 0) {
      ctx.warn("logconfig " + quoted(item) + ": ntsd has no such messages; accepted, changes nothing");
    }
  }
}

void parse_discard(Cursor& c, Context& ctx) {
  const std::string_view expected = "'discard [average N] [minimum N] [monitor N]'";
  if (c.done()) {
    ctx.error("'discard' without an option", expected);
    return;
  }
  while (!c.done()) {
    const std::string_view opt = c.next();
    if (opt == "average") {
      // log2 seconds, like a poll exponent: 3 means one packet per 8 s on average.
      const bool first = ctx.once("discard average");
      const auto v = ctx.int_value(c, 0, 17, "an average headway exponent 0..17 (log2 s)");
      if (v && first) ctx.config.discard_average = static_cast<int>(*v);
    } else if (opt == "minimum") {
      // Plain seconds: NTPsec compares it with the packet spacing in seconds.
      const bool first = ctx.once("discard minimum");
      const auto v = ctx.int_value(c, 0, 3600, "a minimum headway 0..3600 s");
      if (v && first) ctx.config.discard_minimum = static_cast<int>(*v);
    } else if (opt == "monitor") {
      const bool first = ctx.once("discard monitor");
      const auto v = ctx.int_value(c, 0, 1000000000, "a monitor value 0..1000000000");
      if (v && first) ctx.config.discard_monitor = static_cast<int>(*v);
    } else {
      ctx.error("unknown discard option " + quoted(opt), "average N, minimum N or monitor N");
      return;
    }
  }
}

void parse_interface(Cursor& c, Context& ctx) {
  const std::string usage = "'" + std::string(c.directive()) + " listen ADDRESS|all|ipv4|ipv6'";
  if (c.done()) {
    ctx.error(quoted(c.directive()) + " without an action", usage);
    return;
  }
  const std::string_view action = c.next();
  if (action != "listen") {
    // `interface ignore|drop` only narrow the default "listen on all"; ntsd
    // listens where told, so a config relying on them would silently differ.
    ctx.error(c.quote(0, c.pos()), usage +
                                       " (ntsd listens only where told; ignore and drop "
                                       "are not supported)");
    return;
  }
  const auto v = ctx.value(c, "an IP address, all, ipv4 or ipv6");
  if (!v) return;
  ListenAddress l;
  if (*v == "all" || *v == "ipv4" || *v == "ipv6") {
    l.all = true;
    l.family = *v == "all" ? IpFamily::kAny : *v == "ipv4" ? IpFamily::kIPv4 : IpFamily::kIPv6;
  } else if (const auto ip = parse_ip(*v)) {
    l.family = ip->family;
    l.address = ip->bytes;
  } else {
    ctx.error(c.quote(0, c.pos()), "an IP address, all, ipv4 or ipv6");
    return;
  }
  expect_end(c, ctx, usage);
  ctx.config.listen.push_back(l);
}

void parse_ntsd_number(Cursor& c, Context& ctx) {
  const std::string name(c.directive());
  const bool first = ctx.once(name);
  if (name == "ntpport") {
    const auto v = ctx.int_value(c, 1, 65535, "a UDP port 1..65535");
    if (v && first) ctx.config.ntp_port = static_cast<uint16_t>(*v);
    expect_end(c, ctx, "'ntpport N'");
  } else {
    const auto v = ctx.int_value(c, 1, 1024, "a worker count 1..1024");
    if (v && first) ctx.config.workers = static_cast<int>(*v);
    expect_end(c, ctx, "'workers N'");
  }
}

// An absolute path, so the daemon and ntsctl agree on it whatever their working
// folders; a group name (or number) checked by the daemon at start-up, where
// the group database is read.
void parse_controlsocket(Cursor& c, Context& ctx) {
  const std::string usage = "'controlsocket PATH|none [group NAME]'";
  const bool first = ctx.once("controlsocket");
  const auto v = ctx.value(c, usage);
  if (!v) return;
  if (*v != "none" && (v->empty() || v->front() != '/' || v->size() > 107)) {
    ctx.error("controlsocket " + quoted(*v), "an absolute path of at most 107 bytes, or none");
    return;
  }
  std::string group;
  if (!c.done()) {
    const std::string_view keyword = c.next();
    if (keyword != "group") {
      ctx.error(quoted(keyword) + " after " + c.quote(0, c.pos() - 1), "group NAME");
      return;
    }
    const auto g = ctx.value(c, "a group name or number after 'group'");
    if (!g) return;
    group = std::string(*g);
  }
  expect_end(c, ctx, usage);
  if (!first) return;
  ctx.config.control_socket = std::string(*v);
  ctx.config.control_group = group;
}

// A numeric address only: the endpoint is bound before ntsd drops its
// privileges, with no resolver to ask, and a name could resolve to a public
// address. The port is required: Prometheus has no well-known port for ntsd.
void parse_metrics(Cursor& c, Context& ctx) {
  const std::string_view usage = "'metrics ADDRESS:PORT', e.g. 'metrics 127.0.0.1:9123'";
  const bool first = ctx.once("metrics");
  const auto v = ctx.value(c, usage);
  if (!v) return;
  const auto hp = split_host_port(*v);
  const auto ip = hp ? parse_ip(hp->host) : std::nullopt;
  if (!ip || !hp->port) {
    ctx.error(c.quote(0, c.pos()), usage);
    return;
  }
  expect_end(c, ctx, usage);
  if (first) ctx.config.metrics = MetricsListen{ip->family, ip->bytes, *hp->port};
}

}  // namespace ntsd::config
