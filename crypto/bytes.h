// Byte spans and the AEAD sizes every layer of crypto/ shares (the AEAD
// interface, the EVP reference and the AES-NI kernels alike).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ntsd::crypto {

using Bytes = std::span<const uint8_t>;
using MutableBytes = std::span<uint8_t>;

inline constexpr size_t kAeadTagLength = 16;
// Most associated-data components an S2V vector may carry here (RFC 5297 allows 126).
inline constexpr size_t kMaxAdComponents = 8;

// Sealed size for a plaintext length: plaintext + 16-byte tag.
constexpr size_t aead_sealed_length(size_t plaintext_length) {
  return plaintext_length + kAeadTagLength;
}

}  // namespace ntsd::crypto
