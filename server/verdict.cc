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
    case DropReason::kCount: break;
  }
  return "unknown";
}

}  // namespace ntsd::server
