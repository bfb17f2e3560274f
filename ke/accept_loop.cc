// The accept loop and admission: which new connection gets served, which
// waits, which is refused, and which old one makes room.
#include <cerrno>
#include <string>

#include "ke/server_impl.h"
#include "ke/session.h"

namespace ntsd::ke {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

AddressKey key_of(const tcp::endpoint& peer, std::array<uint8_t, 16>& bytes, bool& v6) {
  asio::ip::address addr = peer.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  bytes.fill(0);
  v6 = !addr.is_v4();
  if (!v6) {
    const auto b = addr.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  } else {
    const auto b = addr.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  }
  return address_key(bytes, v6);
}

constexpr std::chrono::seconds kPressureReportPeriod{10};

}  // namespace

void KeServer::Impl::accept(size_t a) {
  // Round robin over the threads: the socket belongs to ios[k] from the start.
  const size_t k = next_io.fetch_add(1, std::memory_order_relaxed) % ios.size();
  acceptors[a]->async_accept(*ios[k], [this, a, k](const error_code& ec, tcp::socket socket) {
    on_accept(a, k, ec, std::move(socket));
  });
}

// Admission, cheapest check first, nothing allocated for a refusal but the
// socket Asio already made:
//  1. the per-address rate limit (every TCP connection is a KE attempt, so a
//     slowloris that reconnects the moment it is refused uses up its own
//     budget: 50 at once, then 5/s per address);
//  2. the connection table: per-address cap, then at the global cap the
//     oldest connection still without TLS is evicted (conn_table.cc).
// Refusals are resets (RST), so they cost no fd beyond this instant.
void KeServer::Impl::on_accept(size_t a, size_t k, const error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptors[a]->is_open()) return;
  if (ec) return on_accept_error(a, ec);
  error_code ignored;
  std::array<uint8_t, 16> bytes{};
  bool v6 = false;
  const tcp::endpoint peer = socket.remote_endpoint(ignored);
  const AddressKey key = key_of(peer, bytes, v6);
  auto session = std::make_shared<Session>(*this, k, std::move(socket));
  const RateVerdict rate = limiter.check(bytes, v6, steady_ns());
  if (rate != RateVerdict::kAllowed) {
    count(rate == RateVerdict::kLimited ? kRefusedRate : kRefusedRateTableFull);
    session->refuse();
    return accept(a);
  }
  std::shared_ptr<Evictable> victim;
  switch (table.admit(session->slot(), key, session, &victim)) {
    case Admission::kRefusedPerAddress:
      count(kRefusedPerAddress);
      session->refuse();
      return accept(a);
    case Admission::kRefusedFull:
      count(kRefusedCap);
      session->refuse();
      return accept(a);
    case Admission::kAdmittedEvicting:
      count(kEvicted);
      if (victim) victim->evict();
      break;
    case Admission::kAdmitted:
      break;
  }
  count(kAccepted);
  asio::post(*ios[k], [session] { session->start(); });
  accept(a);
}

// EMFILE/ENFILE (out of file descriptors), ENOBUFS/ENOMEM: the connection
// waits in the kernel's backlog. Never spin on it: make room by evicting the
// oldest connection still without TLS (its fd is closed on its own thread
// within moments) and try again after a short pause, 10 ms when something
// was evicted, 100 ms when nothing could be. Logged once per pressure report,
// not once per error.
void KeServer::Impl::on_accept_error(size_t a, const error_code& ec) {
  count(kAcceptErrors);
  bool relieved = false;
  if (ec == boost::system::errc::too_many_files_open ||
      ec == boost::system::errc::too_many_files_open_in_system ||
      ec == boost::system::errc::no_buffer_space || ec == boost::system::errc::not_enough_memory) {
    std::shared_ptr<Evictable> victim;
    if (table.evict_oldest(&victim)) {
      count(kEvicted);
      if (victim) victim->evict();
      relieved = true;
    }
  }
  last_accept_error = ec.message();
  retry_timers[a]->expires_after(std::chrono::milliseconds(relieved ? 10 : 100));
  retry_timers[a]->async_wait([this, a](const error_code& e) {
    if (!e) accept(a);
  });
}

// One warning per period while connections are being evicted or refused, so
// an operator sees an attack (or a cap set too low) without a line per
// connection.
void KeServer::Impl::schedule_pressure_report() {
  pressure_timer->expires_after(kPressureReportPeriod);
  pressure_timer->async_wait([this](const error_code& ec) {
    if (ec) return;
    std::array<uint64_t, kCounterCount> now{};
    for (size_t i = 0; i < kCounterCount; ++i) now[i] = get(static_cast<Counter>(i));
    auto delta = [&](Counter c) { return now[c] - pressure_seen[c]; };
    if (delta(kEvicted) + delta(kRefusedPerAddress) + delta(kRefusedCap) + delta(kRefusedRate) +
            delta(kRefusedRateTableFull) + delta(kAcceptErrors) + delta(kFirstByteTimeout) >
        0) {
      std::string line =
          "NTS-KE under pressure: " + std::to_string(table.total()) + " open (" +
          std::to_string(table.pending()) + " before TLS) from " +
          std::to_string(table.addresses()) + " addresses, cap " +
          std::to_string(table.limits().max_total) + ", " +
          std::to_string(table.limits().max_per_address) + " per address; last " +
          std::to_string(kPressureReportPeriod.count()) +
          " s: evicted=" + std::to_string(delta(kEvicted)) +
          " refused_per_address=" + std::to_string(delta(kRefusedPerAddress)) +
          " refused_cap=" + std::to_string(delta(kRefusedCap)) +
          " refused_rate=" + std::to_string(delta(kRefusedRate)) +
          " refused_rate_table_full=" + std::to_string(delta(kRefusedRateTableFull)) +
          " first_byte_timeouts=" + std::to_string(delta(kFirstByteTimeout)) +
          " handshake_timeouts=" + std::to_string(delta(kHandshakeTimeout)) +
          " handshakes_ok=" + std::to_string(delta(kHandshakesOk));
      if (delta(kAcceptErrors) > 0) {
        line += " accept_errors=" + std::to_string(delta(kAcceptErrors)) + " (" +
                last_accept_error + ")";
      }
      log(LogLevel::kWarning, line);
    }
    pressure_seen = now;
    schedule_pressure_report();
  });
}

}  // namespace ntsd::ke
