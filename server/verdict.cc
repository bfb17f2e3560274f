#include "server/verdict.h"

namespace ntsd::server {

const char* drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::kTooShort: return "too_short";
    case DropReason::kTruncated: return "truncated";
    case DropReason::kBadVersion: return "bad_version";
    case DropReason::kNotClientMode: return "not_client_mode";
    case DropReason::kZeroTransmit: return "zero_transmit";
    case DropReason::kMalformedExtensions: return "malformed_extensions";
    case DropReason::kNtsNotAvailable: return "nts_not_available";
    case DropReason::kNtsMalformed: return "nts_malformed";
    case DropReason::kNtsNoRoom: return "nts_no_room";
    case DropReason::kNtsCryptoFailure: return "nts_crypto_failure";
    case DropReason::kNtsNoSealKey:
      return "nts_no_seal_key";
    case DropReason::kNtsRequired: return "nts_required";
    case DropReason::kRestricted: return "restricted";
    case DropReason::kRateLimited: return "rate_limited";
    case DropReason::kMode6Malformed: return "mode6_malformed";
    case DropReason::kMode6Denied: return "mode6_denied";
    case DropReason::kMode6RateLimited: return "mode6_rate_limited";
    case DropReason::kMode6QueueFull: return "mode6_queue_full";
    case DropReason::kCount: break;
  }
  return "unknown";
}

const char* nak_reason_name(NakReason reason) {
  switch (reason) {
    case NakReason::kUnknownKey: return "unknown_key";
    case NakReason::kExpiredKey: return "expired_key";
    case NakReason::kTampered: return "tampered";
    case NakReason::kBadLength: return "bad_length";
    case NakReason::kUnsupportedAead: return "unsupported_aead";
    case NakReason::kBadAuthenticator: return "bad_authenticator";
    case NakReason::kCount: break;
  }
  return "unknown";
}

const char* key_age_name(KeyAge age) {
  switch (age) {
    case KeyAge::kCurrent: return "current";
    case KeyAge::kPrevious: return "previous";
    case KeyAge::kOlder: return "older";
    case KeyAge::kCount: break;
  }
  return "unknown";
}

}  // namespace ntsd::server
