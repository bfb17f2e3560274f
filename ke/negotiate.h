#pragma once
// NTS-KE negotiation, sans I/O: a checked request (proto/ke_record.h), the
// server's policy, a TLS exporter and the key snapshot in; the response bytes
// and what happened out. No sockets, no clocks.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "crypto/key_snapshot.h"
#include "proto/ke_record.h"

namespace ntsd::ke {

inline constexpr size_t kCookiesPerResponse = 8;
inline constexpr char kExporterLabel[] = "EXPORTER-network-time-security";

// One `nts ntpserver HOST[:PORT]` entry.
struct NtpServerEntry {
  std::string host;
  int port = -1;  // -1: the policy's ntp_port
};

struct NegotiationPolicy {
  std::vector<uint16_t> aeads;  // acceptable AEAD ids (allowed by config AND implemented)
  uint16_t ntp_port = 123;      // sent in a Port record when not 123
  std::vector<NtpServerEntry> ntp_servers;  // one is sent per response (round robin)
};

enum class KeOutcome : uint8_t {
  kCookies,           // NPN + AEAD + 8 cookies
  kNoCommonProtocol,  // empty Next Protocol record (RFC 8915 §4.1.2)
  kNoCommonAead,      // empty AEAD record (RFC 8915 §4.1.5)
  kInternalError,     // export or sealing failed → Error 2
};

struct KeReply {
  std::vector<uint8_t> bytes;
  KeOutcome outcome = KeOutcome::kInternalError;
  uint16_t aead = 0;   // chosen AEAD when kCookies
  size_t cookies = 0;  // cookies in the reply
};

// Fills `out` with TLS exporter output for `context` (label kExporterLabel); false on failure.
using Exporter = std::function<bool(std::span<const uint8_t> context, std::span<uint8_t> out)>;

// Parses "HOST", "HOST:PORT", "[V6]:PORT" or a bare IPv6 literal; false if malformed.
bool parse_ntp_server(const std::string& text, NtpServerEntry& out);
// The AEADs both implemented by crypto/ on this machine and in `allowed` (empty: all implemented), in allowed order.
std::vector<uint16_t> usable_aeads(const std::vector<uint16_t>& allowed);
// The AEAD for a request: first of the client's list in policy.aeads (30 only with record 1024); 0 if none.
uint16_t choose_aead(const proto::KeRequest& request, const NegotiationPolicy& policy);
// The exporter context: u16 protocol 0 ‖ u16 AEAD ‖ direction (0 = C2S, 1 = S2C).
std::array<uint8_t, 5> exporter_context(uint16_t aead, uint8_t direction);
// The response to a checked request; `server_index` picks the Server record (round robin by the caller).
KeReply respond(const proto::KeRequest& request, const NegotiationPolicy& policy, const Exporter& exporter,
                const crypto::KeySnapshot& keys, size_t server_index);
// Error record (critical) ‖ End of Message.
std::vector<uint8_t> error_reply(uint16_t code);

}  // namespace ntsd::ke
