#include "clock/nts_ke.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "crypto/aead.h"
#include "proto/ke_record.h"

namespace ntsd::clock {

namespace {

std::string check_ke_response(const proto::KeResponse& r, const KeTarget& target,
                              uint16_t exported) {
  if (!r.errors.empty()) return "server sent NTS-KE Error " + std::to_string(r.errors.front());
  if (r.next_protocols.size() != 1 || r.next_protocols[0] != proto::kKeProtocolNtpV4) {
    return "server did not accept NTPv4 as next protocol";
  }
  if (r.aeads.size() != 1 ||
      std::find(target.aeads.begin(), target.aeads.end(), r.aeads[0]) == target.aeads.end()) {
    return "server picked no AEAD or one that was not offered";
  }
  if (exported != r.aeads[0]) return "keys were not exported for the negotiated AEAD";
  if (r.cookies.empty()) return "server sent no cookies";
  for (const auto& cookie : r.cookies) {
    if (cookie.empty() || cookie.size() > kMaxCookieLength) {
      return "server sent a cookie of " + std::to_string(cookie.size()) + " bytes";
    }
  }
  return {};
}

// "NTS-KE host:port: " or, when connecting elsewhere than the name, "NTS-KE host (address):port: ".
std::string ke_where(const KeTarget& target) {
  std::string where = "NTS-KE " + target.host;
  if (!target.address.empty() && target.address != target.host)
    where += " (" + target.address + ")";
  return where + ":" + std::to_string(target.port) + ": ";
}

}  // namespace

const std::string& ke_address(const KeTarget& target) {
  return target.address.empty() ? target.host : target.address;
}

ke::KeClientOptions ke_client_options(const KeTarget& target) {
  ke::KeClientOptions options;
  options.address = ke_address(target);
  options.port = target.port;
  options.verify_host = target.host;
  if (!target.insecure) {
    // NTPsec's `ca` takes a file or a directory; OpenSSL loads them differently.
    struct stat st {};
    if (target.ca.empty()) {
      options.default_ca = true;
    } else if (::stat(target.ca.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      options.ca_dir = target.ca;
    } else {
      options.ca_file = target.ca;
    }
  }
  // GCM-SIV is only negotiated with the RFC-compliant exporter record (ke/negotiate.cc).
  const bool gcm_siv =
      std::find(target.aeads.begin(), target.aeads.end(),
                static_cast<uint16_t>(crypto::AeadId::kAes128GcmSiv)) != target.aeads.end();
  options.request = ke::make_ke_request(target.aeads, gcm_siv);
  options.export_negotiated = true;
  options.timeout_ms = target.timeout_ms;
  return options;
}

std::optional<NtsSession> establish_session(const KeTarget& target, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<NtsSession> {
    if (error) *error = ke_where(target) + why;
    return std::nullopt;
  };
  if (target.aeads.empty()) return fail("no AEAD to offer");
  for (uint16_t id : target.aeads) {
    if (!crypto::aead_from_wire(id))
      return fail("AEAD " + std::to_string(id) + " is not implemented");
  }
  if (!target.insecure && !target.ca.empty()) {
    struct stat st {};
    if (::stat(target.ca.c_str(), &st) != 0) {
      return fail("CA " + target.ca + ": " + std::strerror(errno));
    }
  }
  return session_from_ke_result(target, ke::run_ke_client(ke_client_options(target)), error);
}

std::optional<NtsSession> session_from_ke_result(const KeTarget& target,
                                                 const ke::KeClientResult& result,
                                                 std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<NtsSession> {
    if (error) *error = ke_where(target) + why;
    return std::nullopt;
  };
  if (!result.handshake_ok) return fail(result.error);
  if (result.alpn != "ntske/1") return fail("server did not select ALPN ntske/1");
  proto::KeResponse response;
  if (proto::parse_ke_response(result.response, response) != proto::KeResponseStatus::kOk) {
    return fail("malformed or incomplete NTS-KE response");
  }
  if (std::string why = check_ke_response(response, target, result.exported_aead); !why.empty()) {
    return fail(why);
  }
  const auto aead = *crypto::aead_from_wire(response.aeads[0]);
  NtsSession session = make_session(aead, result.c2s, result.s2c, response.cookies);
  if (!session.c2s || !session.s2c) return fail("could not key the negotiated AEAD");
  // RFC 8915 §4.1.7: without a Server record, NTP goes to the address the KE
  // server was reached at (a name would be resolved again, perhaps elsewhere).
  session.ntp_host = response.server.empty() ? ke_address(target) : response.server;
  session.ntp_port = response.port >= 0 ? static_cast<uint16_t>(response.port) : 123;
  return session;
}

}  // namespace ntsd::clock
