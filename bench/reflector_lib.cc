#include "bench/reflector_lib.h"

#include <unistd.h>

#include <cstring>
#include <ctime>

#include "proto/byte_order.h"
#include "proto/ntp_time.h"
#include "server/udp_socket.h"

namespace ntsd::bench {
namespace {

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

bool reflect_packet(std::span<const uint8_t> request, uint64_t now_ntp,
                    std::span<uint8_t, kReflectReplySize> reply) {
  if (request.size() < kReflectReplySize) return false;
  // Deliberately no validation beyond the length: the reflector measures the
  // UDP path, not the request parser. Only the fields a client checks are set.
  uint8_t* out = reply.data();
  std::memset(out, 0, kReflectReplySize);
  const uint8_t version = (request[0] >> 3) & 7;
  out[0] = static_cast<uint8_t>((version << 3) | 4);  // LI 0, the client's version, mode 4
  out[1] = 1;                                         // stratum 1
  std::memcpy(out + 12, "REFL", 4);
  // A reference time of 0 reads as "never synchronised" to some clients.
  proto::store_be64(out + 16, now_ntp);
  std::memcpy(out + 24, request.data() + 40, 8);  // origin = the client's transmit
  proto::store_be64(out + 32, now_ntp);
  proto::store_be64(out + 40, now_ntp);
  return true;
}

namespace {

// The reflector's responder: reflect_packet() into the lent buffer, the
// transmit stamp at finish() as ntsd's own. With `echo`, the request's bytes
// after the header follow (the lent buffer is request-sized, as ntsd's is).
class ReflectResponder final : public server::Responder {
 public:
  explicit ReflectResponder(bool echo) : echo_(echo) {}
  void prepare(std::span<const server::Request> requests, std::span<server::Reply> replies) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      server::Reply& reply = replies[i];
      const std::span<const uint8_t> request = requests[i].bytes;
      if (reply.buffer.size() < kReflectReplySize ||
          !reflect_packet(request, requests[i].rx_time.raw, reply.buffer.first<kReflectReplySize>())) {
        reply.verdict = server::Verdict::drop(server::DropReason::kTooShort);
        continue;
      }
      size_t length = kReflectReplySize;
      if (echo_ && request.size() > kReflectReplySize && reply.buffer.size() >= request.size()) {
        std::memcpy(reply.buffer.data() + kReflectReplySize, request.data() + kReflectReplySize,
                    request.size() - kReflectReplySize);
        length = request.size();
      }
      reply.verdict = server::Verdict::reply(length);
    }
  }
  void finish(proto::NtpTimestamp tx_time, std::span<server::Reply> replies) override {
    for (server::Reply& reply : replies) {
      if (reply.verdict.is_reply()) proto::store_be64(reply.buffer.data() + 40, tx_time.raw);
    }
  }

 private:
  bool echo_;
};

}  // namespace

std::unique_ptr<Reflector> Reflector::open(const ReflectorOptions& options, std::string* error) {
  server::Endpoint endpoint;
  if (!server::Endpoint::parse(options.address, &endpoint)) {
    *error = "not an IP address: " + options.address;
    return nullptr;
  }
  endpoint.set_port(options.port);
  std::unique_ptr<Reflector> reflector(new Reflector());
  // Same socket options as a worker's (SO_REUSEPORT, SO_TIMESTAMPNS, buffer
  // size), so the kernel does the same work per datagram.
  reflector->fd_ = server::open_reuseport_socket(endpoint, error);
  if (reflector->fd_ < 0) return nullptr;
  reflector->port_ = server::bound_port(reflector->fd_);
  endpoint.set_port(reflector->port_);
  reflector->endpoint_ = endpoint.to_string();
  reflector->backend_ = options.io;
  reflector->coalesce_ = options.coalesce;
  reflector->echo_ = options.echo;
  return reflector;
}

Reflector::~Reflector() {
  worker_.reset();  // the backend does not own the socket but may still reference it
  if (fd_ >= 0) close(fd_);
}

std::string Reflector::endpoint() const { return endpoint_; }

uint16_t Reflector::port() const { return port_; }

const char* Reflector::io_name() const {
  return backend_ == server::IoBackend::kMmsg ? "recvmmsg/sendmmsg" : "io_uring";
}

ReflectorCounts Reflector::run(const std::atomic<bool>& stop, int seconds) {
  ReflectorCounts counts;
  // The backend is made and started here, on the thread that serves (as a
  // ntsd worker's is), not in open(): io_uring allows one submitting thread.
  std::string fallback;
  const int sockets[] = {fd_};
  auto io = server::open_packet_io(backend_, sockets, coalesce_, &counts.error, &fallback);
  if (io == nullptr) return counts;
  server::WorkerOptions worker_options;
  worker_options.clock = &clock_;
  worker_ = std::make_unique<server::Worker>(std::move(io), std::make_unique<ReflectResponder>(echo_), worker_options,
                                             counters_);
  // CLOCK_MONOTONIC_COARSE: a vDSO read without rdtsc, cheap enough per round.
  const int64_t deadline =
      seconds > 0 ? clock_ns(CLOCK_MONOTONIC_COARSE) + int64_t{seconds} * 1'000'000'000 : 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if (deadline != 0 && clock_ns(CLOCK_MONOTONIC_COARSE) >= deadline) break;
    // 100 ms: the longest a stop request waits, as in Worker::run.
    worker_->run_once(100);
  }
  server::CounterTotals totals;
  totals.add(counters_);
  counts.received = totals.received;
  counts.replied = totals.replied;
  counts.dropped = totals.dropped_total();
  counts.send_errors = totals.send_errors;
  return counts;
}

}  // namespace ntsd::bench
