#include "bench/load_generator.h"

#include <netinet/udp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "proto/byte_order.h"
#include "proto/ntp_packet.h"
#include "proto/ntp_time.h"

namespace ntsd::bench {

namespace {

constexpr size_t kBatchSize = 64;
constexpr uint16_t kPaddingFieldType = 0xf000;  // --plain-size's padding field
constexpr size_t kReplyBufferSize = 2048;
// The transmit timestamp's fraction carries the slot (low 20 bits) and a
// per-slot generation (high 12 bits), so a reply maps to its request in O(1)
// and a late reply to a reused slot never matches the new request.
constexpr uint32_t kSlotBits = 20;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;
constexpr uint32_t kGenerationMask = 0xfff;

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

constexpr uint32_t kNoSlot = ~uint32_t{0};
// One UDP GSO write: at most 64 datagrams (the kernel's UDP_MAX_SEGMENTS on
// every version that has it) and less than the 64 KiB a UDP length can say.
constexpr size_t kMaxGsoBytes = 60'000;

// Single-writer counters: a plain add, published for the progress reader.
void bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

struct LoadThread::Slot {
  clock::RequestRecord record;
  int64_t sent_ns = 0;
  uint32_t client = 0;
  uint16_t generation = 0;
  bool in_use = false;
};

struct LoadThread::Client {
  clock::NtsSession session;
  uint32_t in_flight = 0;
};

// sendmmsg/recvmmsg vectors, their buffers and the crypto batches, set up once.
struct LoadThread::Batch {
  std::array<std::array<uint8_t, clock::kMaxRequestLength>, kBatchSize> tx_buffers;
  std::array<std::array<uint8_t, kReplyBufferSize>, kBatchSize> rx_buffers;
  std::array<iovec, kBatchSize> tx_iov, rx_iov;
  std::array<mmsghdr, kBatchSize> tx, rx;
  std::array<uint32_t, kBatchSize> tx_slot;
  std::array<uint32_t, kBatchSize> tx_run;  // requests in each sendmmsg entry (GSO: a run)
  struct alignas(cmsghdr) Control {
    uint8_t bytes[CMSG_SPACE(sizeof(uint16_t))];
  };
  std::array<Control, kBatchSize> tx_control;  // UDP_SEGMENT per GSO entry
  std::array<clock::RequestToSeal, kBatchSize> to_seal;
  std::array<bool, kBatchSize> sealed;
  std::array<clock::ReplyToVerify, kBatchSize> to_verify;
  std::array<clock::ReplyVerdict, kBatchSize> verdicts;
  std::array<uint32_t, kBatchSize> rx_slot;
};

LoadThread::LoadThread(const LoadConfig& config, std::vector<clock::NtsSession> sessions)
    : config_(config),
      crypto_(config.crypto != nullptr ? *config.crypto : crypto::auto_nts_crypto()),
      batch_(std::make_unique<Batch>()) {
  for (auto& session : sessions) clients_.push_back(Client{std::move(session), 0});
  // Closed loop: the window. Open loop: enough for one timeout's worth of
  // requests at the rate, plus slack.
  const double wanted = config_.rate > 0
                            ? config_.rate * (static_cast<double>(config_.timeout_ns) / 1e9) * 1.5 + kBatchSize
                            : static_cast<double>(config_.window);
  const uint32_t slots = static_cast<uint32_t>(std::clamp(wanted, 1.0, static_cast<double>(kMaxSlots)));
  slots_.resize(slots);
  free_slots_.reserve(slots);
  for (uint32_t i = slots; i > 0; --i) free_slots_.push_back(i - 1);
  fifo_.resize(slots);
}

LoadThread::~LoadThread() {
  if (fd_ >= 0) ::close(fd_);
}

bool LoadThread::open(std::string* error) {
  fd_ = ::socket(config_.server.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // Room for a full window of replies while this thread is busy verifying.
  const int buffer = 4 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (config_.bind &&
      ::bind(fd_, reinterpret_cast<const sockaddr*>(&config_.bind->address), config_.bind->length) != 0) {
    *error = "bind " + config_.bind->to_string() + ": " + std::strerror(errno);
    return false;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&config_.server.address), config_.server.length) != 0) {
    *error = "connect " + config_.server.to_string() + ": " + std::strerror(errno);
    return false;
  }
  // The headers are built once: recvmmsg writes only msg_len and msg_flags; a
  // send sets the iovecs' lengths (and, with GSO, which iovecs and the cmsg).
  auto& b = *batch_;
  for (size_t i = 0; i < kBatchSize; ++i) {
    b.rx_iov[i] = {b.rx_buffers[i].data(), b.rx_buffers[i].size()};
    b.rx[i] = {};
    b.rx[i].msg_hdr.msg_iov = &b.rx_iov[i];
    b.rx[i].msg_hdr.msg_iovlen = 1;
    b.tx_iov[i] = {b.tx_buffers[i].data(), 0};
    b.tx[i] = {};
    b.tx[i].msg_hdr.msg_iov = &b.tx_iov[i];
    b.tx[i].msg_hdr.msg_iovlen = 1;
  }
  // --plain-size: one extension field of a type ntsd does not know, zero
  // body, after every plain request's header; a server ignores it (RFC 7822
  // §3), a `reflector --echo` sends it back. Plain sends rewrite only the
  // header, so it is written once, here.
  if (config_.plain && config_.plain_size > proto::kNtpHeaderSize &&
      config_.plain_size <= clock::kMaxRequestLength) {
    const size_t field = config_.plain_size - proto::kNtpHeaderSize;
    for (auto& buffer : b.tx_buffers) {
      uint8_t* pad = buffer.data() + proto::kNtpHeaderSize;
      proto::store_be16(pad, kPaddingFieldType);
      proto::store_be16(pad + 2, static_cast<uint16_t>(field));
      std::memset(pad + 4, 0, field - 4);
    }
    plain_padded_ = config_.plain_size;
  }
  // UDP GSO: equal-length requests leave in one write that the kernel (or the
  // NIC) cuts into the same datagrams, sparing the IP output path per request.
  // Probed here; a kernel without it (before 4.18) gets one entry per request.
  const int zero = 0;
  gso_ = config_.gso && setsockopt(fd_, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
  return true;
}

size_t LoadThread::sendable(int64_t now_ns, int64_t start_ns) const {
  if (config_.rate <= 0) return free_slots_.size();
  // Open loop: what the rate allows since the start, minus what went out.
  const double due = config_.rate * static_cast<double>(now_ns - start_ns) / 1e9;
  const uint64_t sent = counters_.sent.load(std::memory_order_relaxed);
  return due > static_cast<double>(sent) ? static_cast<size_t>(due - static_cast<double>(sent)) : 0;
}

size_t LoadThread::send_some(int64_t now_ns, size_t count) {
  auto& b = *batch_;
  count = std::min({count, kBatchSize, free_slots_.size()});
  // The transmit stamp's seconds from the loop's clock reading: no clock read per batch.
  const uint32_t seconds =
      static_cast<uint32_t>((now_ns + realtime_offset_ns_) / 1'000'000'000LL + proto::kNtpUnixOffset);
  const uint64_t sent_before = counters_.sent.load(std::memory_order_relaxed);
  size_t built = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t index = free_slots_.back();
    Slot& slot = slots_[index];
    slot.generation = static_cast<uint16_t>((slot.generation + 1) & kGenerationMask);
    const uint64_t transmit =
        (uint64_t{seconds} << 32) | (uint64_t{slot.generation} << kSlotBits) | index;
    const std::span<uint8_t> out = b.tx_buffers[built];
    size_t length = 0;
    if (config_.plain) {
      slot.record.transmit = transmit;
      // --plain-size: the padding after the header was written at start.
      length = std::max(clock::build_plain_request(transmit, out), plain_padded_);
    } else {
      slot.client = static_cast<uint32_t>(next_client_);
      next_client_ = next_client_ + 1 == clients_.size() ? 0 : next_client_ + 1;
      Client& client = clients_[slot.client];
      // A unique identifier that is unpredictable enough for a benchmark:
      // the transmit stamp and the slot's generation mixed with a counter.
      std::array<uint8_t, clock::kUniqueIdLength> uid;
      const uint64_t words[4] = {transmit, sent_before + i, index, transmit * 0x9e3779b97f4a7c15ull};
      std::memcpy(uid.data(), words, sizeof words);
      // Sealed below, all in one crypto call.
      length = clock::build_unsealed_nts_request(client.session, transmit, uid, client.in_flight, out,
                                                 slot.record);
      if (length == 0) break;
      if (slot.record.reused_cookie) bump(counters_.reused_cookies);
      ++client.in_flight;
      b.to_seal[built] = {&client.session, out.first(length)};
    }
    free_slots_.pop_back();
    slot.in_use = true;
    slot.sent_ns = now_ns;
    b.tx_iov[built].iov_len = length;
    b.tx_slot[built] = index;
    ++built;
  }
  if (built == 0) return 0;
  if (!config_.plain) {
    clock::seal_nts_requests(crypto_, std::span(b.to_seal).first(built), std::span(b.sealed).first(built));
    // A request that could not be sealed (never, with keys from NTS-KE) is not sent.
    size_t kept = 0;
    for (size_t i = 0; i < built; ++i) {
      if (!b.sealed[i]) {
        bump(counters_.send_errors);
        release(b.tx_slot[i]);
        continue;
      }
      if (kept != i) {
        std::swap(b.tx_buffers[kept], b.tx_buffers[i]);
        b.tx_iov[kept].iov_len = b.tx_iov[i].iov_len;
        b.tx_slot[kept] = b.tx_slot[i];
      }
      ++kept;
    }
    built = kept;
    if (built == 0) return 0;
  }
  const int sent = send_built(built);
  // Requests the kernel did not take are released (their cookies are gone: the jar refills).
  for (size_t i = static_cast<size_t>(sent); i < built; ++i) release(b.tx_slot[i]);
  // The FIFO holds one entry per request sent whose entry expire() has not
  // reached yet. That is more than the slots: behind an unanswered request
  // (waiting out its timeout) sit the entries of answered ones whose slots
  // were reused, up to a timeout's worth of requests. So it grows (doubling,
  // in order) when full; a lossy server makes it grow a few times at most.
  if (fifo_size_ + static_cast<size_t>(sent) > fifo_.size()) grow_fifo(fifo_size_ + static_cast<size_t>(sent));
  size_t tail = fifo_head_ + fifo_size_;
  if (tail >= fifo_.size()) tail -= fifo_.size();
  for (int i = 0; i < sent; ++i) {
    const uint32_t index = b.tx_slot[i];
    fifo_[tail] = (uint64_t{index} << 16) | slots_[index].generation;
    if (++tail == fifo_.size()) tail = 0;
  }
  fifo_size_ += static_cast<size_t>(sent);
  outstanding_ += static_cast<uint64_t>(sent);
  bump(counters_.sent, static_cast<uint64_t>(sent));
  return static_cast<size_t>(sent);
}

// Sends requests 0..built-1; returns how many the kernel took (a prefix).
int LoadThread::send_built(size_t built) {
  auto& b = *batch_;
  size_t entries = 0;
  if (!gso_) {
    for (size_t i = 0; i < built; ++i) b.tx_run[i] = 1;
    entries = built;
  } else {
    // Runs of equal-length requests (all of them in steady state, when no
    // client asks for placeholders), one sendmmsg entry each.
    for (size_t i = 0; i < built;) {
      const size_t length = b.tx_iov[i].iov_len;
      size_t n = 1;
      while (i + n < built && b.tx_iov[i + n].iov_len == length && (n + 1) * length <= kMaxGsoBytes) ++n;
      msghdr& h = b.tx[entries].msg_hdr;
      h.msg_iov = &b.tx_iov[i];
      h.msg_iovlen = n;
      if (n > 1) {
        h.msg_control = b.tx_control[entries].bytes;
        h.msg_controllen = sizeof b.tx_control[entries].bytes;
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const auto segment = static_cast<uint16_t>(length);
        std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
      } else {
        h.msg_control = nullptr;
        h.msg_controllen = 0;
      }
      b.tx_run[entries++] = static_cast<uint32_t>(n);
      i += n;
    }
  }
  int done = ::sendmmsg(fd_, b.tx.data(), static_cast<unsigned>(entries), MSG_DONTWAIT);
  if (done < 0 && gso_ && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
    // A route or device that cannot segment: one entry per request from now on.
    gso_ = false;
    for (size_t i = 0; i < kBatchSize; ++i) {
      b.tx[i].msg_hdr = {};
      b.tx[i].msg_hdr.msg_iov = &b.tx_iov[i];
      b.tx[i].msg_hdr.msg_iovlen = 1;
    }
    return send_built(built);
  }
  if (done < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) bump(counters_.send_errors);
    return 0;
  }
  size_t requests = 0;
  for (int e = 0; e < done; ++e) requests += b.tx_run[static_cast<size_t>(e)];
  return static_cast<int>(requests);
}

void LoadThread::grow_fifo(size_t needed) {
  size_t capacity = std::max<size_t>(fifo_.size(), 1);
  while (capacity < needed) capacity *= 2;
  std::vector<uint64_t> grown(capacity);
  for (size_t i = 0; i < fifo_size_; ++i) {
    size_t at = fifo_head_ + i;
    if (at >= fifo_.size()) at -= fifo_.size();
    grown[i] = fifo_[at];
  }
  fifo_ = std::move(grown);
  fifo_head_ = 0;
}

void LoadThread::release(uint32_t index) {
  Slot& slot = slots_[index];
  slot.in_use = false;
  if (!config_.plain) --clients_[slot.client].in_flight;
  free_slots_.push_back(index);
}

// The slot a reply answers (its origin is our transmit stamp), or kNoSlot.
uint32_t LoadThread::match(std::span<const uint8_t> reply) const {
  if (reply.size() < proto::kNtpHeaderSize) return kNoSlot;
  const uint64_t origin = proto::load_timestamp(reply, proto::kOffsetOrigin).raw;
  const uint32_t index = static_cast<uint32_t>(origin & (kMaxSlots - 1));
  if (index >= slots_.size() || !slots_[index].in_use || slots_[index].record.transmit != origin) {
    return kNoSlot;
  }
  return index;
}

void LoadThread::settle(uint32_t index, clock::ReplyVerdict verdict, int64_t now_ns) {
  switch (verdict) {
    case clock::ReplyVerdict::kVerified:
      bump(counters_.verified);
      latency_.record(static_cast<uint64_t>(now_ns - slots_[index].sent_ns));
      break;
    case clock::ReplyVerdict::kNak: bump(counters_.naks); break;
    case clock::ReplyVerdict::kKod:
    case clock::ReplyVerdict::kKodAuthenticated: bump(counters_.kods); break;
    case clock::ReplyVerdict::kFailed: bump(counters_.failed); break;
  }
  --outstanding_;
  release(index);
}

size_t LoadThread::receive_some(int64_t& now_ns) {
  auto& b = *batch_;
  const int received = ::recvmmsg(fd_, b.rx.data(), kBatchSize, MSG_DONTWAIT, nullptr);
  if (received <= 0) return 0;
  now_ns = monotonic_ns();
  size_t pending = 0;
  for (int i = 0; i < received; ++i) {
    // A truncated datagram cannot verify; it still answers its request.
    const std::span<const uint8_t> reply(b.rx_buffers[i].data(), b.rx[i].msg_len);
    const uint32_t index = match(reply);
    if (index == kNoSlot) {
      bump(counters_.late);
      continue;
    }
    Slot& slot = slots_[index];
    slot.in_use = false;  // answered: a duplicate later in this batch is late
    if (config_.plain) {
      settle(index, clock::verify_plain_reply(slot.record.transmit, reply), now_ns);
      continue;
    }
    b.to_verify[pending] = {&clients_[slot.client].session, &slot.record, reply};
    b.rx_slot[pending++] = index;
  }
  if (pending > 0) {
    // Every authenticator in one crypto call; cookies go to the jars in arrival order.
    clock::verify_nts_replies(crypto_, std::span(b.to_verify).first(pending),
                              std::span(b.verdicts).first(pending));
    for (size_t j = 0; j < pending; ++j) settle(b.rx_slot[j], b.verdicts[j], now_ns);
  }
  return static_cast<size_t>(received);
}

void LoadThread::expire(int64_t now_ns) {
  while (fifo_size_ > 0) {
    const uint64_t entry = fifo_[fifo_head_];
    const uint32_t index = static_cast<uint32_t>(entry >> 16);
    const Slot& slot = slots_[index];
    const bool answered = !slot.in_use || slot.generation != static_cast<uint16_t>(entry & 0xffff);
    if (!answered) {
      if (now_ns - slot.sent_ns < config_.timeout_ns) break;
      bump(counters_.timeouts);
      --outstanding_;
      release(index);
    }
    if (++fifo_head_ == fifo_.size()) fifo_head_ = 0;
    --fifo_size_;
  }
}

void LoadThread::run() {
  const int64_t start = monotonic_ns();
  realtime_offset_ns_ = realtime_ns() - start;
  const int64_t deadline = start + config_.duration_ns;
  int64_t now = start;
  int64_t drain_start = 0;  // when sending stopped
  while (true) {
    const bool sending = now < deadline && !stop_.load(std::memory_order_relaxed) &&
                         (config_.max_requests == 0 ||
                          counters_.sent.load(std::memory_order_relaxed) < config_.max_requests);
    if (!sending) {
      if (drain_start == 0) drain_start = now;
      if (outstanding_ == 0 || now - drain_start >= config_.timeout_ns) break;
    }
    size_t work = 0;
    if (sending) {
      size_t want = sendable(now, start);
      if (config_.max_requests > 0) {
        want = std::min<uint64_t>(want, config_.max_requests - counters_.sent.load(std::memory_order_relaxed));
      }
      if (config_.rate > 0 && want > 0 && free_slots_.empty()) bump(counters_.slots_exhausted);
      if (want > 0) work += send_some(now, want);
    }
    // One clock read per turn: receive_some's after its replies arrived, else here.
    const size_t received = receive_some(now);
    if (received == 0) now = monotonic_ns();
    work += received;
    expire(now);
    if (work == 0) {
      // Idle: wait for a reply, or until the next paced request is due (at most 1 ms).
      pollfd pfd{fd_, POLLIN, 0};
      timespec wait{0, 1'000'000};
      if (sending && config_.rate > 0) {
        const double per_request_ns = 1e9 / config_.rate;
        wait.tv_nsec = static_cast<long>(std::clamp(per_request_ns, 1000.0, 1e6));
      }
      ::ppoll(&pfd, 1, &wait, nullptr);
      now = monotonic_ns();
    }
  }
  // Whatever is still outstanding after the drain is lost.
  bump(counters_.timeouts, outstanding_);
  outstanding_ = 0;
}

}  // namespace ntsd::bench
