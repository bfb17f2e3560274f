#pragma once
// The request path for a whole batch, plain and NTS alike. Pure: no socket,
// no clock read; time comes in as arguments. Crypto is batched across the
// requests (cookie opens, authenticator checks, cookie and reply seals).
// Two phases so the transmit timestamp, which NTS authenticates, is taken as
// late as possible: prepare() does everything that does not depend on it,
// finish(tx_time) stamps and seals.
#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "crypto/cookie.h"
#include "crypto/key_snapshot.h"
#include "crypto/nonce_source.h"
#include "crypto/nts_batch.h"
#include "proto/ntp_time.h"
#include "server/nts_request.h"
#include "server/server_state.h"
#include "server/verdict.h"

namespace ntsd::server {

constexpr size_t kMaxBatch = 64;

struct Request {
  std::span<const uint8_t> bytes;
  proto::NtpTimestamp rx_time;
  bool nts_only = false;   // `restrict … notrust`: a plain request is dropped
  bool kiss_rate = false;  // over the rate limit with `kod`: answer KoD RATE
};

// A reply slot: `buffer` is request-sized (a reply is never larger), the
// verdict says what to do with it.
struct Reply {
  std::span<uint8_t> buffer;
  Verdict verdict;
};

struct NtsPolicy {
  const crypto::KeySnapshot* keys = nullptr;  // null: NTS is off
  bool require_nts = false;                   // `nts require`: plain requests are dropped
};

class BatchResponder {
 public:
  BatchResponder();
  ~BatchResponder();
  BatchResponder(const BatchResponder&) = delete;
  BatchResponder& operator=(const BatchResponder&) = delete;

  // Phase 1 for up to kMaxBatch requests; replies[i] answers requests[i].
  void prepare(std::span<const Request> requests, const ServerState& state, const NtsPolicy& nts,
               std::span<Reply> replies);
  // Phase 2: stamps every reply's transmit time, then seals the NTS replies
  // (fresh cookies with the current master key, authenticator under S2C).
  void finish(proto::NtpTimestamp tx_time, std::span<Reply> replies);

 private:
  struct Scratch;
  // Wipes the session keys and decrypted fields the last batch left in the scratch.
  void wipe_batch();
  void answer_nts(std::span<const Request> requests, const NtsPolicy& nts, std::span<Reply> replies);
  static void write_nak(const Request& request, const NtsRequest& parsed, NakReason why, Reply& reply);
  std::unique_ptr<Scratch> scratch_;
  crypto::NonceSource nonces_;
};

}  // namespace ntsd::server
