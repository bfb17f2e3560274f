// A small closed-loop plain-NTP load generator for comparing ntsd's I/O
// backends end to end (ntsbench, with NTS and latency percentiles, is
// issue 6). Loopback only; bounded by --seconds.
//   plain_load --port P [--seconds S] [--window W] [--server-pid PID]
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

double process_cpu_seconds(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return 0;
  char state;
  unsigned long utime = 0, stime = 0;
  // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt
  // cminflt majflt cmajflt utime stime.
  std::sscanf(line.c_str() + close_paren + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
              &state, &utime, &stime);
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, seconds = 5, window = 256, server_pid = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--port") port = value;
    else if (flag == "--seconds") seconds = value;
    else if (flag == "--window") window = value;
    else if (flag == "--server-pid") server_pid = value;
  }
  if (port <= 0 || seconds <= 0 || seconds > 600 || window <= 0 || window > 4096) {
    std::fprintf(stderr, "usage: plain_load --port P [--seconds 1..600] [--window 1..4096] [--server-pid PID]\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server));
  const int buffer = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));

  constexpr int kBatch = 32;
  std::vector<uint8_t> request(48, 0);
  request[0] = 0x23;  // v4, client
  std::vector<std::vector<uint8_t>> replies(kBatch, std::vector<uint8_t>(64));
  std::vector<iovec> tx_iov(kBatch), rx_iov(kBatch);
  std::vector<mmsghdr> tx(kBatch), rx(kBatch);
  uint64_t sent = 0, received = 0, bad = 0, counter = 1;

  const double cpu_before = server_pid ? process_cpu_seconds(server_pid) : 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    // Keep `window` requests outstanding; requests lost by the kernel are
    // written off after a quiet 100 ms.
    int to_send = static_cast<int>(std::min<uint64_t>(kBatch, window - (sent - received - bad)));
    if (to_send > 0) {
      std::vector<std::vector<uint8_t>> batch(to_send, request);
      for (int i = 0; i < to_send; ++i) {
        const uint64_t stamp = counter++;
        for (int b = 0; b < 8; ++b) batch[i][40 + b] = static_cast<uint8_t>(stamp >> (56 - 8 * b));
        tx_iov[i] = {batch[i].data(), batch[i].size()};
        tx[i] = {};
        tx[i].msg_hdr.msg_iov = &tx_iov[i];
        tx[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = sendmmsg(fd, tx.data(), to_send, 0);
      if (n > 0) sent += n;
    }
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) != 1) {
      bad = sent - received;  // the rest are lost
      continue;
    }
    for (int i = 0; i < kBatch; ++i) {
      rx_iov[i] = {replies[i].data(), replies[i].size()};
      rx[i] = {};
      rx[i].msg_hdr.msg_iov = &rx_iov[i];
      rx[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd, rx.data(), kBatch, MSG_DONTWAIT, nullptr);
    for (int i = 0; i < n; ++i) {
      if (rx[i].msg_len == 48 && (replies[i][0] & 7) == 4) ++received;
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = server_pid ? process_cpu_seconds(server_pid) - cpu_before : 0;
  std::printf("sent=%lu replies=%lu lost=%lu replies_per_s=%.0f", sent, received, bad,
              received / elapsed);
  if (server_pid) {
    std::printf(" server_cpu_s=%.2f replies_per_server_cpu_s=%.0f", cpu,
                cpu > 0 ? received / cpu : 0.0);
  }
  std::printf("\n");
  return 0;
}
