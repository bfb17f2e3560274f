// Fuzzes the NTS-KE record codec of proto/: request parsing (every prefix
// status is consistent, accepted requests re-encode to the same bytes) and
// response parsing, aborting on any violated invariant.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "proto/ke_record.h"

namespace {

using namespace ntsd::proto;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_request(std::span<const uint8_t> data) {
  const KeRequestParse p = parse_ke_request(data);
  if (data.size() > kMaxKeRequestSize) check(p.status != KeRequestStatus::kOk && p.status != KeRequestStatus::kIncomplete);
  if (p.status != KeRequestStatus::kOk) {
    check(p.request.next_protocols.empty() && p.request.aeads.empty());
    if (p.status != KeRequestStatus::kIncomplete) {
      const uint16_t code = ke_error_code_for(p.status);
      check(code == kKeErrorUnrecognizedCritical || code == kKeErrorBadRequest);
    }
    return;
  }
  check(p.consumed == data.size() && p.consumed <= kMaxKeRequestSize);
  // Every strict prefix of an accepted request is incomplete or already refused, never ok.
  check(parse_ke_request(data.first(data.size() - 1)).status != KeRequestStatus::kOk);
  // Re-encoding the known records of an accepted request gives an accepted request with the same fields.
  std::vector<uint8_t> again;
  check(append_ke_u16_record(again, true, kKeNextProtocol, p.request.next_protocols));
  check(append_ke_u16_record(again, true, kKeAead, p.request.aeads));
  if (p.request.compliant_gcm_siv_export) check(append_ke_record(again, false, kKeCompliantGcmSivExport, {}));
  if (p.request.port >= 0) {
    const uint16_t port[] = {static_cast<uint16_t>(p.request.port)};
    check(append_ke_u16_record(again, true, kKePort, port));
  }
  append_ke_end(again);
  const KeRequestParse q = parse_ke_request(again);
  check(q.status == KeRequestStatus::kOk);
  check(q.request.next_protocols == p.request.next_protocols && q.request.aeads == p.request.aeads);
  check(q.request.port == p.request.port);
  check(q.request.compliant_gcm_siv_export == p.request.compliant_gcm_siv_export);
}

void check_response(std::span<const uint8_t> data) {
  KeResponse r;
  const KeResponseStatus s = parse_ke_response(data, r);
  size_t cookie_bytes = 0;
  for (const auto& c : r.cookies) cookie_bytes += c.size() + kKeRecordHeaderSize;
  check(cookie_bytes <= data.size());
  if (s == KeResponseStatus::kOk) check(data.size() >= kKeRecordHeaderSize);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  check_request(bytes);
  check_response(bytes);
  return 0;
}
