#include "crypto/key_snapshot.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cassert>

namespace ntsd::crypto {

KeySnapshot::KeySnapshot(int64_t current_epoch, int64_t retention_epochs, size_t slots)
    : current_epoch_(current_epoch),
      retention_epochs_(retention_epochs),
      mask_(slots - 1),
      slots_(slots) {
  assert(slots >= 2 && (slots & (slots - 1)) == 0);
  assert(static_cast<size_t>(retention_epochs) + 2 <= slots);
}

KeySnapshot::~KeySnapshot() { OPENSSL_cleanse(slots_.data(), slots_.size() * sizeof(MasterKey)); }

bool KeySnapshot::complete() const {
  for (int64_t e = current_epoch_ - retention_epochs_; e <= current_epoch_ + 1; ++e) {
    if (at_epoch(e) == nullptr) return false;
  }
  return true;
}

// The key id is the epoch's low 32 bits: the slot is its low bits, and the id
// tells an expired key (behind the window) from one this ring never had.
// Ids are compared as a signed 32-bit distance so the u32 wrap in 2106 (at 1 s
// rotation) or later is harmless.
const MasterKey* KeySnapshot::find(uint32_t key_id, KeyLookup& why) const {
  const MasterKey& k = slots_[key_id & mask_];
  if (k.valid && k.id == key_id) {
    why = KeyLookup::kFound;
    return &k;
  }
  const int32_t behind = static_cast<int32_t>(static_cast<uint32_t>(current_epoch_) - key_id);
  why = behind > retention_epochs_ ? KeyLookup::kExpired : KeyLookup::kUnknown;
  return nullptr;
}

const MasterKey* KeySnapshot::at_epoch(int64_t epoch) const {
  const MasterKey& k = slots_[slot_of(epoch)];
  return k.valid && k.epoch == epoch ? &k : nullptr;
}

SnapshotPublisherBase::ReaderId SnapshotPublisherBase::register_reader() {
  for (size_t i = 0; i < kMaxReaders; ++i) {
    bool expected = false;
    if (readers_[i].in_use.compare_exchange_strong(expected, true)) {
      quiescent(i);
      return i;
    }
  }
  return kNoReader;
}

void SnapshotPublisherBase::unregister_reader(ReaderId reader) {
  offline(reader);
  readers_[reader].in_use.store(false);
}

size_t SnapshotPublisherBase::retired_count() const {
  std::lock_guard<std::mutex> lock(writer_mu_);
  return retired_.size();
}

// Why a retired snapshot is never freed while a reader can still use it, in
// the C++ memory model (not only on x86-64). Writer: X = current_.exchange(new),
// F = epoch_.fetch_add (-> e), then for each reader L = seen.load(); `old` is
// freed only if every L read a value >= e (kOffline counts as >= e). Reader:
// P = current_.load() per batch; a quiescent point is E = epoch_.load() then
// S = seen.store(E's value); offline is S = seen.store(kOffline). The store a
// given L reads is S_w. A use of `old` from a load P:
//  1. P before S_w in the reader's program order: the reader promised to drop
//     the pointer before S_w; S_w is a release store and L an acquire load
//     that reads it, so the use happens before the delete.
//  2. P after a quiescent S_w whose E read >= e: E read F or a later
//     fetch_add (F's release sequence), so X -> F synchronises with E ->
//     S_w -> P, X happens before P, and P reads the new pointer (coherence).
//     Release/acquire would be enough here.
//  3. P after S_w = kOffline (offline, or never registered) and after the
//     reader came online again with S' whose E' read < e (it ran before F).
//     Nothing synchronises here, so acquire/release alone would allow P to
//     return `old` (ARMv8.3 LDAPR and POWER let the store S' pass the later
//     load P; only x86-64's locked XCHG for a seq_cst store hides it). With
//     X, F, L, S' and P all seq_cst they sit in one total order S: X < F < L
//     (program order); L read a value before S' in seen's modification order,
//     so L < S' (coherence); S' < P (program order). X < P in S, so P cannot
//     read the pointer X replaced: P returns the new snapshot.
// Hence seq_cst on current_ (load() and publish()) and on `seen` and epoch_;
// on x86-64 a seq_cst load is a plain MOV, so the per-batch cost is nil.
// (No standalone fences: ThreadSanitizer cannot model them.)
void SnapshotPublisherBase::retire(const void* old, void (*deleter)(const void*)) {
  std::lock_guard<std::mutex> lock(writer_mu_);
  const uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst) + 1;
  retired_.push_back({old, deleter, e});
  reclaim_locked();
}

void SnapshotPublisherBase::reclaim_locked() {
  uint64_t min_seen = kOffline;
  for (const Reader& r : readers_)
    min_seen = std::min(min_seen, r.seen.load(std::memory_order_seq_cst));
  auto keep = std::partition(retired_.begin(), retired_.end(),
                             [&](const Retired& x) { return x.epoch > min_seen; });
  for (auto it = keep; it != retired_.end(); ++it) it->deleter(it->ptr);
  retired_.erase(keep, retired_.end());
}

void SnapshotPublisherBase::reclaim() {
  std::lock_guard<std::mutex> lock(writer_mu_);
  reclaim_locked();
}

void SnapshotPublisherBase::free_all() {
  std::lock_guard<std::mutex> lock(writer_mu_);
  for (const Retired& x : retired_) x.deleter(x.ptr);
  retired_.clear();
}

}  // namespace ntsd::crypto
