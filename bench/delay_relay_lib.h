#pragma once
// A UDP relay for NTP that delays every datagram: clients send to the relay,
// the relay forwards to one upstream and each reply back to the client that
// asked. Every datagram waits a random delay drawn for it alone, optionally
// with an asymmetric burst of extra delay in one direction, so clock
// clients can be compared on a path with known jitter and asymmetry.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace ntsd::bench {

enum class RelayDirection : uint8_t { kToUpstream, kToClient };
enum class DelayDistribution : uint8_t { kUniform, kNormal };

struct DelayModelOptions {
  double delay_ms = 5;   // mean one-way delay, both directions
  double jitter_ms = 1;  // uniform: ± this; normal: the standard deviation
  DelayDistribution distribution = DelayDistribution::kUniform;
  double burst_start_s = -1;  // seconds after start; < 0: no burst
  double burst_seconds = 0;
  double burst_extra_ms = 0;  // per datagram extra delay uniform in [0, 2x] (mean x)
  RelayDirection burst_direction = RelayDirection::kToClient;
  uint64_t seed = 0;  // 0: from std::random_device
};

// Draws each datagram's delay; the time since start is passed in.
class DelayModel {
 public:
  explicit DelayModel(const DelayModelOptions& options);
  // The delay, >= 0 ns, for one datagram going `direction` that arrived `since_start_ns` after
  // start.
  int64_t draw_ns(RelayDirection direction, int64_t since_start_ns);
  // Whether `since_start_ns` falls inside the burst window.
  bool in_burst(int64_t since_start_ns) const;

 private:
  DelayModelOptions options_;
  std::mt19937_64 rng_;
};

struct QueuedDatagram {
  int64_t due_ns = 0;     // CLOCK_MONOTONIC
  uint64_t sequence = 0;  // arrival order: ties on due_ns leave in this order
  RelayDirection direction = RelayDirection::kToUpstream;
  sockaddr_storage client{};  // who sent the request (or is owed the reply)
  socklen_t client_length = 0;
  std::vector<uint8_t> payload;
};

// Datagrams waiting for their due time, bounded; pop() always yields the
// earliest due (then the earliest arrived), so nothing leaves out of due order.
class DelayQueue {
 public:
  explicit DelayQueue(size_t capacity) : capacity_(capacity) {}
  // Queues a copy; false (nothing queued) when the queue is full.
  bool push(int64_t due_ns, RelayDirection direction, const sockaddr_storage& client,
            socklen_t client_length, std::span<const uint8_t> payload);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  int64_t next_due_ns() const { return heap_.top().due_ns; }  // not empty
  QueuedDatagram pop();                                       // not empty

 private:
  struct Later {
    bool operator()(const QueuedDatagram& a, const QueuedDatagram& b) const {
      return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.sequence > b.sequence;
    }
  };
  size_t capacity_;
  uint64_t next_sequence_ = 0;
  std::priority_queue<QueuedDatagram, std::vector<QueuedDatagram>, Later> heap_;
};

struct DelayRelayOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: any free port
  std::string upstream_address = "127.0.0.1";
  uint16_t upstream_port = 123;
  DelayModelOptions delay;
  size_t queue_capacity = 4096;
  size_t max_clients = 256;       // client address:port pairs with an upstream socket
  int client_idle_seconds = 120;  // a client silent this long loses its upstream socket
};

struct DelayRelayCounts {
  uint64_t from_clients = 0;   // datagrams received from clients
  uint64_t from_upstream = 0;  // replies received from the upstream
  uint64_t sent_upstream = 0;
  uint64_t sent_to_clients = 0;
  uint64_t burst_delayed = 0;  // datagrams given the burst's extra delay
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_clients_full = 0;  // a new client while max_clients are active
  uint64_t dropped_expired = 0;       // its client's upstream socket was gone at due time
  uint64_t send_errors = 0;
  uint64_t clients = 0;  // distinct client address:port pairs seen
};

class DelayRelay {
 public:
  // Binds the listening socket; null with `error` on failure.
  static std::unique_ptr<DelayRelay> open(const DelayRelayOptions& options, std::string* error);
  ~DelayRelay();
  DelayRelay(const DelayRelay&) = delete;
  DelayRelay& operator=(const DelayRelay&) = delete;

  std::string endpoint() const;  // "127.0.0.1:PORT", the port actually bound
  std::string upstream() const;  // "127.0.0.1:PORT"
  uint16_t port() const { return port_; }
  // Relays until `stop` is set or, if seconds > 0, that many seconds have passed.
  // `on_burst(true/false)` (may be empty) is called when the burst window opens and closes.
  DelayRelayCounts run(const std::atomic<bool>& stop, double seconds,
                       void (*on_burst)(bool started) = nullptr);

 private:
  struct ClientSlot {
    sockaddr_storage address{};
    socklen_t length = 0;
    int fd = -1;  // connected to the upstream
    int64_t last_seen_ns = 0;
  };
  explicit DelayRelay(const DelayRelayOptions& options);
  ClientSlot* find_slot(const sockaddr_storage& address, socklen_t length);
  ClientSlot* slot_for(const sockaddr_storage& address, socklen_t length, int64_t now_ns);
  void expire_slots(int64_t now_ns);
  void receive_from_clients(int64_t start_ns);
  void receive_from_upstream(ClientSlot& slot, int64_t start_ns);
  void send_due(int64_t now_ns);

  DelayRelayOptions options_;
  DelayModel model_;
  DelayQueue queue_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::string endpoint_;
  std::string upstream_text_;
  sockaddr_storage upstream_{};
  socklen_t upstream_length_ = 0;
  std::vector<ClientSlot> slots_;
  std::vector<uint8_t> buffer_;
  DelayRelayCounts counts_;
};

}  // namespace ntsd::bench
