#include "ke/conn_table.h"

#include <cassert>

namespace ntsd::ke {

// The order of the checks is the policy:
//  1. per address first: one address (or /64) can never hold more than its
//     share, whatever the global state, so a few addresses cannot fill the
//     table, and a refusal there never costs anybody else a connection;
//  2. at the global cap, the oldest connection that has not finished TLS
//     makes room. A slowloris holds connections in exactly that state, and a
//     real client finishes TLS within a round trip or two of arriving, so the
//     oldest unfinished one is the most likely attacker, and a newcomer always
//     gets its chance. Connections that have finished TLS are never evicted:
//     they are about to be answered, and the 5 s session deadline bounds them;
//  3. only when every connection at the cap has finished TLS is the new one
//     refused.
Admission ConnectionTable::admit(ConnectionSlot& slot, const AddressKey& key,
                                 std::weak_ptr<Evictable> owner,
                                 std::shared_ptr<Evictable>* victim) {
  std::lock_guard lock(mu_);
  assert(slot.state_ == ConnectionSlot::State::kOut);
  if (limits_.max_per_address > 0) {
    auto it = per_address_.find(key);
    if (it != per_address_.end() && it->second >= limits_.max_per_address)
      return Admission::kRefusedPerAddress;
  }
  Admission result = Admission::kAdmitted;
  if (total_ >= limits_.max_total) {
    if (oldest_ == nullptr) return Admission::kRefusedFull;
    *victim = take_oldest();
    result = Admission::kAdmittedEvicting;
  }
  slot.state_ = ConnectionSlot::State::kPending;
  slot.key_ = key;
  slot.owner_ = std::move(owner);
  slot.prev_ = newest_;
  slot.next_ = nullptr;
  (newest_ ? newest_->next_ : oldest_) = &slot;
  newest_ = &slot;
  ++pending_;
  ++total_;
  ++per_address_[key];
  return result;
}

bool ConnectionTable::established(ConnectionSlot& slot) {
  std::lock_guard lock(mu_);
  if (slot.state_ != ConnectionSlot::State::kPending)
    return slot.state_ == ConnectionSlot::State::kEstablished;
  unlink_pending(slot);
  slot.state_ = ConnectionSlot::State::kEstablished;
  return true;
}

void ConnectionTable::release(ConnectionSlot& slot) {
  std::lock_guard lock(mu_);
  forget(slot);
}

bool ConnectionTable::evict_oldest(std::shared_ptr<Evictable>* victim) {
  std::lock_guard lock(mu_);
  if (oldest_ == nullptr) return false;
  *victim = take_oldest();
  return true;
}

std::shared_ptr<Evictable> ConnectionTable::take_oldest() {
  ConnectionSlot& v = *oldest_;
  // The owner may be mid-destruction (lock() fails); its release() is then a no-op.
  std::shared_ptr<Evictable> owner = v.owner_.lock();
  forget(v);
  return owner;
}

void ConnectionTable::unlink_pending(ConnectionSlot& slot) {
  (slot.prev_ ? slot.prev_->next_ : oldest_) = slot.next_;
  (slot.next_ ? slot.next_->prev_ : newest_) = slot.prev_;
  slot.prev_ = slot.next_ = nullptr;
  --pending_;
}

void ConnectionTable::forget(ConnectionSlot& slot) {
  if (slot.state_ == ConnectionSlot::State::kOut) return;
  if (slot.state_ == ConnectionSlot::State::kPending) unlink_pending(slot);
  slot.state_ = ConnectionSlot::State::kOut;
  slot.owner_.reset();
  --total_;
  auto it = per_address_.find(slot.key_);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

size_t ConnectionTable::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

size_t ConnectionTable::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

size_t ConnectionTable::count(const AddressKey& key) const {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(key);
  return it == per_address_.end() ? 0 : it->second;
}

size_t ConnectionTable::addresses() const {
  std::lock_guard lock(mu_);
  return per_address_.size();
}

}  // namespace ntsd::ke
