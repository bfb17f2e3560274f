// Master cookie keys derived from a seed, by epoch: every server with the same
// seed computes the same keys with no coordination (fleets, separate NTS-KE
// front ends). key(epoch) = HKDF-SHA256(seed, "ntsd cookie key" ‖ u64 epoch),
// epoch = floor(unix time / rotation period). Time is passed in, never read.
// A fleet seed is replaced without invalidating cookies by giving the ring a
// second seed and a switch epoch: epochs before it derive from the old seed,
// epochs at or after it from the new one (the key id carries the epoch, so
// opening a cookie needs no trial decryption).
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
// Older epochs a ring keeps besides current and next (KeyRing::retention_epochs()).
int64_t key_ring_retained_epochs(int64_t rotation_seconds, int64_t retention_seconds);
// The first epoch that starts at or after `unix_seconds` (the switch epoch of `nts keyseed FILE
// from TIME`); rotation <= 0 means the default.
int64_t first_epoch_from(int64_t unix_seconds, int64_t rotation_seconds);

class KeyRing {
 public:
  // seed >= 32 bytes; rotation > 0 s; retention >= 0 s (cookies open for at least this long).
  // A retention past kMaxKeyRingSlots is cut to fit (callers check key_ring_size_error first).
  KeyRing(Bytes seed, int64_t rotation_seconds = kDefaultRotationSeconds,
          int64_t retention_seconds = kDefaultRetentionSeconds);
  // Seed rotation: epochs before `switch_epoch` derive from `seed`, the others from `new_seed`
  // (both >= 32 bytes).
  KeyRing(Bytes seed, Bytes new_seed, int64_t switch_epoch,
          int64_t rotation_seconds = kDefaultRotationSeconds,
          int64_t retention_seconds = kDefaultRetentionSeconds);
  ~KeyRing();
  // The epoch of a unix time (floor division, also before 1970).
  int64_t epoch_at(int64_t unix_seconds) const;
  // Older epochs kept besides current and next: ceil(retention / rotation).
  int64_t retention_epochs() const { return retention_epochs_; }
  int64_t rotation_seconds() const { return rotation_; }
  // Ring slots: the power of two >= retention_epochs + 2.
  size_t slot_count() const { return slots_; }
  // Whether a second seed is configured, and the first epoch it derives.
  bool has_new_seed() const { return !new_seed_.empty(); }
  int64_t switch_epoch() const { return switch_epoch_; }
  // True when the key of `epoch` derives from the new seed.
  bool uses_new_seed(int64_t epoch) const { return has_new_seed() && epoch >= switch_epoch_; }
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
  std::vector<uint8_t> new_seed_;  // empty: one seed for every epoch
  int64_t switch_epoch_ = 0;
  int64_t rotation_;
  int64_t retention_epochs_;
  size_t slots_;
};

}  // namespace ntsd::crypto
