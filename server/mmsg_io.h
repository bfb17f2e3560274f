#pragma once
// recvmmsg/sendmmsg backend, for where io_uring is unavailable (container
// seccomp profiles) or chosen with --io-backend mmsg. epoll waits on the sockets.
#include <memory>
#include <span>
#include <string>

#include "server/packet_io.h"

namespace ntsd::server {

std::unique_ptr<PacketIo> make_mmsg_io(std::span<const int> sockets, const CoalesceOptions& coalesce,
                                       std::string* error);

}  // namespace ntsd::server
