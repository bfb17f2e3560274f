// Fuzzes the seed file decoder (crypto::decode_seed, what read_seed_file
// applies to the file's bytes).
// Invariants: accepted iff exactly 64 hex digits plus at most one trailing
// newline; an accepted seed is 32 bytes that re-encode to the input's digits
// lowercased; a refusal names the first non-hex byte, else the byte count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "crypto/seed_file.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char lower(uint8_t c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> content(data, data + size);
  std::string why;
  const std::optional<std::vector<uint8_t>> seed = ntsd::crypto::decode_seed(content, why);

  const size_t digits = size == 65 && data[64] == '\n' ? 64 : size;
  size_t first_bad = 0;
  while (first_bad < std::min<size_t>(digits, 64) && is_hex(data[first_bad])) ++first_bad;
  const bool bad_digit = first_bad < std::min<size_t>(digits, 64);

  check(seed.has_value() == (!bad_digit && digits == 64));
  if (seed) {
    check(seed->size() == 32);
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; ++i) {
      check(kHex[(*seed)[i] >> 4] == lower(data[2 * i]) &&
            kHex[(*seed)[i] & 15] == lower(data[2 * i + 1]));
    }
  } else if (bad_digit) {
    check(why == "byte " + std::to_string(first_bad) + " is not a hex digit");
  } else {
    check(why == "it holds " + std::to_string(size) + " bytes");
  }
  return 0;
}
