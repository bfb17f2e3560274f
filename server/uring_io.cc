#include "server/uring_io.h"

#include <liburing.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "server/rx_timestamp.h"

namespace ntsd::server {
namespace {

constexpr unsigned kQueueDepth = 256;
constexpr unsigned kBufferCount = 512;  // power of two (buffer ring requirement)
constexpr size_t kBufferSize = 2048;    // recvmsg_out + name + control + payload
constexpr unsigned kSendSlots = 128;
constexpr uint16_t kBufferGroup = 7;
constexpr size_t kCompletionQueueCapacity = 4096;

constexpr uint64_t kKindRecv = 1;
constexpr uint64_t kKindSend = 2;
uint64_t tag(uint64_t kind, uint64_t index) { return (kind << 32) | index; }
uint64_t tag_kind(uint64_t user_data) { return user_data >> 32; }
uint32_t tag_index(uint64_t user_data) { return static_cast<uint32_t>(user_data); }

struct SendSlot {
  std::array<uint8_t, kMaxDatagram> payload;
  sockaddr_storage peer;
  iovec iov;
  msghdr msg;
};

// A receive completion waiting to be handed out by receive_batch().
struct RecvCompletion {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

class alignas(64) UringIo final : public PacketIo {
 public:
  UringIo(std::span<const int> sockets, const CoalesceOptions& coalesce)
      : sockets_(sockets.begin(), sockets.end()), rearm_(sockets.size(), false), coalesce_(coalesce) {}

  ~UringIo() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  }

  bool init(std::string* error) {
    // Deferred task running (kernel >= 6.1): completions are posted only when
    // the worker waits for them, in one go, instead of interrupting it as
    // packets arrive. It needs a single submitting thread: the ring starts
    // disabled and start() enables and arms it on the worker's thread.
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                   IORING_SETUP_CQSIZE;
    params.cq_entries = kCompletionQueueCapacity / 2;
    int ret = io_uring_queue_init_params(kQueueDepth, &ring_, &params);
    deferred_start_ = ret >= 0;
    if (ret == -EINVAL) {  // older kernel
      params = {};
      params.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
      params.cq_entries = kCompletionQueueCapacity / 2;
      ret = io_uring_queue_init_params(kQueueDepth, &ring_, &params);
    }
    if (ret == -EINVAL) {  // older still: plain flags
      params = {};
      ret = io_uring_queue_init_params(kQueueDepth, &ring_, &params);
    }
    if (ret < 0) {
      *error = std::string("io_uring_queue_init: ") + std::strerror(-ret);
      return false;
    }
    ring_ready_ = true;
    // Replies go out as IORING_OP_SEND with a destination address (sendto)
    // where the kernel takes one: 6.0, the release that also brought
    // IORING_OP_SEND_ZC, which the ring's opcode probe reports. The kernel
    // then imports no msghdr per reply: about 3 % less CPU per datagram than
    // SENDMSG on this project's VM (server/backend_probe.h figures, 5
    // interleaved pairs). Older kernels refuse an address on SEND: SENDMSG.
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
      send_to_ = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC) != 0;
      io_uring_free_probe(probe);
    }

    buf_ring_bytes_ = kBufferCount * sizeof(io_uring_buf);
    void* mapped = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mapped == MAP_FAILED) {
      *error = std::string("mmap buffer ring: ") + std::strerror(errno);
      return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mapped);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = kBufferCount;
    reg.bgid = kBufferGroup;
    ret = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (ret < 0) {
      *error = std::string("io_uring_register_buf_ring (kernel >= 5.19 needed): ") +
               std::strerror(-ret);
      return false;
    }
    if (deferred_start_ && !restrict_ring(params.features, error)) return false;
    buffers_.resize(size_t{kBufferCount} * kBufferSize);
    io_uring_buf_ring_init(buf_ring_);
    for (unsigned bid = 0; bid < kBufferCount; ++bid) {
      io_uring_buf_ring_add(buf_ring_, buffer(bid), kBufferSize, static_cast<uint16_t>(bid),
                            io_uring_buf_ring_mask(kBufferCount), static_cast<int>(bid));
    }
    io_uring_buf_ring_advance(buf_ring_, kBufferCount);

    recv_template_.msg_namelen = sizeof(sockaddr_in6);
    recv_template_.msg_controllen = CMSG_SPACE(sizeof(timespec));
    for (unsigned i = 0; i < kSendSlots; ++i) free_slots_.push_back(i);
    slots_.resize(kSendSlots);
    completions_.resize(kCompletionQueueCapacity);
    return true;
  }

  const char* name() const override { return "io_uring"; }

  size_t receive_batch(std::span<RxPacket> out, int timeout_ms) override {
    release_batch();  // buffers of a round that yielded no packet (a no-op otherwise)
    rearm_finished_receives();
    drain_completions();
    // Completions left over from a full round: saturated, answer at once
    // (and submit the last round's sends, which a wait would have carried).
    if (completion_count_ == 0) {
      wait_for_receives(timeout_ms);
    } else if (io_uring_sq_ready(&ring_) > 0) {
      io_uring_submit(&ring_);
    }
    size_t count = 0;
    while (count < out.size() && completion_count_ > 0) {
      const RecvCompletion c = completions_[completion_head_];
      completion_head_ = (completion_head_ + 1) % completions_.size();
      --completion_count_;
      if (take_packet(c, &out[count])) ++count;
    }
    return count;
  }

  void lend_send_buffers(std::span<std::span<uint8_t>> out) override {
    return_unsent_slots();
    for (size_t i = 0; i < out.size(); ++i) {
      while (free_slots_.empty()) {  // every slot still in flight: wait for a send to finish
        io_uring_submit_and_wait(&ring_, 1);
        drain_completions();
      }
      const unsigned index = free_slots_.back();
      free_slots_.pop_back();
      lent_[i] = index;
      lent_used_[i] = false;
      out[i] = std::span<uint8_t>(slots_[index].payload);
    }
    lent_count_ = out.size();
  }

  void send_batch(std::span<const TxPacket> replies) override {
    for (const TxPacket& reply : replies) {
      // The reply was written into the slot itself (lend_send_buffers): no copy.
      const unsigned index = lent_[reply.buffer];
      lent_used_[reply.buffer] = true;
      SendSlot& slot = slots_[index];
      std::memcpy(&slot.peer, reply.peer, reply.peer_len);
      io_uring_sqe* sqe = get_sqe();
      if (send_to_) {
        io_uring_prep_send(sqe, sockets_[reply.socket_index], reply.payload.data(), reply.payload.size(), 0);
        io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&slot.peer),
                                    static_cast<uint16_t>(reply.peer_len));
      } else {
        slot.iov = {const_cast<uint8_t*>(reply.payload.data()), reply.payload.size()};
        slot.msg = {};
        slot.msg.msg_name = &slot.peer;
        slot.msg.msg_namelen = reply.peer_len;
        slot.msg.msg_iov = &slot.iov;
        slot.msg.msg_iovlen = 1;
        io_uring_prep_sendmsg(sqe, sockets_[reply.socket_index], &slot.msg, 0);
      }
      io_uring_sqe_set_data64(sqe, tag(kKindSend, index));
    }
    return_unsent_slots();
    // Not submitted here: the next receive_batch() submits them with its
    // wait, one io_uring_enter for both (or at once, if it does not wait).
  }

  void release_batch() override {
    const int mask = io_uring_buf_ring_mask(kBufferCount);
    for (size_t i = 0; i < released_count_; ++i) {
      io_uring_buf_ring_add(buf_ring_, buffer(released_[i]), kBufferSize, released_[i], mask,
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(released_count_));
    released_count_ = 0;
  }

  uint64_t take_send_errors() override {
    const uint64_t errors = send_errors_;
    send_errors_ = 0;
    return errors;
  }

 private:
  uint8_t* buffer(unsigned bid) { return buffers_.data() + size_t{bid} * kBufferSize; }

  // Least privilege for the ring itself (issue 12): while it is still
  // disabled, allow only the opcodes this backend submits and the one SQE
  // flag it sets; with no register opcode allowed, every io_uring_register
  // after enabling fails with EACCES (the buffer ring is refilled through
  // shared memory, not by registering). A ring made without
  // IORING_SETUP_R_DISABLED (kernels before 6.1) cannot be restricted.
  bool restrict_ring(uint32_t features, std::string* error) {
    io_uring_restriction rules[4]{};
    unsigned count = 0;
    rules[count].opcode = IORING_RESTRICTION_SQE_OP;
    rules[count++].sqe_op = IORING_OP_RECVMSG;
    rules[count].opcode = IORING_RESTRICTION_SQE_OP;
    rules[count++].sqe_op = send_to_ ? IORING_OP_SEND : IORING_OP_SENDMSG;
    if (!(features & IORING_FEAT_EXT_ARG)) {  // liburing then waits with a TIMEOUT SQE
      rules[count].opcode = IORING_RESTRICTION_SQE_OP;
      rules[count++].sqe_op = IORING_OP_TIMEOUT;
    }
    rules[count].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    rules[count++].sqe_flags = IOSQE_BUFFER_SELECT;
    // Raw call, as for enabling: liburing 2.3 does not export io_uring_register_restrictions().
    if (syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_RESTRICTIONS, rules, count) < 0) {
      *error = std::string("io_uring register restrictions: ") + std::strerror(errno);
      return false;
    }
    return true;
  }

  // Enables the ring in the calling thread (with deferred task running, the
  // only thread that may submit) and arms one multishot receive per socket.
  bool start(std::string* error) override {
    if (started_) return true;
    if (deferred_start_) {
      // liburing 2.3 declares io_uring_enable_rings() but does not export it.
      if (syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
        *error = std::string("io_uring enable rings: ") + std::strerror(errno);
        return false;
      }
    }
    for (size_t i = 0; i < sockets_.size(); ++i) arm(i);
    const int ret = io_uring_submit(&ring_);
    if (ret < 0) {
      *error = std::string("io_uring_submit: ") + std::strerror(-ret);
      return false;
    }
    started_ = true;
    return true;
  }

  // Waits for receives. Without coalescing: up to timeout_ms for the first.
  // With it, while datagrams keep coming (the last round had some): one wait
  // for a batch, bounded by max_wait_us. After an idle round: up to
  // timeout_ms for the first datagram, then up to max_wait_us for the rest of
  // a batch. So a busy worker makes one io_uring_enter per batch, an idle one
  // sleeps, and a lone request waits at most max_wait_us. (Kernel 6.12's
  // min_wait_usec promises this in one call, but with deferred task running
  // on this machine's 6.18 kernel it waited for the whole batch: about
  // 1,700 wakeups/s at 40,000 requests/s where 5,000 were due, p99 7-68 ms.)
  // Send completions count too; they only make a wait end earlier.
  void wait_for_receives(int timeout_ms) {
    io_uring_cqe* cqe = nullptr;
    const bool coalesce = coalesce_.max_wait_us > 0 && coalesce_.batch > 1;
    __kernel_timespec bound{0, static_cast<long long>(coalesce_.max_wait_us) * 1000};
    if (coalesce && traffic_) {
      io_uring_submit_and_wait_timeout(&ring_, &cqe, static_cast<unsigned>(coalesce_.batch), &bound, nullptr);
      drain_completions();
      traffic_ = completion_count_ > 0;
      return;
    }
    __kernel_timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000LL};
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &timeout, nullptr);
    drain_completions();
    traffic_ = completion_count_ > 0;
    if (!coalesce || completion_count_ == 0 || completion_count_ >= coalesce_.batch) return;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, static_cast<unsigned>(coalesce_.batch - completion_count_),
                                     &bound, nullptr);
    drain_completions();
  }

  // Lent slots that carried no reply go back to the free list.
  void return_unsent_slots() {
    for (size_t i = 0; i < lent_count_; ++i) {
      if (!lent_used_[i]) free_slots_.push_back(lent_[i]);
    }
    lent_count_ = 0;
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {  // submission queue full: push it to the kernel
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  // A multishot receive stops when the buffer ring ran dry (ENOBUFS) or on
  // error. Every buffer handed out has been released by the time the next
  // round starts, so re-arm then, whether or not the last round had packets;
  // the SQE goes out with the round's wait.
  void rearm_finished_receives() {
    for (size_t i = 0; i < sockets_.size(); ++i) {
      if (rearm_[i]) {
        rearm_[i] = false;
        arm(i);
      }
    }
  }

  void arm(size_t socket_index) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recvmsg_multishot(sqe, sockets_[socket_index], &recv_template_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, tag(kKindRecv, socket_index));
  }

  // Moves completions out of the kernel's queue: sends free their slot at
  // once; receives wait in completions_ for receive_batch().
  void drain_completions() {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (tag_kind(cqe->user_data) == kKindSend) {
        if (cqe->res < 0) ++send_errors_;
        free_slots_.push_back(tag_index(cqe->user_data));
      } else {
        if (completion_count_ == completions_.size()) break;
        completions_[(completion_head_ + completion_count_) % completions_.size()] = {
            cqe->user_data, cqe->res, cqe->flags};
        ++completion_count_;
      }
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
  }

  bool take_packet(const RecvCompletion& c, RxPacket* packet) {
    const uint32_t socket_index = tag_index(c.user_data);
    if (!(c.flags & IORING_CQE_F_MORE)) rearm_[socket_index] = true;
    if (c.res < 0 || !(c.flags & IORING_CQE_F_BUFFER)) return false;
    const auto bid = static_cast<uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT);
    released_[released_count_++] = bid;
    auto* out = io_uring_recvmsg_validate(buffer(bid), c.res, &recv_template_);
    if (out == nullptr) return false;
    packet->payload = std::span<const uint8_t>(
        static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_template_)),
        io_uring_recvmsg_payload_length(out, c.res, &recv_template_));
    packet->peer = static_cast<const sockaddr*>(io_uring_recvmsg_name(out));
    packet->peer_len = std::min<socklen_t>(out->namelen, recv_template_.msg_namelen);
    packet->truncated = (out->flags & MSG_TRUNC) != 0 || packet->payload.size() > kMaxDatagram;
    packet->socket_index = static_cast<uint16_t>(socket_index);
    packet->rx_unix_ns = 0;
    for (cmsghdr* cm = io_uring_recvmsg_cmsg_firsthdr(out, &recv_template_); cm != nullptr;
         cm = io_uring_recvmsg_cmsg_nexthdr(out, &recv_template_, cm)) {
      if (const int64_t ns = timestamp_from_cmsg(cm); ns != 0) {
        packet->rx_unix_ns = ns;
        break;
      }
    }
    return true;
  }

  std::vector<int> sockets_;
  std::vector<bool> rearm_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  std::vector<uint8_t> buffers_;
  msghdr recv_template_{};
  std::vector<SendSlot> slots_;
  std::vector<unsigned> free_slots_;
  std::vector<RecvCompletion> completions_;
  size_t completion_head_ = 0;
  size_t completion_count_ = 0;
  std::array<uint16_t, kBufferCount> released_{};
  size_t released_count_ = 0;
  std::array<unsigned, kSendSlots> lent_{};  // slots lent by lend_send_buffers(), in order
  std::array<bool, kSendSlots> lent_used_{};
  size_t lent_count_ = 0;
  uint64_t send_errors_ = 0;
  CoalesceOptions coalesce_;
  bool traffic_ = false;  // the last wait brought datagrams
  bool send_to_ = false;  // replies as SEND with an address (kernel >= 6.0), else SENDMSG
  bool deferred_start_ = false;  // ring created disabled, enabled by the worker thread
  bool started_ = false;
};

}  // namespace

std::unique_ptr<PacketIo> make_uring_io(std::span<const int> sockets, const CoalesceOptions& coalesce,
                                        std::string* error) {
  auto io = std::make_unique<UringIo>(sockets, coalesce);
  if (!io->init(error)) return nullptr;
  return io;
}

}  // namespace ntsd::server
