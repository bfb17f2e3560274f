#pragma once
// The typed result of parsing an NTPsec-style ntp.conf (see parser.h). Every
// field holds the value the file gave or the documented default; nothing here
// is resolved (host names stay names) and nothing touches the system.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/logconfig.h"

namespace ntsd::config {

// Address family of an address, or of a `-4`/`-6` qualifier (kAny: none given).
enum class IpFamily : uint8_t { kAny, kIPv4, kIPv6 };

// Network-order address bytes: IPv4 in bytes 0..3 (rest zero), IPv6 in all 16.
using AddressBytes = std::array<uint8_t, 16>;

// NTS AEAD algorithm ids (IANA "AEAD Algorithms" registry, RFC 8915 §5.1).
inline constexpr uint16_t kAeadAesSivCmac256 = 15;
inline constexpr uint16_t kAeadAesSivCmac384 = 16;
inline constexpr uint16_t kAeadAesSivCmac512 = 17;
inline constexpr uint16_t kAeadAes128GcmSiv = 30;

enum class TlsVersion : uint8_t { kTls12, kTls13 };

// One `server` or `pool` line.
struct UpstreamServer {
  std::string host;                  // name or address literal, without [] or :port
  bool is_pool = false;              // `pool` rather than `server`
  IpFamily family = IpFamily::kAny;  // `-4` / `-6` before the host
  bool nts = false;
  bool iburst = false;
  bool burst = false;
  int minpoll = 6;     // log2 s, 0..17 (NTPsec default 6)
  int maxpoll = 10;    // log2 s, 0..17 (NTPsec default 10)
  bool noval = false;  // do not validate the NTS-KE certificate
  bool prefer = false;
  bool noselect = false;
  std::optional<uint16_t> port;  // HOST:PORT or `port N`: NTS-KE port with nts, else NTP port
  std::optional<int> version;    // `version N`, 1..4
  std::string ca;                // `ca FILE|DIR` for this server's NTS-KE certificate
  std::optional<uint16_t> aead;  // `aead NAME`: preferred AEAD id
  bool operator==(const UpstreamServer&) const = default;
};

// Settings of the `nts` directive (NTS-KE server side and shared client defaults).
struct NtsSettings {
  // `nts enable` / `nts disable`; unset: the NTS server is on exactly when
  // `nts cert` and `nts key` are both given (see nts_server_mode()).
  std::optional<bool> enabled;
  std::string cert;                // `nts cert FILE`: certificate chain
  std::string key;                 // `nts key FILE`: private key
  std::string ca;                  // `nts ca FILE|DIR`: CA for upstream NTS-KE servers
  std::string cookie_file;         // `nts cookie FILE`: NTPsec's cookie key file
  std::vector<uint16_t> aead_ids;  // `nts aead NAME...`, preference order; empty: built-in order
  TlsVersion mintls = TlsVersion::kTls13;
  TlsVersion maxtls = TlsVersion::kTls13;
  std::string tls_ciphers;       // `nts tlsciphers LIST` (OpenSSL syntax, TLS <= 1.2)
  std::string tls_ciphersuites;  // `nts tlsciphersuites LIST` (TLS 1.3)
  uint16_t ke_port = 4460;       // `nts port N`: NTS-KE listening port
  // ntsd extensions.
  std::string keyseed;                   // `nts keyseed FILE`: fleet seed for cookie keys
  // `nts keyseed FILE from TIME`: a second fleet seed, for the epochs that
  // start at or after TIME (unix seconds); needs a plain `nts keyseed` line.
  std::string keyseed_new;
  std::optional<int64_t> keyseed_from;
  int64_t rotate_seconds = 86400;        // `nts rotate SECONDS`, >= 60
  int keep_days = 14;                    // `nts keepkeys DAYS`, 1..365
  std::optional<int> ke_threads;         // `nts kethreads N`, 1..1024
  int ke_rate = 5;                       // `nts kerate N`: NTS-KE sessions/s per client address, 0 = no limit
  int ke_burst = 50;                     // `nts keburst N`: sessions an address may open at once, 1..100000
  std::optional<int> ke_max_connections;  // `nts kemaxconn N`: open NTS-KE
                                          // connections, 16..1000000; unset: from the fd limit
  int ke_per_address =
      16;  // `nts keperaddr N`: open NTS-KE connections per address (IPv6: /64); 0 = no cap
  std::vector<std::string> ntp_servers;  // `nts ntpserver HOST[:PORT]`: sent in NTS-KE replies
  bool require_nts = false;              // `nts require`: serve NTS clients only
  bool operator==(const NtsSettings&) const = default;
};

// Restriction flags of a `restrict` line; a bitmask, one named bit per NTPsec flag.
enum class RestrictFlag : uint32_t {
  kKod = 1u << 0,
  kLimited = 1u << 1,
  kNomodify = 1u << 2,
  kNopeer = 1u << 3,
  kNoquery = 1u << 4,
  kNotrap = 1u << 5,
  kIgnore = 1u << 6,
  kNoserve = 1u << 7,
  kNotrust = 1u << 8,
  kNomrulist = 1u << 9,
  kNtpport = 1u << 10,
  kVersion = 1u << 11,
  kFlake = 1u << 12,
  kMssntp = 1u << 13,
  // ntsd extension: `limited`, with IPv6 clients keyed by their /64 (one
  // rate-limit bucket per /64 rather than per address); IPv4 stays per address.
  kLimited64 = 1u << 14,
};

// One `restrict` line, in file order.
struct RestrictEntry {
  bool is_default = false;           // `restrict [-4|-6] default`
  bool is_source = false;            // `restrict source`: applies to configured upstreams
  IpFamily family = IpFamily::kAny;  // kAny only for a plain `default` or `source`
  AddressBytes address{};            // bits beyond prefix_len are zero
  uint8_t prefix_len = 0;            // from `mask M`, `/N`, or full length for a host
  uint32_t flags = 0;                // RestrictFlag bits
  bool has(RestrictFlag f) const { return (flags & static_cast<uint32_t>(f)) != 0; }
  bool operator==(const RestrictEntry&) const = default;
};

// One `interface listen` line.
struct ListenAddress {
  bool all = false;  // `all` (any family), `ipv4` or `ipv6` (family set)
  IpFamily family = IpFamily::kAny;
  AddressBytes address{};  // when !all
  bool operator==(const ListenAddress&) const = default;
};

// Statistics files (`statistics` / `filegen`), NTPsec names; a bitmask.
enum class StatsFile : uint32_t {
  kClockstats = 1u << 0,
  kLoopstats = 1u << 1,
  kPeerstats = 1u << 2,
  kRawstats = 1u << 3,
  kSysstats = 1u << 4,
  kProtostats = 1u << 5,
  kTimingstats = 1u << 6,
  kUsestats = 1u << 7,
};

enum class FileGenType : uint8_t { kNone, kPid, kDay, kWeek, kMonth, kYear, kAge };

// `metrics ADDRESS:PORT` (ntsd): where the Prometheus /metrics endpoint listens.
struct MetricsListen {
  IpFamily family = IpFamily::kIPv4;  // kIPv4 or kIPv6
  AddressBytes address{};
  uint16_t port = 0;
  bool operator==(const MetricsListen&) const = default;
};

// One `filegen NAME [file F] [type T] [enable|disable] [link|nolink]` line.
struct FileGen {
  StatsFile stats = StatsFile::kLoopstats;
  std::string file;  // file name prefix; defaults to the stats name
  FileGenType type = FileGenType::kDay;
  std::optional<bool> enable;  // unset: follows `statistics`
  std::optional<bool> link;
  bool operator==(const FileGen&) const = default;
};

// One `tos NAME VALUE` option (NTPsec names: minclock, maxclock, minsane, ...).
struct TosOption {
  std::string name;
  double value = 0;
  bool operator==(const TosOption&) const = default;
};

struct Config {
  std::vector<UpstreamServer> servers;  // `server` and `pool`, file order
  NtsSettings nts;
  std::vector<RestrictEntry> restricts;  // file order
  std::vector<ListenAddress> listen;     // `interface listen`; empty: all addresses
  std::optional<uint16_t> ntp_port;      // `ntpport N`; unset means 123
  std::optional<int> workers;            // `workers N`, 1..1024; unset: one per core
  std::optional<MetricsListen> metrics;  // `metrics ADDRESS:PORT`; unset: no /metrics endpoint
  std::string driftfile;
  std::string logfile;
  std::string statsdir;
  std::string leapfile;
  uint32_t statistics = 0;  // StatsFile bits
  std::vector<FileGen> filegens;
  std::vector<TosOption> tos;          // file order
  // `tinker step S` / `tinker panic S` (NTPsec): step threshold and panic
  // threshold of the clock discipline, s; 0 disables stepping / the panic check.
  std::optional<double> tinker_step;
  std::optional<double> tinker_panic;
  std::vector<std::string> logconfig;  // `logconfig` items as written, e.g. "=syncall"
  uint32_t log_mask = kLogAll;          // `logconfig` applied: the notice/info classes logged
  // Rate limiting of `restrict ... limited` (NTPsec `discard`).
  int discard_average = 3;             // log2 s of the minimum average headway (3: 8 s)
  int discard_minimum = 2;             // s of the minimum headway (guard time)
  std::optional<int> discard_monitor;  // MRU overflow sampling, NTPsec `discard monitor`
  // `controlsocket PATH|none [group NAME]` (ntsd): the Unix socket ntsctl talks to. Empty path:
  // the built-in default (daemon/control_actions.h); "none": no control socket. Empty group: the
  // group ntsd runs as.
  std::string control_socket;
  std::string control_group;
  bool operator==(const Config&) const = default;
};

// Whether the NTS server (NTS-KE + NTS-authenticated NTP) runs, and why.
enum class NtsServerMode : uint8_t {
  kOnEnabled,      // `nts enable` (NTPsec's Quick Start form)
  kOnCertAndKey,   // `nts cert` and `nts key` without `nts enable` (the NTS guide's server form)
  kOffDisabled,    // `nts disable`, whatever else is given
  kOffNoCertKey,   // neither `nts enable` nor both of `nts cert` / `nts key`
};
NtsServerMode nts_server_mode(const NtsSettings& nts);
inline bool nts_server_on(const NtsSettings& nts) {
  const NtsServerMode m = nts_server_mode(nts);
  return m == NtsServerMode::kOnEnabled || m == NtsServerMode::kOnCertAndKey;
}
// One line for `ntsd --check` and the start-up log, e.g. "NTS server: on (nts cert + nts key)".
const char* nts_server_mode_text(NtsServerMode mode);

// A flag as its uint32_t bit, for building and testing masks.
constexpr uint32_t bit(RestrictFlag f) { return static_cast<uint32_t>(f); }
constexpr uint32_t bit(StatsFile f) { return static_cast<uint32_t>(f); }

}  // namespace ntsd::config
