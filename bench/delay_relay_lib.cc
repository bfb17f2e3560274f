#include "bench/delay_relay_lib.h"

#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

#include "server/udp_socket.h"

namespace ntsd::bench {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerS = 1'000'000'000;
// The longest one wait lasts, so a stop request or the end of the run is seen promptly.
constexpr int64_t kMaxWaitNs = 100 * kNsPerMs;
constexpr size_t kMaxDatagram = 65536;

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerS + ts.tv_nsec;
}

bool same_address(const sockaddr_storage& a, socklen_t a_length, const sockaddr_storage& b,
                  socklen_t b_length) {
  return a_length == b_length && std::memcmp(&a, &b, a_length) == 0;
}

}  // namespace

DelayModel::DelayModel(const DelayModelOptions& options)
    : options_(options), rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

bool DelayModel::in_burst(int64_t since_start_ns) const {
  if (options_.burst_start_s < 0 || options_.burst_seconds <= 0) return false;
  const double t = static_cast<double>(since_start_ns) / kNsPerS;
  return t >= options_.burst_start_s && t < options_.burst_start_s + options_.burst_seconds;
}

int64_t DelayModel::draw_ns(RelayDirection direction, int64_t since_start_ns) {
  // Both directions draw from the same distribution, so outside a burst the
  // path is symmetric on average and the true offset stays 0.
  double ms = options_.delay_ms;
  if (options_.jitter_ms > 0) {
    if (options_.distribution == DelayDistribution::kNormal) {
      ms += std::normal_distribution<double>(0.0, options_.jitter_ms)(rng_);
    } else {
      ms += std::uniform_real_distribution<double>(-options_.jitter_ms, options_.jitter_ms)(rng_);
    }
  }
  if (direction == options_.burst_direction && options_.burst_extra_ms > 0 &&
      in_burst(since_start_ns)) {
    // Variable, not constant: a burst of jitter whose mean is the asymmetry.
    ms += std::uniform_real_distribution<double>(0.0, 2 * options_.burst_extra_ms)(rng_);
  }
  return std::max<int64_t>(0, std::llround(ms * kNsPerMs));
}

bool DelayQueue::push(int64_t due_ns, RelayDirection direction, const sockaddr_storage& client,
                      socklen_t client_length, std::span<const uint8_t> payload) {
  if (heap_.size() >= capacity_) return false;
  QueuedDatagram d;
  d.due_ns = due_ns;
  d.sequence = next_sequence_++;
  d.direction = direction;
  d.client = client;
  d.client_length = client_length;
  d.payload.assign(payload.begin(), payload.end());
  heap_.push(std::move(d));
  return true;
}

QueuedDatagram DelayQueue::pop() {
  // priority_queue::top() is const; the element is moved out just before pop() discards it.
  QueuedDatagram d = std::move(const_cast<QueuedDatagram&>(heap_.top()));
  heap_.pop();
  return d;
}

DelayRelay::DelayRelay(const DelayRelayOptions& options)
    : options_(options),
      model_(options.delay),
      queue_(options.queue_capacity),
      buffer_(kMaxDatagram) {}

std::unique_ptr<DelayRelay> DelayRelay::open(const DelayRelayOptions& options, std::string* error) {
  server::Endpoint listen, upstream;
  if (!server::Endpoint::parse(options.listen_address, &listen)) {
    *error = "not an IP address: " + options.listen_address;
    return nullptr;
  }
  if (!server::Endpoint::parse(options.upstream_address, &upstream)) {
    *error = "not an IP address: " + options.upstream_address;
    return nullptr;
  }
  if (options.upstream_port == 0) {
    *error = "the upstream port must not be 0";
    return nullptr;
  }
  listen.set_port(options.listen_port);
  upstream.set_port(options.upstream_port);
  std::unique_ptr<DelayRelay> relay(new DelayRelay(options));
  relay->listen_fd_ = socket(listen.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (relay->listen_fd_ < 0 ||
      bind(relay->listen_fd_, reinterpret_cast<const sockaddr*>(&listen.address), listen.length) !=
          0) {
    *error = "cannot bind " + listen.to_string() + ": " + std::strerror(errno);
    return nullptr;
  }
  relay->port_ = server::bound_port(relay->listen_fd_);
  listen.set_port(relay->port_);
  relay->endpoint_ = listen.to_string();
  relay->upstream_ = upstream.address;
  relay->upstream_length_ = upstream.length;
  relay->upstream_text_ = upstream.to_string();
  return relay;
}

DelayRelay::~DelayRelay() {
  for (ClientSlot& slot : slots_) close(slot.fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string DelayRelay::endpoint() const { return endpoint_; }

std::string DelayRelay::upstream() const { return upstream_text_; }

DelayRelay::ClientSlot* DelayRelay::find_slot(const sockaddr_storage& address, socklen_t length) {
  for (ClientSlot& slot : slots_) {
    if (same_address(slot.address, slot.length, address, length)) return &slot;
  }
  return nullptr;
}

// One upstream-facing socket per client address:port, so a reply's socket
// names the client it belongs to; no request/reply matching is needed.
DelayRelay::ClientSlot* DelayRelay::slot_for(const sockaddr_storage& address, socklen_t length,
                                             int64_t now_ns) {
  if (ClientSlot* slot = find_slot(address, length)) {
    slot->last_seen_ns = now_ns;
    return slot;
  }
  if (slots_.size() >= options_.max_clients) expire_slots(now_ns);
  if (slots_.size() >= options_.max_clients) return nullptr;
  const int fd = socket(upstream_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&upstream_), upstream_length_) != 0) {
    close(fd);
    return nullptr;
  }
  ClientSlot slot;
  slot.address = address;
  slot.length = length;
  slot.fd = fd;
  slot.last_seen_ns = now_ns;
  slots_.push_back(slot);
  ++counts_.clients;
  return &slots_.back();
}

void DelayRelay::expire_slots(int64_t now_ns) {
  const int64_t idle_ns = int64_t{options_.client_idle_seconds} * kNsPerS;
  std::erase_if(slots_, [&](const ClientSlot& slot) {
    if (now_ns - slot.last_seen_ns < idle_ns) return false;
    close(slot.fd);
    return true;
  });
}

void DelayRelay::receive_from_clients(int64_t start_ns) {
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_length = sizeof from;
    const ssize_t n = recvfrom(listen_fd_, buffer_.data(), buffer_.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0) return;  // EAGAIN: drained (other errors: nothing to relay either)
    // The datagram's own arrival time, read right after it was taken.
    const int64_t now = monotonic_ns();
    ++counts_.from_clients;
    if (slot_for(from, from_length, now) == nullptr) {
      ++counts_.dropped_clients_full;
      continue;
    }
    const int64_t since_start = now - start_ns;
    const int64_t delay = model_.draw_ns(RelayDirection::kToUpstream, since_start);
    if (model_.in_burst(since_start) &&
        options_.delay.burst_direction == RelayDirection::kToUpstream) {
      ++counts_.burst_delayed;
    }
    if (!queue_.push(now + delay, RelayDirection::kToUpstream, from, from_length,
                     std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n)))) {
      ++counts_.dropped_queue_full;
    }
  }
}

void DelayRelay::receive_from_upstream(ClientSlot& slot, int64_t start_ns) {
  for (;;) {
    // Connected socket: only the upstream's datagrams arrive here. ECONNREFUSED
    // (upstream not listening) and EAGAIN both end the round.
    const ssize_t n = recv(slot.fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0) return;
    const int64_t now = monotonic_ns();
    ++counts_.from_upstream;
    const int64_t since_start = now - start_ns;
    const int64_t delay = model_.draw_ns(RelayDirection::kToClient, since_start);
    if (model_.in_burst(since_start) &&
        options_.delay.burst_direction == RelayDirection::kToClient) {
      ++counts_.burst_delayed;
    }
    if (!queue_.push(now + delay, RelayDirection::kToClient, slot.address, slot.length,
                     std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n)))) {
      ++counts_.dropped_queue_full;
    }
  }
}

void DelayRelay::send_due(int64_t now_ns) {
  while (!queue_.empty() && queue_.next_due_ns() <= now_ns) {
    const QueuedDatagram d = queue_.pop();
    ssize_t sent;
    if (d.direction == RelayDirection::kToClient) {
      sent = sendto(listen_fd_, d.payload.data(), d.payload.size(), 0,
                    reinterpret_cast<const sockaddr*>(&d.client), d.client_length);
      if (sent >= 0) ++counts_.sent_to_clients;
    } else {
      ClientSlot* slot = find_slot(d.client, d.client_length);
      if (slot == nullptr) {
        ++counts_.dropped_expired;
        continue;
      }
      sent = send(slot->fd, d.payload.data(), d.payload.size(), 0);
      if (sent >= 0) ++counts_.sent_upstream;
    }
    if (sent < 0) ++counts_.send_errors;
  }
}

DelayRelayCounts DelayRelay::run(const std::atomic<bool>& stop, double seconds,
                                 void (*on_burst)(bool started)) {
  // Default timer slack is 50 µs; 1 µs keeps the wake-ups close to the due times.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  const int64_t start = monotonic_ns();
  const int64_t deadline = seconds > 0 ? start + std::llround(seconds * kNsPerS) : 0;
  int64_t next_expiry = start + kNsPerS;
  bool burst_was_on = false;
  std::vector<pollfd> fds;
  std::vector<size_t> fd_slot;  // fds[i + 1] belongs to slots_[fd_slot[i]]
  while (!stop.load(std::memory_order_relaxed)) {
    int64_t now = monotonic_ns();
    if (deadline != 0 && now >= deadline) break;
    send_due(now);
    const bool burst_on = model_.in_burst(now - start);
    if (on_burst != nullptr && burst_on != burst_was_on) on_burst(burst_on);
    burst_was_on = burst_on;
    if (now >= next_expiry) {
      expire_slots(now);
      next_expiry = now + kNsPerS;
    }

    int64_t wait = kMaxWaitNs;
    if (!queue_.empty()) wait = std::min(wait, queue_.next_due_ns() - now);
    if (deadline != 0) wait = std::min(wait, deadline - now);
    wait = std::max<int64_t>(wait, 0);
    fds.clear();
    fd_slot.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    for (size_t i = 0; i < slots_.size(); ++i) {
      fds.push_back({slots_[i].fd, POLLIN, 0});
      fd_slot.push_back(i);
    }
    const timespec timeout{static_cast<time_t>(wait / kNsPerS), static_cast<long>(wait % kNsPerS)};
    const int ready = ppoll(fds.data(), fds.size(), &timeout, nullptr);
    if (ready <= 0) continue;  // timeout, or EINTR from a stop signal
    // Replies first: their slots are stable only until receive_from_clients adds one.
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) receive_from_upstream(slots_[fd_slot[i - 1]], start);
    }
    if (fds[0].revents != 0) receive_from_clients(start);
  }
  return counts_;
}

}  // namespace ntsd::bench
