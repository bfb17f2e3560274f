#include "server/rx_timestamp.h"

#include <cstring>
#include <ctime>

namespace ntsd::server {

int64_t timestamp_from_cmsg(const cmsghdr* c) {
  if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
      c->cmsg_len < CMSG_LEN(sizeof(timespec))) {
    return 0;
  }
  timespec ts;
  std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t rx_timestamp_ns(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (const int64_t ns = timestamp_from_cmsg(c); ns != 0) return ns;
  }
  return 0;
}

}  // namespace ntsd::server
