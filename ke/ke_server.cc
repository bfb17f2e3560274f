#include "ke/ke_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "ke/negotiate.h"
#include "proto/ke_record.h"
#include "third_party/asio.h"

namespace ntsd::ke {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

enum Counter : size_t {
  kAccepted,
  kRefusedCap,
  kRefusedRate,
  kHandshakesOk,
  kHandshakeTls,
  kHandshakeTimeout,
  kHandshakeAlpn,
  kTls13,
  kTls12,
  kRequestTimeout,
  kRequestTruncated,
  kRespCookies,
  kRespNoProtocol,
  kRespNoAead,
  kRespInternal,
  kCookiesIssued,
  kAead15,
  kAead16,
  kAead17,
  kAead30,
  kReloadsOk,
  kReloadsFailed,
  kCounterCount,
};

constexpr size_t kRequestErrorKinds = 10;
static_assert(static_cast<size_t>(proto::KeRequestStatus::kUnexpectedRecord) + 1 == kRequestErrorKinds);

int default_threads() {
  const unsigned cpus = std::thread::hardware_concurrency();
  return std::max(1, static_cast<int>(cpus / 4));
}

}  // namespace

class Session;

class KeServer::Impl {
 public:
  Impl(const KeOptions& options, crypto::KeyPublisher& keys)
      : opts(options), keys(keys), limiter(options.rate_limit) {}

  void count(Counter c, uint64_t n = 1) { counters[c].fetch_add(n, std::memory_order_relaxed); }
  void log(LogLevel level, const std::string& line) const {
    if (opts.log) opts.log(level, line);
  }
  std::shared_ptr<ssl::context> context() const {
    std::lock_guard lock(ctx_mu);
    return ctx;
  }

  bool init(std::string* error);
  bool listen(std::string* error);
  void accept(size_t a);
  void on_accept(size_t a, size_t k, const error_code& ec, tcp::socket socket);
  void schedule_poll();
  bool do_reload(std::string* error);
  void shutdown();

  KeOptions opts;
  crypto::KeyPublisher& keys;
  NegotiationPolicy policy;
  KeRateLimiter limiter;
  std::vector<std::string> warnings;
  uint16_t bound_port = 0;

  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::vector<crypto::SnapshotPublisherBase::ReaderId> readers;  // one per io_context (one thread each)
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;         // on ios[0]
  std::vector<std::unique_ptr<asio::steady_timer>> retry_timers;  // per acceptor, after accept errors
  std::unique_ptr<asio::steady_timer> poll_timer;                 // on ios[0]

  mutable std::mutex ctx_mu;
  std::shared_ptr<ssl::context> ctx;  // what new connections get
  std::mutex reload_mu;               // one reload at a time
  FileStamp cert_stamp, key_stamp;    // of the files ctx was built from (or last tried)

  std::atomic<size_t> next_io{0};
  std::atomic<size_t> next_server{0};
  std::atomic<uint64_t> active{0};
  std::array<std::atomic<uint64_t>, kCounterCount> counters{};
  std::array<std::atomic<uint64_t>, kRequestErrorKinds> request_errors{};
  bool stopped = false;
};

// One NTS-KE connection, driven on the io_context (one thread) that owns its
// socket, so its handlers never run concurrently and need no strand. The
// handlers hold shared_ptrs; the session ends when the last one has run.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(KeServer::Impl& server, size_t io_index, tcp::socket socket, std::shared_ptr<ssl::context> ctx)
      : server_(server),
        io_index_(io_index),
        ctx_(std::move(ctx)),  // in-flight sessions keep the context they started with across reloads
        stream_(std::move(socket), *ctx_),
        timer_(stream_.get_executor()) {}
  ~Session() { server_.active.fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    auto self = shared_from_this();
    timer_.expires_after(server_.opts.deadline);
    timer_.async_wait([self](const error_code& ec) {
      if (!ec) self->on_deadline();
    });
    stream_.async_handshake(ssl::stream_base::server, [self](const error_code& ec) { self->on_handshake(ec); });
  }

 private:
  void on_deadline() {
    if (done_) return;
    timed_out_ = true;
    close();  // pending operations complete with operation_aborted
  }

  void on_handshake(const error_code& ec) {
    SSL* ssl = stream_.native_handle();
    if (ec) {
      server_.count(timed_out_                   ? kHandshakeTimeout
                    : tls_alpn_refused(ssl) ? kHandshakeAlpn
                                                 : kHandshakeTls);
      return finish();
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len == 0) {
      // No ALPN at all: RFC 8915 requires ntske/1, so like chrony we answer nothing.
      server_.count(kHandshakeAlpn);
      return finish();
    }
    server_.count(kHandshakesOk);
    server_.count(SSL_version(ssl) == TLS1_3_VERSION ? kTls13 : kTls12);
    read();
  }

  void read() {
    auto self = shared_from_this();
    stream_.async_read_some(asio::buffer(buf_.data() + len_, buf_.size() - len_),
                            [self](const error_code& ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, size_t n) {
    len_ += n;
    if (ec && n == 0) {
      server_.count(timed_out_ ? kRequestTimeout : kRequestTruncated);
      return finish();
    }
    const proto::KeRequestParse parse = proto::parse_ke_request(std::span(buf_.data(), len_));
    if (parse.status == proto::KeRequestStatus::kIncomplete) {
      if (ec) {
        server_.count(timed_out_ ? kRequestTimeout : kRequestTruncated);
        return finish();
      }
      return read();
    }
    if (parse.status != proto::KeRequestStatus::kOk) {
      server_.request_errors[static_cast<size_t>(parse.status)].fetch_add(1, std::memory_order_relaxed);
      reply_ = error_reply(proto::ke_error_code_for(parse.status));
      return write();
    }
    respond_to(parse.request);
  }

  void respond_to(const proto::KeRequest& request) {
    SSL* ssl = stream_.native_handle();
    const Exporter exporter = [ssl](std::span<const uint8_t> context, std::span<uint8_t> out) {
      return SSL_export_keying_material(ssl, out.data(), out.size(), kExporterLabel, std::strlen(kExporterLabel),
                                        context.data(), context.size(), 1) == 1;
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
        server_.count(r.aead == 15 ? kAead15 : r.aead == 16 ? kAead16 : r.aead == 17 ? kAead17 : kAead30);
        break;
      case KeOutcome::kNoCommonProtocol: server_.count(kRespNoProtocol); break;
      case KeOutcome::kNoCommonAead: server_.count(kRespNoAead); break;
      case KeOutcome::kInternalError: server_.count(kRespInternal); break;
    }
    reply_ = std::move(r.bytes);
    write();
  }

  void write() {
    auto self = shared_from_this();
    asio::async_write(stream_, asio::buffer(reply_), [self](const error_code& ec, size_t) {
      if (ec) return self->finish();
      // close_notify, then wait for the client's (chrony sends it) so the
      // reply is never cut off by a reset; the deadline bounds the wait.
      self->stream_.async_shutdown([self](const error_code&) { self->finish(); });
    });
  }

  void close() {
    error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

  void finish() {
    done_ = true;
    timer_.cancel();
    close();
  }

  KeServer::Impl& server_;
  size_t io_index_;
  std::shared_ptr<ssl::context> ctx_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  std::array<uint8_t, proto::kMaxKeRequestSize + 1> buf_{};  // one byte more than a request may use
  size_t len_ = 0;
  std::vector<uint8_t> reply_;
  bool timed_out_ = false;
  bool done_ = false;
};

bool KeServer::Impl::init(std::string* error) {
  policy.aeads = usable_aeads(opts.aeads);
  if (policy.aeads.empty()) {
    if (error) *error = "none of the AEAD algorithms in nts aead is implemented on this machine";
    return false;
  }
  policy.ntp_port = opts.ntp_port;
  for (const std::string& s : opts.ntp_servers) {
    NtpServerEntry e;
    if (!parse_ntp_server(s, e) || e.host.size() > 255) {
      if (error) *error = "bad nts ntpserver '" + s + "' (expected HOST, HOST:PORT or [IPv6]:PORT)";
      return false;
    }
    policy.ntp_servers.push_back(e);
  }
  if (opts.deadline.count() <= 0) {
    if (error) *error = "NTS-KE deadline must be positive";
    return false;
  }
  cert_stamp = stamp_file(opts.tls.cert_file);
  key_stamp = stamp_file(opts.tls.key_file);
  std::string why;
  ctx = make_tls_context(opts.tls, &warnings, &why);
  if (!ctx) {
    if (error) *error = "NTS-KE: " + why;
    return false;
  }
  const int n = opts.threads > 0 ? opts.threads : default_threads();
  for (int i = 0; i < n; ++i) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    guards.push_back(asio::make_work_guard(*ios.back()));
    const auto reader = keys.register_reader();
    if (reader == crypto::SnapshotPublisherBase::kNoReader) {
      if (error) *error = "NTS-KE: no free key snapshot reader slot for thread " + std::to_string(i);
      return false;
    }
    keys.offline(reader);
    readers.push_back(reader);
  }
  return listen(error);
}

bool KeServer::Impl::listen(std::string* error) {
  uint16_t port = opts.port;
  for (const std::string& text : opts.listen) {
    error_code ec;
    const asio::ip::address addr = asio::ip::make_address(text, ec);
    if (ec) {
      if (error) *error = "NTS-KE: bad listen address '" + text + "'";
      return false;
    }
    auto acc = std::make_unique<tcp::acceptor>(*ios[0]);
    const tcp::endpoint ep(addr, port);
    acc->open(ep.protocol(), ec);
    if (!ec && addr.is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      // A host without IPv6 should still serve IPv4 with the default addresses.
      if (addr.is_v6() && addr.is_unspecified() && opts.listen.size() > 1 &&
          (ec == asio::error::address_family_not_supported || ec == boost::system::errc::address_not_available)) {
        warnings.push_back("NTS-KE: IPv6 unavailable, not listening on [::]:" + std::to_string(port));
        continue;
      }
      if (error) *error = "NTS-KE: cannot listen on " + text + " port " + std::to_string(port) + ": " + ec.message();
      return false;
    }
    // With port 0 (tests) every further address takes the port the first one got.
    if (port == 0) port = acc->local_endpoint(ec).port();
    acceptors.push_back(std::move(acc));
    retry_timers.push_back(std::make_unique<asio::steady_timer>(*ios[0]));
  }
  if (acceptors.empty()) {
    if (error) *error = "NTS-KE: no listen address";
    return false;
  }
  bound_port = port;
  return true;
}

void KeServer::Impl::accept(size_t a) {
  // Round robin over the threads: the socket belongs to ios[k] from the start.
  const size_t k = next_io.fetch_add(1, std::memory_order_relaxed) % ios.size();
  acceptors[a]->async_accept(*ios[k], [this, a, k](const error_code& ec, tcp::socket socket) {
    on_accept(a, k, ec, std::move(socket));
  });
}

void KeServer::Impl::on_accept(size_t a, size_t k, const error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptors[a]->is_open()) return;
  if (ec) {
    // EMFILE/ENFILE/ENOBUFS: back off briefly instead of spinning.
    log(LogLevel::kWarning, "NTS-KE accept: " + ec.message());
    retry_timers[a]->expires_after(std::chrono::milliseconds(100));
    retry_timers[a]->async_wait([this, a](const error_code& e) {
      if (!e) accept(a);
    });
    return;
  }
  error_code ignored;
  const auto refuse = [&socket, &ignored] {
    // RST at once: the slot is free immediately and the client sees a refusal, not a hang.
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
  };
  if (active.load(std::memory_order_relaxed) >= opts.max_connections) {
    count(kRefusedCap);
    refuse();
  } else {
    std::array<uint8_t, 16> bytes{};
    bool v6 = false;
    const tcp::endpoint peer = socket.remote_endpoint(ignored);
    asio::ip::address addr = peer.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    if (addr.is_v4()) {
      const auto b = addr.to_v4().to_bytes();
      std::copy(b.begin(), b.end(), bytes.begin());
    } else {
      const auto b = addr.to_v6().to_bytes();
      std::copy(b.begin(), b.end(), bytes.begin());
      v6 = true;
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    if (!limiter.allow(bytes, v6, now)) {
      count(kRefusedRate);
      refuse();
    } else {
      // The reply and close_notify are two small writes; Nagle would hold the
      // second for the client's delayed ACK (40 ms).
      socket.set_option(tcp::no_delay(true), ignored);
      active.fetch_add(1, std::memory_order_relaxed);
      count(kAccepted);
      auto session = std::make_shared<Session>(*this, k, std::move(socket), context());
      asio::post(*ios[k], [session] { session->start(); });
    }
  }
  accept(a);
}

void KeServer::Impl::schedule_poll() {
  if (opts.reload_poll.count() <= 0) return;
  poll_timer->expires_after(opts.reload_poll);
  poll_timer->async_wait([this](const error_code& ec) {
    if (ec) return;
    FileStamp cert, key;
    {
      std::lock_guard lock(reload_mu);
      cert = cert_stamp;
      key = key_stamp;
    }
    if (stamp_file(opts.tls.cert_file) != cert || stamp_file(opts.tls.key_file) != key) {
      std::string why;
      do_reload(&why);  // logs either way
    }
    schedule_poll();
  });
}

bool KeServer::Impl::do_reload(std::string* error) {
  std::lock_guard lock(reload_mu);
  // Stamps first: a file replaced while we read it changes again and is retried.
  cert_stamp = stamp_file(opts.tls.cert_file);
  key_stamp = stamp_file(opts.tls.key_file);
  std::vector<std::string> w;
  std::string why;
  auto fresh = make_tls_context(opts.tls, &w, &why);
  if (!fresh) {
    count(kReloadsFailed);
    log(LogLevel::kError, "NTS-KE certificate reload failed, still serving the previous certificate: " + why);
    if (error) *error = why;
    return false;
  }
  for (const std::string& line : w) log(LogLevel::kWarning, line);
  const std::string subject = tls_context_subject(*fresh);
  {
    std::lock_guard ctx_lock(ctx_mu);
    ctx = std::move(fresh);
  }
  count(kReloadsOk);
  log(LogLevel::kInfo, "NTS-KE certificate reloaded: " + subject);
  return true;
}

void KeServer::Impl::shutdown() {
  if (stopped) return;
  stopped = true;
  for (auto& io : ios) io->stop();
  for (auto& t : threads) t.join();
  threads.clear();
  error_code ignored;
  for (auto& acc : acceptors) acc->close(ignored);
  acceptors.clear();
  retry_timers.clear();
  poll_timer.reset();
  guards.clear();
  // Destroying each io_context destroys its pending handlers and with them
  // the sessions they hold (their destructors touch `active`, still alive).
  ios.clear();
  for (auto reader : readers) keys.unregister_reader(reader);
  readers.clear();
}

KeServer::KeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KeServer::~KeServer() { stop(); }

std::unique_ptr<KeServer> KeServer::start(const KeOptions& options, crypto::KeyPublisher& keys, std::string* error) {
  auto impl = std::make_unique<Impl>(options, keys);
  if (!impl->init(error)) {
    impl->shutdown();
    return nullptr;
  }
  for (const std::string& w : impl->warnings) impl->log(LogLevel::kWarning, w);
  impl->log(LogLevel::kInfo, "NTS-KE listening on port " + std::to_string(impl->bound_port) + " with " +
                                 std::to_string(impl->ios.size()) + " thread(s), certificate " +
                                 tls_context_subject(*impl->ctx));
  for (size_t a = 0; a < impl->acceptors.size(); ++a) impl->accept(a);
  impl->poll_timer = std::make_unique<asio::steady_timer>(*impl->ios[0]);
  impl->schedule_poll();
  Impl* raw = impl.get();
  for (size_t i = 0; i < raw->ios.size(); ++i) {
    raw->threads.emplace_back([raw, i] {
      // Handlers report errors through error_code; this only guards against
      // bad_alloc and the like, so one failure does not end the thread.
      for (;;) {
        try {
          raw->ios[i]->run();
          return;
        } catch (const std::exception& e) {
          raw->log(LogLevel::kError, std::string("NTS-KE thread: ") + e.what());
        }
      }
    });
  }
  return std::unique_ptr<KeServer>(new KeServer(std::move(impl)));
}

void KeServer::stop() { impl_->shutdown(); }

bool KeServer::reload(std::string* error) { return impl_->do_reload(error); }

KeCounters KeServer::counters() const {
  const auto& c = impl_->counters;
  auto get = [&c](Counter i) { return c[i].load(std::memory_order_relaxed); };
  KeCounters out;
  out.accepted = get(kAccepted);
  out.refused_connection_cap = get(kRefusedCap);
  out.refused_rate_limit = get(kRefusedRate);
  out.active = impl_->active.load(std::memory_order_relaxed);
  out.handshakes_ok = get(kHandshakesOk);
  out.handshake_failed_tls = get(kHandshakeTls);
  out.handshake_failed_timeout = get(kHandshakeTimeout);
  out.handshake_failed_alpn = get(kHandshakeAlpn);
  out.tls13 = get(kTls13);
  out.tls12 = get(kTls12);
  out.request_timeout = get(kRequestTimeout);
  out.request_truncated = get(kRequestTruncated);
  for (size_t i = 0; i < kRequestErrorKinds; ++i) {
    out.request_errors[i] = impl_->request_errors[i].load(std::memory_order_relaxed);
  }
  out.responses_cookies = get(kRespCookies);
  out.responses_no_protocol = get(kRespNoProtocol);
  out.responses_no_aead = get(kRespNoAead);
  out.responses_internal_error = get(kRespInternal);
  out.cookies_issued = get(kCookiesIssued);
  out.aead_siv256 = get(kAead15);
  out.aead_siv384 = get(kAead16);
  out.aead_siv512 = get(kAead17);
  out.aead_gcm_siv = get(kAead30);
  out.reloads_ok = get(kReloadsOk);
  out.reloads_failed = get(kReloadsFailed);
  return out;
}

const std::vector<std::string>& KeServer::warnings() const { return impl_->warnings; }
uint16_t KeServer::port() const { return impl_->bound_port; }
int KeServer::threads() const { return static_cast<int>(impl_->readers.size()); }

std::string KeServer::certificate_subject() const {
  auto ctx = impl_->context();
  return ctx ? tls_context_subject(*ctx) : "";
}

const char* ke_request_error_name(size_t index) {
  return index < kRequestErrorKinds ? proto::ke_request_status_name(static_cast<proto::KeRequestStatus>(index))
                                    : "unknown";
}

bool ke_options_from_config(const config::Config& config, KeOptions& out, std::string* error) {
  const config::NtsSettings& nts = config.nts;
  out.tls.cert_file = nts.cert;
  out.tls.key_file = nts.key;
  out.tls.min_tls = nts.mintls == config::TlsVersion::kTls12 ? TlsVersion::kTls12 : TlsVersion::kTls13;
  out.tls.max_tls = nts.maxtls == config::TlsVersion::kTls12 ? TlsVersion::kTls12 : TlsVersion::kTls13;
  out.tls.ciphers = nts.tls_ciphers;
  out.tls.ciphersuites = nts.tls_ciphersuites;
  out.port = nts.ke_port;
  out.threads = nts.ke_threads.value_or(0);
  out.rate_limit.per_second = nts.ke_rate;  // 0 disables the limit
  out.rate_limit.burst = nts.ke_burst;
  out.aeads = nts.aead_ids;
  out.ntp_port = config.ntp_port.value_or(123);
  out.ntp_servers = nts.ntp_servers;
  for (const std::string& s : out.ntp_servers) {
    NtpServerEntry e;
    if (!parse_ntp_server(s, e)) {
      if (error) *error = "bad nts ntpserver '" + s + "'";
      return false;
    }
  }
  if (!config.listen.empty()) {
    out.listen.clear();
    auto add = [&out](const std::string& a) {
      if (std::find(out.listen.begin(), out.listen.end(), a) == out.listen.end()) out.listen.push_back(a);
    };
    for (const config::ListenAddress& l : config.listen) {
      if (l.all) {
        if (l.family != config::IpFamily::kIPv6) add("0.0.0.0");
        if (l.family != config::IpFamily::kIPv4) add("::");
      } else if (l.family == config::IpFamily::kIPv4) {
        add(asio::ip::address_v4({l.address[0], l.address[1], l.address[2], l.address[3]}).to_string());
      } else {
        asio::ip::address_v6::bytes_type b;
        std::copy(l.address.begin(), l.address.end(), b.begin());
        add(asio::ip::address_v6(b).to_string());
      }
    }
  }
  return true;
}

}  // namespace ntsd::ke
