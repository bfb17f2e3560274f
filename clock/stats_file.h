#pragma once
// NTPsec's statistics files (`statsdir`, `statistics`, `filegen`): the line
// formats of peerstats and loopstats exactly as NTPsec's ntpd writes them (so
// ntpviz and operators' scripts read ntsd's files unchanged), the peer status
// word, and a writer for one generation file set. Time is always passed in.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ntsd::clock {

// Select field of the peer status word (NTPsec decode.html; ntpq tally code in brackets).
enum class PeerSelect : uint8_t {
  kReject = 0,     // sel_reject: not valid     [ ]
  kFalsetick = 1,  // sel_falsetick             [x]
  kExcess = 2,     // sel_excess                [.]
  kOutlier = 3,    // sel_outlier               [-]
  kCandidate = 4,  // sel_candidate             [+]
  kBackup = 5,     // sel_backup                [#]
  kSysPeer = 6,    // sel_sys.peer              [*]
  kPpsPeer = 7,    // sel_pps.peer              [o]
};

// Code field of the peer status word: the most recent peer event.
enum class PeerEvent : uint8_t {
  kNone = 0,
  kMobilize = 1,
  kDemobilize = 2,
  kUnreachable = 3,
  kReachable = 4,
  kRestart = 5,
  kNoReply = 6,
  kRateExceeded = 7,
  kAccessDenied = 8,
  kLeapArmed = 9,
  kSysPeer = 10,
  kClockEvent = 11,
  kBadAuth = 12,
  kPopcorn = 13,
};

struct PeerStatus {
  bool configured = true;     // config 0x80: from a `server` line (not a pool spawn)
  bool auth_enabled = false;  // authenb 0x40: NTS (or a key) configured for the source
  bool authentic = false;     // auth 0x20: its last reply authenticated
  bool reachable = false;     // reach 0x10: reach register non-zero
  PeerSelect select = PeerSelect::kReject;
  uint8_t event_count = 0;  // events since the code last changed, saturates at 15
  PeerEvent last_event = PeerEvent::kNone;
};

// The 16-bit peer status word: flags|select, then count and event (NTPsec ctlpeerstatus()).
uint16_t peer_status_word(const PeerStatus& status);

// "MJD SECONDS.mmm" (UTC day, seconds past midnight, milliseconds truncated): every line's start.
std::string stats_time_text(int64_t unix_ns);

struct PeerStatsRecord {
  std::string_view source;  // address as NTPsec prints it ("192.0.2.1", "2001:db8::1")
  uint16_t status = 0;      // peer_status_word()
  double offset = 0;        // s
  double delay = 0;         // s
  double dispersion = 0;    // s
  double jitter = 0;        // s
};

struct LoopStatsRecord {
  double offset = 0;      // s
  double drift_ppm = 0;   // frequency offset
  double jitter = 0;      // s, RMS
  double wander_ppm = 0;  // RMS frequency jitter
  int time_constant = 0;  // log2 s
};

// One received reply as NTPsec's rawstats records it (monopt.html): the four
// timestamps as received, before any filtering, and the reply's header.
struct RawStatsRecord {
  std::string_view source;       // the upstream's address ("192.0.2.1")
  std::string_view destination;  // ours
  int64_t t1_ns = 0, t4_ns = 0;  // host (Unix ns): request sent, reply received
  uint64_t t2 = 0, t3 = 0;       // the reply's receive and transmit stamps, NTP format as sent
  uint8_t leap = 0, version = 4, mode = 4, stratum = 0;
  int poll = 0;
  int precision = 0;
  double root_delay = 0, root_dispersion = 0;  // s
  uint32_t reference_id = 0;
};

// One rawstats line, '\n' included.
std::string rawstats_line(int64_t unix_ns, const RawStatsRecord& record);

// One peerstats line, '\n' included.
std::string peerstats_line(int64_t unix_ns, const PeerStatsRecord& record);
// One loopstats line, '\n' included.
std::string loopstats_line(int64_t unix_ns, const LoopStatsRecord& record);

// Where and how one statistics file set is written.
struct FileGenSettings {
  std::string base;  // statsdir (with its '/') + file name: the file set's name without suffix
  config::FileGenType type = config::FileGenType::kDay;
  bool enabled = false;
  bool link = true;          // keep a hard link `base` to the current element
  int64_t pid = 0;           // for type pid
  int64_t start_unix_s = 0;  // daemon start, for type age
};

// NTPsec's compiled-in statsdir, used when ntp.conf has no `statsdir`.
inline constexpr std::string_view kDefaultStatsdir = "/var/NTP/";

// Settings of statistics file `which` from `statsdir`, `statistics` and `filegen` lines;
// false with `error` when the file name would leave statsdir ("..").
bool filegen_settings(const config::Config& config, config::StatsFile which, int64_t pid,
                      int64_t start_unix_s, FileGenSettings& out, std::string& error);
// The element of the file set that holds time `unix_s` (e.g. base + ".20251201" for type day).
std::string filegen_path(const FileGenSettings& settings, int64_t unix_s);

enum class StatsWrite : uint8_t { kWritten, kDisabled, kFailed };

// Appends lines to the current element of one file set, switching element
// (at UTC midnight for type day) as the passed-in time moves on.
class StatsFileWriter {
 public:
  explicit StatsFileWriter(FileGenSettings settings);
  ~StatsFileWriter();
  StatsFileWriter(const StatsFileWriter&) = delete;
  StatsFileWriter& operator=(const StatsFileWriter&) = delete;

  // Appends `line` to the element for `unix_ns`, opening or rotating first.
  StatsWrite append(int64_t unix_ns, std::string_view line);
  // The first error of the current failure episode, once (then ""): the caller logs what it gets.
  std::string take_error();
  // Path of the open element ("" if none).
  const std::string& current_path() const { return path_; }

 private:
  bool open_element(const std::string& path);
  void fail(std::string message);

  FileGenSettings settings_;
  int fd_ = -1;
  std::string path_;
  bool failing_ = false;
  std::string pending_error_;
};

}  // namespace ntsd::clock
