#pragma once
// NTS-KE records (RFC 8915 §4): u16 (critical bit ‖ 15-bit type) ‖ u16 body
// length ‖ body. A request or response is a sequence of records ending in End
// of Message. Pure: bytes in, structs out; no I/O.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ntsd::proto {

// Record types (IANA "Network Time Security Key Establishment Record Types").
constexpr uint16_t kKeEndOfMessage = 0;
constexpr uint16_t kKeNextProtocol = 1;
constexpr uint16_t kKeError = 2;
constexpr uint16_t kKeWarning = 3;
constexpr uint16_t kKeAead = 4;
constexpr uint16_t kKeNewCookie = 5;
constexpr uint16_t kKeServer = 6;
constexpr uint16_t kKePort = 7;
// chrony 4.6.1+ private record: "use the RFC-compliant exporter context for AES-128-GCM-SIV".
constexpr uint16_t kKeCompliantGcmSivExport = 1024;

constexpr uint16_t kKeCriticalBit = 0x8000;
constexpr size_t kKeRecordHeaderSize = 4;
// Largest request the server accepts; chrony's is 16 bytes, ntpsec's about the same.
constexpr size_t kMaxKeRequestSize = 1024;

constexpr uint16_t kKeProtocolNtpV4 = 0;

// Error record codes (RFC 8915 §4.1.3).
constexpr uint16_t kKeErrorUnrecognizedCritical = 0;
constexpr uint16_t kKeErrorBadRequest = 1;
constexpr uint16_t kKeErrorInternal = 2;

struct KeRecord {
  bool critical = false;
  uint16_t type = 0;               // without the critical bit
  std::span<const uint8_t> body;   // view into the parsed buffer
};

// Why a request was refused, or kIncomplete while more bytes may complete it.
enum class KeRequestStatus : uint8_t {
  kOk,
  kIncomplete,             // no End of Message yet (and under the size cap)
  kTooLarge,               // over kMaxKeRequestSize without End of Message
  kUnrecognizedCritical,   // unknown type with the critical bit → Error 0
  kMissingNextProtocol,    // → Error 1 (bad request) from here on
  kMissingAead,
  kDuplicateRecord,
  kDataAfterEnd,           // bytes after End of Message
  kMalformedBody,          // odd-length u16 list, non-empty End of Message, bad Port body
  kUnexpectedRecord,       // a server-only record (Error, Warning, New Cookie) in a request
};

// Stable lower-case name for counters and logs ("ok", "too_large", ...).
const char* ke_request_status_name(KeRequestStatus status);
// The Error record code a refused request gets (0 or 1); meaningless for kOk/kIncomplete.
uint16_t ke_error_code_for(KeRequestStatus status);

// A client's NTS-KE request, checked.
struct KeRequest {
  std::vector<uint16_t> next_protocols;  // client preference order
  std::vector<uint16_t> aeads;           // client preference order
  bool compliant_gcm_siv_export = false;  // record 1024 present
  std::string server;                     // optional Server record (client's preference), raw
  int port = -1;                          // optional Port record, -1 if absent
  uint16_t unknown_ignored = 0;           // unknown non-critical records skipped
};

struct KeRequestParse {
  KeRequestStatus status = KeRequestStatus::kIncomplete;
  KeRequest request;  // valid when status == kOk
  size_t consumed = 0;  // bytes up to and including End of Message when kOk
};

// Parses a request from the bytes received so far (call again as more arrive).
KeRequestParse parse_ke_request(std::span<const uint8_t> data);

// A server's NTS-KE response (client side, tests, tools).
struct KeResponse {
  std::vector<uint16_t> next_protocols;
  std::vector<uint16_t> aeads;
  std::vector<std::vector<uint8_t>> cookies;
  std::vector<uint16_t> errors;
  std::vector<uint16_t> warnings;
  std::string server;  // empty if absent
  int port = -1;       // -1 if absent
  bool compliant_gcm_siv_export = false;
};

enum class KeResponseStatus : uint8_t { kOk, kIncomplete, kMalformed, kUnrecognizedCritical, kDataAfterEnd };

// Parses a complete response; kIncomplete if it lacks End of Message.
KeResponseStatus parse_ke_response(std::span<const uint8_t> data, KeResponse& out);

// Reads one record at the start of data; false if fewer bytes than its header + body.
bool read_ke_record(std::span<const uint8_t> data, KeRecord& out);

// Appends one record; false (nothing appended) if the body exceeds 65535 bytes.
bool append_ke_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint8_t> body);
// Appends a record whose body is a list of u16 (Next Protocol, AEAD, Error, Warning, Port).
bool append_ke_u16_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint16_t> values);
// Appends End of Message (critical, empty).
void append_ke_end(std::vector<uint8_t>& out);

}  // namespace ntsd::proto
