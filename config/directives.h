#pragma once
// One handler per ntp.conf directive. Each reads the rest of its line from the
// cursor (the directive name already taken), fills the config and records
// every problem it finds in the context.

#include "config/directive_context.h"

namespace ntsd::config {

// `server` and `pool`: HOST[:PORT] and association options.
void parse_server(Cursor& c, Context& ctx);
// `nts` and its subcommands, several per line as NTPsec allows.
void parse_nts(Cursor& c, Context& ctx);
// `restrict [-4|-6] ADDR[/N]|default|source [mask M] [flag ...]`.
void parse_restrict(Cursor& c, Context& ctx);
// `interface listen ADDR|all|ipv4|ipv6` (also spelled `nic`).
void parse_interface(Cursor& c, Context& ctx);
// `driftfile`, `logfile`, `statsdir`, `leapfile`: exactly one path.
void parse_path(Cursor& c, Context& ctx);
// `statistics NAME...`.
void parse_statistics(Cursor& c, Context& ctx);
// `filegen NAME [file F] [type T] [enable|disable] [link|nolink]`.
void parse_filegen(Cursor& c, Context& ctx);
// `tos NAME VALUE ...`.
void parse_tos(Cursor& c, Context& ctx);
void parse_tinker(Cursor& c, Context& ctx);
// `logconfig [+-=]CLASS...`.
void parse_logconfig(Cursor& c, Context& ctx);
// `discard [average N] [minimum N] [monitor N]`.
void parse_discard(Cursor& c, Context& ctx);
// ntsd: `ntpport N` and `workers N`.
void parse_ntsd_number(Cursor& c, Context& ctx);
// ntsd: `metrics ADDRESS:PORT` (numeric IPv4, or [IPv6]:PORT).
void parse_metrics(Cursor& c, Context& ctx);
// ntsd: `controlsocket PATH|none [group NAME]`.
void parse_controlsocket(Cursor& c, Context& ctx);

}  // namespace ntsd::config
