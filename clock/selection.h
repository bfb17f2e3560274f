#pragma once
// Selection and combining across sources (RFC 5905 §11.2): fitness checks,
// intersection (falsetickers out), clustering (outliers out), system peer
// choice and the combined offset. Pure: one call per selection, time passed in.
#include <cstdint>
#include <span>
#include <vector>

#include "clock/sample.h"

namespace ntsd::clock {

// `tos` settings (NTPsec names and defaults; the NTS guide's configs set minsane 3).
struct SelectionParams {
  int minsane = 1;                // fewest truechimers for the system to count as synchronized
  int minclock = 3;               // the cluster algorithm stops pruning at this many survivors
  int maxclock = 10;              // and always prunes down to at most this many
  double mindist = 0.001;         // s: floor of a correctness interval's half-width
  double maxdist = kMaxDistance;  // s: a source farther than this (root distance) is unusable
};

// One source as selection sees it.
struct SelectionInput {
  SourceEstimate estimate;
  SourceFlags flags;
  bool eligible = true;        // the caller's verdict (NTS authentication and the like)
  double poll_interval_s = 0;  // a source may age one poll interval past maxdist (RFC 5905 fit())
};

// Where a source ended up; operators see it in `ntsctl sources` and in the
// select field of peerstats status words (tally character in brackets).
enum class SourceStatus : uint8_t {
  // ['*'] The survivor the system follows: stratum, refid, root delay and
  // root dispersion come from it.
  kSystemPeer,
  // ['+'] A survivor: its offset goes into the combined offset.
  kCandidate,
  // ['-'] Agreed with the majority but was pruned by the cluster algorithm:
  // its offset is too far from the others'.
  kOutlier,
  // ['x'] Its correctness interval misses the majority's intersection, or
  // there is no majority at all.
  kFalseticker,
  // [' '] Never entered selection; SourceVerdict::unfit says why.
  kUnusable,
};

// Why a source never entered selection (RFC 5905 fit() and config flags).
enum class Unfit : uint8_t {
  kNone,            // it did enter selection
  kIneligible,      // the caller ruled it out (not NTS-authenticated, ...)
  kNoselect,        // configured `noselect`: polled and shown, never selected
  kNoData,          // no usable sample: never answered, or the last eight polls went unanswered
  kUnsynchronized,  // the server says it is not synchronized (leap 3, stratum 0 or >= 16)
  kTooFar,          // root distance above maxdist (+ PHI * poll interval)
};

const char* source_status_name(SourceStatus status);
const char* unfit_name(Unfit reason);
// ntpq's tally character for a status ('*', '+', '-', 'x', ' ').
char source_status_tally(SourceStatus status);
// The 3-bit select field of an NTPsec peer status word (CTL_PST_SEL_*).
uint8_t source_status_select_code(SourceStatus status);

struct SourceVerdict {
  SourceStatus status = SourceStatus::kUnusable;
  Unfit unfit = Unfit::kNone;  // when status == kUnusable
  double root_distance = 0;    // s, at the selection's now_ns
};

struct Selection {
  SystemEstimate system;
  std::vector<SourceVerdict> sources;  // one per input, same order
};

// Runs selection over inputs at now_ns. previous_system_peer is the index of
// the last system peer (-1 if none); it keeps the role while it survives at
// the best survivor's stratum, so the system does not hop between equals.
Selection select_sources(std::span<const SelectionInput> inputs, const SelectionParams& params,
                         int previous_system_peer, int64_t now_ns);

}  // namespace ntsd::clock
