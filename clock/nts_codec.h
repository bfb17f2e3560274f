#pragma once
// The NTS client codec (RFC 8915 §5), sans-I/O: one session's keys and cookie
// jar, requests built into a caller's buffer, replies verified. No sockets, no
// TLS, no allocation per request or reply once a session exists. Used by the
// upstream client (clock/), ntsbench and the tests; NTS-KE is clock/nts_ke.h.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/nts_crypto.h"

namespace ntsd::clock {

constexpr size_t kUniqueIdLength = 32;     // what clients send (RFC 8915 §5.3: at least 32)
constexpr size_t kMaxUniqueIdLength = 64;  // longest a request may carry
constexpr size_t kJarCapacity = 8;         // cookies a client keeps, as chrony and NTPsec do
constexpr size_t kMaxCookieLength = 256;   // larger cookies are refused at KE time
constexpr size_t kMaxRequestLength = 1024;
constexpr size_t kMaxKeyLength = 64;  // AES-SIV-CMAC-512

// Raw key bytes (at most kMaxKeyLength), wiped with OPENSSL_cleanse when destroyed or replaced.
class KeyBytes {
 public:
  KeyBytes() = default;
  // A copy of key; empty if key is longer than kMaxKeyLength.
  explicit KeyBytes(crypto::Bytes key);
  KeyBytes(const KeyBytes& other);
  KeyBytes& operator=(const KeyBytes& other);
  ~KeyBytes();
  crypto::Bytes bytes() const { return {bytes_.data(), length_}; }
  size_t size() const { return length_; }
  bool empty() const { return length_ == 0; }

 private:
  std::array<uint8_t, kMaxKeyLength> bytes_{};
  size_t length_ = 0;
};

// Fixed-capacity cookie storage: take the oldest, add fresh ones; when full the oldest is dropped.
class CookieJar {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Adds a copy; false (and ignored) when longer than kMaxCookieLength or empty.
  bool add(std::span<const uint8_t> cookie);
  // Moves the oldest cookie into out and returns its length; 0 if the jar is empty.
  size_t take(std::span<uint8_t, kMaxCookieLength> out);
  // The i-th cookie, oldest first, left in the jar; empty if i >= size().
  std::span<const uint8_t> peek(size_t i) const;
  // Copies of every cookie, oldest first, left in the jar (to persist a session).
  std::vector<std::vector<uint8_t>> cookies() const;

 private:
  struct Slot {
    uint16_t length = 0;
    std::array<uint8_t, kMaxCookieLength> bytes{};
  };
  std::array<Slot, kJarCapacity> slots_{};
  size_t head_ = 0, count_ = 0;
};

// One NTS association: keys from TLS exporters, cookies from the KE response
// and from verified replies. Copying shares the keyed AEADs and copies the rest.
struct NtsSession {
  crypto::AeadId aead = crypto::AeadId::kAesSivCmac256;
  std::shared_ptr<const crypto::Aead> c2s;  // seals requests
  std::shared_ptr<const crypto::Aead> s2c;  // opens replies
  KeyBytes c2s_key, s2c_key;  // the raw keys behind c2s / s2c (to persist the session)
  size_t cookie_length = 0;   // length of the KE cookies (placeholders match it)
  CookieJar jar;
  std::vector<uint8_t> last_cookie;  // reused when the jar is empty (counted by the caller)
  std::string ntp_host;              // from the Server record, else the KE server's address
  uint16_t ntp_port = 123;           // from the Port record, else 123
};

// A session from raw keys and cookies (oldest first): after NTS-KE, when a
// persisted session is restored, in tests. c2s/s2c stay null if the keys do
// not fit the AEAD.
NtsSession make_session(crypto::AeadId aead, crypto::Bytes c2s_key, crypto::Bytes s2c_key,
                        std::span<const std::vector<uint8_t>> cookies);

// What a request asked for, kept by the caller until the reply (or timeout).
struct RequestRecord {
  uint64_t transmit = 0;
  std::array<uint8_t, kMaxUniqueIdLength> unique_id{};
  uint8_t unique_id_length = 0;
  uint8_t cookies_requested = 0;  // 1 + placeholders
  bool reused_cookie = false;     // the jar was empty and last_cookie was sent again
  std::span<const uint8_t> uid() const { return {unique_id.data(), unique_id_length}; }
};

// Writes client header (version 4, mode 3, transmit) ‖ Unique Identifier ‖
// one cookie from the jar ‖ placeholders so that jar + in-flight refills to
// kJarCapacity (at most 7) ‖ authenticator (random nonce, sealed with c2s).
// `in_flight` is how many requests of this session await a reply. Returns the
// length; 0 if out is too small, the session has no cookie at all, or the
// Unique Identifier is empty or longer than kMaxUniqueIdLength.
size_t build_nts_request(NtsSession& session, uint64_t transmit, std::span<const uint8_t> unique_id,
                         size_t in_flight, std::span<uint8_t> out, RequestRecord& record);
// The same with exactly `placeholders` placeholders (capped at 7 and at what fits in out).
size_t build_nts_request_with_placeholders(NtsSession& session, uint64_t transmit,
                                           std::span<const uint8_t> unique_id, size_t placeholders,
                                           std::span<uint8_t> out, RequestRecord& record);

// Plain NTP (no extension fields): client header with the transmit stamp; 48 bytes.
size_t build_plain_request(uint64_t transmit, std::span<uint8_t> out);

enum class ReplyVerdict : uint8_t {
  kVerified,  // every check passed
  kNak,       // Kiss-o'-Death NTSN carrying our Unique Identifier (RFC 8915 §5.7)
  kKod,       // another Kiss-o'-Death (RATE, DENY, ...), stratum 0, NOT authenticated:
              // anyone on the path could have sent it
  kKodAuthenticated,  // a Kiss-o'-Death (RATE, DENY, INIT, ...) that passed every check of
                      // kVerified (its cookies went to the jar): its code can be believed
  kFailed,    // anything else: wrong mode or origin, UID missing or different,
              // authenticator missing or not opening under s2c, cookie count wrong
};
const char* reply_verdict_name(ReplyVerdict verdict);

// How many cookies a verified reply must carry.
enum class CookieCount : uint8_t {
  kExact,        // one per cookie + placeholder sent, as ntsd, chrony and NTPsec do (ntsbench)
  kAtMostAsked,  // 1 .. cookies + placeholders sent; RFC 8915 §5.7 allows fewer (upstream client)
};

// Checks a reply against its request: server mode, origin == record.transmit,
// the Unique Identifier echoed, the authenticator opens with s2c and holds
// only cookies, as many as `count` allows; they are added to the jar on
// kVerified (and only then).
ReplyVerdict verify_nts_reply(NtsSession& session, const RequestRecord& record,
                              std::span<const uint8_t> reply,
                              CookieCount count = CookieCount::kExact);

// Plain reply: at least 48 bytes, server mode, origin == transmit; kKod for stratum 0.
ReplyVerdict verify_plain_reply(uint64_t transmit, std::span<const uint8_t> reply);

// ---- split and batched: many requests' or replies' crypto in one crypto::NtsCrypto call ----
// (ntsbench). The checks, cookies and jar are those of build_nts_request and verify_nts_reply;
// the keys are the session's raw c2s_key / s2c_key, not its c2s / s2c objects.

// build_nts_request without the seal: the authenticator's nonce is written, its tag left to
// seal_nts_requests. The same length, cookie taken, placeholders and record; 0 (jar untouched)
// also when the session's raw keys do not fit its AEAD. A request never sealed costs its cookie,
// like one never answered.
size_t build_unsealed_nts_request(NtsSession& session, uint64_t transmit,
                                  std::span<const uint8_t> unique_id, size_t in_flight,
                                  std::span<uint8_t> out, RequestRecord& record);

// A request from build_unsealed_nts_request: exactly the bytes it wrote.
struct RequestToSeal {
  const NtsSession* session;
  std::span<uint8_t> packet;
};
// Seals each request's authenticator (tag over the packet before it) under its session's C2S key;
// ok[i] = sealed. One crypto call per 64 requests.
void seal_nts_requests(const crypto::NtsCrypto& crypto, std::span<const RequestToSeal> requests,
                       std::span<bool> ok);

// A reply and the request it answers (several may share a session).
struct ReplyToVerify {
  NtsSession* session;
  const RequestRecord* record;
  std::span<const uint8_t> reply;
};
// verdicts[i] = verify_nts_reply(*session, *record, reply, count), cookies added to the jars in
// the order of `replies`; the authenticators are opened under the S2C keys in one crypto call
// per up to 64 replies.
void verify_nts_replies(const crypto::NtsCrypto& crypto, std::span<const ReplyToVerify> replies,
                        std::span<ReplyVerdict> verdicts, CookieCount count = CookieCount::kExact);

}  // namespace ntsd::clock
