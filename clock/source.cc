#include "clock/source.h"

#include <algorithm>

namespace ntsd::clock {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

// RFC 5905's BCOUNT and NTPsec's documented `iburst`/`burst`: eight packets,
// two seconds apart, in place of one.
constexpr int kBurstPackets = 8;
constexpr int64_t kBurstSpacingNs = 2 * kNsPerSecond;

// ntpd-rs re-keys when a fresh session has had 3 requests go unanswered.
constexpr uint32_t kStartupUnanswered = 3;

// Poll adaptation: one step up after this many answered polls in a row.
constexpr int kStepUpAfter = 8;

// Polls that find the source unreachable before its address is looked up
// again (or a pool member is given up): one full reach register of silence.
constexpr uint32_t kUnreachLimit = 8;

// Failed key exchanges in a row after which the host is looked up again
// (and a pool member is given up).
constexpr uint32_t kKeFailureLimit = 4;

// Exponential backoff for DNS and NTS-KE: 16 s doubling, capped at 2^12 s.
constexpr int kBackoffMinLog2 = 4;
constexpr int kBackoffMaxLog2 = 12;

// Deadlines for the runner's answers.
constexpr int64_t kResolveTimeoutNs = 30 * kNsPerSecond;
constexpr int64_t kKeTimeoutNs = 30 * kNsPerSecond;

// chrony re-keys every 4 weeks (`refresh` 2419200 s).
constexpr int64_t kSessionMaxAgeNs = 28 * 86400 * kNsPerSecond;

// The poll exponent range of ntp.conf (NTPsec: 0..17).
constexpr int kMaxPollLimit = 17;

int64_t seconds_log2_ns(int log2) { return (int64_t{1} << log2) * kNsPerSecond; }

}  // namespace

// Why 16 s doubling to 2^12 s (68 min), not chrony's 2^19 s (6 days): ntsd
// is a stratum-2 server, and an operator who fixes an upstream (or its
// certificate) expects it back within the hour, not next week. At the cap a
// dead NTS-KE server costs one TLS handshake an hour per association, which
// no server notices; the cap is reached at the 9th failure (68 min in), so a
// brief outage is retried quickly and a long one settles at the cap.
int64_t retry_backoff_ns(uint32_t failures) {
  const uint32_t step =
      std::min<uint32_t>(failures == 0 ? 0 : failures - 1, kBackoffMaxLog2 - kBackoffMinLog2);
  return seconds_log2_ns(kBackoffMinLog2 + static_cast<int>(step));
}

Source::Source(const config::UpstreamServer& config)
    : nts_(config.nts),
      iburst_(config.iburst),
      burst_(config.burst),
      pool_member_(config.is_pool),
      minpoll_(std::clamp(config.minpoll, 0, kMaxPollLimit)),
      maxpoll_(std::clamp(config.maxpoll, minpoll_, kMaxPollLimit)),
      flags_{config.prefer, config.noselect},
      poll_(minpoll_),
      poll_floor_(minpoll_) {}

SourceActions Source::result(SourceActions a) const {
  a.timer_ns = timer_ns_;
  return a;
}

// A result for a request we no longer wait for (its deadline passed and the
// machine moved on), or an event that makes no sense in this state: counted,
// otherwise ignored. The runner gets the unchanged timer back.
SourceActions Source::ignore() {
  ++counters_.stale_events;
  return result({});
}

SourceActions Source::start(int64_t now_ns) {
  if (state_ != SourceState::kIdle) return ignore();
  SourceActions a;
  begin_resolve(now_ns, a);
  return result(a);
}

SourceActions Source::timer(int64_t now_ns) {
  // A timer that is not (yet) ours: nothing to do, same timer again.
  if (!timer_ns_ || now_ns < *timer_ns_) return result({});
  SourceActions a;
  switch (state_) {
    case SourceState::kResolving:
      // The runner's lookup overran its deadline: a failure like any other.
      // A late answer finds us in another state and is ignored.
      return resolved(now_ns, false);
    case SourceState::kResolveBackoff:
      begin_resolve(now_ns, a);
      break;
    case SourceState::kKeyExchange:
      session_failed(now_ns, a);
      break;
    case SourceState::kKeBackoff:
      // A KE server that keeps failing may have moved: every kKeFailureLimit
      // failures, look the host up again before the next attempt. The lookup
      // never costs the source anything: if it fails, KE goes on with the old
      // address (resolved()).
      if (ke_failures_ % kKeFailureLimit == 0) {
        begin_resolve(now_ns, a);
      } else {
        begin_ke(now_ns, a);
      }
      break;
    case SourceState::kPolling:
      send_due(now_ns, a);
      break;
    case SourceState::kIdle:
    case SourceState::kDemobilized:
      break;
  }
  return result(a);
}

SourceActions Source::resolved(int64_t now_ns, bool ok) {
  if (state_ != SourceState::kResolving) return ignore();
  SourceActions a;
  if (ok) {
    dns_failures_ = 0;
    has_address_ = true;
  } else {
    ++dns_failures_;
    // DNS never blocks a source that has an address: a failed re-lookup
    // (the resolver is down, not necessarily the server) keeps the old one
    // and carries on; the next lookup comes after kUnreachLimit more
    // unreachable polls or kKeFailureLimit more KE failures. Only a source
    // that never had an address waits, with the same backoff as NTS-KE.
    if (!has_address_) {
      state_ = SourceState::kResolveBackoff;
      timer_ns_ = now_ns + retry_backoff_ns(dns_failures_);
      return result(a);
    }
  }
  if (nts_) {
    begin_ke(now_ns, a);
  } else {
    enter_polling(now_ns, a);
  }
  return result(a);
}

SourceActions Source::ke_done(int64_t now_ns, bool ok, uint32_t cookies) {
  if (state_ != SourceState::kKeyExchange) return ignore();
  SourceActions a;
  if (!ok || cookies == 0) {
    // A KE that gave no cookies gave nothing to poll with: a failure.
    session_failed(now_ns, a);
    return result(a);
  }
  has_session_ = true;
  verified_since_ke_ = false;
  cookies_ = cookies;
  unanswered_ = 0;
  last_ke_ns_ = now_ns;
  // ke_failures_ is NOT reset here: it counts key exchanges since the last
  // verified reply (chrony's nke_attempts), so a KE server that hands out
  // sessions its NTP server never answers still backs off.
  enter_polling(now_ns, a);
  return result(a);
}

SourceActions Source::reply(int64_t now_ns, SourceReply kind, uint32_t cookies_left) {
  // Replies matter while polling, and during a jar-refill KE (the old session
  // still verifies replies in flight); otherwise nothing is outstanding.
  if (state_ != SourceState::kPolling && state_ != SourceState::kKeyExchange) return ignore();
  SourceActions a;
  const bool polling = state_ == SourceState::kPolling;
  if (nts_ && polling) cookies_ = cookies_left;
  switch (kind) {
    case SourceReply::kVerified:
      ++counters_.verified;
      unanswered_ = 0;
      verified_since_ke_ = true;
      ke_failures_ = 0;
      // RFC 5905: a reply sets the low bit of reach; a burst is one poll, so
      // only its first answer counts towards reach and the poll rule.
      if (polled_ && !answered_) {
        answered_ = true;
        reach_ |= 1;
        // Poll rule (ours; NTPsec lets the discipline loop pick the
        // interval, ntpd-rs its noise estimate): after kStepUpAfter answered
        // polls in a row at one interval (a full 8-stage clock filter of
        // fresh samples), double the interval, up to maxpoll. It drops back
        // to the floor when the source becomes unreachable (new_poll()).
        if (++good_streak_ >= kStepUpAfter && poll_ < maxpoll_) {
          ++poll_;
          good_streak_ = 0;
        }
      }
      break;
    case SourceReply::kNak:
      ++counters_.naks;
      // A NAK carries no authenticator: anyone who saw our request can forge
      // one. It never counts as an answer and never by itself ends a
      // session that has answered; chrony's rule re-keys on a NAK only if no
      // verified reply came since the last KE (the server may have lost its
      // keys before our first poll). That re-KE counts as a KE failure, so a
      // stream of forged NAKs can slow a new session down but never drive it
      // into a loop of key exchanges.
      if (nts_ && polling && has_session_ && !verified_since_ke_) session_failed(now_ns, a);
      break;
    case SourceReply::kKodRate:
      ++counters_.kods;
      // The server answered (just not with time).
      unanswered_ = 0;
      // NTPsec on RATE: at least double the interval (up to maxpoll), stop
      // any burst, and raise this association's minpoll so that falling
      // back to the floor later does not earn the next RATE. The next poll
      // is a full new interval from now.
      poll_ = std::min(poll_ + 1, maxpoll_);
      poll_floor_ = std::max(poll_floor_, poll_);
      good_streak_ = 0;
      burst_left_ = 0;
      next_poll_ns_ = now_ns + seconds_log2_ns(poll_);
      if (polling) timer_ns_ = next_poll_ns_;
      break;
    case SourceReply::kKodDeny:
      ++counters_.kods;
      // NTPsec: DENY and RSTR mean "never ask me again": demobilise.
      demobilize(a);
      return result(a);
    case SourceReply::kUnauthenticated:
      // RFC 8915: discard; counted so that operators see a forger or a
      // broken path.
      ++counters_.unauthenticated;
      break;
    case SourceReply::kFailed:
      ++counters_.failed;
      break;
  }
  // The jar is empty: key exchange now, before the next poll is due, so
  // that the poll finds fresh cookies (ntpd-rs resets when it has none).
  if (nts_ && state_ == SourceState::kPolling && has_session_ && cookies_ == 0) {
    rekey(now_ns, false, a);
  }
  return result(a);
}

SourceActions Source::send_failed(int64_t now_ns) {
  (void)now_ns;
  if (state_ != SourceState::kPolling) return ignore();
  // Counted only: the request stays unanswered, and persistent failure shows
  // up as an unreachable source, which the rules in new_poll() handle.
  ++counters_.send_failures;
  return result({});
}

void Source::begin_resolve(int64_t now_ns, SourceActions& a) {
  state_ = SourceState::kResolving;
  a.resolve = true;
  ++counters_.resolves;
  timer_ns_ = now_ns + kResolveTimeoutNs;
}

void Source::begin_ke(int64_t now_ns, SourceActions& a) {
  state_ = SourceState::kKeyExchange;
  a.start_ke = true;
  ++counters_.key_exchanges;
  timer_ns_ = now_ns + kKeTimeoutNs;
}

// A new key exchange. A session that never produced a verified reply has
// failed, whatever the trigger, and backs off (session_failed()); one that
// worked is replaced at once.
void Source::rekey(int64_t now_ns, bool drop, SourceActions& a) {
  if (has_session_ && !verified_since_ke_) {
    session_failed(now_ns, a);
    return;
  }
  if (drop) drop_session(a);
  begin_ke(now_ns, a);
}

void Source::session_failed(int64_t now_ns, SourceActions& a) {
  if (has_session_) drop_session(a);
  ++ke_failures_;
  // A pool has other servers: a member whose KE keeps failing is given up
  // and the pool mobilises a replacement.
  if (pool_member_ && ke_failures_ >= kKeFailureLimit) {
    demobilize(a);
    return;
  }
  state_ = SourceState::kKeBackoff;
  timer_ns_ = now_ns + retry_backoff_ns(ke_failures_);
}

void Source::drop_session(SourceActions& a) {
  a.drop_session = true;
  has_session_ = false;
  verified_since_ke_ = false;
  cookies_ = 0;
}

void Source::demobilize(SourceActions& a) {
  state_ = SourceState::kDemobilized;
  a.demobilize = true;
  timer_ns_.reset();
  burst_left_ = 0;
}

void Source::enter_polling(int64_t now_ns, SourceActions& a) {
  state_ = SourceState::kPolling;
  const int64_t due = burst_left_ > 0 ? next_burst_ns_ : next_poll_ns_.value_or(now_ns);
  if (due <= now_ns) {
    send_due(now_ns, a);
  } else {
    timer_ns_ = due;
  }
}

void Source::send_due(int64_t now_ns, SourceActions& a) {
  if (burst_left_ == 0) {
    new_poll(now_ns, a);
    return;
  }
  // The rest of a burst: the session checks still apply to every packet.
  if (nts_) {
    if (!verified_since_ke_ && unanswered_ >= kStartupUnanswered) {
      session_failed(now_ns, a);
      return;
    }
    if (cookies_ == 0) {
      rekey(now_ns, false, a);
      return;
    }
  }
  --burst_left_;
  transmit(a);
  next_burst_ns_ = now_ns + kBurstSpacingNs;
  timer_ns_ = burst_left_ > 0 ? next_burst_ns_ : std::max(*next_poll_ns_, next_burst_ns_);
}

void Source::new_poll(int64_t now_ns, SourceActions& a) {
  // The checks below run before the reach register moves, so that a poll
  // that turns into a lookup or a key exchange is bookkept once, when its
  // request finally goes out.

  // An address that has been unreachable for kUnreachLimit polls may be
  // stale (DNS moved the service): look it up again, and again after each
  // further kUnreachLimit polls. A pool member is given up instead (NTPsec
  // demobilises unreachable pool associations) and the pool replaces it.
  if (polled_ && reach_ == 0 && unreach_polls_ >= resolve_mark_ + kUnreachLimit) {
    if (pool_member_) {
      demobilize(a);
      return;
    }
    resolve_mark_ = unreach_polls_;
    if (has_session_) drop_session(a);
    begin_resolve(now_ns, a);
    return;
  }
  if (nts_) {
    // chrony refreshes keys and cookies every 4 weeks whatever happens.
    if (has_session_ && last_ke_ns_ && now_ns - *last_ke_ns_ >= kSessionMaxAgeNs) {
      rekey(now_ns, true, a);
      return;
    }
    // ntpd-rs: a new session whose first kStartupUnanswered requests all
    // went unanswered does not work (cookies refused silently, wrong NTP
    // server from the KE): re-key, as a failure, so with backoff.
    if (has_session_ && !verified_since_ke_ && unanswered_ >= kStartupUnanswered) {
      session_failed(now_ns, a);
      return;
    }
    // Steady state: a session that worked and has now been silent long
    // enough for reach to fall to 0 with this poll (RFC 5905's
    // "unreachable") is re-keyed before the poll. Why not 3 polls as at
    // start-up: a session that has answered is known good, and short losses
    // are the network's, not the session's; why not never: the server may
    // have rotated its keys and be dropping our cookies without a NAK. One
    // TLS handshake per 8 silent polls costs nobody anything.
    if (has_session_ && verified_since_ke_ && reach_ == 0x80) {
      rekey(now_ns, true, a);
      return;
    }
    // An empty jar: nothing to poll with (ntpd-rs).
    if (cookies_ == 0) {
      rekey(now_ns, false, a);
      return;
    }
  }

  // RFC 5905 poll(): shift reach once per poll (a burst is one poll).
  if (polled_ && !answered_) good_streak_ = 0;
  const uint8_t old_reach = reach_;
  reach_ = static_cast<uint8_t>(reach_ << 1);
  answered_ = false;
  bool burst = false;
  if (reach_ == 0) {
    // Unreachable. Going unreachable resets the interval to the floor so the
    // source is found again quickly once it answers; iburst sends a burst on
    // the first unreachable poll only (RFC 5905: unreach == 0), so a dead
    // server is not burst at forever.
    if (old_reach != 0) {
      poll_ = poll_floor_;
      good_streak_ = 0;
    }
    burst = iburst_ && unreach_polls_ == 0;
    ++unreach_polls_;
  } else {
    unreach_polls_ = 0;
    resolve_mark_ = 0;
    burst = burst_;
    // RFC 5905: still reachable but the last three polls went unanswered:
    // a dummy sample (infinite dispersion) makes the stale source less
    // attractive to selection.
    if ((reach_ & 0x07) == 0) a.missed_poll = true;
  }
  polled_ = true;
  transmit(a);
  burst_left_ = burst ? kBurstPackets - 1 : 0;
  // The next poll is one interval after this one started (RFC 5905
  // poll_update: outdate + 2^poll), and never inside the burst.
  int64_t interval = seconds_log2_ns(poll_);
  if (burst) interval = std::max(interval, kBurstPackets * kBurstSpacingNs);
  next_poll_ns_ = now_ns + interval;
  next_burst_ns_ = now_ns + kBurstSpacingNs;
  timer_ns_ = burst ? next_burst_ns_ : *next_poll_ns_;
}

void Source::transmit(SourceActions& a) {
  a.send_poll = true;
  ++counters_.polls_sent;
  ++unanswered_;
  if (nts_ && cookies_ > 0) --cookies_;
}

}  // namespace ntsd::clock
