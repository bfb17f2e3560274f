#include "server/backend_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "server/udp_socket.h"

namespace ntsd::server {
namespace {

constexpr int kWarmupBatches = 4;
constexpr size_t kMaxBatch = 64;

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A backend under test: its own server socket, a client socket connected to
// it, and the started backend.
struct Subject {
  int server_fd = -1;
  int client_fd = -1;
  std::unique_ptr<PacketIo> io;
  std::vector<double> rounds;  // ns per datagram

  ~Subject() {
    io.reset();  // it may still reference the socket
    if (server_fd >= 0) close(server_fd);
    if (client_fd >= 0) close(client_fd);
  }

  bool open(IoBackend backend, const CoalesceOptions& coalesce, std::string* error) {
    Endpoint loopback;
    Endpoint::parse("127.0.0.1", &loopback);
    loopback.set_port(0);
    // The workers' own socket options (timestamps, buffer sizes), so the
    // kernel does the same work per datagram.
    server_fd = open_reuseport_socket(loopback, error);
    if (server_fd < 0) return false;
    client_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(bound_port(server_fd));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (client_fd < 0 || connect(client_fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      *error = std::string("probe client socket: ") + std::strerror(errno);
      return false;
    }
    const int sockets[] = {server_fd};
    std::string unused;
    io = open_packet_io(backend, sockets, coalesce, error, &unused);
    return io != nullptr;
  }

  // One round; false with `error` if datagrams went missing.
  bool round(const BackendProbeOptions& options, std::string* error) {
    const size_t batch = std::min(options.batch, kMaxBatch);
    std::vector<uint8_t> payload(options.payload, 0);
    payload[0] = 0x23;  // NTPv4 client request, as a worker would see it
    std::array<iovec, kMaxBatch> iov;
    std::array<mmsghdr, kMaxBatch> out{};
    for (size_t i = 0; i < batch; ++i) {
      iov[i] = {payload.data(), payload.size()};
      out[i].msg_hdr.msg_iov = &iov[i];
      out[i].msg_hdr.msg_iovlen = 1;
    }
    std::vector<uint8_t> sink(kMaxBatch * 2048);
    std::array<iovec, kMaxBatch> sink_iov;
    std::array<mmsghdr, kMaxBatch> in{};
    std::array<RxPacket, kMaxBatch> rx;
    std::array<std::span<uint8_t>, kMaxBatch> lent;
    std::array<TxPacket, kMaxBatch> tx;
    int64_t spent = 0;
    size_t counted = 0;
    for (int b = 0; b < kWarmupBatches + options.batches; ++b) {
      if (sendmmsg(client_fd, out.data(), static_cast<unsigned>(batch), 0) != static_cast<int>(batch)) {
        *error = std::string("probe sendmmsg: ") + std::strerror(errno);
        return false;
      }
      const int64_t start = thread_cpu_ns();
      size_t answered = 0;
      while (answered < batch) {
        const size_t n = io->receive_batch(std::span(rx.data(), batch), 100);
        if (n == 0) {
          *error = "probe: " + std::to_string(batch - answered) + " loopback datagrams not received in 100 ms";
          return false;
        }
        io->lend_send_buffers(std::span(lent.data(), n));
        for (size_t i = 0; i < n; ++i) {
          const size_t size = std::min(rx[i].payload.size(), lent[i].size());
          std::memcpy(lent[i].data(), rx[i].payload.data(), size);
          tx[i] = {lent[i].first(size), rx[i].peer, rx[i].peer_len, rx[i].socket_index, static_cast<uint16_t>(i)};
        }
        io->send_batch(std::span(tx.data(), n));
        answered += n;
      }
      if (b >= kWarmupBatches) {
        spent += thread_cpu_ns() - start;
        counted += answered;
      }
      // The client takes whatever replies have arrived (io_uring sends a
      // batch's replies with its next wait), so its buffer never fills.
      for (size_t i = 0; i < batch; ++i) {
        sink_iov[i] = {sink.data() + i * 2048, 2048};
        in[i].msg_hdr = {};
        in[i].msg_hdr.msg_iov = &sink_iov[i];
        in[i].msg_hdr.msg_iovlen = 1;
      }
      while (recvmmsg(client_fd, in.data(), static_cast<unsigned>(batch), MSG_DONTWAIT, nullptr) > 0) {
      }
    }
    rounds.push_back(static_cast<double>(spent) / static_cast<double>(counted));
    return true;
  }

  double median() {
    std::sort(rounds.begin(), rounds.end());
    return rounds[rounds.size() / 2];
  }
};

}  // namespace

BackendMeasurement measure_backends(const BackendProbeOptions& options) {
  BackendMeasurement m;
  if (options.rounds < 1 || options.batches < 1 || options.batch < 1 || options.payload < 48) {
    m.error = "probe options out of range";
    return m;
  }
  Subject uring;
  Subject mmsg;
  if (!mmsg.open(IoBackend::kMmsg, options.coalesce, &m.error)) return m;
  std::string why;
  const bool uring_runs = uring.open(IoBackend::kUring, options.coalesce, &why);
  if (!uring_runs) m.uring_unavailable = why;
  for (int r = 0; r < options.rounds; ++r) {
    if (uring_runs && !uring.round(options, &m.error)) return m;
    if (!mmsg.round(options, &m.error)) return m;
  }
  m.mmsg_ns = mmsg.median();
  if (!uring_runs) {
    m.chosen = IoBackend::kMmsg;
    return m;
  }
  m.uring_ns = uring.median();
  m.chosen = m.mmsg_ns < m.uring_ns * (1.0 - options.margin) ? IoBackend::kMmsg : IoBackend::kUring;
  return m;
}

std::string BackendMeasurement::summary() const {
  char line[256];
  if (!error.empty()) {
    std::snprintf(line, sizeof line, "not measured (%s); io_uring if it runs, else recvmmsg/sendmmsg",
                  error.c_str());
  } else if (!uring_unavailable.empty()) {
    std::snprintf(line, sizeof line, "recvmmsg/sendmmsg %.2f µs per datagram; io_uring unavailable (%s)",
                  mmsg_ns / 1000, uring_unavailable.c_str());
  } else {
    std::snprintf(line, sizeof line, "io_uring %.2f µs, recvmmsg/sendmmsg %.2f µs per datagram -> %s",
                  uring_ns / 1000, mmsg_ns / 1000, chosen == IoBackend::kMmsg ? "recvmmsg/sendmmsg" : "io_uring");
  }
  return line;
}

}  // namespace ntsd::server
