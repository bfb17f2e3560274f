#pragma once
// The upstream client: one thread (never a worker core's job) that runs every
// `server`/`pool` association — DNS, NTS-KE, NTS-protected polls — feeds the
// replies through the filter, selection and system state, and publishes what
// the workers serve into a ServerStateCell. The protocol decisions live in the
// pure pieces (Source, ClockFilter, select_sources, SystemState, the NTS
// codec); this file's class only does their I/O.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "clock/clock_backend.h"
#include "clock/discipline.h"
#include "clock/selection.h"
#include "clock/source.h"
#include "clock/stats_file.h"
#include "clock/system_state.h"
#include "config/config.h"
#include "server/server_state.h"

namespace ntsd::clock {

struct ClientOptions {
  std::vector<config::UpstreamServer> servers;  // `server` and `pool` lines, file order
  SelectionParams selection;                    // `tos minsane/minclock/maxclock/mindist/maxdist`
  size_t maxclock = 10;                         // `tos maxclock`: pools stop adding members there
  std::string nts_ca;                           // `nts ca FILE|DIR`; empty: the system store
  std::vector<uint16_t> nts_aeads;              // `nts aead`; empty: AES-SIV-CMAC-256, then GCM-SIV
  std::string cookie_file;                      // where NTS sessions persist; empty: nowhere
  std::optional<FileGenSettings> peerstats;     // `statistics peerstats` (+ filegen), if enabled
  std::string leapfile;                         // `leapfile`; empty: leap bits from upstream only
  std::optional<FileGenSettings> loopstats;     // `statistics loopstats` (+ filegen), if enabled
  std::optional<FileGenSettings> rawstats;      // `statistics rawstats` (+ filegen): every accepted reply's timestamps
  std::string driftfile;                        // `driftfile`; empty: none
  DisciplineParams discipline;                  // `tinker step/panic`; measure_only follows the backend
  // The clock to discipline. Null: a dry-run backend over CLOCK_REALTIME
  // (measure-only: estimates everything, adjusts nothing). Must outlive the client.
  ClockBackend* backend = nullptr;
  int8_t precision = -24;                       // the host clock's, log2 s
  int ke_timeout_ms = 5000;                     // NTS-KE connect/read/write timeout
  int resolve_threads = 2;                      // blocking DNS and NTS-KE run here, never on the client loop
  std::function<void(const std::string&)> log;  // one operator-facing line per event
};

// `config`'s client settings (servers, tos, nts ca/aead, statistics, leapfile);
// cookie_file is `nts cookie` else `state_dir`/nts-client-cookies. Errors
// (e.g. a statistics file name leaving statsdir) fail start-up.
std::optional<ClientOptions> client_options_from_config(const config::Config& config,
                                                        const std::string& state_dir, int64_t now_unix_s,
                                                        std::string* error);

// One association, as operators see it (SIGUSR1 now; ntsctl later).
struct SourceReport {
  std::string name;        // as configured ("nts.ntp.se:4443"), or the pool member's address
  std::string address;     // NTP address in use ("192.0.2.1:123"), empty before resolution
  bool nts = false;
  SourceState state = SourceState::kIdle;
  SourceStatus status = SourceStatus::kUnusable;
  Unfit unfit = Unfit::kNone;
  uint8_t reach = 0;
  int poll = 0;
  uint8_t stratum = 0;
  double offset = 0, delay = 0, jitter = 0, dispersion = 0;  // s, the filter's estimate
  bool valid = false;       // the filter has an estimate
  UpstreamHeader header;    // the server's reply header of the sample the estimate rests on (ntpq's refid)
  int64_t sample_time_ns = 0;  // host time of that sample, 0 if none (ntpq's "when")
  uint32_t cookies = 0;
  std::optional<int64_t> last_ke_ns;
  SourceCounters counters;
  uint64_t restored_sessions = 0;  // sessions taken from the cookie file instead of a new NTS-KE
};

// The discipline's view, for operators (SIGUSR1 now; ntsctl later).
struct DisciplineReport {
  bool measure_only = true;
  DisciplineStats stats;
  DisciplineOutcome last_outcome = DisciplineOutcome::kNoData;
  uint64_t steps = 0;
  uint64_t frequency_sets = 0;
};

class UpstreamClient {
 public:
  // Starts the client thread; `cell` receives every published state (the
  // first one, leap 3 / stratum 16, before this returns).
  static std::unique_ptr<UpstreamClient> start(ClientOptions options, const Clock& clock,
                                               server::ServerStateCell& cell, std::string* error);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Stops the thread, saves the NTS sessions to the cookie file. Idempotent.
  void stop();

  std::vector<SourceReport> sources() const;
  SystemStatus system() const;
  DisciplineReport discipline() const;

  class Impl;

 private:
  explicit UpstreamClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One line per source and one for the system, for the log.
std::vector<std::string> report_lines(const std::vector<SourceReport>& sources, const SystemStatus& system,
                                      const DisciplineReport& discipline);

}  // namespace ntsd::clock
