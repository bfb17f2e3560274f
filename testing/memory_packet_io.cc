#include "testing/memory_packet_io.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ntsd::testing {

std::string Peer::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (address.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    port = ntohs(sin->sin_port);
    return std::string(text) + ":" + std::to_string(port);
  }
  if (address.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    port = ntohs(sin6->sin6_port);
  }
  return "[" + std::string(text) + "]:" + std::to_string(port);
}

bool operator==(const Peer& a, const Peer& b) {
  return a.length == b.length && std::memcmp(&a.address, &b.address, a.length) == 0;
}

Peer ipv4_peer(const char* address, uint16_t port) {
  Peer peer;
  auto* sin = reinterpret_cast<sockaddr_in*>(&peer.address);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  if (inet_pton(AF_INET, address, &sin->sin_addr) != 1) {
    std::fprintf(stderr, "ipv4_peer: not an IPv4 address: %s\n", address);
    std::abort();
  }
  peer.length = sizeof(sockaddr_in);
  return peer;
}

Peer ipv6_peer(const char* address, uint16_t port) {
  Peer peer;
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&peer.address);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  if (inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1) {
    std::fprintf(stderr, "ipv6_peer: not an IPv6 address: %s\n", address);
    std::abort();
  }
  peer.length = sizeof(sockaddr_in6);
  return peer;
}

MemoryPacketIo::MemoryPacketIo(size_t sockets, size_t buffers)
    : sockets_(sockets),
      buffers_(buffers),
      rx_slots_(std::make_unique<RxSlot[]>(buffers)),
      tx_buffers_(std::make_unique<TxBuffer[]>(buffers)) {}

MemoryPacketIo::~MemoryPacketIo() = default;

void MemoryPacketIo::violation(std::string what) { violations_.push_back(std::move(what)); }

void MemoryPacketIo::queue(Datagram datagram) {
  if (datagram.socket_index >= sockets_ || datagram.peer.length > sizeof(sockaddr_storage)) {
    std::fprintf(stderr, "MemoryPacketIo::queue: socket %u of %zu, peer length %u\n",
                 datagram.socket_index, sockets_, static_cast<unsigned>(datagram.peer.length));
    std::abort();
  }
  // What the kernel does with a datagram longer than the receive buffer (MSG_TRUNC).
  if (datagram.payload.size() > server::kMaxDatagram) {
    datagram.payload.resize(server::kMaxDatagram);
    datagram.truncated = true;
  }
  queue_.push_back(std::move(datagram));
}

std::vector<SentDatagram> MemoryPacketIo::take_sent() {
  std::vector<SentDatagram> out;
  out.swap(sent_);
  return out;
}

bool MemoryPacketIo::in_send_buffers(const uint8_t* p) const {
  const auto* first = reinterpret_cast<const uint8_t*>(tx_buffers_.get());
  return p >= first && p < first + buffers_ * sizeof(TxBuffer);
}

std::vector<std::span<const std::byte>> MemoryPacketIo::written_memory() const {
  return {
      std::as_bytes(std::span(this, 1)),
      std::as_bytes(std::span(rx_slots_.get(), buffers_)),
      std::as_bytes(std::span(tx_buffers_.get(), buffers_)),
  };
}

bool MemoryPacketIo::start(std::string* error) {
  ++calls_.start;
  if (!start_error_.empty()) {
    *error = start_error_;
    return false;
  }
  started_ = true;
  return true;
}

size_t MemoryPacketIo::receive_batch(std::span<server::RxPacket> out, int timeout_ms) {
  ++calls_.receive;
  calls_.last_timeout_ms = timeout_ms;
  if (!started_) violation("receive_batch() before a successful start()");
  if (held_ != 0) violation("receive_batch() while the last batch (" + std::to_string(held_) + ") is not released");
  if (lent_active_) violation("receive_batch() while send buffers are still lent");
  size_t n = std::min({out.size(), buffers_, queue_.size()});
  if (max_per_receive_ != 0) n = std::min(n, max_per_receive_);
  for (size_t i = 0; i < n; ++i) {
    const Datagram& d = queue_.front();
    RxSlot& slot = rx_slots_[i];
    std::memcpy(slot.bytes, d.payload.data(), d.payload.size());
    std::memcpy(&slot.peer, &d.peer.address, d.peer.length);
    out[i] = server::RxPacket{std::span<const uint8_t>(slot.bytes, d.payload.size()),
                              reinterpret_cast<const sockaddr*>(&slot.peer),
                              d.peer.length,
                              d.rx_unix_ns,
                              d.socket_index,
                              d.truncated};
    queue_.pop_front();
  }
  held_ = n;
  if (n == 0) ++calls_.empty_receive;
  return n;
}

void MemoryPacketIo::lend_send_buffers(std::span<std::span<uint8_t>> out) {
  ++calls_.lend;
  if (lent_active_) violation("lend_send_buffers() twice without send_batch() in between");
  if (out.size() > buffers_) {
    violation("lend_send_buffers() asked for " + std::to_string(out.size()) + " buffers of " +
              std::to_string(buffers_));
  }
  lent_ = std::min(out.size(), buffers_);
  for (size_t i = 0; i < lent_; ++i) {
    std::memset(tx_buffers_[i].bytes, kLentPoison, sizeof(tx_buffers_[i].bytes));
    out[i] = std::span<uint8_t>(tx_buffers_[i].bytes, sizeof(tx_buffers_[i].bytes));
  }
  for (size_t i = lent_; i < out.size(); ++i) out[i] = {};
  lent_active_ = true;
}

void MemoryPacketIo::send_batch(std::span<const server::TxPacket> replies) {
  ++calls_.send;
  if (!replies.empty() && !lent_active_) violation("send_batch() without lend_send_buffers()");
  for (size_t k = 0; k < replies.size(); ++k) {
    const server::TxPacket& reply = replies[k];
    const std::string which = "send_batch() reply " + std::to_string(k) + ": ";
    const uint8_t* data = reply.payload.data();
    if (reply.buffer >= lent_) {
      violation(which + "buffer " + std::to_string(reply.buffer) + " was not lent (" + std::to_string(lent_) +
                " were)");
    } else {
      const uint8_t* begin = tx_buffers_[reply.buffer].bytes;
      if (data < begin || data + reply.payload.size() > begin + server::kMaxDatagram) {
        violation(which + "payload is not inside lent buffer " + std::to_string(reply.buffer) +
                  (in_send_buffers(data) ? " (it is inside another one)" : " (a copy)"));
      }
    }
    if (reply.payload.empty()) violation(which + "empty payload");
    if (reply.payload.size() > server::kMaxDatagram) violation(which + "payload over kMaxDatagram");
    if (reply.peer == nullptr || reply.peer_len == 0 || reply.peer_len > sizeof(sockaddr_storage)) {
      violation(which + "no peer");
      continue;
    }
    if (reply.socket_index >= sockets_) violation(which + "socket " + std::to_string(reply.socket_index));
    if (failing_sends_ > 0) {
      --failing_sends_;
      ++send_errors_;
      continue;
    }
    SentDatagram sent;
    sent.payload.assign(reply.payload.begin(), reply.payload.end());
    std::memcpy(&sent.peer.address, reply.peer, reply.peer_len);
    sent.peer.length = reply.peer_len;
    sent.socket_index = reply.socket_index;
    sent.buffer = reply.buffer;
    sent.data = data;
    sent.offset = in_send_buffers(data) && reply.buffer < buffers_
                      ? static_cast<size_t>(data - tx_buffers_[reply.buffer].bytes)
                      : 0;
    sent_.push_back(std::move(sent));
  }
  // send_batch() takes every lent buffer back.
  lent_ = 0;
  lent_active_ = false;
}

void MemoryPacketIo::release_batch() {
  ++calls_.release;
  // The payloads and peers are the backend's again: a worker that kept a
  // pointer into them would now read the poison.
  for (size_t i = 0; i < held_; ++i) {
    std::memset(rx_slots_[i].bytes, kReleasedPoison, sizeof(rx_slots_[i].bytes));
    std::memset(&rx_slots_[i].peer, kReleasedPoison, sizeof(rx_slots_[i].peer));
  }
  held_ = 0;
}

uint64_t MemoryPacketIo::take_send_errors() {
  const uint64_t errors = send_errors_;
  send_errors_ = 0;
  return errors;
}

}  // namespace ntsd::testing
