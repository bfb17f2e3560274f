#include "ke/ke_server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>

#include "ke/server_impl.h"
#include "ke/session.h"
#include "proto/ke_record.h"

namespace ntsd::ke {

static_assert(static_cast<size_t>(proto::KeRequestStatus::kUnexpectedRecord) + 1 == kRequestErrorKinds);

namespace {

int default_threads() {
  const unsigned cpus = std::thread::hardware_concurrency();
  return std::max(1, static_cast<int>(cpus / 4));
}

}  // namespace

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
  if (opts.deadline.count() <= 0 || opts.first_byte_deadline.count() <= 0 || opts.handshake_deadline.count() <= 0) {
    if (error) *error = "NTS-KE deadlines must be positive";
    return false;
  }
  // A cap the fd limit cannot hold turns into accept() failing with EMFILE
  // (handled, but the cap no longer decides who is served): say so.
  const size_t nofile = open_file_limit();
  if (table.limits().max_total > default_max_connections(nofile) && opts.max_connections > 0) {
    warnings.push_back("NTS-KE: nts kemaxconn " + std::to_string(opts.max_connections) +
                       " is more than the open-file limit (" + std::to_string(nofile) +
                       ") leaves room for; expect 'too many open files' under load (default here: " +
                       std::to_string(default_max_connections(nofile)) + ")");
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
  pressure_timer.reset();
  guards.clear();
  // Destroying each io_context destroys its pending handlers and with them
  // the sessions they hold (their destructors release their table slots; the table is still alive).
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
  const ConnectionLimits& limits = impl->table.limits();
  impl->log(LogLevel::kInfo, "NTS-KE listening on port " + std::to_string(impl->bound_port) + " with " +
                                 std::to_string(impl->ios.size()) + " thread(s), at most " +
                                 std::to_string(limits.max_total) + " connections (" +
                                 (limits.max_per_address ? std::to_string(limits.max_per_address) : "no cap") +
                                 " per address), certificate " + tls_context_subject(*impl->ctx));
  for (size_t a = 0; a < impl->acceptors.size(); ++a) impl->accept(a);
  impl->poll_timer = std::make_unique<asio::steady_timer>(*impl->ios[0]);
  impl->pressure_timer = std::make_unique<asio::steady_timer>(*impl->ios[0]);
  impl->schedule_pressure_report();
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
  out.refused_rate_table_full = get(kRefusedRateTableFull);
  out.refused_per_address = get(kRefusedPerAddress);
  out.evicted = get(kEvicted);
  out.accept_errors = get(kAcceptErrors);
  out.first_byte_timeout = get(kFirstByteTimeout);
  out.active = impl_->table.total();
  out.max_connections = impl_->table.limits().max_total;
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

}  // namespace ntsd::ke
