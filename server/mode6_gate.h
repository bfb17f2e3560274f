#pragma once
// The worker's whole part in mode 6 (ntpq): is this a well-formed request,
// may this client query (`restrict … noquery`), and is it within the query
// rate? Pure (time is an argument), allocation-free after construction, one
// per worker like Gate: the reuseport program steers each address to one
// worker, so a per-worker table limits each client exactly.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <sys/socket.h>

#include "server/access_control.h"
#include "server/client_key.h"
#include "server/verdict.h"

namespace ntsd::server {

struct Mode6Limits {
  // Per client address: ntpq -p asks once, then once per association, in a
  // burst; 32 in a row and 8 per second after that let an operator's loop of
  // ntpq commands through and keep a reflector's share small.
  uint32_t per_address_per_second = 8;
  uint32_t per_address_burst = 32;
  // Per worker, whatever the source: the cap on what spoofed addresses can
  // make this worker reflect (at most one 480-byte fragment each).
  uint32_t per_worker_per_second = 64;
  uint32_t per_worker_burst = 128;
  size_t address_slots = 1024;  // power of two
  uint64_t hash_seed = 0;       // 0: random (tests pass a fixed one)
};

class Mode6Gate {
 public:
  // `table` may be null; with no `restrict` entries only loopback may query.
  Mode6Gate(std::shared_ptr<const AccessTable> table, const Mode6Limits& limits = {});
  // nullopt: hand the request to the ops thread; else why it is dropped.
  std::optional<DropReason> check(const sockaddr* peer, std::span<const uint8_t> packet,
                                  int64_t now_ns);

 private:
  // GCRA: the "theoretical arrival time" of the next allowed request; one
  // integer per bucket, no division on the path.
  static bool take(int64_t* tat, int64_t now_ns, int64_t interval_ns, int64_t burst_ns);

  struct Slot {
    ClientKey key;
    int64_t tat = 0;
    bool used = false;
  };
  std::shared_ptr<const AccessTable> table_;
  Mode6Limits limits_;
  int64_t address_interval_ns_, address_burst_ns_, worker_interval_ns_, worker_burst_ns_;
  int64_t worker_tat_ = 0;
  std::vector<Slot> slots_;
  uint64_t seed_;
};

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback(const ClientKey& key);

}  // namespace ntsd::server
