// Fuzzes the NTS-KE server session's request path (ke/request_reader, then
// what ke/session.cc answers: negotiate::respond or an Error record) with the
// same bytes fed whole and in arbitrary chunks.
// Input: byte 0 = k (0..15), the next k bytes = chunk sizes used in turn
// (0: as much as fits), the rest = what the client sends.
// Invariants: the reader never takes more than kMaxKeRequestSize + 1 bytes,
// always has room while it asks for more, and decides by kMaxKeRequestSize;
// the chunked outcome (decision and reply bytes, cookie nonces aside) is
// exactly what the bytes it took get when fed whole, and what the whole
// stream gets: the request ends at its End of Message whatever follows, so
// how the bytes were split never changes the answer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "crypto/cookie.h"
#include "crypto/key_ring.h"
#include "ke/negotiate.h"
#include "ke/request_reader.h"
#include "proto/ke_record.h"

namespace {

using namespace ntsd;
using proto::KeRequestStatus;

void check(bool ok) {
  if (!ok) std::abort();
}

enum class Kind { kTruncated, kRefused, kRequest };

struct Outcome {
  Kind kind = Kind::kTruncated;
  proto::KeRequestParse parse;
  size_t taken = 0;  // bytes the reader took
};

// What Session::read/on_read do: read into the reader's space, at most `sizes[i]` bytes a time,
// until a decision; the end of the stream while incomplete is a truncated request.
Outcome feed(std::span<const uint8_t> stream, std::span<const uint8_t> sizes) {
  auto reader = std::make_unique<ke::RequestReader>();
  size_t off = 0;
  for (size_t i = 0;; ++i) {
    const std::span<uint8_t> space = reader->space();
    check(!space.empty());
    if (off == stream.size()) return Outcome{Kind::kTruncated, {}, reader->size()};
    size_t want = sizes.empty() ? 0 : sizes[i % sizes.size()];
    if (want == 0) want = space.size();
    const size_t n = std::min({want, space.size(), stream.size() - off});
    std::memcpy(space.data(), stream.data() + off, n);
    off += n;
    const proto::KeRequestParse parse = reader->add(n);
    check(reader->size() == off && off <= proto::kMaxKeRequestSize + 1);
    if (parse.status == KeRequestStatus::kIncomplete) {
      check(off < proto::kMaxKeRequestSize);  // the size limit: decided by 1024 bytes
      continue;
    }
    if (parse.status == KeRequestStatus::kOk) {
      check(parse.consumed <= off && parse.consumed <= proto::kMaxKeRequestSize);
      return Outcome{Kind::kRequest, parse, off};
    }
    return Outcome{Kind::kRefused, parse, off};
  }
}

bool same_request(const proto::KeRequest& a, const proto::KeRequest& b) {
  return a.next_protocols == b.next_protocols && a.aeads == b.aeads &&
         a.compliant_gcm_siv_export == b.compliant_gcm_siv_export && a.server == b.server &&
         a.port == b.port && a.unknown_ignored == b.unknown_ignored;
}

bool same_decision(const Outcome& a, const Outcome& b) {
  return a.kind == b.kind && a.parse.status == b.parse.status &&
         a.parse.consumed == b.parse.consumed && same_request(a.parse.request, b.parse.request);
}

// A deterministic stand-in for the TLS exporter (as in ke/negotiate_test.cc).
bool fake_export(std::span<const uint8_t> ctx, std::span<uint8_t> out) {
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(ctx[3] ^ (ctx[4] * 0x40) ^ i);
  return true;
}

struct Server {
  crypto::KeyRing ring{std::vector<uint8_t>(32, 7)};
  std::unique_ptr<const crypto::KeySnapshot> snapshot = ring.snapshot_at(1'800'000'000);
  ke::NegotiationPolicy policy;
  Server() {
    policy.aeads = ke::usable_aeads({});
    policy.ntp_port = 4460;
    policy.ntp_servers = {{"time.example.net", -1}, {"2001:db8::1", 4123}};
  }
};

const Server& server() {
  static const Server* s = new Server();
  return *s;
}

// What the session sends for a decision (respond_to, or the Error record of on_read).
ke::KeReply reply_for(const Outcome& o) {
  if (o.kind == Kind::kRefused) {
    return ke::KeReply{ke::error_reply(proto::ke_error_code_for(o.parse.status)),
                       ke::KeOutcome::kInternalError, 0, 0};
  }
  return ke::respond(o.parse.request, server().policy, fake_export, *server().snapshot, 0);
}

// The reply with each cookie's nonce and ciphertext zeroed (its key id kept): those come from
// RAND_bytes.
std::vector<uint8_t> without_cookie_randomness(std::vector<uint8_t> bytes) {
  size_t off = 0;
  proto::KeRecord rec;
  while (proto::read_ke_record(std::span<const uint8_t>(bytes).subspan(off), rec)) {
    const size_t body = off + proto::kKeRecordHeaderSize;
    if (rec.type == proto::kKeNewCookie && rec.body.size() > crypto::kCookieKeyIdLength) {
      std::fill(bytes.begin() + body + crypto::kCookieKeyIdLength,
                bytes.begin() + body + rec.body.size(), 0);
    }
    off = body + rec.body.size();
  }
  check(off == bytes.size());
  return bytes;
}

void check_same_reply(const Outcome& a, const Outcome& b) {
  if (a.kind == Kind::kTruncated) return;  // nothing is sent
  const ke::KeReply ra = reply_for(a), rb = reply_for(b);
  check(ra.outcome == rb.outcome && ra.aead == rb.aead && ra.cookies == rb.cookies);
  check(without_cookie_randomness(ra.bytes) == without_cookie_randomness(rb.bytes));
}

// A reply with cookies parses, and its first cookie opens to the exported keys.
void check_cookies(const Outcome& o) {
  if (o.kind != Kind::kRequest) return;
  const ke::KeReply r = reply_for(o);
  if (r.outcome != ke::KeOutcome::kCookies) return;
  proto::KeResponse parsed;
  check(proto::parse_ke_response(r.bytes, parsed) == proto::KeResponseStatus::kOk);
  check(parsed.cookies.size() == ke::kCookiesPerResponse && parsed.aeads.size() == 1 &&
        parsed.aeads[0] == r.aead);
  crypto::SessionKeys keys;
  check(crypto::open_cookie(*server().snapshot, parsed.cookies[0], keys) ==
        crypto::CookieStatus::kOk);
  const auto id = crypto::aead_from_wire(r.aead);
  const size_t key_len = crypto::aead_key_length(*id);
  uint8_t c2s[crypto::kMaxSessionKeyLength], s2c[crypto::kMaxSessionKeyLength];
  fake_export(ke::exporter_context(r.aead, 0), std::span(c2s, key_len));
  fake_export(ke::exporter_context(r.aead, 1), std::span(s2c, key_len));
  check(std::memcmp(keys.c2s, c2s, key_len) == 0 && std::memcmp(keys.s2c, s2c, key_len) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t k = std::min<size_t>(data[0] % 16, size - 1);
  const std::span<const uint8_t> sizes(data + 1, k);
  const std::span<const uint8_t> stream(data + 1 + k, size - 1 - k);

  const Outcome whole = feed(stream, {});
  const Outcome chunked = feed(stream, sizes);
  check(whole.taken == std::min(stream.size(), proto::kMaxKeRequestSize + 1));

  // The chunked outcome is what the bytes it took get when fed whole.
  const Outcome prefix =
      chunked.taken == whole.taken ? whole : feed(stream.first(chunked.taken), {});
  check(same_decision(chunked, prefix));
  check_same_reply(chunked, prefix);
  check_cookies(chunked);

  // Against the whole stream: the same answer (bytes after End of Message are not the request's).
  check(same_decision(chunked, whole));
  check_same_reply(chunked, whole);
  return 0;
}
