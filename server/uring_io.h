#pragma once
// io_uring backend: one multishot recvmsg per socket into a provided-buffer
// ring, replies sent with batched SEND-with-address SQEs (SENDMSG before
// kernel 6.0); one io_uring_enter per batch.
#include <memory>
#include <span>
#include <string>

#include "server/packet_io.h"

namespace ntsd::server {

std::unique_ptr<PacketIo> make_uring_io(std::span<const int> sockets, const CoalesceOptions& coalesce,
                                        std::string* error);

}  // namespace ntsd::server
