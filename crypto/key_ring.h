// Master cookie keys derived from a seed, by epoch: every server with the same
// seed computes the same keys with no coordination (fleets, separate NTS-KE
// front ends). key(epoch) = HKDF-SHA256(seed, "ntsd cookie key" ‖ u64 epoch),
// epoch = floor(unix time / rotation period). Time is passed in, never read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/key_snapshot.h"

namespace ntsd::crypto {

inline constexpr int64_t kDefaultRotationSeconds = 86400;        // nts rotate
inline constexpr int64_t kDefaultRetentionSeconds = 14 * 86400;  // nts keepkeys 14
inline constexpr size_t kMinSeedLength = 32;

// Most ring slots a KeyRing allocates (a snapshot holds one MasterKey, ~1.2 KiB, per slot).
inline constexpr size_t kMaxKeyRingSlots = 16384;

// Writes the 32-byte master key for an epoch; false if HKDF fails (out is then zeroed).
bool derive_master_key(Bytes seed, int64_t epoch, uint8_t out[32]);
// Ring slots for `nts rotate` / `nts keepkeys` (the power of two >= retained epochs + 2), not
// clamped; rotation <= 0 means the default.
uint64_t key_ring_slots(int64_t rotation_seconds, int64_t retention_seconds);
// Bytes one key snapshot of that ring takes (two live at once during a rotation).
uint64_t key_snapshot_bytes(int64_t rotation_seconds, int64_t retention_seconds);
// Empty if the combination fits kMaxKeyRingSlots; else an operator-facing reason with the fix
// (for `--check` and start-up; config/ cannot depend on crypto/, so the daemon calls this).
std::string key_ring_size_error(int64_t rotation_seconds, int64_t retention_seconds);

class KeyRing {
 public:
  // seed >= 32 bytes; rotation > 0 s; retention >= 0 s (cookies open for at least this long).
  // A retention past kMaxKeyRingSlots is cut to fit (callers check key_ring_size_error first).
  KeyRing(Bytes seed, int64_t rotation_seconds = kDefaultRotationSeconds,
          int64_t retention_seconds = kDefaultRetentionSeconds);
  ~KeyRing();
  // The epoch of a unix time (floor division, also before 1970).
  int64_t epoch_at(int64_t unix_seconds) const;
  // Older epochs kept besides current and next: ceil(retention / rotation).
  int64_t retention_epochs() const { return retention_epochs_; }
  int64_t rotation_seconds() const { return rotation_; }
  // Ring slots: the power of two >= retention_epochs + 2.
  size_t slot_count() const { return slots_; }
  // A snapshot for this time: current, next and retained keys; keys already in `previous` are
  // reused.
  std::unique_ptr<const KeySnapshot> snapshot_at(int64_t unix_seconds,
                                                 const KeySnapshot* previous = nullptr) const;
  // True when `snapshot` is not the one for this time (the writer should publish a new one).
  bool stale(const KeySnapshot& snapshot, int64_t unix_seconds) const {
    return snapshot.current_epoch() != epoch_at(unix_seconds);
  }

 private:
  std::vector<uint8_t> seed_;
  int64_t rotation_;
  int64_t retention_epochs_;
  size_t slots_;
};

}  // namespace ntsd::crypto
