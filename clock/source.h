#pragma once
// One upstream association as a sans-I/O state machine (after ntpd-rs's
// ntp-proto/src/source.rs): the runner thread owns DNS, sockets, TLS and the
// NTS codec, feeds each event in with the current host time, and performs the
// returned SourceActions. No clock reads, no randomness, no allocation.
#include <cstdint>
#include <optional>

#include "clock/sample.h"
#include "config/config.h"

namespace ntsd::clock {

enum class SourceState : uint8_t {
  kIdle,            // built; start() not called yet
  kResolving,       // waiting for the runner's DNS answer (resolved())
  kResolveBackoff,  // DNS failed with no address to fall back on; retry when the timer fires
  kKeyExchange,     // NTS-KE running (ke_done())
  kKeBackoff,       // NTS-KE failed, or its session never answered; retry when the timer fires
  kPolling,         // sending requests; the timer is the next request
  kDemobilized,     // gone for good: DENY/RSTR, or a pool member that died; no timer
};

// What became of one request, as classified by the runner.
enum class SourceReply : uint8_t {
  kVerified,         // an authenticated NTS reply, or a valid plain reply for a non-NTS source
  kNak,              // NTS NAK (KoD NTSN) echoing our Unique Identifier: UNAUTHENTICATED
  kKodRate,          // KoD RATE (for an NTS source: only if authenticated, else kUnauthenticated)
  kKodDeny,          // KoD DENY or RSTR (same authentication rule as kKodRate)
  kUnauthenticated,  // a plain or forged reply for an NTS source: discarded
  kFailed,           // anything else unusable (bad origin, malformed, unsynchronised server)
};

// What the runner does next, in field order. timer_ns replaces any earlier timer.
struct SourceActions {
  bool drop_session = false;  // forget this source's NTS keys and cookies
  bool missed_poll = false;   // feed the filter a dummy sample (RFC 5905: polls went unanswered)
  bool resolve = false;       // look the host up; answer with resolved()
  bool start_ke = false;      // run NTS-KE; answer with ke_done()
  bool send_poll = false;     // send one request now
  bool demobilize = false;    // remove the association and its NTS session; no further events
  std::optional<int64_t>
      timer_ns;  // host Unix ns at which to call timer(); unset only when demobilised
  bool operator==(const SourceActions&) const = default;
};

struct SourceCounters {
  uint64_t polls_sent = 0;  // requests sent (burst packets included)
  uint64_t verified = 0;
  uint64_t naks = 0;
  uint64_t kods = 0;  // RATE, DENY and RSTR
  uint64_t unauthenticated = 0;
  uint64_t failed = 0;
  uint64_t send_failures = 0;
  uint64_t key_exchanges = 0;  // NTS-KE runs started
  uint64_t resolves = 0;       // DNS lookups started
  uint64_t stale_events = 0;   // results that came after their deadline or in another state
};

// Wait before retry number `failures` (>= 1) of a failed DNS lookup or NTS-KE: 16 s doubling,
// capped at 2^12 s.
int64_t retry_backoff_ns(uint32_t failures);

class Source {
 public:
  // From a `server` line, or a pool member (config.is_pool; host = the member's address).
  explicit Source(const config::UpstreamServer& config);

  SourceActions start(int64_t now_ns);
  // The timer last asked for has fired.
  SourceActions timer(int64_t now_ns);
  // The DNS lookup asked for has finished.
  SourceActions resolved(int64_t now_ns, bool ok);
  // NTS-KE finished: success with `cookies` cookies, or failure.
  SourceActions ke_done(int64_t now_ns, bool ok, uint32_t cookies);
  // A reply (or its failure) for a request; cookies_left: the jar after it (NTS only).
  SourceActions reply(int64_t now_ns, SourceReply kind, uint32_t cookies_left);
  // The request asked for could not be sent.
  SourceActions send_failed(int64_t now_ns);

  // Read-only figures for operators (ntsctl peers, metrics).
  SourceState state() const { return state_; }
  uint8_t reach() const { return reach_; }             // RFC 5905 reach register
  int poll() const { return poll_; }                   // current poll exponent, log2 s
  uint32_t unanswered() const { return unanswered_; }  // requests since the last verified reply
  uint32_t ke_failures() const {
    return ke_failures_;
  }  // KE runs in a row without a working session
  uint32_t dns_failures() const { return dns_failures_; }            // failed lookups in a row
  std::optional<int64_t> last_ke_ns() const { return last_ke_ns_; }  // last successful NTS-KE
  std::optional<int64_t> next_timer_ns() const { return timer_ns_; }
  uint32_t cookies() const { return cookies_; }
  const SourceCounters& counters() const { return counters_; }
  SourceFlags flags() const { return flags_; }  // prefer / noselect, for selection
  bool nts() const { return nts_; }
  bool pool_member() const { return pool_member_; }

 private:
  SourceActions result(SourceActions a) const;
  SourceActions ignore();
  void begin_resolve(int64_t now_ns, SourceActions& a);
  void begin_ke(int64_t now_ns, SourceActions& a);
  void rekey(int64_t now_ns, bool drop, SourceActions& a);
  void session_failed(int64_t now_ns, SourceActions& a);
  void drop_session(SourceActions& a);
  void demobilize(SourceActions& a);
  void enter_polling(int64_t now_ns, SourceActions& a);
  void send_due(int64_t now_ns, SourceActions& a);
  void new_poll(int64_t now_ns, SourceActions& a);
  void transmit(SourceActions& a);

  // Configuration.
  bool nts_;
  bool iburst_;
  bool burst_;
  bool pool_member_;
  int minpoll_;
  int maxpoll_;
  SourceFlags flags_;

  SourceState state_ = SourceState::kIdle;
  std::optional<int64_t> timer_ns_;
  // Polling (RFC 5905 §13: reach and unreach are per poll; a burst is one poll).
  uint8_t reach_ = 0;
  int poll_;                    // current exponent
  int poll_floor_;              // minpoll, raised by KoD RATE
  int good_streak_ = 0;         // answered polls in a row at the current exponent
  uint32_t unreach_polls_ = 0;  // polls in a row that found the source unreachable
  uint32_t unanswered_ = 0;
  bool answered_ = false;                // the current poll got a verified reply
  bool polled_ = false;                  // at least one poll has been sent
  int burst_left_ = 0;                   // packets of the current poll still to send
  int64_t next_burst_ns_ = 0;            // next packet of the burst, when burst_left_ > 0
  std::optional<int64_t> next_poll_ns_;  // next poll; unset: due as soon as polling starts
  uint32_t resolve_mark_ = 0;            // unreach_polls_ when the host was last looked up again
  // Address and NTS session.
  bool has_address_ = false;
  bool has_session_ = false;
  bool verified_since_ke_ = false;
  uint32_t cookies_ = 0;
  uint32_t ke_failures_ = 0;
  uint32_t dns_failures_ = 0;
  std::optional<int64_t> last_ke_ns_;
  SourceCounters counters_;
};

}  // namespace ntsd::clock
