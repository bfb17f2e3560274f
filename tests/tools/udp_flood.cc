// udp_flood: an attacker for the UDP flood test (tests/integration/udp_flood_test.sh).
// Sends, as fast as it can (or at --rate), from --sources loopback addresses
// 127.0.2.1.., a mix of:
//   garbage    random bytes of random length (0..600)
//   forged     well-formed NTS requests (UID, a random "cookie" of a real
//              cookie's length, a random authenticator): the server must open
//              the cookie to find out, and NAKs it
//   malformed  an NTP header followed by truncated or oversized extension
//              fields (lengths past the end, below 16, not a multiple of 4)
// for --seconds, then prints one JSON line with what it sent per kind.
// Loopback only: the target must be a 127.0.0.0/8 address.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proto/byte_order.h"
#include "proto/extension_field.h"
#include "proto/ntp_packet.h"

namespace {

namespace proto = ntsd::proto;

constexpr size_t kBatch = 64;
constexpr size_t kMaxPacket = 1200;

enum Kind { kGarbage, kForged, kMalformed, kKinds };
const char* kKindNames[kKinds] = {"garbage", "forged", "malformed"};

struct Options {
  uint16_t port = 0;
  int sources = 16;
  double seconds = 5;
  double rate = 0;  // datagrams/s in all; 0: as fast as possible
  bool kinds[kKinds] = {true, true, true};
};

void client_header(uint8_t* p, std::mt19937_64& rng) {
  std::memset(p, 0, proto::kNtpHeaderSize);
  p[0] = proto::li_vn_mode(proto::Leap::kNone, 4, proto::Mode::kClient);
  proto::store_be64(p + proto::kOffsetTransmit, rng() | 1);
}

size_t field(uint8_t* p, uint16_t type, size_t body, std::mt19937_64& rng) {
  proto::store_be16(p, type);
  proto::store_be16(p + 2, static_cast<uint16_t>(proto::kEfHeaderSize + body));
  for (size_t i = 0; i < body; ++i) p[proto::kEfHeaderSize + i] = static_cast<uint8_t>(rng());
  return proto::kEfHeaderSize + body;
}

size_t make(Kind kind, uint8_t* p, std::mt19937_64& rng) {
  switch (kind) {
    case kGarbage: {
      const size_t n = rng() % 601;
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng());
      return n;
    }
    case kForged: {
      client_header(p, rng);
      size_t at = proto::kNtpHeaderSize;
      at += field(p + at, proto::kEfUniqueIdentifier, 32, rng);
      at += field(p + at, proto::kEfNtsCookie, 100, rng);  // a real AES-SIV-CMAC-256 cookie's length
      // Authenticator: nonce length 16, ciphertext length 16, then both.
      proto::store_be16(p + at, proto::kEfNtsAuthenticator);
      proto::store_be16(p + at + 2, 40);
      proto::store_be16(p + at + 4, 16);
      proto::store_be16(p + at + 6, 16);
      for (size_t i = 0; i < 32; ++i) p[at + 8 + i] = static_cast<uint8_t>(rng());
      return at + 40;
    }
    case kMalformed: {
      client_header(p, rng);
      size_t at = proto::kNtpHeaderSize;
      const size_t body = 16 + rng() % 200;
      at += field(p + at, proto::kEfUniqueIdentifier, body, rng);
      switch (rng() % 4) {
        case 0:  // length past the end of the datagram
          proto::store_be16(p + proto::kNtpHeaderSize + 2, static_cast<uint16_t>(body + 400));
          break;
        case 1:  // length below the 16-byte minimum of RFC 7822
          proto::store_be16(p + proto::kNtpHeaderSize + 2, 8);
          break;
        case 2:  // not a multiple of 4
          proto::store_be16(p + proto::kNtpHeaderSize + 2, static_cast<uint16_t>(proto::kEfHeaderSize + body - 1));
          break;
        default:  // truncated: the datagram ends inside the field
          return at - 1 - rng() % 8;
      }
      return at;
    }
    case kKinds:
      break;
  }
  return 0;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--port" && (v = next())) {
      o.port = static_cast<uint16_t>(std::atoi(v));
    } else if (a == "--sources" && (v = next())) {
      o.sources = std::atoi(v);
    } else if (a == "--seconds" && (v = next())) {
      o.seconds = std::atof(v);
    } else if (a == "--rate" && (v = next())) {
      o.rate = std::atof(v);
    } else if (a == "--kinds" && (v = next())) {
      const std::string k = v;
      for (int j = 0; j < kKinds; ++j) o.kinds[j] = k.find(kKindNames[j]) != std::string::npos;
    } else {
      return false;
    }
  }
  return o.port != 0 && o.sources >= 1 && o.sources <= 250 && o.seconds > 0 && o.seconds <= 600;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: udp_flood --port N [--sources 1..250] [--seconds S<=600] [--rate R] "
                 "[--kinds garbage,forged,malformed]\n");
    return 2;
  }
  std::vector<int> fds;
  for (int s = 0; s < o.sources; ++s) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000200u + 1 + static_cast<uint32_t>(s));  // 127.0.2.(s+1)
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(o.port);
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      std::perror("udp_flood: socket");
      return 1;
    }
    fds.push_back(fd);
  }
  std::vector<Kind> kinds;
  for (int j = 0; j < kKinds; ++j) {
    if (o.kinds[j]) kinds.push_back(static_cast<Kind>(j));
  }
  if (kinds.empty()) return 2;

  std::mt19937_64 rng(12345);
  std::vector<std::array<uint8_t, kMaxPacket>> packets(kBatch);
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iovs{};
  std::array<Kind, kBatch> batch_kind{};
  uint64_t sent[kKinds] = {};
  uint64_t refused = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  uint64_t total = 0;
  size_t next_fd = 0, next_kind = 0;
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    if (o.rate > 0) {
      const double due = std::chrono::duration<double>(now - start).count() * o.rate;
      if (static_cast<double>(total) >= due) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
    }
    for (size_t i = 0; i < kBatch; ++i) {
      batch_kind[i] = kinds[next_kind++ % kinds.size()];
      iovs[i].iov_base = packets[i].data();
      iovs[i].iov_len = make(batch_kind[i], packets[i].data(), rng);
      msgs[i].msg_hdr = msghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int fd = fds[next_fd++ % fds.size()];
    const int n = ::sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n <= 0) {
      ++refused;  // ECONNREFUSED from an earlier ICMP, ENOBUFS: carry on
      continue;
    }
    for (int i = 0; i < n; ++i) ++sent[batch_kind[i]];
    total += static_cast<uint64_t>(n);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"seconds\":%.3f,\"sent\":%llu,\"rate\":%.0f,\"garbage\":%llu,\"forged\":%llu,\"malformed\":%llu,"
              "\"send_errors\":%llu}\n",
              elapsed, (unsigned long long)total, static_cast<double>(total) / elapsed,
              (unsigned long long)sent[kGarbage], (unsigned long long)sent[kForged],
              (unsigned long long)sent[kMalformed], (unsigned long long)refused);
  for (int fd : fds) ::close(fd);
  return 0;
}
