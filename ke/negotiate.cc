#include "ke/negotiate.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "crypto/aead.h"
#include "crypto/cookie.h"

namespace ntsd::ke {

namespace {

constexpr uint16_t kAeadGcmSiv = 30;

bool parse_port(std::string_view s, int& port) {
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return false;
  port = static_cast<int>(v);
  return true;
}

bool is_implemented(uint16_t wire) {
  const auto id = crypto::aead_from_wire(wire);
  if (!id) return false;
  // GCM-SIV exists only as ntsd's AES-NI code; ask for a keyed instance to
  // learn whether this machine can run it.
  const std::array<uint8_t, 64> zero{};
  return crypto::make_aead(*id, std::span(zero.data(), crypto::aead_key_length(*id))) != nullptr;
}

}  // namespace

bool parse_ntp_server(const std::string& text, NtpServerEntry& out) {
  out = NtpServerEntry{};
  if (text.empty()) return false;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close == 1) return false;
    out.host = text.substr(1, close - 1);
    if (close + 1 == text.size()) return true;
    return text[close + 1] == ':' && parse_port(std::string_view(text).substr(close + 2), out.port);
  }
  const size_t colon = text.find(':');
  if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos) {
    out.host = text;  // a name, an IPv4 literal, or a bare IPv6 literal (several colons)
    return true;
  }
  out.host = text.substr(0, colon);
  return !out.host.empty() && parse_port(std::string_view(text).substr(colon + 1), out.port);
}

std::vector<uint16_t> usable_aeads(const std::vector<uint16_t>& allowed) {
  static const std::vector<uint16_t> kBuiltIn = {15, 30, 17, 16};
  std::vector<uint16_t> out;
  for (uint16_t id : allowed.empty() ? kBuiltIn : allowed) {
    if (is_implemented(id) && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

// The client's order decides (RFC 8915 §4.1.5: the server picks the first
// acceptable one). AES-128-GCM-SIV is chosen only when the client sent
// chrony's record 1024: chrony 4.4-4.5 derived GCM-SIV keys with AEAD id 15 in
// the exporter context, and a 30 without 1024 cannot tell an old chrony from
// a compliant client, so neither can be served safely; they get their next
// choice (chrony always offers 15 after 30).
uint16_t choose_aead(const proto::KeRequest& request, const NegotiationPolicy& policy) {
  for (uint16_t id : request.aeads) {
    if (std::find(policy.aeads.begin(), policy.aeads.end(), id) == policy.aeads.end()) continue;
    if (id == kAeadGcmSiv && !request.compliant_gcm_siv_export) continue;
    return id;
  }
  return 0;
}


std::array<uint8_t, 5> exporter_context(uint16_t aead, uint8_t direction) {
  return {0, 0, static_cast<uint8_t>(aead >> 8), static_cast<uint8_t>(aead), direction};
}

std::vector<uint8_t> error_reply(uint16_t code) {
  std::vector<uint8_t> out;
  const uint16_t body[] = {code};
  proto::append_ke_u16_record(out, true, proto::kKeError, body);
  proto::append_ke_end(out);
  return out;
}

KeReply respond(const proto::KeRequest& request, const NegotiationPolicy& policy, const Exporter& exporter,
                const crypto::KeySnapshot& keys, size_t server_index) {
  KeReply reply;
  const uint16_t ntpv4[] = {proto::kKeProtocolNtpV4};
  const bool ntp_offered = std::find(request.next_protocols.begin(), request.next_protocols.end(),
                                     proto::kKeProtocolNtpV4) != request.next_protocols.end();
  if (!ntp_offered) {
    proto::append_ke_u16_record(reply.bytes, true, proto::kKeNextProtocol, {});
    proto::append_ke_end(reply.bytes);
    reply.outcome = KeOutcome::kNoCommonProtocol;
    return reply;
  }
  proto::append_ke_u16_record(reply.bytes, true, proto::kKeNextProtocol, ntpv4);
  const uint16_t aead = choose_aead(request, policy);
  if (aead == 0) {
    proto::append_ke_u16_record(reply.bytes, true, proto::kKeAead, {});
    proto::append_ke_end(reply.bytes);
    reply.outcome = KeOutcome::kNoCommonAead;
    return reply;
  }

  const auto id = crypto::aead_from_wire(aead);
  const size_t key_len = crypto::aead_key_length(*id);
  uint8_t c2s[crypto::kMaxSessionKeyLength], s2c[crypto::kMaxSessionKeyLength];
  const auto ctx_c2s = exporter_context(aead, 0);
  const auto ctx_s2c = exporter_context(aead, 1);
  crypto::SessionKeys session;
  bool ok = exporter(ctx_c2s, std::span(c2s, key_len)) && exporter(ctx_s2c, std::span(s2c, key_len)) &&
            crypto::make_session_keys(*id, std::span(c2s, key_len), std::span(s2c, key_len), session);
  OPENSSL_cleanse(c2s, sizeof c2s);
  OPENSSL_cleanse(s2c, sizeof s2c);

  const crypto::MasterKey& master = keys.current();
  std::vector<std::array<uint8_t, crypto::kMaxCookieLength>> cookies(kCookiesPerResponse);
  const size_t cookie_len = crypto::cookie_length(*id);
  for (size_t i = 0; ok && i < kCookiesPerResponse; ++i) {
    ok = master.valid && crypto::seal_cookie(master, session, cookies[i]) == cookie_len;
  }
  OPENSSL_cleanse(&session, sizeof session);
  if (!ok) {
    reply = KeReply{error_reply(proto::kKeErrorInternal), KeOutcome::kInternalError, 0, 0};
    return reply;
  }

  const uint16_t aead_body[] = {aead};
  proto::append_ke_u16_record(reply.bytes, true, proto::kKeAead, aead_body);
  if (aead == kAeadGcmSiv) proto::append_ke_record(reply.bytes, false, proto::kKeCompliantGcmSivExport, {});
  int port = policy.ntp_port;
  if (!policy.ntp_servers.empty()) {
    const NtpServerEntry& s = policy.ntp_servers[server_index % policy.ntp_servers.size()];
    proto::append_ke_record(reply.bytes, true, proto::kKeServer,
                            std::span(reinterpret_cast<const uint8_t*>(s.host.data()), s.host.size()));
    if (s.port > 0) port = s.port;
  }
  // chrony and RFC 8915 clients fall back to 123 without a Port record.
  if (port != 123) {
    const uint16_t port_body[] = {static_cast<uint16_t>(port)};
    proto::append_ke_u16_record(reply.bytes, true, proto::kKePort, port_body);
  }
  for (auto& c : cookies) {
    proto::append_ke_record(reply.bytes, false, proto::kKeNewCookie, std::span(c.data(), cookie_len));
    OPENSSL_cleanse(c.data(), c.size());
  }
  proto::append_ke_end(reply.bytes);
  reply.outcome = KeOutcome::kCookies;
  reply.aead = aead;
  reply.cookies = kCookiesPerResponse;
  return reply;
}

}  // namespace ntsd::ke
