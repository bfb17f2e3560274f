// Fuzzes the NTP wire codecs of proto/: header, extension fields, NTS
// authenticator bodies and the time conversions, checking their invariants
// and aborting on any violation (sanitizers catch out-of-bounds reads).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "proto/extension_field.h"
#include "proto/ntp_packet.h"
#include "proto/ntp_time.h"

namespace {

using namespace ntsd::proto;

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::span<const uint8_t> outer, std::span<const uint8_t> inner) {
  return inner.data() >= outer.data() && inner.size() <= outer.size() &&
         static_cast<size_t>(inner.data() - outer.data()) <= outer.size() - inner.size();
}

void check_header(std::span<const uint8_t> packet) {
  const auto h = parse_header(packet);
  check(h.has_value() == (packet.size() >= kNtpHeaderSize));
  if (!h) return;
  // Every header bit is representable, so writing the parse back is identity.
  uint8_t out[kNtpHeaderSize];
  write_header(*h, out);
  check(std::memcmp(out, packet.data(), kNtpHeaderSize) == 0);
  check(load_timestamp(packet, kOffsetTransmit) == h->transmit_time);
}

void check_fields(std::span<const uint8_t> packet) {
  const ExtensionFieldList list = parse_extension_fields(packet);
  check(list.count <= kMaxExtensionFields);
  if (packet.size() < kNtpHeaderSize) {
    check(list.status == EfStatus::kPacketTooShort && list.count == 0);
    return;
  }
  size_t expected_offset = kNtpHeaderSize;
  for (size_t i = 0; i < list.count; ++i) {
    const ExtensionField& f = list.fields[i];
    // Offsets strictly increasing and contiguous, each field inside the packet.
    check(f.offset == expected_offset);
    check(f.length >= kEfHeaderSize && f.length % 4 == 0);
    check(f.offset + f.length <= packet.size());
    check(f.body.data() == packet.data() + f.offset + kEfHeaderSize);
    check(f.body.size() + kEfHeaderSize == f.length);
    check(inside(packet, f.body));
    expected_offset += f.length;

    // Re-encoding a parsed field reproduces its bytes (its body is already padded).
    uint8_t buf[0x10000];
    check(write_extension_field(std::span<uint8_t>(buf, f.length), f.type, f.body) == f.length);
    check(std::memcmp(buf, packet.data() + f.offset, f.length) == 0);

    const auto auth = parse_nts_authenticator(f.body);
    if (auth) {
      check(inside(f.body, auth->nonce) && inside(f.body, auth->ciphertext));
      check(auth->nonce.data() == f.body.data() + 4);
      check(auth->ciphertext.data() >= auth->nonce.data() + auth->nonce.size());
      check(nts_authenticator_field_size(auth->nonce.size(), auth->ciphertext.size()) <= f.length);
    } else {
      check(f.body.size() < 4 ||
            nts_authenticator_field_size((f.body[0] << 8) | f.body[1],
                                         (f.body[2] << 8) | f.body[3]) > f.length);
    }
  }
  check(list.parsed_end == expected_offset);
  check(list.parsed_end <= packet.size());
  check((list.status == EfStatus::kOk) == (list.parsed_end == packet.size()));
  check(list.status != EfStatus::kTooMany || list.count == kMaxExtensionFields);
  if (list.status != EfStatus::kOk) {
    const size_t left = packet.size() - list.parsed_end;
    check(left > 0);
    check(list.status != EfStatus::kTruncatedHeader || left < kEfHeaderSize);
  }
}

void check_time(std::span<const uint8_t> data) {
  if (data.size() < 16) return;
  const NtpTimestamp ts{load_be64(data.data())};
  // A pivot within +-200 years of 1970 keeps every result far from int64 saturation.
  constexpr int64_t k200Years = int64_t{200} * 366 * 86400 * 1'000'000'000;
  const int64_t pivot = static_cast<int64_t>(load_be64(data.data() + 8)) % k200Years;
  const int64_t unix_ns = unix_ns_from_ntp(ts, pivot);
  // Nearest congruent instant: within half an era of the pivot, and it maps back
  // to ts within the 1 ns rounding of the ns representation.
  const int64_t half_era_ns = (int64_t{1} << 31) * 1'000'000'000;
  check(unix_ns - pivot <= half_era_ns + 1 && pivot - unix_ns <= half_era_ns + 1);
  const int64_t back_diff = ntp_diff_ns(ntp_from_unix_ns(unix_ns), ts);
  check(back_diff >= -1 && back_diff <= 1);
  // ns -> NTP -> ns is exact.
  check(unix_ns_from_ntp(ntp_from_unix_ns(pivot), pivot) == pivot);
  const NtpShort s{load_be32(data.data())};
  check(ntp_short_from_ns(ns_from_ntp_short(s)) == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> packet(data, size);
  check_header(packet);
  check_fields(packet);
  check_time(packet);
  return 0;
}
