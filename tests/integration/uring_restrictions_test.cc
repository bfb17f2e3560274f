// The io_uring backend's rings are restricted (IORING_REGISTER_RESTRICTIONS,
// issue 12): once enabled by the thread that runs them, no io_uring_register
// opcode is allowed (EACCES), and the ring still receives and sends.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <array>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "server/packet_io.h"
#include "server/uring_io.h"

namespace {

std::vector<int> io_uring_fds() {
  std::vector<int> fds;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    if (std::filesystem::read_symlink(entry.path(), ec).string() == "anon_inode:[io_uring]") {
      fds.push_back(std::stoi(entry.path().filename().string()));
    }
  }
  return fds;
}

TEST(UringRestrictionsTest, EnabledRingRefusesEveryRegisterOpcodeAndStillWorks) {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  const std::vector<int> before = io_uring_fds();
  std::string error;
  const int sockets[] = {sock};
  auto io = ntsd::server::make_uring_io(sockets, ntsd::server::CoalesceOptions{}, &error);
  if (io == nullptr) GTEST_SKIP() << "no io_uring here: " << error;
  ASSERT_TRUE(io->start(&error)) << error;  // enables the ring on this thread
  std::vector<int> rings;
  for (int fd : io_uring_fds()) {
    if (std::find(before.begin(), before.end(), fd) == before.end()) rings.push_back(fd);
  }
  ASSERT_EQ(rings.size(), 1u);

  // A datagram in.
  const int client = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char ping[] = "ping";
  ASSERT_EQ(::sendto(client, ping, 4, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 4);
  std::array<ntsd::server::RxPacket, 8> packets{};
  size_t got = 0;
  for (int i = 0; i < 20 && got == 0; ++i) got = io->receive_batch(packets, 100);
  ASSERT_EQ(got, 1u);
  EXPECT_EQ(packets[0].payload.size(), 4u);

  // Every register opcode is refused now, even a harmless probe.
  std::vector<unsigned char> probe(sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op), 0);
  errno = 0;
  EXPECT_LT(::syscall(SYS_io_uring_register, rings[0], IORING_REGISTER_PROBE, probe.data(), 256), 0);
  EXPECT_EQ(errno, EACCES);
  errno = 0;
  EXPECT_LT(::syscall(SYS_io_uring_register, rings[0], IORING_REGISTER_ENABLE_RINGS, nullptr, 0), 0);
  EXPECT_NE(errno, 0);

  // ... and the allowed opcodes (RECVMSG with buffer select; SEND with an
  // address, or SENDMSG before kernel 6.0) still run.
  std::span<uint8_t> lent[1];
  io->lend_send_buffers(lent);
  std::memcpy(lent[0].data(), packets[0].payload.data(), 4);
  const ntsd::server::TxPacket reply{lent[0].first(4), packets[0].peer, packets[0].peer_len, 0, 0};
  io->send_batch(std::span<const ntsd::server::TxPacket>(&reply, 1));
  io->release_batch();
  io->receive_batch(packets, 10);  // submits the send with its wait
  char echo[16];
  timeval timeout{2, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  EXPECT_EQ(::recv(client, echo, sizeof echo, 0), 4);
  EXPECT_EQ(io->take_send_errors(), 0u);
  ::close(client);
  io.reset();
  ::close(sock);
}

}  // namespace
