#pragma once
// UDP sockets for the workers: SO_REUSEPORT groups (one socket per worker per
// listen address), kernel receive timestamps, and the reuseport steering program.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace ntsd::server {

struct Endpoint {
  sockaddr_storage address{};  // family and address; the port is set separately
  socklen_t length = 0;

  static bool parse(const std::string& text, Endpoint* out);  // "127.0.0.1", "::1"
  std::string to_string() const;                               // "[::1]:123" / "127.0.0.1:123"
  int family() const { return address.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
};

// Opens a non-blocking UDP socket with SO_REUSEPORT and SO_TIMESTAMPNS, bound
// to `endpoint` (IPv6 sockets are v6-only). Returns -1 and sets `error`.
int open_reuseport_socket(const Endpoint& endpoint, std::string* error);

// The port a socket is bound to.
uint16_t bound_port(int fd);

// Attaches a classic BPF program to the reuseport group of `fd` that picks the
// socket by a hash of the client's source address (not the 4-tuple), so one
// client always reaches the same worker whatever source port it uses.
bool attach_source_address_steering(int fd, int family, uint32_t group_size, std::string* error);

// The group index the steering program picks for a source address; exposed so
// tests can predict which worker answers.
uint32_t steering_index(uint32_t address_word, uint32_t group_size);

}  // namespace ntsd::server
