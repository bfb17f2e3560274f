#pragma once
// The request path for a whole batch, plain and NTS alike. Pure: no socket,
// no clock read; time comes in as arguments. Crypto is batched across the
// requests (cookie opens, authenticator checks, cookie and reply seals).
// Two phases so the transmit timestamp, which NTS authenticates, is taken as
// late as possible: prepare() does everything that does not depend on it,
// finish(tx_time) stamps and seals. The crypto implementation (EVP or the
// AES-NI/VAES fast path, crypto/nts_crypto.h) is chosen once by the caller
// and injected.
#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "crypto/cookie.h"
#include "crypto/key_snapshot.h"
#include "crypto/nonce_source.h"
#include "crypto/nts_crypto.h"
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
  // `crypto` does every batch's NTS crypto; it must outlive the responder.
  explicit BatchResponder(const crypto::NtsCrypto& crypto);
  // With crypto::auto_nts_crypto(), for tests and tools (the workers are given the daemon's choice).
  BatchResponder();
  // Same, with cookie and reply nonces from a fixed key (crypto::NonceSource): the same reply
  // bytes on every run, so two implementations can be compared byte for byte (tests only).
  BatchResponder(const crypto::NtsCrypto& crypto, std::span<const uint8_t, 16> fixed_nonce_key);
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
  const crypto::NtsCrypto& crypto_;
  std::unique_ptr<Scratch> scratch_;
  crypto::NonceSource nonces_;
};

}  // namespace ntsd::server
