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
  kNtsNotAvailable,      // an NTS request (Unique Identifier + Cookie) while NTS is off
  kCount,
};

const char* drop_reason_name(DropReason reason);

struct Verdict {
  enum class Action : uint8_t { kReply, kDrop };
  Action action = Action::kDrop;
  DropReason reason = DropReason::kTooShort;  // meaningful when action == kDrop
  size_t reply_size = 0;                      // meaningful when action == kReply

  static Verdict reply(size_t size) { return {Action::kReply, DropReason::kTooShort, size}; }
  static Verdict drop(DropReason why) { return {Action::kDrop, why, 0}; }
  bool is_reply() const { return action == Action::kReply; }
};

}  // namespace ntsd::server
