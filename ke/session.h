#pragma once
// Internal to ke/: one NTS-KE connection (see session.cc for its deadlines).

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "ke/conn_table.h"
#include "ke/request_reader.h"
#include "ke/server_impl.h"
#include "proto/ke_record.h"

namespace ntsd::ke {

// Driven on the io_context (one thread) that owns its socket, so its handlers
// never run concurrently and need no strand. Handlers hold shared_ptrs; the
// session ends when the last one has run, and then leaves the table.
class Session : public Evictable, public std::enable_shared_from_this<Session> {
 public:
  Session(KeServer::Impl& server, size_t io_index, tcp::socket socket);
  ~Session() override;

  ConnectionSlot& slot() { return slot_; }
  // Admitted: arm the first-byte deadline and wait for the ClientHello.
  void start();
  // Refused before start(): reset at once.
  void refuse();
  // From any thread: close soon (on the session's own thread), without counting a failure.
  void evict() override;

 private:
  enum class Phase : uint8_t { kFirstByte, kHandshake, kRequest, kDone };
  tcp::socket& socket() { return stream_ ? stream_->next_layer() : socket_; }
  void arm(std::chrono::milliseconds after_accept);
  void on_deadline();
  void on_first_byte(const error_code& ec);
  void on_handshake(const error_code& ec);
  void read();
  void on_read(const error_code& ec, size_t n);
  void respond_to(const proto::KeRequest& request);
  void write();
  void reset();
  void finish(bool rst);

  KeServer::Impl& server_;
  size_t io_index_;
  ConnectionSlot slot_;
  std::chrono::steady_clock::time_point accepted_;
  tcp::socket socket_;                              // until the first byte
  std::shared_ptr<ssl::context> ctx_;               // taken at accept; kept across reloads
  std::optional<ssl::stream<tcp::socket>> stream_;  // from the first byte on (TLS buffers ~34 KB)
  asio::steady_timer timer_;
  std::unique_ptr<RequestReader> reader_;  // after TLS
  std::vector<uint8_t> reply_;
  Phase phase_ = Phase::kFirstByte;
  bool timed_out_ = false;
  bool evicted_ = false;
};

}  // namespace ntsd::ke
