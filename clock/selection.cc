#include "clock/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "clock/filter.h"

namespace ntsd::clock {
namespace {

struct Endpoint {
  double value;
  int type;  // -1 lower end, +1 upper end
};

// One source inside selection: its index in the input and its figures.
struct Chimer {
  int index;
  double offset;
  double distance;  // correctness interval half-width: max(root distance, mindist)
  double jitter;
  int stratum;
  bool prefer;
};

Unfit fitness(const SelectionInput& in, double distance, const SelectionParams& params) {
  if (!in.eligible) return Unfit::kIneligible;
  if (in.flags.noselect) return Unfit::kNoselect;
  if (!in.estimate.valid) return Unfit::kNoData;
  const UpstreamHeader& h = in.estimate.header;
  if (h.leap == proto::Leap::kUnsynchronized || h.stratum == 0 || h.stratum >= kMaxStratum) {
    return Unfit::kUnsynchronized;
  }
  // RFC 5905 fit(): a source may age by one poll interval past MAXDIST
  // before it is dropped, so it does not flap between polls.
  if (distance > params.maxdist + kPhi * std::max(0.0, in.poll_interval_s)) return Unfit::kTooFar;
  return Unfit::kNone;
}

// RFC 5905 §11.2.1, as NTPsec implements Marzullo's algorithm: find the
// smallest interval [low, high] that contains points of the correctness
// intervals of n - allow sources, for allow = 0, 1, ... while the sources
// inside stay a strict majority. A source whose interval touches [low, high]
// is a truechimer; no such interval means no majority and no truechimers.
// (RFC 5905's reference code also counts midpoints; NTPsec dropped that, as
// it rejects a truechimer whose offset alone lies outside the intersection.)
std::vector<Chimer> intersect(const std::vector<Chimer>& fit) {
  const int n = static_cast<int>(fit.size());
  std::vector<Endpoint> ends;
  ends.reserve(2 * fit.size());
  for (const Chimer& c : fit) {
    ends.push_back({c.offset - c.distance, -1});
    ends.push_back({c.offset + c.distance, +1});
  }
  // Lower ends first at equal values, so touching intervals count as overlapping.
  std::sort(ends.begin(), ends.end(), [](const Endpoint& a, const Endpoint& b) {
    return a.value != b.value ? a.value < b.value : a.type < b.type;
  });

  double low = 0;
  double high = 0;
  bool found = false;
  for (int allow = 0; 2 * allow < n && !found; ++allow) {
    const int need = n - allow;
    low = std::numeric_limits<double>::infinity();
    high = -low;
    int count = 0;
    for (const Endpoint& e : ends) {
      count -= e.type;
      if (count >= need) {
        low = e.value;
        break;
      }
    }
    count = 0;
    for (auto e = ends.rbegin(); e != ends.rend(); ++e) {
      count += e->type;
      if (count >= need) {
        high = e->value;
        break;
      }
    }
    found = high > low;
  }
  std::vector<Chimer> truechimers;
  if (!found) return truechimers;
  for (const Chimer& c : fit) {
    if (c.offset + c.distance >= low && c.offset - c.distance <= high) truechimers.push_back(c);
  }
  return truechimers;
}

// Selection jitter of each survivor: RMS of the others' offsets about its own.
std::vector<double> selection_jitters(const std::vector<Chimer>& s) {
  std::vector<double> out(s.size(), 0.0);
  if (s.size() < 2) return out;
  for (size_t i = 0; i < s.size(); ++i) {
    double sum = 0;
    for (const Chimer& c : s) sum += (c.offset - s[i].offset) * (c.offset - s[i].offset);
    out[i] = std::sqrt(sum / static_cast<double>(s.size() - 1));
  }
  return out;
}

// RFC 5905 §11.2.2 with NTPsec's metric: repeatedly drop the survivor whose
// selection jitter times root distance is worst, while more than minclock
// remain and the worst selection jitter exceeds the best peer jitter (below
// that, pruning cannot make the result less noisy). A prefer peer is never
// pruned. Beyond maxclock survivors pruning goes on regardless, dropping the
// worst source that is not a prefer peer.
void cluster(std::vector<Chimer>& s, const SelectionParams& params, std::vector<int>& pruned) {
  const size_t floor = static_cast<size_t>(std::max(1, params.minclock));
  const size_t ceiling =
      static_cast<size_t>(std::max(params.maxclock, std::max(1, params.minclock)));
  while (s.size() > 1) {
    const std::vector<double> seljit = selection_jitters(s);
    double min_jitter = s[0].jitter;
    for (const Chimer& c : s) min_jitter = std::min(min_jitter, c.jitter);
    int worst = -1;
    int worst_unpreferred = -1;
    for (size_t i = 0; i < s.size(); ++i) {
      const double metric = seljit[i] * s[i].distance;
      if (worst < 0 || metric > seljit[worst] * s[worst].distance) worst = static_cast<int>(i);
      if (!s[i].prefer && (worst_unpreferred < 0 ||
                           metric > seljit[worst_unpreferred] * s[worst_unpreferred].distance)) {
        worst_unpreferred = static_cast<int>(i);
      }
    }
    int drop = -1;
    if (s.size() > ceiling) {
      drop = worst_unpreferred;
    } else if (s.size() > floor && seljit[worst] > min_jitter && !s[worst].prefer) {
      drop = worst;
    }
    if (drop < 0) break;
    pruned.push_back(s[drop].index);
    s.erase(s.begin() + drop);
  }
}

}  // namespace

const char* source_status_name(SourceStatus status) {
  switch (status) {
    case SourceStatus::kSystemPeer:
      return "sys.peer";
    case SourceStatus::kCandidate:
      return "candidate";
    case SourceStatus::kOutlier:
      return "outlier";
    case SourceStatus::kFalseticker:
      return "falsetick";
    case SourceStatus::kUnusable:
      return "reject";
  }
  return "?";
}

const char* unfit_name(Unfit reason) {
  switch (reason) {
    case Unfit::kNone:
      return "none";
    case Unfit::kIneligible:
      return "ineligible";
    case Unfit::kNoselect:
      return "noselect";
    case Unfit::kNoData:
      return "no_data";
    case Unfit::kUnsynchronized:
      return "unsynchronized";
    case Unfit::kTooFar:
      return "too_far";
  }
  return "?";
}

char source_status_tally(SourceStatus status) {
  switch (status) {
    case SourceStatus::kSystemPeer:
      return '*';
    case SourceStatus::kCandidate:
      return '+';
    case SourceStatus::kOutlier:
      return '-';
    case SourceStatus::kFalseticker:
      return 'x';
    case SourceStatus::kUnusable:
      return ' ';
  }
  return ' ';
}

uint8_t source_status_select_code(SourceStatus status) {
  // NTPsec include/ntp_control.h CTL_PST_SEL_*.
  switch (status) {
    case SourceStatus::kSystemPeer:
      return 6;  // SYSPEER
    case SourceStatus::kCandidate:
      return 4;  // SYNCCAND
    case SourceStatus::kOutlier:
      return 3;  // SELCAND
    case SourceStatus::kFalseticker:
      return 1;  // SANE
    case SourceStatus::kUnusable:
      return 0;  // REJECT
  }
  return 0;
}

Selection select_sources(std::span<const SelectionInput> inputs, const SelectionParams& params,
                         int previous_system_peer, int64_t now_ns) {
  Selection out;
  out.sources.resize(inputs.size());

  std::vector<Chimer> fit;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SelectionInput& in = inputs[i];
    SourceVerdict& v = out.sources[i];
    v.root_distance = root_distance(in.estimate, now_ns);
    v.unfit = fitness(in, v.root_distance, params);
    if (v.unfit != Unfit::kNone) continue;
    fit.push_back({static_cast<int>(i), in.estimate.offset,
                   std::max(v.root_distance, params.mindist), in.estimate.jitter,
                   in.estimate.header.stratum, in.flags.prefer});
  }

  std::vector<Chimer> survivors = intersect(fit);
  for (const Chimer& c : fit) out.sources[c.index].status = SourceStatus::kFalseticker;
  for (const Chimer& c : survivors) out.sources[c.index].status = SourceStatus::kCandidate;
  const int truechimers = static_cast<int>(survivors.size());

  std::vector<int> pruned;
  cluster(survivors, params, pruned);
  for (int i : pruned) out.sources[i].status = SourceStatus::kOutlier;
  out.system.survivors = static_cast<int>(survivors.size());

  // minsane counts the sources that agree (truechimers), not what is left
  // after clustering, which only trims the combination.
  if (survivors.empty() || truechimers < std::max(1, params.minsane)) return out;

  // System peer: the prefer peer if it survived; otherwise the survivor with
  // the lowest root distance, unless the previous system peer survived at the
  // same stratum (RFC 5905 §11.2.2's anti-clockhop rule).
  std::sort(survivors.begin(), survivors.end(),
            [](const Chimer& a, const Chimer& b) { return a.distance < b.distance; });
  const Chimer* peer = &survivors[0];
  const Chimer* prefer = nullptr;
  for (const Chimer& c : survivors) {
    if (c.prefer && prefer == nullptr) prefer = &c;
    if (c.index == previous_system_peer && c.stratum == survivors[0].stratum) peer = &c;
  }
  if (prefer != nullptr) peer = prefer;

  out.system.synchronized = true;
  out.system.selected = peer->index;
  out.sources[peer->index].status = SourceStatus::kSystemPeer;
  if (prefer != nullptr) {
    // NTPsec's mitigation rule: a surviving prefer peer's offset and jitter
    // are used alone, not combined; that is what `prefer` means to operators.
    out.system.offset = peer->offset;
    out.system.jitter = peer->jitter;
    return out;
  }
  // RFC 5905 §11.2.3: offsets weighted by 1/root distance; the selection
  // jitter is the same weighting of squared differences from the system
  // peer's offset, and the system jitter adds the system peer's own jitter.
  double y = 0;
  double z = 0;
  double w = 0;
  for (const Chimer& c : survivors) {
    const double x = 1.0 / c.distance;
    y += x;
    z += x * c.offset;
    w += x * (c.offset - peer->offset) * (c.offset - peer->offset);
  }
  out.system.offset = z / y;
  out.system.selection_jitter = std::sqrt(w / y);
  out.system.jitter = std::sqrt(w / y + peer->jitter * peer->jitter);
  return out;
}

}  // namespace ntsd::clock
