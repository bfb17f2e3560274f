#include "ke/session.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "ke/tls_context.h"

namespace ntsd::ke {

// Three deadlines, all counted from accept:
//   first byte (1 s):  a real client sends its ClientHello right after the TCP
//                      handshake; an idle connection is reset here;
//   handshake (2 s):   TLS 1.3 needs one more round trip after the
//                      ClientHello; a connection trickling bytes is reset here
//                      (chrony's whole NTS-KE server session timeout is 2 s);
//   session (5 s):     request, response and close_notify.
// Until the first byte the session holds only a TCP socket and a timer: the
// TLS stream (OpenSSL state plus Asio's two 17 KB record buffers) and the
// request buffer are made when they are needed, so an idle connection costs
// a few hundred bytes besides the kernel's socket.
Session::Session(KeServer::Impl& server, size_t io_index, tcp::socket socket)
    : server_(server),
      io_index_(io_index),
      accepted_(std::chrono::steady_clock::now()),
      socket_(std::move(socket)),
      ctx_(server
               .context()),  // in-flight sessions keep the context they started with across reloads
      timer_(socket_.get_executor()) {}

Session::~Session() { server_.table.release(slot_); }

void Session::start() {
  // The reply and close_notify are two small writes; Nagle would hold the
  // second for the client's delayed ACK (40 ms).
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  arm(server_.opts.first_byte_deadline);
  auto self = shared_from_this();
  socket_.async_wait(tcp::socket::wait_read,
                     [self](const error_code& ec) { self->on_first_byte(ec); });
}

void Session::refuse() { reset(); }

void Session::evict() {
  auto self = shared_from_this();
  asio::post(timer_.get_executor(), [self] {
    if (self->phase_ == Phase::kDone) return;
    self->evicted_ = true;  // counted by the accept loop; no failure counter
    self->finish(true);
  });
}

void Session::arm(std::chrono::milliseconds after_accept) {
  const auto limit =
      std::min(after_accept, server_.opts.deadline);  // the session deadline bounds every phase
  timer_.expires_at(accepted_ + limit);
  auto self = shared_from_this();
  timer_.async_wait([self](const error_code& ec) {
    if (!ec) self->on_deadline();
  });
}

void Session::on_deadline() {
  if (phase_ == Phase::kDone) return;
  timed_out_ = true;
  // Before TLS is done the peer has shown nothing worth a graceful close: reset,
  // so the socket and its kernel memory are freed at once (no TIME_WAIT).
  if (phase_ == Phase::kFirstByte || phase_ == Phase::kHandshake) return finish(true);
  error_code ignored;
  socket().close(ignored);  // pending operations complete with operation_aborted
}

void Session::on_first_byte(const error_code& ec) {
  if (ec || phase_ == Phase::kDone) {
    if (timed_out_) server_.count(kFirstByteTimeout);
    return finish(false);
  }
  phase_ = Phase::kHandshake;
  stream_.emplace(std::move(socket_), *ctx_);
  arm(server_.opts.handshake_deadline);
  auto self = shared_from_this();
  stream_->async_handshake(ssl::stream_base::server,
                           [self](const error_code& e) { self->on_handshake(e); });
}

void Session::on_handshake(const error_code& ec) {
  SSL* ssl = stream_->native_handle();
  if (ec || phase_ == Phase::kDone) {
    if (!evicted_) {
      server_.count(timed_out_              ? kHandshakeTimeout
                    : tls_alpn_refused(ssl) ? kHandshakeAlpn
                                            : kHandshakeTls);
    }
    return finish(false);
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn_len == 0) {
    // No ALPN at all: RFC 8915 requires ntske/1, so like chrony we answer nothing.
    server_.count(kHandshakeAlpn);
    return finish(false);
  }
  // Evicted in the instant between the handshake's last byte and here: the
  // eviction is already on its way.
  if (!server_.table.established(slot_)) return finish(false);
  server_.count(kHandshakesOk);
  server_.count(SSL_version(ssl) == TLS1_3_VERSION ? kTls13 : kTls12);
  phase_ = Phase::kRequest;
  arm(server_.opts.deadline);
  reader_ = std::make_unique<RequestReader>();
  read();
}

void Session::read() {
  auto self = shared_from_this();
  const std::span<uint8_t> space = reader_->space();
  stream_->async_read_some(asio::buffer(space.data(), space.size()),
                           [self](const error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Session::on_read(const error_code& ec, size_t n) {
  if (ec && n == 0) {
    server_.count(timed_out_ ? kRequestTimeout : kRequestTruncated);
    return finish(false);
  }
  const proto::KeRequestParse parse = reader_->add(n);
  if (parse.status == proto::KeRequestStatus::kIncomplete) {
    if (ec) {
      server_.count(timed_out_ ? kRequestTimeout : kRequestTruncated);
      return finish(false);
    }
    return read();
  }
  if (parse.status != proto::KeRequestStatus::kOk) {
    server_.request_errors[static_cast<size_t>(parse.status)].fetch_add(1,
                                                                        std::memory_order_relaxed);
    reply_ = error_reply(proto::ke_error_code_for(parse.status));
    return write();
  }
  respond_to(parse.request);
}

void Session::respond_to(const proto::KeRequest& request) {
  SSL* ssl = stream_->native_handle();
  const Exporter exporter = [ssl](std::span<const uint8_t> context, std::span<uint8_t> out) {
    return SSL_export_keying_material(ssl, out.data(), out.size(), kExporterLabel,
                                      std::strlen(kExporterLabel), context.data(), context.size(),
                                      1) == 1;
  };
  // QSBR: this thread is offline except while it holds the snapshot here.
  const auto reader = server_.readers[io_index_];
  server_.keys.online(reader);
  const crypto::KeySnapshot* snapshot = server_.keys.load();
  KeReply r = respond(request, server_.policy, exporter, *snapshot,
                      server_.next_server.fetch_add(1, std::memory_order_relaxed));
  snapshot = nullptr;
  server_.keys.offline(reader);

  switch (r.outcome) {
    case KeOutcome::kCookies:
      server_.count(kRespCookies);
      server_.count(kCookiesIssued, r.cookies);
      server_.count(r.aead == 15   ? kAead15
                    : r.aead == 16 ? kAead16
                    : r.aead == 17 ? kAead17
                                   : kAead30);
      break;
    case KeOutcome::kNoCommonProtocol:
      server_.count(kRespNoProtocol);
      break;
    case KeOutcome::kNoCommonAead:
      server_.count(kRespNoAead);
      break;
    case KeOutcome::kInternalError:
      server_.count(kRespInternal);
      break;
  }
  reply_ = std::move(r.bytes);
  write();
}

void Session::write() {
  auto self = shared_from_this();
  asio::async_write(*stream_, asio::buffer(reply_), [self](const error_code& ec, size_t) {
    if (ec) return self->finish(false);
    // close_notify, then wait for the client's (chrony sends it) so the
    // reply is never cut off by a reset; the deadline bounds the wait.
    self->stream_->async_shutdown([self](const error_code&) { self->finish(false); });
  });
}

// RST: the slot and the kernel's memory are free at once, and the peer sees a
// refusal, not a hang.
void Session::reset() {
  error_code ignored;
  socket().set_option(asio::socket_base::linger(true, 0), ignored);
  socket().close(ignored);
}

// Graceful close after TLS has begun (a TLS alert may still be on its way
// out); a reset for refusals, evictions and connections that never finished TLS.
void Session::finish(bool rst) {
  phase_ = Phase::kDone;
  timer_.cancel();
  if (rst) return reset();
  error_code ignored;
  socket().close(ignored);
}

}  // namespace ntsd::ke
