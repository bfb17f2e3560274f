#include "server/packet_io.h"

#include "server/mmsg_io.h"
#include "server/uring_io.h"

namespace ntsd::server {
namespace {

std::unique_ptr<PacketIo> create_and_start(IoBackend backend, std::span<const int> sockets,
                                           const CoalesceOptions& coalesce, std::string* error) {
  std::unique_ptr<PacketIo> io = backend == IoBackend::kMmsg ? make_mmsg_io(sockets, coalesce, error)
                                                             : make_uring_io(sockets, coalesce, error);
  if (io == nullptr || !io->start(error)) return nullptr;
  return io;
}

}  // namespace

std::unique_ptr<PacketIo> open_packet_io(IoBackend backend, std::span<const int> sockets,
                                         const CoalesceOptions& coalesce, std::string* error,
                                         std::string* fallback_reason) {
  if (backend != IoBackend::kAuto) return create_and_start(backend, sockets, coalesce, error);
  std::string uring_error;
  if (auto io = create_and_start(IoBackend::kUring, sockets, coalesce, &uring_error)) return io;
  // io_uring cannot be made (old kernel, io_uring_setup blocked) or made but
  // not entered (a profile that allows io_uring_setup but not
  // io_uring_enter): serve with recvmmsg/sendmmsg, and say why.
  *fallback_reason = uring_error;
  return create_and_start(IoBackend::kMmsg, sockets, coalesce, error);
}

}  // namespace ntsd::server
