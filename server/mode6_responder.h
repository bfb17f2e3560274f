#pragma once
// The read-only mode-6 subset NTPsec's ntpq needs (`-p`, `rv`, `sysinfo`,
// `iostats`, `ntsinfo`), answered from one ops::DaemonStatus snapshot.
// Sans-I/O: request bytes + snapshot + time in, reply fragments out.
//
// READSTAT (1), association 0: association ids and peer status words.
// READVAR (2), association 0: system variables; association N: source N's.
// Writes (WRITEVAR, WRITECLOCK, SETTRAP, UNSETTRAP, CONFIGURE, SAVECONFIG):
// error "administratively prohibited"; anything else: error "bad opcode".
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ops/status.h"
#include "proto/mode6.h"

namespace ntsd::server {

// What a request got.
enum class Mode6Outcome : uint8_t {
  kAnswered,  // data fragments
  kRefused,   // one 12-octet error response (Mode6Reply::error says which)
  kDropped,   // not a request (proto::Mode6Parse): no reply at all
};

struct Mode6Reply {
  static constexpr size_t kMaxFragments = 8;
  std::array<std::array<uint8_t, proto::kMode6MaxFragment>, kMaxFragments> fragments;
  std::array<size_t, kMaxFragments> sizes{};
  size_t count = 0;
  proto::Mode6Error error = proto::Mode6Error::kUnspecified;  // when refused
  size_t wire_size() const;  // all fragments' octets
};

// Answers `request` from `status` at `now_unix_ns` (the `clock` variable).
// No amplification: a reply is split into more than one fragment only when
// the whole reply is no larger than the request; otherwise it is one
// fragment of whole variables (what does not fit is left out).
Mode6Outcome respond_mode6(std::span<const uint8_t> request, const ops::DaemonStatus& status,
                           int64_t now_unix_ns, Mode6Reply* out);

// The association id ntpq sees for status.clock->sources[index].
constexpr uint16_t mode6_association_id(size_t index) { return static_cast<uint16_t>(index + 1); }

}  // namespace ntsd::server
