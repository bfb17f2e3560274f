#pragma once
// NTPsec's `logconfig`: which notice and info messages reach the log. Four
// message classes (sys, peer, clock, sync) times four kinds (info, events,
// status, statistics), one bit each, laid out as NTPsec's NLOG_* masks
// (ntp_syslog.h) so the keywords mean what they mean there. Errors and
// warnings are never masked, as in NTPsec, where they bypass the mask.
#include <cstdint>
#include <string>
#include <string_view>

namespace ntsd::config {

enum LogClass : uint32_t {
  kLogSysInfo = 0x0001,          // start-up and shutdown facts: addresses, threads, privileges
  kLogSysEvents = 0x0002,        // ready, signals, certificate reload, key rotation, log reopen
  kLogSysStatus = 0x0004,        // (no ntsd messages)
  kLogSysStatistics = 0x0008,    // the counters line at stop
  kLogPeerInfo = 0x0010,         // an upstream's NTS session restored, pool member mobilised
  kLogPeerEvents = 0x0020,       // reachable/unreachable, NTS-KE ok/failed, (de)mobilised
  kLogPeerStatus = 0x0040,       // selection status: candidate, falseticker, …
  kLogPeerStatistics = 0x0080,   // (no ntsd messages; peerstats is a file)
  kLogClockInfo = 0x0100,        // host clock facts: kernel state, driftfile, leapfile, adjust mode
  kLogClockEvents = 0x0200,      // steps, slews, frequency clamps
  kLogClockStatus = 0x0400,      // (no ntsd messages)
  kLogClockStatistics = 0x0800,  // (no ntsd messages; loopstats is a file)
  kLogSyncInfo = 0x1000,         // (no ntsd messages)
  kLogSyncEvents = 0x2000,       // (no ntsd messages)
  kLogSyncStatus = 0x4000,       // synchronised to X, holdover, unsynchronised
  kLogSyncStatistics = 0x8000,   // (no ntsd messages)
};

constexpr uint32_t kLogAll = 0xffff;  // NTPsec's default: everything on
// The bits some ntsd message carries; the others are accepted and do nothing.
constexpr uint32_t kLogUsedByNtsd = kLogSysInfo | kLogSysEvents | kLogSysStatistics | kLogPeerInfo |
                                    kLogPeerEvents | kLogPeerStatus | kLogClockInfo |
                                    kLogClockEvents | kLogSyncStatus;

// Applies one item ("=syncall", "+clockall", "-peerinfo", "sysevents",
// "allall") to `mask` as NTPsec does: '=' sets, '+' or no sign adds, '-'
// removes. False, mask untouched, when the item names no class.
bool apply_logconfig_item(std::string_view item, uint32_t& mask);

// The bits an item names (0 when it names none), whatever its sign.
uint32_t logconfig_item_bits(std::string_view item);

}  // namespace ntsd::config
