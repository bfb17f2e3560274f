#pragma once
// The IETF/NIST leap-seconds.list (`leapfile` in ntp.conf; Debian's tzdata
// ships it as /usr/share/zoneinfo/leap-seconds.list): parse, check its SHA-1
// as NTPsec does, and say whether a leap second is to be announced at a given
// time. Time is passed in; nothing here reads a clock.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/ntp_packet.h"

namespace ntsd::clock {

enum class LeapHash : uint8_t {
  kGood,       // `#h` line matches the data
  kMissing,    // no `#h` line: accepted with a warning (as NTPsec does)
  kMismatch,   // `#h` does not match: the file is rejected
  kMalformed,  // `#h` line unreadable: the file is rejected
};

// One line of data: from `start` on, TAI - UTC is `tai_utc` seconds.
struct LeapEntry {
  int64_t start = 0;  // Unix s, 00:00:00 UTC on the first of a month
  int tai_utc = 0;
  bool operator==(const LeapEntry&) const = default;
};

struct LeapTable {
  std::vector<LeapEntry> entries;  // ascending
  int64_t updated = 0;             // `#$`, Unix s (0: absent)
  int64_t expires = 0;             // `#@`, Unix s (0: absent)
  LeapHash hash = LeapHash::kMissing;
};

struct LeapLoad {
  std::optional<LeapTable> table;     // nullopt: unreadable, malformed or bad hash
  std::vector<std::string> warnings;  // "FILE[:LINE]: what", ready to log
  bool expired = false;               // `#@` is at or before `now` (the table is still given)
};

// Parses file text; `name` prefixes warnings; `now` (Unix s) is only for the expiry check.
LeapLoad parse_leapfile(std::string_view text, std::string_view name, int64_t now);
// Reads and parses `path`.
LeapLoad load_leapfile(const std::string& path, int64_t now);

struct LeapState {
  proto::Leap leap = proto::Leap::kNone;  // what to put in the LI bits at `now`
  int tai_utc = 0;                        // TAI - UTC in force at `now` (0 before the table)
  int64_t next_leap = 0;                  // Unix s the next scheduled leap ends at (0: none)
  int next_step = 0;                      // +1 insert, -1 delete, 0 none
  bool scheduled = false;                 // next leap within NTPsec's 28-day schedule window
};

// The leap state at Unix time `now` according to `table`.
LeapState leap_state(const LeapTable& table, int64_t now);
// The leap indicator alone.
inline proto::Leap leap_indicator(const LeapTable& table, int64_t now) {
  return leap_state(table, now).leap;
}

}  // namespace ntsd::clock
