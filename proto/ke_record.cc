#include "proto/ke_record.h"

#include <algorithm>

#include "proto/byte_order.h"

namespace ntsd::proto {

const char* ke_request_status_name(KeRequestStatus status) {
  switch (status) {
    case KeRequestStatus::kOk: return "ok";
    case KeRequestStatus::kIncomplete: return "incomplete";
    case KeRequestStatus::kTooLarge: return "too_large";
    case KeRequestStatus::kUnrecognizedCritical: return "unrecognized_critical";
    case KeRequestStatus::kMissingNextProtocol: return "missing_next_protocol";
    case KeRequestStatus::kMissingAead: return "missing_aead";
    case KeRequestStatus::kDuplicateRecord: return "duplicate_record";
    case KeRequestStatus::kDataAfterEnd: return "data_after_end";
    case KeRequestStatus::kMalformedBody: return "malformed_body";
    case KeRequestStatus::kUnexpectedRecord: return "unexpected_record";
  }
  return "unknown";
}

uint16_t ke_error_code_for(KeRequestStatus status) {
  return status == KeRequestStatus::kUnrecognizedCritical ? kKeErrorUnrecognizedCritical : kKeErrorBadRequest;
}

bool read_ke_record(std::span<const uint8_t> data, KeRecord& out) {
  if (data.size() < kKeRecordHeaderSize) return false;
  const uint16_t word = load_be16(data.data());
  const uint16_t len = load_be16(data.data() + 2);
  if (data.size() - kKeRecordHeaderSize < len) return false;
  out.critical = (word & kKeCriticalBit) != 0;
  out.type = word & static_cast<uint16_t>(~kKeCriticalBit);
  out.body = data.subspan(kKeRecordHeaderSize, len);
  return true;
}

namespace {

bool read_u16_list(std::span<const uint8_t> body, std::vector<uint16_t>& out) {
  if (body.size() % 2 != 0) return false;
  out.clear();
  for (size_t i = 0; i < body.size(); i += 2) out.push_back(load_be16(body.data() + i));
  return true;
}

// One pass over the records of a request. Errors are reported for the first
// offending record, so a request with an unknown critical record is answered
// with Error 0 as soon as that record is seen, without waiting for the rest.
KeRequestParse parse_bounded(std::span<const uint8_t> data) {
  KeRequestParse r;
  bool seen_np = false, seen_aead = false, seen_server = false, seen_port = false, seen_1024 = false;
  size_t off = 0;
  auto fail = [&r](KeRequestStatus s) {
    r.status = s;
    return r;
  };
  auto once = [](bool& seen) {
    if (seen) return false;
    seen = true;
    return true;
  };
  KeRecord rec;
  while (read_ke_record(data.subspan(off), rec)) {
    off += kKeRecordHeaderSize + rec.body.size();
    switch (rec.type) {
      case kKeEndOfMessage:
        if (!rec.body.empty()) return fail(KeRequestStatus::kMalformedBody);
        if (!seen_np) return fail(KeRequestStatus::kMissingNextProtocol);
        if (!seen_aead) return fail(KeRequestStatus::kMissingAead);
        r.consumed = off;
        r.status = KeRequestStatus::kOk;
        return r;
      case kKeNextProtocol:
        if (!once(seen_np)) return fail(KeRequestStatus::kDuplicateRecord);
        if (!read_u16_list(rec.body, r.request.next_protocols)) return fail(KeRequestStatus::kMalformedBody);
        break;
      case kKeAead:
        if (!once(seen_aead)) return fail(KeRequestStatus::kDuplicateRecord);
        if (!read_u16_list(rec.body, r.request.aeads)) return fail(KeRequestStatus::kMalformedBody);
        break;
      case kKeServer:
        if (!once(seen_server)) return fail(KeRequestStatus::kDuplicateRecord);
        r.request.server.assign(rec.body.begin(), rec.body.end());
        break;
      case kKePort:
        if (!once(seen_port)) return fail(KeRequestStatus::kDuplicateRecord);
        if (rec.body.size() != 2) return fail(KeRequestStatus::kMalformedBody);
        r.request.port = load_be16(rec.body.data());
        break;
      case kKeCompliantGcmSivExport:
        if (!once(seen_1024)) return fail(KeRequestStatus::kDuplicateRecord);
        r.request.compliant_gcm_siv_export = true;
        break;
      case kKeError:
      case kKeWarning:
      case kKeNewCookie:
        return fail(KeRequestStatus::kUnexpectedRecord);
      default:
        if (rec.critical) return fail(KeRequestStatus::kUnrecognizedCritical);
        ++r.request.unknown_ignored;
        break;
    }
  }
  r.status = KeRequestStatus::kIncomplete;
  return r;
}

}  // namespace

KeRequestParse parse_ke_request(std::span<const uint8_t> data) {
  // Only the first kMaxKeRequestSize bytes count: a request must end within them.
  const std::span<const uint8_t> window = data.first(std::min(data.size(), kMaxKeRequestSize));
  KeRequestParse r = parse_bounded(window);
  if (r.status == KeRequestStatus::kOk && r.consumed != data.size()) {
    r.status = KeRequestStatus::kDataAfterEnd;
  } else if (r.status == KeRequestStatus::kIncomplete && data.size() >= kMaxKeRequestSize) {
    r.status = KeRequestStatus::kTooLarge;
  }
  if (r.status != KeRequestStatus::kOk) r.request = KeRequest{};
  return r;
}

KeResponseStatus parse_ke_response(std::span<const uint8_t> data, KeResponse& out) {
  out = KeResponse{};
  size_t off = 0;
  KeRecord rec;
  while (read_ke_record(data.subspan(off), rec)) {
    off += kKeRecordHeaderSize + rec.body.size();
    switch (rec.type) {
      case kKeEndOfMessage:
        return off == data.size() ? KeResponseStatus::kOk : KeResponseStatus::kDataAfterEnd;
      case kKeNextProtocol:
        if (!read_u16_list(rec.body, out.next_protocols)) return KeResponseStatus::kMalformed;
        break;
      case kKeAead:
        if (!read_u16_list(rec.body, out.aeads)) return KeResponseStatus::kMalformed;
        break;
      case kKeError:
      case kKeWarning: {
        if (rec.body.size() != 2) return KeResponseStatus::kMalformed;
        (rec.type == kKeError ? out.errors : out.warnings).push_back(load_be16(rec.body.data()));
        break;
      }
      case kKeNewCookie:
        out.cookies.emplace_back(rec.body.begin(), rec.body.end());
        break;
      case kKeServer:
        out.server.assign(rec.body.begin(), rec.body.end());
        break;
      case kKePort:
        if (rec.body.size() != 2) return KeResponseStatus::kMalformed;
        out.port = load_be16(rec.body.data());
        break;
      case kKeCompliantGcmSivExport:
        out.compliant_gcm_siv_export = true;
        break;
      default:
        if (rec.critical) return KeResponseStatus::kUnrecognizedCritical;
        break;
    }
  }
  return KeResponseStatus::kIncomplete;
}

bool append_ke_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint8_t> body) {
  if (body.size() > 0xffff) return false;
  uint8_t header[kKeRecordHeaderSize];
  store_be16(header, static_cast<uint16_t>((critical ? kKeCriticalBit : 0) | (type & ~kKeCriticalBit)));
  store_be16(header + 2, static_cast<uint16_t>(body.size()));
  out.insert(out.end(), header, header + kKeRecordHeaderSize);
  out.insert(out.end(), body.begin(), body.end());
  return true;
}

bool append_ke_u16_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint16_t> values) {
  if (values.size() > 0xffff / 2) return false;
  std::vector<uint8_t> body(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) store_be16(body.data() + 2 * i, values[i]);
  return append_ke_record(out, critical, type, body);
}

void append_ke_end(std::vector<uint8_t>& out) { append_ke_record(out, true, kKeEndOfMessage, {}); }

}  // namespace ntsd::proto
