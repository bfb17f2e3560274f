// Fuzzes the leap-seconds.list parser (//clock:leapfile) with arbitrary file
// text. Invariants: every warning names the file; a table is given only with a
// good or missing hash, holds ascending month starts, and leap_state() agrees
// with it around every entry (announce only in the last day, sign of the step).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "clock/leapfile.h"

namespace {

using namespace ntsd::clock;
using ntsd::proto::Leap;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const int64_t now = 1'764'547'200;
  const LeapLoad r = parse_leapfile(text, "fuzz.list", now);
  for (const std::string& w : r.warnings) check(w.rfind("fuzz.list:", 0) == 0);
  if (!r.table) {
    check(!r.warnings.empty());
    return 0;
  }
  const LeapTable& t = *r.table;
  check(t.hash == LeapHash::kGood || t.hash == LeapHash::kMissing);
  if (t.hash == LeapHash::kMissing || r.expired) check(!r.warnings.empty());
  check(r.expired == (t.expires == 0 || now >= t.expires));
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const LeapEntry& e = t.entries[i];
    check(e.start >= 0 && e.start % 86400 == 0);
    if (i > 0) check(e.start > t.entries[i - 1].start);
    check(leap_state(t, e.start).tai_utc == e.tai_utc);
    check(leap_state(t, e.start).leap == Leap::kNone || i + 1 < t.entries.size());
    if (i == 0) {
      check(leap_state(t, e.start - 1).tai_utc == 0);
      continue;
    }
    const int step = e.tai_utc - t.entries[i - 1].tai_utc;
    // Entries can be less than a day apart only in a hostile file; skip the window checks there.
    if (e.start - t.entries[i - 1].start <= 86400) continue;
    const Leap expect = step > 0 ? Leap::kInsert61 : step < 0 ? Leap::kDelete59 : Leap::kNone;
    check(leap_state(t, e.start - 1).leap == expect);
    check(leap_state(t, e.start - 86400).leap == expect);
    check(leap_state(t, e.start - 86401).leap == Leap::kNone);
  }
  return 0;
}
