#include "crypto/key_snapshot.h"

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

// The pointer swap happens before the epoch increment (both seq_cst). A reader
// whose `seen` is >= e read the epoch after the increment, so anything it
// loads afterwards is the new snapshot, and everything it did with an older
// pointer came before its quiescent store, which this thread then reads.
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
