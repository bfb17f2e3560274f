#pragma once
// The NTS-KE server's open connections: a global cap, a per-address cap
// (IPv4 address or IPv6 /64), and the connections that have not finished
// TLS in arrival order, so the oldest of them can be evicted when a new one
// arrives at the global cap. Sans-I/O: a connection is a ConnectionSlot plus
// an Evictable the table asks to close. Thread-safe (one mutex, a few short
// critical sections per connection).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "ke/address_key.h"

namespace ntsd::ke {

// What the table asks an evicted connection to do: close itself soon, from its own thread.
class Evictable {
 public:
  virtual ~Evictable() = default;
  virtual void evict() = 0;
};

struct ConnectionLimits {
  size_t max_total =
      10000;  // open connections; at the cap the oldest unfinished handshake is evicted
  size_t max_per_address = 16;  // open connections per address key; 0: no per-address cap
};

enum class Admission : uint8_t {
  kAdmitted,
  kAdmittedEvicting,  // admitted; `victim` (oldest connection without finished TLS) must be evicted
  kRefusedPerAddress,  // its address already has max_per_address connections
  kRefusedFull,        // at the global cap and every connection there has finished TLS
};

// One connection's place in the table; owned by the connection, guarded by the table's mutex.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  friend class ConnectionTable;
  enum class State : uint8_t { kOut, kPending, kEstablished };
  State state_ = State::kOut;
  AddressKey key_;
  ConnectionSlot* prev_ = nullptr;  // pending list (arrival order)
  ConnectionSlot* next_ = nullptr;
  std::weak_ptr<Evictable> owner_;
};

class ConnectionTable {
 public:
  explicit ConnectionTable(const ConnectionLimits& limits) : limits_(limits) {}
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // Enters `slot` (not in the table) for `key`. On kAdmittedEvicting the victim has left the
  // table already; the caller calls victim->evict() (null if the victim was being destroyed).
  Admission admit(ConnectionSlot& slot, const AddressKey& key, std::weak_ptr<Evictable> owner,
                  std::shared_ptr<Evictable>* victim);
  // TLS finished: no longer an eviction candidate. False if the slot was evicted meanwhile.
  bool established(ConnectionSlot& slot);
  // The connection is gone; a no-op if it was evicted or never admitted.
  void release(ConnectionSlot& slot);
  // Takes the oldest connection without finished TLS out of the table (relief at EMFILE);
  // false if there is none. *victim as for admit().
  bool evict_oldest(std::shared_ptr<Evictable>* victim);

  size_t total() const;
  size_t pending() const;  // not finished TLS
  size_t count(const AddressKey& key) const;
  size_t addresses() const;  // distinct address keys with a connection
  const ConnectionLimits& limits() const { return limits_; }

 private:
  void unlink_pending(ConnectionSlot& slot);
  void forget(ConnectionSlot& slot);  // leaves the table: counts down, state kOut
  std::shared_ptr<Evictable> take_oldest();

  ConnectionLimits limits_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  size_t pending_ = 0;
  ConnectionSlot* oldest_ = nullptr;  // pending list head
  ConnectionSlot* newest_ = nullptr;  // pending list tail
  std::unordered_map<AddressKey, uint32_t, AddressKeyHash> per_address_;
};

}  // namespace ntsd::ke
