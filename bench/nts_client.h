#pragma once
// ntsbench's simulated NTS client: one NTS-KE session (keys + cookie jar),
// request building into a caller buffer and full reply verification. No
// allocation per request or reply once a session exists.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "ke/client.h"

namespace ntsd::bench {

constexpr size_t kUniqueIdLength = 32;
constexpr size_t kJarCapacity = 8;         // cookies a client keeps, as chrony and NTPsec do
constexpr size_t kMaxCookieLength = 256;   // larger cookies are refused at KE time
constexpr size_t kMaxRequestLength = 1024;

// Where and how to run NTS-KE.
struct KeTarget {
  std::string host = "127.0.0.1";  // IP literal
  uint16_t port = 4460;
  std::string ca_file;             // verify the server against this CA; empty with insecure
  bool insecure = false;           // skip certificate verification
  std::string verify_name;         // name or IP checked against the certificate; empty: host
  std::vector<uint16_t> aeads = {15};  // AEAD ids offered, preference order
  int timeout_ms = 5000;
};

// Fixed-capacity cookie storage: take the oldest, add fresh ones; when full the oldest is dropped.
class CookieJar {
 public:
  size_t size() const;
  bool empty() const { return size() == 0; }
  // Adds a copy; false (and ignored) when longer than kMaxCookieLength or empty.
  bool add(std::span<const uint8_t> cookie);
  // Moves the oldest cookie into out and returns its length; 0 if the jar is empty.
  size_t take(std::span<uint8_t, kMaxCookieLength> out);

 private:
  struct Slot {
    uint16_t length = 0;
    std::array<uint8_t, kMaxCookieLength> bytes{};
  };
  std::array<Slot, kJarCapacity> slots_{};
  size_t head_ = 0, count_ = 0;
};

// One NTS association: keys from TLS exporters, cookies from the KE response
// and from verified replies. Copying shares the keys and copies the jar.
struct NtsSession {
  crypto::AeadId aead = crypto::AeadId::kAesSivCmac256;
  std::shared_ptr<const crypto::Aead> c2s;  // seals requests
  std::shared_ptr<const crypto::Aead> s2c;  // opens replies
  size_t cookie_length = 0;                 // length of the KE cookies (placeholders match it)
  CookieJar jar;
  std::vector<uint8_t> last_cookie;         // reused when the jar is empty (counted by the caller)
  std::string ntp_host;                     // from the Server record, else the KE host
  uint16_t ntp_port = 123;                  // from the Port record, else 123
};

// The ke::KeClient settings for a target (ALPN ntske/1, TLS 1.3, its request).
ke::KeClientOptions ke_client_options(const KeTarget& target);

// Runs NTS-KE once (TLS 1.3, ALPN ntske/1) and returns a session with the
// server's cookies; nullopt with *error set on any failure (connect, TLS,
// verification, Error record, no cookies, unsupported AEAD).
std::optional<NtsSession> establish_session(const KeTarget& target, std::string* error);
// The checks and the session of establish_session(), for a KE exchange run
// by the caller (ntsbench --ke reuses one ke::KeClient across connections).
std::optional<NtsSession> session_from_ke_result(const KeTarget& target, const ke::KeClientResult& result,
                                                 std::string* error);

// A session from known keys and cookies (tests; tools that bring their own keys).
NtsSession make_session(crypto::AeadId aead, crypto::Bytes c2s_key, crypto::Bytes s2c_key,
                        std::span<const std::vector<uint8_t>> cookies);

// What a request asked for, kept by the caller until the reply (or timeout).
struct RequestRecord {
  uint64_t transmit = 0;
  std::array<uint8_t, kUniqueIdLength> unique_id{};
  uint8_t cookies_requested = 0;  // 1 + placeholders
  bool reused_cookie = false;     // the jar was empty and last_cookie was sent again
};

// Writes client header (version 4, mode 3, transmit) ‖ Unique Identifier ‖
// one cookie from the jar ‖ placeholders so that jar + in-flight refills to
// kJarCapacity (at most 7) ‖ authenticator (random nonce, sealed with c2s).
// `in_flight` is how many requests of this session await a reply. Returns the
// length, 0 if out is too small or the session has no cookie at all.
size_t build_nts_request(NtsSession& session, uint64_t transmit, std::span<const uint8_t, kUniqueIdLength> unique_id,
                         size_t in_flight, std::span<uint8_t> out, RequestRecord& record);

// Plain NTP (no extension fields): client header with the transmit stamp; 48 bytes.
size_t build_plain_request(uint64_t transmit, std::span<uint8_t> out);

enum class ReplyVerdict : uint8_t {
  kVerified,  // every check passed
  kNak,       // Kiss-o'-Death NTSN carrying our Unique Identifier (RFC 8915 §5.7)
  kKod,       // another Kiss-o'-Death (RATE, DENY, ...), stratum 0
  kFailed,    // anything else: wrong mode or origin, UID missing or different,
              // authenticator missing or not opening under s2c, cookie count wrong
};
const char* reply_verdict_name(ReplyVerdict verdict);

// Checks a reply against its request: server mode, origin == record.transmit,
// the Unique Identifier echoed, the authenticator opens with s2c and holds
// exactly record.cookies_requested cookies, which are added to the jar on
// kVerified (and only then).
ReplyVerdict verify_nts_reply(NtsSession& session, const RequestRecord& record, std::span<const uint8_t> reply);

// Plain reply: at least 48 bytes, server mode, origin == transmit; kKod for stratum 0.
ReplyVerdict verify_plain_reply(uint64_t transmit, std::span<const uint8_t> reply);

}  // namespace ntsd::bench
