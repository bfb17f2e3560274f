#pragma once
// Outcomes of the request path: counted per worker, never logged per packet.
#include <cstddef>
#include <cstdint>

namespace ntsd::server {

enum class DropReason : uint8_t {
  kTooShort,             // fewer than 48 bytes
  kTruncated,            // larger than the receive buffer (MSG_TRUNC)
  kBadVersion,           // version 0 or > 4
  kNotClientMode,        // anything but mode 3 (client)
  kZeroTransmit,         // client transmit timestamp 0: nothing to echo
  kMalformedExtensions,  // extension fields that break RFC 7822 bounds
  kNtsNotAvailable,      // an NTS request while NTS is off (no keys)
  kNtsMalformed,         // NTS fields of the wrong shape (see NtsShape)
  kNtsNoRoom,            // not even one fresh cookie fits in a reply no larger than the request
  kNtsCryptoFailure,     // sealing failed (random source): never expected
  kNtsNoSealKey,         // the current master key is not valid (derivation failed): fail closed
  kNtsRequired,          // a plain request under `nts require` or `restrict … notrust`
  kRestricted,           // `restrict … ignore|noserve|version|flake`
  kRateLimited,          // over the `limited` rate (no KoD, or the KoD itself limited)
  kMode6Malformed,       // mode 6 (ntpq) that is no request: short, a response, bad count (proto::Mode6Parse)
  kMode6Denied,          // mode 6 from a `noquery`/`ignore` client (no `restrict` lines: not loopback)
  kMode6RateLimited,     // mode 6 over the per-address or per-worker query rate (Mode6Limits)
  kMode6QueueFull,       // mode 6 while the ops thread's queue from this worker was full
  kCount,
};

// Why an NTS request got a NAK (Kiss-o'-Death NTSN). RFC 8915 §5.7: a
// server "unable to validate the cookie or authenticate the request" SHOULD
// answer with one, so the client re-keys at once instead of polling into
// silence until its cookies run out.
enum class NakReason : uint8_t {
  kUnknownKey,        // the cookie's key id is no key of ours (another server's, or the future)
  kExpiredKey,        // its key left the retention window
  kTampered,          // it does not open under its key (forged or corrupted)
  kBadLength,         // no cookie of any AEAD has that length
  kUnsupportedAead,   // it opened to an AEAD this server does not serve
  kBadAuthenticator,  // it opened, but the request's authenticator does not verify under its C2S key
  kCount,
};

// Age of the master key that sealed an opened cookie, in rotation periods.
enum class KeyAge : uint8_t { kCurrent, kPrevious, kOlder, kCount };

enum class ReplyKind : uint8_t { kPlain, kNts, kNak, kKissRate };

const char* drop_reason_name(DropReason reason);
const char* nak_reason_name(NakReason reason);
const char* key_age_name(KeyAge age);

struct Verdict {
  enum class Action : uint8_t { kReply, kDrop };
  Action action = Action::kDrop;
  DropReason reason = DropReason::kTooShort;  // when action == kDrop
  ReplyKind kind = ReplyKind::kPlain;         // when action == kReply
  NakReason nak = NakReason::kUnknownKey;     // when kind == kNak
  KeyAge key_age = KeyAge::kCurrent;          // when kind == kNts
  size_t reply_size = 0;                      // when action == kReply

  static Verdict reply(size_t size, ReplyKind kind = ReplyKind::kPlain) {
    Verdict v;
    v.action = Action::kReply;
    v.kind = kind;
    v.reply_size = size;
    return v;
  }
  static Verdict drop(DropReason why) {
    Verdict v;
    v.reason = why;
    return v;
  }
  bool is_reply() const { return action == Action::kReply; }
};

}  // namespace ntsd::server
