#pragma once
// The NTS-KE server's request reader, sans I/O: the bytes of a request arrive
// in any chunks (TLS records, partial reads) and it says after each one
// whether the request is complete, refused, or needs more bytes.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/ke_record.h"

namespace ntsd::ke {

class RequestReader {
 public:
  // Where the next read goes: the rest of a buffer one byte larger than allowed.
  std::span<uint8_t> space() { return std::span(buf_).subspan(len_); }
  // Takes the n bytes just read into space(); the parse of all bytes so far (kIncomplete: read
  // more).
  proto::KeRequestParse add(size_t n);
  // Bytes taken so far.
  size_t size() const { return len_; }

 private:
  std::array<uint8_t, proto::kMaxKeRequestSize + 1> buf_;
  size_t len_ = 0;
};

}  // namespace ntsd::ke
