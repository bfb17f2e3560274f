#pragma once
// Reads the SO_TIMESTAMPNS control message of a received datagram.
#include <sys/socket.h>

#include <cstdint>

namespace ntsd::server {

// Unix nanoseconds if `c` is an SCM_TIMESTAMPNS message, else 0.
int64_t timestamp_from_cmsg(const cmsghdr* c);

// Unix nanoseconds from the first SCM_TIMESTAMPNS of a recvmsg() result, or 0.
int64_t rx_timestamp_ns(msghdr* msg);

}  // namespace ntsd::server
