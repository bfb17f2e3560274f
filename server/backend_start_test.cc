// A Server whose I/O backend cannot run fails Server::start with the reason,
// instead of starting workers that spin on a dead ring. io_uring is made to
// fail for real: a seccomp filter (as a container runtime installs) makes the
// io_uring system calls return EPERM. A filter cannot be removed, so each
// case runs in a child process (a gtest death test).
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <vector>

#include "proto/ntp_packet.h"
#include "server/backend_probe.h"
#include "server/server.h"
#include "testing/udp_test_client.h"

namespace ntsd::server {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kAuditArch = 0;
#endif

// Makes the given system calls fail with EPERM in this thread and every
// thread it starts from now on.
void deny_syscalls(std::initializer_list<long> numbers) {
  std::vector<sock_filter> program = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
  };
  for (long nr : numbers) {
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  }
  program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
    std::perror("seccomp");
    std::_Exit(3);
  }
}

class BackendStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kAuditArch == 0) GTEST_SKIP() << "no seccomp architecture constant for this CPU";
    // Without the filter io_uring must work here, or the cases prove nothing.
    std::string error;
    auto server = start(IoBackend::kUring, &error);
    if (server == nullptr) GTEST_SKIP() << "io_uring unavailable even without a filter: " << error;
  }

  std::unique_ptr<Server> start(IoBackend backend, std::string* error) {
    ServerOptions options;
    Endpoint v4;
    Endpoint::parse("127.0.0.1", &v4);
    options.listen = {v4};
    options.port = 0;
    options.workers = 2;
    options.backend = backend;
    return Server::start(options, state_, clock_, error);
  }

  // In the child: Server::start under the filter; prints what happened and
  // exits 0 if it failed, 1 if it started.
  [[noreturn]] void start_and_report(IoBackend backend) {
    std::string error;
    auto server = start(backend, &error);
    std::fprintf(stderr, "Server::start: %s\n", server == nullptr ? error.c_str() : server->backend_name());
    std::fflush(stderr);
    std::_Exit(server == nullptr ? 0 : 1);
  }

  // Automatic choice under the same filters: recvmmsg/sendmmsg, and it serves,
  // whether the ring cannot be made or is made but cannot be entered.
  [[noreturn]] void start_auto_and_serve() {
    std::string error;
    auto server = start(IoBackend::kAuto, &error);
    if (server == nullptr) {
      std::fprintf(stderr, "Server::start failed: %s\n", error.c_str());
      std::_Exit(1);
    }
    ntsd::testing::UdpTestClient client;
    std::vector<uint8_t> request(48, 0);
    request[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
    request[47] = 7;
    const bool answered = client.send_to(server->port(), request) && client.receive().size() == 48;
    std::fprintf(stderr, "backend %s, answered %d, fallback: %s\n", server->backend_name(), answered,
                 server->fallback_reason().c_str());
    std::fflush(stderr);
    server->stop();
    std::_Exit(answered ? 0 : 1);
  }

  ServerStateCell state_{local_reference_state()};
  clock::SimulatedClock clock_{int64_t{1'900'000'000} * 1'000'000'000};
};

// Docker's default profile: no io_uring system call at all. The ring cannot
// even be made; with io_uring demanded, start fails and says why.
TEST_F(BackendStartTest, io_uring_denied_fails_start_naming_the_call) {
  EXPECT_EXIT(
      {
        deny_syscalls({__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register});
        start_and_report(IoBackend::kUring);
      },
      ::testing::ExitedWithCode(0), "Server::start: worker [01]: io_uring_queue_init: Operation not permitted");
}

// The ring is made and restricted, but io_uring_enter is refused: the
// backend exists and cannot start (PacketIo::start), and the whole start fails.
TEST_F(BackendStartTest, a_ring_that_cannot_be_entered_fails_start) {
  EXPECT_EXIT(
      {
        deny_syscalls({__NR_io_uring_enter});
        start_and_report(IoBackend::kUring);
      },
      ::testing::ExitedWithCode(0), "Server::start: worker [01]: io_uring_submit: Operation not permitted");
}

TEST_F(BackendStartTest, io_uring_denied_falls_back_to_mmsg_when_chosen_automatically) {
  EXPECT_EXIT(
      {
        deny_syscalls({__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register});
        start_auto_and_serve();
      },
      ::testing::ExitedWithCode(0), "backend mmsg, answered 1, fallback: io_uring_queue_init: Operation not permitted");
}

TEST_F(BackendStartTest, a_ring_that_cannot_be_entered_falls_back_to_mmsg_when_chosen_automatically) {
  EXPECT_EXIT(
      {
        deny_syscalls({__NR_io_uring_enter});
        start_auto_and_serve();
      },
      ::testing::ExitedWithCode(0), "backend mmsg, answered 1, fallback: io_uring_submit: Operation not permitted");
}

// --io-backend auto by measurement (server/backend_probe.h): both backends
// serve a loopback load and the decision follows the figures and the margin.
TEST_F(BackendStartTest, auto_measures_both_backends_and_follows_the_figures) {
  const BackendMeasurement m = measure_backends();
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.uring_unavailable, "");
  std::printf("probe: %s\n", m.summary().c_str());
  // Loopback receive + send of one datagram costs microseconds, not
  // nanoseconds (nothing was measured) nor milliseconds (waits were counted).
  EXPECT_GT(m.uring_ns, 300.0);
  EXPECT_LT(m.uring_ns, 200'000.0);
  EXPECT_GT(m.mmsg_ns, 300.0);
  EXPECT_LT(m.mmsg_ns, 200'000.0);
  const BackendProbeOptions defaults;
  EXPECT_EQ(m.chosen, m.mmsg_ns < m.uring_ns * (1 - defaults.margin) ? IoBackend::kMmsg : IoBackend::kUring);
  // The margin decides near-ties: a margin no measurement can clear keeps
  // io_uring; a negative one (recvmmsg preferred even when dearer) picks it.
  BackendProbeOptions options;
  options.rounds = 1;
  options.batches = 8;
  options.margin = 0.99;
  EXPECT_EQ(measure_backends(options).chosen, IoBackend::kUring);
  options.margin = -100;
  EXPECT_EQ(measure_backends(options).chosen, IoBackend::kMmsg);
}

TEST_F(BackendStartTest, auto_measures_recvmmsg_alone_when_io_uring_is_denied) {
  EXPECT_EXIT(
      {
        deny_syscalls({__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register});
        const BackendMeasurement m = measure_backends();
        std::fprintf(stderr, "chosen %s, mmsg %d, uring %d: %s\n", m.chosen == IoBackend::kMmsg ? "mmsg" : "other",
                     m.mmsg_ns > 0, m.uring_ns > 0, m.summary().c_str());
        std::fflush(stderr);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0),
      "chosen mmsg, mmsg 1, uring 0: recvmmsg/sendmmsg [0-9.]+ µs per datagram; io_uring unavailable "
      "\\(io_uring_queue_init: Operation not permitted\\)");
}

}  // namespace
}  // namespace ntsd::server
