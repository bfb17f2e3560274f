// uring_probe PID: for every io_uring instance PID holds, takes a copy of the
// ring's descriptor (pidfd_getfd; needs CAP_SYS_PTRACE, i.e. root, as the
// target is not dumpable) and asks the kernel for IORING_REGISTER_PROBE.
// ntsd's rings refuse: EEXIST (IORING_SETUP_SINGLE_ISSUER: only the worker
// thread may register, checked first) or EACCES (restricted with no register
// opcode allowed; uring_restrictions_test shows that from the worker's side).
// Prints one line per ring; exit 0 when every ring (at least one) refused, 1
// otherwise, 2 on a usage or system error.
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: uring_probe PID\n");
    return 2;
  }
  const int pid = std::atoi(argv[1]);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    std::fprintf(stderr, "pidfd_open %d: %s\n", pid, std::strerror(errno));
    return 2;
  }
  int rings = 0, refused = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::string(argv[1]) + "/fd", ec)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (ec || target != "anon_inode:[io_uring]") continue;
    const int remote = std::atoi(entry.path().filename().c_str());
    const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, remote, 0));
    if (fd < 0) {
      std::fprintf(stderr, "pidfd_getfd %d: %s\n", remote, std::strerror(errno));
      return 2;
    }
    std::vector<unsigned char> probe(sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op), 0);
    const long ret = syscall(SYS_io_uring_register, fd, IORING_REGISTER_PROBE, probe.data(), 256);
    const int err = ret < 0 ? errno : 0;
    ++rings;
    if (err == EACCES || err == EEXIST) ++refused;
    std::printf("ring fd %d: IORING_REGISTER_PROBE -> %s\n", remote, ret < 0 ? strerrorname_np(err) : "allowed");
    close(fd);
  }
  close(pidfd);
  std::printf("%d of %d rings refused\n", refused, rings);
  return rings > 0 && refused == rings ? 0 : 1;
}
