#include "server/mmsg_io.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "server/rx_timestamp.h"

namespace ntsd::server {
namespace {

constexpr size_t kSlots = 64;  // datagrams per batch
constexpr size_t kControlSize = CMSG_SPACE(sizeof(timespec)) + 64;

class alignas(64) MmsgIo final : public PacketIo {
 public:
  MmsgIo(std::span<const int> sockets, const CoalesceOptions& coalesce)
      : sockets_(sockets.begin(), sockets.end()), coalesce_(coalesce) {}
  ~MmsgIo() override {
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  bool init(std::string* error) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
      *error = std::string("epoll_create1: ") + std::strerror(errno);
      return false;
    }
    for (size_t i = 0; i < sockets_.size(); ++i) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, sockets_[i], &event) != 0) {
        *error = std::string("epoll_ctl: ") + std::strerror(errno);
        return false;
      }
    }
    return true;
  }

  const char* name() const override { return "mmsg"; }

  bool start(std::string*) override { return true; }  // nothing per thread

  size_t receive_batch(std::span<RxPacket> out, int timeout_ms) override {
    std::array<epoll_event, 16> ready;
    const int n_ready = epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), timeout_ms);
    // Bounded coalescing (CoalesceOptions): recvmmsg's own timeout is only
    // checked after each datagram. When a datagram is waiting and the last
    // round was not a full batch, sleep the bound once, then read everything
    // that arrived meanwhile. After a full round (saturation) read at once.
    if (n_ready > 0 && coalesce_.max_wait_us > 0 && !last_round_full_) {
      const timespec bound{0, static_cast<long>(coalesce_.max_wait_us) * 1000};
      clock_nanosleep(CLOCK_MONOTONIC, 0, &bound, nullptr);
    }
    size_t count = 0;
    const size_t limit = std::min(out.size(), kSlots);
    for (int r = 0; r < n_ready && count < limit; ++r) {
      const auto socket_index = static_cast<uint16_t>(ready[r].data.u64);
      const size_t room = limit - count;
      for (size_t i = 0; i < room; ++i) prepare_slot(count + i);
      const int got = recvmmsg(sockets_[socket_index], &headers_[count], static_cast<unsigned>(room),
                               MSG_DONTWAIT, nullptr);
      if (got <= 0) continue;
      for (int i = 0; i < got; ++i) {
        mmsghdr& h = headers_[count];
        RxPacket& packet = out[count];
        packet.payload = std::span<const uint8_t>(buffers_[count].data(), h.msg_len);
        packet.peer = reinterpret_cast<const sockaddr*>(&peers_[count]);
        packet.peer_len = h.msg_hdr.msg_namelen;
        packet.rx_unix_ns = rx_timestamp_ns(&h.msg_hdr);
        packet.socket_index = socket_index;
        packet.truncated = (h.msg_hdr.msg_flags & MSG_TRUNC) != 0;
        ++count;
      }
    }
    if (n_ready > 0) last_round_full_ = count >= std::min(limit, coalesce_.batch);
    return count;
  }

  void lend_send_buffers(std::span<std::span<uint8_t>> out) override {
    for (size_t i = 0; i < out.size() && i < kSlots; ++i) out[i] = std::span<uint8_t>(tx_buffers_[i]);
  }

  void send_batch(std::span<const TxPacket> replies) override {
    // sendmmsg per socket, over runs of replies that share a socket.
    size_t start = 0;
    while (start < replies.size()) {
      size_t end = start;
      size_t n = 0;
      while (end < replies.size() && replies[end].socket_index == replies[start].socket_index &&
             n < kSlots) {
        const TxPacket& reply = replies[end];
        tx_iov_[n] = {const_cast<uint8_t*>(reply.payload.data()), reply.payload.size()};
        tx_headers_[n] = {};
        tx_headers_[n].msg_hdr.msg_name = const_cast<sockaddr*>(reply.peer);
        tx_headers_[n].msg_hdr.msg_namelen = reply.peer_len;
        tx_headers_[n].msg_hdr.msg_iov = &tx_iov_[n];
        tx_headers_[n].msg_hdr.msg_iovlen = 1;
        ++end;
        ++n;
      }
      size_t sent = 0;
      while (sent < n) {
        const int r = sendmmsg(sockets_[replies[start].socket_index], &tx_headers_[sent],
                               static_cast<unsigned>(n - sent), 0);
        if (r <= 0) {
          send_errors_ += 1;  // skip the datagram the kernel refused
          sent += 1;
        } else {
          sent += static_cast<size_t>(r);
        }
      }
      start = end;
    }
  }

  void release_batch() override {}  // slots are reused by the next receive_batch()

  uint64_t take_send_errors() override {
    const uint64_t errors = send_errors_;
    send_errors_ = 0;
    return errors;
  }

 private:
  void prepare_slot(size_t i) {
    iov_[i] = {buffers_[i].data(), buffers_[i].size()};
    headers_[i] = {};
    headers_[i].msg_hdr.msg_name = &peers_[i];
    headers_[i].msg_hdr.msg_namelen = sizeof(peers_[i]);
    headers_[i].msg_hdr.msg_iov = &iov_[i];
    headers_[i].msg_hdr.msg_iovlen = 1;
    headers_[i].msg_hdr.msg_control = control_[i].data();
    headers_[i].msg_hdr.msg_controllen = control_[i].size();
  }

  std::vector<int> sockets_;
  CoalesceOptions coalesce_;
  bool last_round_full_ = false;
  int epoll_fd_ = -1;
  uint64_t send_errors_ = 0;
  std::array<std::array<uint8_t, kMaxDatagram>, kSlots> buffers_{};
  std::array<std::array<uint8_t, kMaxDatagram>, kSlots> tx_buffers_{};  // lent for replies
  std::array<sockaddr_storage, kSlots> peers_{};
  std::array<std::array<uint8_t, kControlSize>, kSlots> control_{};
  std::array<iovec, kSlots> iov_{};
  std::array<mmsghdr, kSlots> headers_{};
  std::array<iovec, kSlots> tx_iov_{};
  std::array<mmsghdr, kSlots> tx_headers_{};
};

}  // namespace

std::unique_ptr<PacketIo> make_mmsg_io(std::span<const int> sockets, const CoalesceOptions& coalesce,
                                       std::string* error) {
  auto io = std::make_unique<MmsgIo>(sockets, coalesce);
  if (!io->init(error)) return nullptr;
  return io;
}

}  // namespace ntsd::server
