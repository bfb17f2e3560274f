// Master cookie keys as an immutable snapshot, and its lock-free publication:
// the writer swaps one atomic pointer; readers load it once per batch with no
// lock and no reference count; an old snapshot is freed once every registered
// reader has passed a quiescent point (QSBR: a per-reader epoch counter).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "crypto/siv_key.h"

namespace ntsd::crypto {

// One master key (AES-SIV-CMAC-256). The id is the rotation epoch as u32, so
// its low bits are the ring slot.
struct MasterKey {
  SivKey siv;            // expanded once, for the fast NtsCrypto (left empty without AES-NI)
  uint8_t raw[32] = {};  // for the EVP NtsCrypto
  int64_t epoch = 0;
  uint32_t id = 0;
  bool valid = false;
};

enum class KeyLookup : uint8_t { kFound, kUnknown, kExpired };

// An immutable set of master keys: the current one (seals), the next one
// (prepared ahead) and all within the retention window (open).
class KeySnapshot {
 public:
  // An empty ring for `current_epoch` keeping `retention_epochs` older keys; slots is a power of
  // two.
  KeySnapshot(int64_t current_epoch, int64_t retention_epochs, size_t slots);
  // Wipes every key (OPENSSL_cleanse).
  ~KeySnapshot();
  KeySnapshot(const KeySnapshot&) = delete;
  KeySnapshot& operator=(const KeySnapshot&) = delete;
  // The key cookies are sealed with.
  const MasterKey& current() const { return slots_[slot_of(current_epoch_)]; }
  // The key for a cookie's key id in O(1), or null with the reason.
  const MasterKey* find(uint32_t key_id, KeyLookup& why) const;
  // The key at an epoch if the ring holds it, else null.
  const MasterKey* at_epoch(int64_t epoch) const;
  int64_t current_epoch() const { return current_epoch_; }
  // True when every key of the window (retained, current, next) derived: a daemon refuses to start
  // on false, and nothing is ever sealed with an invalid key (seal calls check `valid`).
  bool complete() const;
  int64_t retention_epochs() const { return retention_epochs_; }
  size_t slot_count() const { return slots_.size(); }
  // Builder access (KeyRing): the slot for an epoch.
  MasterKey& mutable_slot(int64_t epoch) { return slots_[slot_of(epoch)]; }

 private:
  size_t slot_of(int64_t epoch) const {
    return static_cast<size_t>(static_cast<uint64_t>(epoch) & mask_);
  }
  int64_t current_epoch_;
  int64_t retention_epochs_;
  uint64_t mask_;
  std::vector<MasterKey> slots_;
};

// Single-writer, many-reader publication of immutable T (QSBR reclamation).
class SnapshotPublisherBase {
 public:
  static constexpr size_t kMaxReaders = 256;
  using ReaderId = size_t;
  static constexpr ReaderId kNoReader = ~size_t{0};

  // A reader slot for one thread (kNoReader if all are taken); starts online.
  ReaderId register_reader();
  // Gives the slot back; the reader must hold no snapshot pointer any more.
  void unregister_reader(ReaderId reader);
  // Called by a reader after each batch: it holds no snapshot pointer across this call.
  void quiescent(ReaderId reader) {
    readers_[reader].seen.store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }
  // A reader that will block for long (idle) goes offline, so it does not hold reclamation back.
  void offline(ReaderId reader) {
    readers_[reader].seen.store(kOffline, std::memory_order_seq_cst);
  }
  void online(ReaderId reader) { quiescent(reader); }
  // Snapshots retired but not yet freed.
  size_t retired_count() const;
  // Writer: frees retired snapshots every reader has moved past (publish() also does this).
  void reclaim();
  // For server/no_shared_lines_test.cc: the bytes quiescent(reader) writes (the reader's slot),
  // the epoch every reader loads, and the writer's own fields.
  std::span<const std::byte> reader_slot_bytes(ReaderId reader) const {
    return std::as_bytes(std::span(&readers_[reader], 1));
  }
  std::span<const std::byte> epoch_bytes() const { return std::as_bytes(std::span(&epoch_, 1)); }
  std::span<const std::byte> writer_bytes() const {
    const auto* begin = reinterpret_cast<const std::byte*>(&writer_mu_);
    return {begin, reinterpret_cast<const std::byte*>(&retired_ + 1)};
  }

  // The cache-line size the layout below is padded to (x86-64, ARM64 Neoverse).
  static constexpr size_t kCacheLine = 64;

 protected:
  SnapshotPublisherBase() = default;
  ~SnapshotPublisherBase() = default;
  // Writer side: records `old` as retired at a new epoch and frees what no reader can still hold.
  void retire(const void* old, void (*deleter)(const void*));
  void reclaim_locked();
  void free_all();

 private:
  static constexpr uint64_t kOffline = ~uint64_t{0};
  // One cache line per reader: quiescent() stores to it after every batch, so
  // two workers' slots must never share a line (false sharing).
  struct alignas(kCacheLine) Reader {
    std::atomic<uint64_t> seen{kOffline};
    std::atomic<bool> in_use{false};
  };
  static_assert(sizeof(Reader) == kCacheLine);
  struct Retired {
    const void* ptr;
    void (*deleter)(const void*);
    uint64_t epoch;
  };
  Reader readers_[kMaxReaders];
  // Every reader loads epoch_ (quiescent()) after each batch; only publish()
  // stores it. The writer's own fields go on the next line: the rotation
  // thread takes the mutex every second (reclaim()), and sharing a line with
  // it would cost every worker a cache miss each time.
  alignas(kCacheLine) std::atomic<uint64_t> epoch_{1};
  alignas(kCacheLine) mutable std::mutex writer_mu_;  // writers only; readers never take it
  std::vector<Retired> retired_;
};

template <typename T>
class SnapshotPublisher : public SnapshotPublisherBase {
 public:
  explicit SnapshotPublisher(std::unique_ptr<const T> initial) : current_(initial.release()) {}
  ~SnapshotPublisher() {
    free_all();
    delete current_.load();
  }
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Reader: the current snapshot, valid until this reader's next quiescent() or offline().
  // seq_cst, not acquire: see the ordering argument in key_snapshot.cc (a plain load on x86-64).
  const T* load() const { return current_.load(std::memory_order_seq_cst); }
  // Writer: makes `next` current; the old one is freed after every reader's next quiescent point.
  void publish(std::unique_ptr<const T> next) {
    const T* old = current_.exchange(next.release(), std::memory_order_seq_cst);
    retire(old, [](const void* p) { delete static_cast<const T*>(p); });
  }
  // For server/no_shared_lines_test.cc: the pointer every reader loads.
  std::span<const std::byte> current_bytes() const { return std::as_bytes(std::span(&current_, 1)); }

 private:
  // Loaded by every reader each batch, stored only by publish(): a line of its
  // own, not the tail of the base's writer fields (mutex, retired list).
  alignas(kCacheLine) std::atomic<const T*> current_;
};

using KeyPublisher = SnapshotPublisher<KeySnapshot>;

}  // namespace ntsd::crypto
