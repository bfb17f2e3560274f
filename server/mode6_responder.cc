#include "server/mode6_responder.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "clock/selection.h"
#include "proto/ntp_time.h"
#include "proto/ntp_packet.h"

namespace ntsd::server {
namespace {

using proto::Mode6Error;
using proto::Mode6Opcode;

// Every value is written the way NTPsec 1.2.2's ntpd writes it, so ntpq
// parses and displays it unchanged: times in ms, frequencies in ppm,
// timestamps as hex l_fp, reach in hex.
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string ms3(double seconds) { return fixed(seconds * 1e3, 3); }
std::string ms6(double seconds) { return fixed(seconds * 1e3, 6); }
std::string lfp(proto::NtpTimestamp t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%08x.%08x", static_cast<unsigned>(t.raw >> 32),
                static_cast<unsigned>(t.raw & 0xffffffff));
  return buf;
}
std::string lfp_ns(int64_t unix_ns) {
  return unix_ns == 0 ? lfp(proto::NtpTimestamp{0}) : lfp(proto::ntp_from_unix_ns(unix_ns));
}
double short_seconds(proto::NtpShort v) { return v.raw / 65536.0; }
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c != '"' && c >= 0x20 && c < 0x7f) out += c;
  }
  return out + "\"";
}

// RFC 5905: stratum 0/1 (and ntsd's "unsynchronized" 16) carry four ASCII
// characters (a kiss code or a reference source); above that the refid is
// an IPv4 address or an IPv6 address's hash, shown as a dotted quad.
std::string refid_text(uint32_t refid, int stratum) {
  if (stratum <= 1 || stratum >= 16) {
    // Printable and no separator of mode 6's name=value text.
    const std::string text = proto::refid_chars(refid);
    if (std::all_of(text.begin(), text.end(), [](char c) {
          return c > 0x20 && c < 0x7f && c != ',' && c != '"' && c != '=';
        })) {
      return text;
    }
  }
  return proto::refid_dotted_quad(refid);
}

// "192.0.2.1:123" or "[2001:db8::1]:123" -> address and port.
void split_address(const std::string& text, std::string* address, std::string* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || (text.find(':') != colon && text.front() != '[')) {
    *address = text;
    port->clear();
    return;
  }
  *address = text.substr(0, colon);
  *port = text.substr(colon + 1);
  if (address->size() >= 2 && address->front() == '[' && address->back() == ']') {
    *address = address->substr(1, address->size() - 2);
  }
}

// ---- status words (RFC 9327 §2.1, NTPsec's CTL_SST_* / CTL_PST_*) ----

constexpr uint8_t kSyncUnspecified = 0, kSyncLocal = 5, kSyncNtp = 6;
constexpr uint8_t kPeerConfigured = 0x80, kPeerAuthEnabled = 0x40, kPeerAuthentic = 0x20,
                  kPeerReachable = 0x10;

uint8_t leap_bits(const ops::DaemonStatus& s) { return static_cast<uint8_t>(s.served.leap) & 3; }

// No event log is kept, so the event count and code are 0 ("no events").
uint16_t system_status_word(const ops::DaemonStatus& s) {
  uint8_t source = kSyncUnspecified;
  if (!s.clock) {
    source = s.served.stratum < 16 ? kSyncLocal : kSyncUnspecified;  // the local reference
  } else if (s.clock->system.sync != clock::SyncStatus::kUnsynchronized) {
    source = kSyncNtp;
  }
  return static_cast<uint16_t>(leap_bits(s) << 14 | (source & 0x3f) << 8);
}

uint16_t peer_status_word(const clock::SourceReport& r) {
  uint8_t flags = kPeerConfigured;
  if (r.nts) flags |= kPeerAuthEnabled;
  if (r.nts && r.counters.verified > 0) flags |= kPeerAuthentic;
  if (r.reach != 0) flags |= kPeerReachable;
  return static_cast<uint16_t>((flags | clock::source_status_select_code(r.status)) << 8);
}

// ---- variables ----

struct Item {
  std::string name;
  std::string value;
};

// What several system variables share, worked out once per reply.
struct SystemView {
  const ops::DaemonStatus& s;
  int64_t now_ns;
  int peer = -1;  // index of the system peer, -1 if none
};

using SystemVariable = std::function<std::string(const SystemView&)>;

uint64_t drops(const server::CounterTotals& t, DropReason why) { return t.dropped[static_cast<size_t>(why)]; }
uint64_t naks(const server::CounterTotals& t, NakReason why) { return t.naks[static_cast<size_t>(why)]; }
uint64_t age(const server::CounterTotals& t, KeyAge a) { return t.cookie_key_age[static_cast<size_t>(a)]; }

// Packets refused by policy (restrict, rate limits) rather than for their form.
uint64_t ignored_packets(const server::CounterTotals& t) {
  return drops(t, DropReason::kRestricted) + drops(t, DropReason::kRateLimited) +
         drops(t, DropReason::kNtsRequired) + drops(t, DropReason::kMode6Denied) +
         drops(t, DropReason::kMode6RateLimited);
}

template <typename F>
uint64_t sum_sources(const SystemView& v, bool nts_only, F field) {
  uint64_t total = 0;
  if (!v.s.clock) return 0;
  for (const auto& r : v.s.clock->sources) {
    if (!nts_only || r.nts) total += field(r);
  }
  return total;
}

uint64_t ke_bad(const ke::KeCounters& k) {
  uint64_t bad = k.handshake_failed_tls + k.handshake_failed_timeout + k.handshake_failed_alpn +
                 k.request_timeout + k.request_truncated + k.responses_no_protocol + k.responses_no_aead +
                 k.responses_internal_error;
  return bad;
}

const std::vector<std::pair<std::string_view, SystemVariable>>& system_variables() {
  static const auto* table = new std::vector<std::pair<std::string_view, SystemVariable>>{
      {"version", [](const SystemView& v) { return quoted("ntsd " + v.s.build.version); }},
      {"leap", [](const SystemView& v) { return std::to_string(leap_bits(v.s)); }},
      {"stratum", [](const SystemView& v) { return std::to_string(v.s.served.stratum); }},
      {"precision", [](const SystemView& v) { return std::to_string(v.s.served.precision); }},
      {"rootdelay", [](const SystemView& v) { return ms3(short_seconds(v.s.served.root_delay)); }},
      {"rootdisp", [](const SystemView& v) { return ms3(short_seconds(v.s.served.root_dispersion)); }},
      {"rootdist",
       [](const SystemView& v) {
         return ms3(short_seconds(v.s.served.root_delay) / 2 + short_seconds(v.s.served.root_dispersion));
       }},
      {"refid", [](const SystemView& v) { return refid_text(v.s.served.reference_id, v.s.served.stratum); }},
      {"reftime",
       [](const SystemView& v) {
         // The workers serve a local reference's reftime as the start of the
         // current second; say the same here.
         if (v.s.served.reference_time.raw != 0) return lfp(v.s.served.reference_time);
         return lfp(proto::NtpTimestamp{proto::ntp_from_unix_ns(v.now_ns).raw & ~uint64_t{0xffffffff}});
       }},
      {"clock", [](const SystemView& v) { return lfp_ns(v.now_ns); }},
      {"peer", [](const SystemView& v) { return std::to_string(v.peer < 0 ? 0 : mode6_association_id(v.peer)); }},
      {"peeradr",
       [](const SystemView& v) {
         return v.peer < 0 ? std::string("0.0.0.0:0") : v.s.clock->sources[v.peer].address;
       }},
      {"peermode", [](const SystemView& v) { return std::string(v.peer < 0 ? "0" : "3"); }},
      {"tc",
       [](const SystemView& v) {
         return std::to_string(v.s.clock ? v.s.clock->discipline.stats.time_constant : 0);
       }},
      {"offset",
       [](const SystemView& v) {
         if (!v.s.clock) return ms6(0);
         const auto& d = v.s.clock->discipline.stats;
         return ms6(d.valid ? d.offset : v.s.clock->system.offset);
       }},
      {"frequency",
       [](const SystemView& v) { return fixed(v.s.clock ? v.s.clock->discipline.stats.drift_ppm : 0, 6); }},
      {"sys_jitter", [](const SystemView& v) { return ms6(v.s.clock ? v.s.clock->system.jitter : 0); }},
      {"clk_jitter",
       [](const SystemView& v) { return ms6(v.s.clock ? v.s.clock->discipline.stats.jitter : 0); }},
      {"clk_wander",
       [](const SystemView& v) { return fixed(v.s.clock ? v.s.clock->discipline.stats.wander_ppm : 0, 6); }},
      {"authdelay", [](const SystemView&) { return std::string("0.000"); }},
      // iostats. ntsd has no receive-buffer pool (the kernel and io_uring
      // hold the buffers), so NTPsec's four buffer figures are 0.
      {"iostats_reset",
       [](const SystemView& v) { return std::to_string((v.now_ns - v.s.started_unix_ns) / 1'000'000'000); }},
      {"total_rbuf", [](const SystemView&) { return std::string("0"); }},
      {"free_rbuf", [](const SystemView&) { return std::string("0"); }},
      {"used_rbuf", [](const SystemView&) { return std::string("0"); }},
      {"rbuf_lowater", [](const SystemView&) { return std::string("0"); }},
      {"io_dropped",
       [](const SystemView& v) {
         const auto& t = v.s.server.total;
         return std::to_string(t.dropped_total() - ignored_packets(t));
       }},
      {"io_ignored", [](const SystemView& v) { return std::to_string(ignored_packets(v.s.server.total)); }},
      {"io_received", [](const SystemView& v) { return std::to_string(v.s.server.total.received); }},
      {"io_sent",
       [](const SystemView& v) {
         const auto& t = v.s.server.total;
         return std::to_string(t.replied + t.mode6_answered + t.mode6_refused);
       }},
      {"io_sendfailed",
       [](const SystemView& v) {
         return std::to_string(v.s.server.total.send_errors + v.s.server.total.mode6_send_errors);
       }},
      {"io_wakeups", [](const SystemView& v) { return std::to_string(v.s.server.total.batches); }},
      {"io_goodwakeups", [](const SystemView& v) { return std::to_string(v.s.server.total.batches); }},
      // ntsinfo: NTPsec's names over ntsd's counters (README.md, "ntpq").
      {"nts_client_send",
       [](const SystemView& v) {
         return std::to_string(sum_sources(v, true, [](const auto& r) { return r.counters.polls_sent; }));
       }},
      {"nts_client_recv_good",
       [](const SystemView& v) {
         return std::to_string(sum_sources(v, true, [](const auto& r) { return r.counters.verified; }));
       }},
      {"nts_client_recv_bad",
       [](const SystemView& v) {
         return std::to_string(sum_sources(v, true, [](const auto& r) {
           return r.counters.naks + r.counters.unauthenticated + r.counters.failed;
         }));
       }},
      {"nts_server_recv_good",
       [](const SystemView& v) { return std::to_string(v.s.server.total.nts_replied); }},
      {"nts_server_recv_bad",
       [](const SystemView& v) {
         const auto& t = v.s.server.total;
         return std::to_string(t.naks_total() + drops(t, DropReason::kNtsMalformed) +
                               drops(t, DropReason::kNtsNotAvailable));
       }},
      {"nts_server_send", [](const SystemView& v) { return std::to_string(v.s.server.total.nts_replied); }},
      {"nts_cookie_make",
       [](const SystemView& v) {
         // NTS-KE cookies, plus the one fresh cookie every NTS reply carries
         // at least (cookies for placeholders are not counted apart).
         const uint64_t ke = v.s.nts ? v.s.nts->ke.cookies_issued : 0;
         return std::to_string(ke + v.s.server.total.nts_replied);
       }},
      {"nts_cookie_decode",
       [](const SystemView& v) { return std::to_string(age(v.s.server.total, KeyAge::kCurrent)); }},
      {"nts_cookie_decode_old",
       [](const SystemView& v) { return std::to_string(age(v.s.server.total, KeyAge::kPrevious)); }},
      // ntsd counts keys two or more rotations old together, as "older".
      {"nts_cookie_decode_old2", [](const SystemView&) { return std::string("0"); }},
      {"nts_cookie_decode_older",
       [](const SystemView& v) { return std::to_string(age(v.s.server.total, KeyAge::kOlder)); }},
      {"nts_cookie_decode_too_old",
       [](const SystemView& v) { return std::to_string(naks(v.s.server.total, NakReason::kExpiredKey)); }},
      {"nts_cookie_decode_error",
       [](const SystemView& v) {
         const auto& t = v.s.server.total;
         // Cookies that did not open; a bad authenticator is no cookie error.
         return std::to_string(t.naks_total() - naks(t, NakReason::kExpiredKey) -
                               naks(t, NakReason::kBadAuthenticator));
       }},
      {"nts_ke_probes_good",
       [](const SystemView& v) {
         return std::to_string(sum_sources(v, true, [](const auto& r) {
           return r.counters.key_exchanges > 0 && r.last_ke_ns ? uint64_t{1} : uint64_t{0};
         }));
       }},
      {"nts_ke_probes_bad", [](const SystemView&) { return std::string("0"); }},
      {"nts_ke_serves_good",
       [](const SystemView& v) { return std::to_string(v.s.nts ? v.s.nts->ke.responses_cookies : 0); }},
      {"nts_ke_serves_bad",
       [](const SystemView& v) { return std::to_string(v.s.nts ? ke_bad(v.s.nts->ke) : 0); }},
  };
  return *table;
}

// `ntpq -c rv` with no names: the summary NTPsec gives, in one fragment.
constexpr std::string_view kDefaultSystem[] = {
    "version", "leap",   "stratum", "precision", "rootdelay", "rootdisp",   "rootdist",   "refid",     "reftime",
    "clock",   "peer",   "tc",      "offset",    "frequency", "sys_jitter", "clk_jitter", "clk_wander"};

std::vector<Item> peer_items(const clock::SourceReport& r, int64_t now_ns) {
  std::vector<Item> items;
  std::string address, port;
  split_address(r.address, &address, &port);
  items.push_back({"srcadr", address.empty() ? "0.0.0.0" : address});
  items.push_back({"srcport", port.empty() ? "0" : port});
  if (r.name != r.address) items.push_back({"srchost", quoted(r.name)});
  items.push_back({"leap", std::to_string(static_cast<int>(r.header.leap) & 3)});
  items.push_back({"hmode", "3"});  // client
  items.push_back({"stratum", std::to_string(r.valid ? r.stratum : 16)});
  items.push_back({"ppoll", std::to_string(r.poll)});
  items.push_back({"hpoll", std::to_string(r.poll)});
  items.push_back({"precision", std::to_string(r.header.precision)});
  items.push_back({"rootdelay", ms3(r.header.root_delay)});
  items.push_back({"rootdisp", ms3(r.header.root_dispersion)});
  // Before the first sample NTPsec shows INIT (and NTS while keying).
  std::string refid = r.state == clock::SourceState::kKeyExchange || r.state == clock::SourceState::kKeBackoff
                          ? "NTS"
                          : "INIT";
  if (r.valid) refid = refid_text(r.header.reference_id, r.header.stratum);
  items.push_back({"refid", refid});
  items.push_back({"reftime", lfp_ns(r.header.reference_time_ns)});
  items.push_back({"rec", lfp_ns(r.sample_time_ns)});
  char reach[8];
  std::snprintf(reach, sizeof reach, "0x%x", r.reach);
  items.push_back({"reach", reach});
  items.push_back({"delay", ms6(r.delay)});
  items.push_back({"offset", ms6(r.offset)});
  items.push_back({"jitter", ms6(r.jitter)});
  items.push_back({"dispersion", ms6(r.dispersion)});
  if (r.nts) items.push_back({"ntscookies", std::to_string(r.cookies)});
  (void)now_ns;
  return items;
}

// NTPsec's layout: "a=1, b=2," with a line break before 72 columns. At
// most `cap` octets; items that do not fit are left out (whole items only).
std::string join(const std::vector<Item>& items, size_t cap) {
  std::string body;
  size_t line = 0;
  for (const Item& item : items) {
    const std::string text = item.name + "=" + item.value;
    std::string sep;
    if (!body.empty()) sep = line + 2 + text.size() > 72 ? ",\r\n" : ", ";
    if (body.size() + sep.size() + text.size() + 2 > cap) break;  // + the final "\r\n"
    body += sep;
    if (sep.size() == 3) line = 0; else line += sep.size();
    body += text;
    line += text.size();
  }
  if (!body.empty()) body += "\r\n";
  return body;
}

// Names asked for ("a,b, c"); false if malformed (control characters, "=" with no name).
bool parse_names(std::span<const uint8_t> data, std::vector<std::string>* names) {
  std::string current;
  bool in_value = false;
  auto flush = [&]() -> bool {
    if (!current.empty()) names->push_back(current);
    else if (in_value) return false;
    current.clear();
    in_value = false;
    return true;
  };
  for (uint8_t c : data) {
    if (c == ',') {
      if (!flush()) return false;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    } else if (c == '=') {
      in_value = true;  // a read ignores values, as NTPsec does
    } else if (c < 0x20 || c >= 0x7f) {
      return false;
    } else if (!in_value) {
      if (current.size() >= 64) return false;
      current += static_cast<char>(c);
    }
  }
  return flush();
}

bool is_write(uint8_t opcode) {
  switch (static_cast<Mode6Opcode>(opcode)) {
    case Mode6Opcode::kWriteVariables:
    case Mode6Opcode::kWriteClock:
    case Mode6Opcode::kSetTrap:
    case Mode6Opcode::kUnsetTrap:
    case Mode6Opcode::kConfigure:
    case Mode6Opcode::kSaveConfig: return true;
    default: return false;
  }
}

Mode6Outcome refuse(const proto::Mode6Request& request, const ops::DaemonStatus& s, Mode6Error error,
                    Mode6Reply* out) {
  out->error = error;
  out->sizes[0] = proto::write_mode6_error(request, leap_bits(s), error, out->fragments[0]);
  out->count = 1;
  return Mode6Outcome::kRefused;
}

// Fragments `body`; more than one only if the whole reply is no larger than the request.
Mode6Outcome answer(const proto::Mode6Request& request, const ops::DaemonStatus& s, uint16_t status,
                    const std::string& body, Mode6Reply* out) {
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  size_t offset = 0;
  do {
    if (out->count == Mode6Reply::kMaxFragments) break;
    auto& fragment = out->fragments[out->count];
    out->sizes[out->count] = proto::write_mode6_fragment(request, leap_bits(s), status, bytes, offset, fragment);
    ++out->count;
    offset += proto::kMode6MaxData;
  } while (offset < body.size());
  return Mode6Outcome::kAnswered;
}

// The largest body this request may get: everything if the whole reply is
// no larger than the request, else one fragment's worth.
size_t body_cap(const proto::Mode6Request& request, size_t full_size) {
  if (full_size <= proto::kMode6MaxData) return proto::kMode6MaxData;
  if (proto::mode6_reply_size(full_size) <= request.size) return Mode6Reply::kMaxFragments * proto::kMode6MaxData;
  return proto::kMode6MaxData;
}

std::string capped(const proto::Mode6Request& request, const std::vector<Item>& items) {
  const std::string full = join(items, Mode6Reply::kMaxFragments * proto::kMode6MaxData);
  const size_t cap = body_cap(request, full.size());
  return full.size() <= cap ? full : join(items, cap);
}

}  // namespace

size_t Mode6Reply::wire_size() const {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += sizes[i];
  return total;
}

Mode6Outcome respond_mode6(std::span<const uint8_t> packet, const ops::DaemonStatus& s, int64_t now_unix_ns,
                           Mode6Reply* out) {
  out->count = 0;
  out->error = Mode6Error::kUnspecified;
  proto::Mode6Request request;
  if (proto::parse_mode6_request(packet, &request) != proto::Mode6Parse::kOk) return Mode6Outcome::kDropped;
  if (is_write(request.opcode)) return refuse(request, s, Mode6Error::kProhibited, out);
  const auto opcode = static_cast<Mode6Opcode>(request.opcode);
  if (opcode != Mode6Opcode::kReadStatus && opcode != Mode6Opcode::kReadVariables) {
    return refuse(request, s, Mode6Error::kBadOpcode, out);
  }
  const size_t sources = s.clock ? s.clock->sources.size() : 0;
  const clock::SourceReport* source = nullptr;
  if (request.association != 0) {
    if (request.association > sources) return refuse(request, s, Mode6Error::kUnknownAssociation, out);
    source = &s.clock->sources[request.association - 1];
  }

  if (opcode == Mode6Opcode::kReadStatus && source == nullptr) {
    // Association id and peer status word, 4 octets per source; whole
    // entries only, under the same amplification bound as text.
    std::string body;
    for (size_t i = 0; i < sources; ++i) {
      const uint16_t id = mode6_association_id(i), word = peer_status_word(s.clock->sources[i]);
      body += {static_cast<char>(id >> 8), static_cast<char>(id & 0xff), static_cast<char>(word >> 8),
               static_cast<char>(word & 0xff)};
    }
    const size_t cap = body_cap(request, body.size());
    if (body.size() > cap) body.resize(cap & ~size_t{3});
    return answer(request, s, system_status_word(s), body, out);
  }

  std::vector<std::string> names;
  if (!parse_names(request.data, &names)) return refuse(request, s, Mode6Error::kBadFormat, out);

  if (source != nullptr) {
    // READVAR (or READSTAT) of one association.
    std::vector<Item> all = peer_items(*source, now_unix_ns);
    std::vector<Item> chosen;
    if (names.empty()) {
      chosen = std::move(all);
    } else {
      for (const std::string& name : names) {
        const auto it = std::find_if(all.begin(), all.end(), [&](const Item& i) { return i.name == name; });
        if (it == all.end()) return refuse(request, s, Mode6Error::kUnknownVariable, out);
        chosen.push_back(*it);
      }
    }
    return answer(request, s, peer_status_word(*source), capped(request, chosen), out);
  }

  SystemView view{s, now_unix_ns};
  if (s.clock) {
    for (size_t i = 0; i < sources; ++i) {
      if (s.clock->sources[i].status == clock::SourceStatus::kSystemPeer) view.peer = static_cast<int>(i);
    }
  }
  const auto& table = system_variables();
  auto lookup = [&](std::string_view name) -> const SystemVariable* {
    for (const auto& [n, f] : table) {
      if (n == name) return &f;
    }
    return nullptr;
  };
  std::vector<Item> items;
  if (names.empty()) {
    for (std::string_view name : kDefaultSystem) items.push_back({std::string(name), (*lookup(name))(view)});
  } else {
    for (const std::string& name : names) {
      const SystemVariable* f = lookup(name);
      // NTPsec refuses the whole request; ntpq then asks one name at a time.
      if (f == nullptr) return refuse(request, s, Mode6Error::kUnknownVariable, out);
      items.push_back({name, (*f)(view)});
    }
  }
  return answer(request, s, system_status_word(s), capped(request, items), out);
}

}  // namespace ntsd::server
