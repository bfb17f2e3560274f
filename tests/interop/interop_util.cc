#include "tests/interop/interop_util.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include "crypto/key_ring.h"

namespace ntsd::interop {

CommandResult run_command(const std::string& command, int timeout_seconds) {
  CommandResult r;
  const std::string full = "timeout -s KILL " + std::to_string(timeout_seconds) + " sh -c '" + command + "' 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

uint16_t free_port(int type) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::unique_ptr<crypto::KeyPublisher> test_keys() {
  const std::vector<uint8_t> seed(32, 0x42);
  crypto::KeyRing ring(seed);
  return std::make_unique<crypto::KeyPublisher>(ring.snapshot_at(std::time(nullptr)));
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ntsd::interop
