#include "ke/request_reader.h"

#include <cassert>

namespace ntsd::ke {

// The buffer holds one byte more than kMaxKeRequestSize so that a request
// with no End of Message within the limit is refused as too large by the
// parser (never kIncomplete with a full buffer, so a read always has room).
// Everything so far is parsed again after each chunk: at most 1025 bytes, and
// a client sends its request in one or two TLS records.
proto::KeRequestParse RequestReader::add(size_t n) {
  assert(n <= buf_.size() - len_);
  len_ += n;
  return proto::parse_ke_request(std::span<const uint8_t>(buf_.data(), len_));
}

}  // namespace ntsd::ke
