#pragma once
// NTS-KE for the NTS client codec (clock/nts_codec.h): one blocking key
// exchange (ke::KeClient, TLS 1.3, ALPN ntske/1) turned into an NtsSession.
// Blocking with timeouts: callers run it on their own thread, never a worker.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clock/nts_codec.h"
#include "ke/client.h"

namespace ntsd::clock {

// Where and how to run NTS-KE: what an ntp.conf `server HOST nts …` line names.
struct KeTarget {
  // The server's name as configured (a DNS name or an IP literal): sent as SNI
  // when a DNS name, and the name the certificate must carry.
  std::string host = "127.0.0.1";
  // The IP literal (IPv4 or IPv6) connected to, resolved by the caller; empty: host itself.
  std::string address;
  uint16_t port = 4460;
  // CA certificates: a PEM file, or a directory of c_rehash-style <hash>.0
  // files (NTPsec's `nts ca FILE|DIR`, `server … ca FILE`); empty: the system
  // default store.
  std::string ca;
  bool insecure = false;               // NTPsec `noval`: no certificate verification at all
  std::vector<uint16_t> aeads = {15};  // AEAD ids offered, preference order
  int timeout_ms = 5000;               // connect, and each read and write
};

// The address connected to: target.address, else target.host.
const std::string& ke_address(const KeTarget& target);

// The ke::KeClient settings for a target (ALPN ntske/1, TLS 1.3, its request).
ke::KeClientOptions ke_client_options(const KeTarget& target);

// Runs NTS-KE once and returns a session with the server's cookies; nullopt
// with *error set on any failure (connect, TLS, verification, Error record,
// no cookies, unsupported AEAD). ntp_host/ntp_port come from the Server and
// Port records, else the address connected to and 123.
std::optional<NtsSession> establish_session(const KeTarget& target, std::string* error);
// The checks and the session of establish_session(), for a KE exchange run
// by the caller (ntsbench --ke reuses one ke::KeClient across connections).
std::optional<NtsSession> session_from_ke_result(const KeTarget& target,
                                                 const ke::KeClientResult& result,
                                                 std::string* error);

}  // namespace ntsd::clock
