#include "server/packet_io.h"

#include "server/mmsg_io.h"
#include "server/uring_io.h"

namespace ntsd::server {

std::unique_ptr<PacketIo> make_packet_io(IoBackend backend, std::span<const int> sockets,
                                         const CoalesceOptions& coalesce, std::string* error,
                                         std::string* fallback_reason) {
  if (backend == IoBackend::kMmsg) return make_mmsg_io(sockets, coalesce, error);
  std::string uring_error;
  auto io = make_uring_io(sockets, coalesce, &uring_error);
  if (io != nullptr || backend == IoBackend::kUring) {
    if (io == nullptr) *error = uring_error;
    return io;
  }
  // kAuto: io_uring is unavailable (old kernel, or a seccomp profile that
  // blocks it, as Docker's default does); serve with recvmmsg/sendmmsg.
  *fallback_reason = uring_error;
  return make_mmsg_io(sockets, coalesce, error);
}

}  // namespace ntsd::server
