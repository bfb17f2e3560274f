#include "config/parser.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "config/directive_context.h"
#include "config/directives.h"
#include "config/tokenizer.h"

namespace ntsd::config {
namespace {

using Handler = void (*)(Cursor&, Context&);

struct Directive {
  std::string_view name;
  Handler handler;
};

constexpr Directive kDirectives[] = {
    {"server", parse_server},
    {"pool", parse_server},
    {"nts", parse_nts},
    {"restrict", parse_restrict},
    {"interface", parse_interface},
    {"nic", parse_interface},
    {"driftfile", parse_path},
    {"logfile", parse_path},
    {"statsdir", parse_path},
    {"leapfile", parse_path},
    {"statistics", parse_statistics},
    {"filegen", parse_filegen},
    {"tos", parse_tos},
    {"tinker", parse_tinker},
    {"logconfig", parse_logconfig},
    {"discard", parse_discard},
    {"ntpport", parse_ntsd_number},
    {"workers", parse_ntsd_number},
    {"metrics", parse_metrics},
    {"controlsocket", parse_controlsocket},
};

// NTPsec directives ntsd knows but does not implement: named as such, so an
// operator migrating a config sees why, not "unknown directive".
constexpr std::string_view kNtpsecOnly[] = {
    "peer",        "refclock",       "fudge",
    "keys",        "trustedkey",     "controlkey",
    "requestkey",  "ntpsigndsocket", "includefile",
    "mru",         "rlimit",
    "enable",      "disable",        "setvar",
    "phone",       "pidfile",        "saveconfigdir",
    "nonvolatile", "dscp",           "leapsmearinterval",
    "mdnstries",   "reset",          "unpeer",
    "unconfig",    "unrestrict",     "tick",
    "end",         "broadcast",      "manycastclient",
};

constexpr std::string_view kDirectiveHint =
    "a directive such as server, pool, restrict, nts, driftfile\u2026";

void parse_line(const Line& line, Context& ctx) {
  ctx.set_line(line.number);
  if (!line.error_found.empty()) {
    ctx.error(line.error_found, line.error_expected);
    return;
  }
  Cursor c(line);
  const std::string_view name = c.next();
  for (const auto& d : kDirectives) {
    if (d.name == name) {
      d.handler(c, ctx);
      return;
    }
  }
  if (std::find(std::begin(kNtpsecOnly), std::end(kNtpsecOnly), name) != std::end(kNtpsecOnly)) {
    ctx.error("NTPsec directive " + quoted(name) + " is not supported by ntsd", kDirectiveHint);
    return;
  }
  ctx.error("unknown directive " + quoted(name), kDirectiveHint);
}

}  // namespace

ParseResult parse_config_text(std::string_view text, std::string_view file_name) {
  ParseResult result;
  Config config;
  Context ctx(config, file_name, result.errors, result.warnings);
  for (const Line& line : split_lines(text)) parse_line(line, ctx);
  // Half a certificate/key pair without `nts enable` looks like an NTS
  // server configuration but cannot be one; say so instead of silently
  // serving no NTS.
  const NtsSettings& nts = config.nts;
  if (!nts.enabled && nts.cert.empty() != nts.key.empty()) {
    result.warnings.push_back(std::string(file_name) + ": " +
                              (nts.cert.empty() ? "'nts key' without 'nts cert'" : "'nts cert' without 'nts key'") +
                              ": the NTS server stays off");
  }
  // A seed switch is a second seed beside the one in use; alone it would be
  // the only seed, and a member would derive nothing for the epochs before it.
  if (nts.keyseed_from && (nts.keyseed.empty() || nts.keyseed == nts.keyseed_new)) {
    ctx.set_line(ctx.first_line("nts keyseed from"));
    if (nts.keyseed.empty()) {
      ctx.error("'nts keyseed FILE from TIME' without a plain 'nts keyseed FILE' line",
                "the seed in use until TIME on its own 'nts keyseed FILE' line");
    } else {
      ctx.error("'nts keyseed " + nts.keyseed_new + " from' names the seed already in use",
                "a new seed file (openssl rand -hex 32) for the epochs from that time");
    }
  }
  // All or nothing: a file with any error yields no config at all, so a
  // caller can never run on half of what the operator wrote.
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

ParseResult parse_config_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string text;
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        text.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        err = errno;  // e.g. EISDIR: open() succeeds on a directory, read() does not
        break;
      }
    }
    ::close(fd);
  }
  if (err != 0) {
    ParseResult result;
    result.errors.push_back(path + ": cannot read: " + std::strerror(err));
    return result;
  }
  return parse_config_text(text, path);
}

}  // namespace ntsd::config
