#include "ke/request_reader.h"

#include <cassert>

namespace ntsd::ke {

// The buffer holds one byte more than kMaxKeRequestSize so that a request
// with no End of Message within the limit is refused as too large by the
// parser (never kIncomplete with a full buffer, so a read always has room).
// Everything so far is parsed again after each chunk: at most 1025 bytes, and
// a client sends its request in one or two TLS records.
//
// The request ends with its End of Message record: anything after it is not
// part of the request and is ignored. Otherwise the answer would depend on
// how the bytes were split — trailing bytes in the same TLS record as End of
// Message would make the request bad, the same bytes in a later record would
// never be read — and one client's request must get one answer.
proto::KeRequestParse RequestReader::add(size_t n) {
  assert(n <= buf_.size() - len_);
  len_ += n;
  const std::span<const uint8_t> taken(buf_.data(), len_);
  size_t end = 0;
  proto::KeRecord record;
  while (proto::read_ke_record(taken.subspan(end), record)) {
    end += proto::kKeRecordHeaderSize + record.body.size();
    if (record.type == proto::kKeEndOfMessage) return proto::parse_ke_request(taken.first(end));
  }
  return proto::parse_ke_request(taken);
}

}  // namespace ntsd::ke
