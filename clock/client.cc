#include "clock/client.h"
#include "clock/discipline_feed.h"

#include <netdb.h>
#include <unistd.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include "clock/cookie_file.h"
#include "clock/driftfile.h"
#include "clock/real_clock_backend.h"
#include "clock/exchange.h"
#include "clock/filter.h"
#include "clock/leapfile.h"
#include "clock/nts_codec.h"
#include "clock/nts_ke.h"
#include "clock/pool.h"
#include "clock/upstream_socket.h"
#include "third_party/asio.h"

namespace ntsd::clock {

namespace asio = boost::asio;

namespace {

constexpr size_t kMaxDatagram = 2048;

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.6f", s);
  return buf;
}

uint64_t random_u64() {
  uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) v = 0;
  return v;
}

// Resolves host:port (numeric port) into socket addresses; blocking, run on
// the job pool. Family as configured (`server -4`/`-6`).
std::vector<sockaddr_storage> resolve(const std::string& host, uint16_t port, config::IpFamily family,
                                      std::string* error, bool numeric_only = false) {
  addrinfo hints{};
  hints.ai_family = family == config::IpFamily::kIPv4   ? AF_INET
                    : family == config::IpFamily::kIPv6 ? AF_INET6
                                                        : AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = numeric_only ? AI_NUMERICHOST : AI_ADDRCONFIG;
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  if (!numeric_only && (rc == EAI_BADFLAGS || (rc != 0 && (hints.ai_flags & AI_ADDRCONFIG)))) {
    // AI_ADDRCONFIG hides loopback-only families on hosts without another
    // address; a loopback upstream is legitimate (tests, local relays).
    hints.ai_flags = 0;
    rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  }
  std::vector<sockaddr_storage> out;
  if (rc != 0) {
    if (error) *error = gai_strerror(rc);
    return out;
  }
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (std::none_of(out.begin(), out.end(), [&](const sockaddr_storage& o) {
          return std::memcmp(&o, &ss, sizeof ss) == 0;
        })) {
      out.push_back(ss);
    }
  }
  freeaddrinfo(result);
  if (out.empty() && error) *error = "no IPv4 or IPv6 address";
  return out;
}

socklen_t sockaddr_length(const sockaddr_storage& ss) {
  return ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// The address without the port, as peerstats and the ntpq world print it.
std::string host_text(const sockaddr_storage& ss) {
  std::string text = address_text(ss);
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) text.resize(colon);
  if (!text.empty() && text.front() == '[') text = text.substr(1, text.size() - 2);
  return text;
}

std::string ip_literal(const sockaddr_storage& ss) { return host_text(ss); }

// What the configured line names: "host:port" for NTS (the NTS-KE server),
// the host alone otherwise. This is also the key of a persisted session.
std::string source_name(const config::UpstreamServer& s, uint16_t port) {
  const bool v6 = s.host.find(':') != std::string::npos;
  return (v6 ? "[" + s.host + "]" : s.host) + ":" + std::to_string(port);
}

const char* state_name(SourceState s) {
  switch (s) {
    case SourceState::kIdle: return "idle";
    case SourceState::kResolving: return "resolving";
    case SourceState::kResolveBackoff: return "dns-backoff";
    case SourceState::kKeyExchange: return "nts-ke";
    case SourceState::kKeBackoff: return "ke-backoff";
    case SourceState::kPolling: return "polling";
    case SourceState::kDemobilized: return "demobilized";
  }
  return "?";
}

}  // namespace

// ---- the runner ----

class UpstreamClient::Impl {
 public:
  Impl(ClientOptions options, const Clock& clock, server::ServerStateCell& cell)
      : options_(std::move(options)),
        clock_(clock),
        cell_(cell),
        system_(options_.precision),
        jobs_(static_cast<size_t>(std::max(1, options_.resolve_threads))),
        housekeeping_(io_) {}

  bool start(std::string* error);
  void stop();
  std::vector<SourceReport> sources() const {
    std::lock_guard lock(report_mutex_);
    return reports_;
  }
  SystemStatus system() const {
    std::lock_guard lock(report_mutex_);
    return system_report_;
  }
  DisciplineReport discipline() const {
    std::lock_guard lock(report_mutex_);
    return discipline_report_;
  }

 private:
  struct PoolEntry {
    PoolEntry(asio::io_context& io, const config::UpstreamServer& line, size_t maxclock)
        : line(line), pool(line, maxclock), timer(io) {}
    config::UpstreamServer line;
    Pool pool;
    asio::steady_timer timer;
  };

  struct Association : std::enable_shared_from_this<Association> {
    Association(asio::io_context& io, const config::UpstreamServer& conf) : conf(conf), machine(conf), timer(io) {}
    int id = 0;
    config::UpstreamServer conf;
    std::string name;          // configured "host:port" (NTS: the KE server)
    uint16_t port = 123;       // KE port with nts, else NTP port
    Source machine;
    ClockFilter filter;
    asio::steady_timer timer;
    uint64_t generation = 0;   // bumped on demobilise: stale job results are dropped
    std::vector<sockaddr_storage> addresses;  // resolved KE (nts) or NTP (plain) addresses
    size_t address_index = 0;
    std::optional<NtsSession> session;
    int64_t session_ke_time_s = 0;
    bool restored = false;     // session came from the cookie file and was not yet used for a KE decision
    uint64_t restored_sessions = 0;
    uint64_t ke_runs = 0;      // NTS-KE sessions actually run (a restored session is none)
    int64_t fed_ns = 0;        // time of the filter estimate last given to the discipline
    std::vector<OffsetMeasurement> unfed;  // verified samples not yet given to the discipline (bounded)
    sockaddr_storage ntp_address{};
    bool has_ntp_address = false;
    UpstreamSocket socket;
    std::string local_text = "0.0.0.0";  // our end of `socket`, for rawstats
    std::unique_ptr<asio::posix::stream_descriptor> readable;
    bool outstanding = false;
    RequestRecord record;      // NTS request in flight
    uint64_t plain_transmit = 0;
    int64_t t1_ns = 0;
    uint32_t refid = 0;
    SourceAddress peer_address;
    SourceVerdict verdict;
    SourceStatus logged_status = SourceStatus::kUnusable;
    bool logged_reachable = false;
    bool dead = false;
    std::string tls_name;      // the name the NTS-KE certificate must carry (a pool member: the pool's name)
    PoolEntry* pool = nullptr; // the pool line that mobilised this member, if any
  };

  void run_pool_actions(PoolEntry& p, const PoolActions& actions);
  void mobilise(const config::UpstreamServer& conf, PoolEntry* pool);
  void remove(Association& a);
  std::vector<std::string> addresses_in_use() const;

  void log(const std::string& line) {
    if (options_.log) options_.log("clock: " + line);
  }
  int64_t now() const { return clock_.now_unix_ns(); }
  static std::weak_ptr<Association> weak(Association& a) { return a.weak_from_this(); }

  void run_actions(Association& a, const SourceActions& actions);
  void arm_timer(Association& a, int64_t at_ns);
  void start_resolve(Association& a);
  void on_resolved(Association& a, std::vector<sockaddr_storage> addresses, const std::string& error);
  void start_ke(Association& a);
  void on_ke(Association& a, std::optional<NtsSession> session, std::optional<sockaddr_storage> ntp,
             const std::string& error);
  bool open_socket(Association& a);
  void send_poll(Association& a);
  void wait_readable(Association& a);
  void drain(Association& a);
  void handle_reply(Association& a, std::span<const uint8_t> reply, int64_t t4_ns);
  void reselect();
  void publish_reports();
  void housekeeping();
  void save_sessions();
  KeTarget ke_target(const Association& a) const;

  ClientOptions options_;
  const Clock& clock_;
  server::ServerStateCell& cell_;
  SystemState system_;
  asio::io_context io_;
  asio::thread_pool jobs_;
  asio::steady_timer housekeeping_;
  // Associations are shared so that a handler still queued when one is
  // removed (a dead pool member) finds it gone instead of dangling.
  std::vector<std::shared_ptr<Association>> associations_;
  std::vector<std::unique_ptr<PoolEntry>> pools_;
  std::vector<PersistedSession> persisted_;  // loaded at start: restored on first need
  bool may_save_cookies_ = true;
  std::unique_ptr<StatsFileWriter> peerstats_;
  std::unique_ptr<StatsFileWriter> rawstats_;
  std::optional<LeapTable> leap_table_;
  int system_peer_ = -1;
  int next_id_ = 1;
  bool logged_sync_ = false;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
  mutable std::mutex report_mutex_;
  std::vector<SourceReport> reports_;
  SystemStatus system_report_;
  DisciplineReport discipline_report_;

  // Discipline (issue 11): the backend is the real clock or a dry run.
  std::unique_ptr<RealClockBackend> own_backend_;
  ClockBackend* backend_ = nullptr;
  std::optional<Discipline> discipline_;
  std::optional<DriftfileWriter> driftfile_;
  std::unique_ptr<StatsFileWriter> loopstats_;
  DisciplineOutcome last_outcome_ = DisciplineOutcome::kNoData;
  uint64_t steps_ = 0, frequency_sets_ = 0;
  bool kernel_synchronized_ = false;
  void start_discipline(int64_t now_ns);
  void discipline_update(int64_t now_ns, const Selection& sel, const server::ServerState& state);
  void apply(const DisciplineAction& action, int64_t now_ns);
  void update_kernel_status(const server::ServerState& state, bool force);
  void write_loopstats(int64_t now_ns);
  void write_rawstats(const Association& a, std::span<const uint8_t> reply, int64_t t4_ns);
};

bool UpstreamClient::Impl::start(std::string* error) {
  (void)error;
  const int64_t start_ns = now();
  if (!options_.cookie_file.empty()) {
    CookieLoadOptions load_options;
    load_options.now = start_ns / 1'000'000'000;
    CookieFileLoad load = load_cookie_file(options_.cookie_file, load_options);
    for (const std::string& w : load.warnings) log("warning: " + w);
    may_save_cookies_ = load.may_overwrite();
    if (!may_save_cookies_) {
      log("warning: " + options_.cookie_file +
          " is not an ntsd cookie file (NTPsec keeps its server cookie keys under `nts cookie`); "
          "it is left alone and NTS sessions are not persisted");
    }
    persisted_ = std::move(load.sessions);
  }
  if (options_.peerstats) peerstats_ = std::make_unique<StatsFileWriter>(*options_.peerstats);
  if (options_.rawstats) rawstats_ = std::make_unique<StatsFileWriter>(*options_.rawstats);
  if (!options_.leapfile.empty()) {
    LeapLoad leap = load_leapfile(options_.leapfile, start_ns / 1'000'000'000);
    for (const std::string& w : leap.warnings) log("warning: " + w);
    // An expired table no longer knows the next leap: its "none" would
    // override an upstream's announcement, so only a current one is used.
    if (leap.table && !leap.expired) {
      leap_table_ = std::move(leap.table);
      log("leapfile " + options_.leapfile + ": " + std::to_string(leap_table_->entries.size()) +
          " entries; it sets the leap bits while synchronised");
    } else {
      log("warning: leapfile " + options_.leapfile + " not used; leap bits come from the upstreams");
    }
  }

  start_discipline(start_ns);
  cell_.publish(system_.state(start_ns));
  for (const config::UpstreamServer& conf : options_.servers) {
    if (conf.noval) log("warning: " + conf.host + ": noval: the NTS-KE certificate is NOT verified");
    if (conf.is_pool) {
      pools_.push_back(std::make_unique<PoolEntry>(io_, conf, options_.maxclock));
    } else {
      mobilise(conf, nullptr);
    }
  }
  for (auto& p : pools_) run_pool_actions(*p, p->pool.start(start_ns));
  publish_reports();
  housekeeping();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ntsd-clock");
    io_.run();
  });
  return true;
}

void UpstreamClient::Impl::stop() {
  if (stopped_.exchange(true)) return;
  // Stop on the loop's own thread so no handler runs concurrently with the
  // teardown, then let blocking jobs finish (they post into a stopped loop).
  asio::post(io_, [this] { io_.stop(); });
  if (thread_.joinable()) thread_.join();
  jobs_.join();
  save_sessions();
  if (driftfile_ && discipline_ && discipline_->stats(now()).valid) {
    std::string error;
    if (driftfile_->write_at_stop(discipline_->stats(now()).drift_ppm, &error) == DriftWrite::kFailed) {
      log("warning: driftfile: " + error);
    }
  }
  for (auto& a : associations_) {
    if (a->readable) a->readable->release();  // the UpstreamSocket owns the fd
  }
}

void UpstreamClient::Impl::mobilise(const config::UpstreamServer& conf, PoolEntry* pool) {
  auto a = std::make_shared<Association>(io_, conf);
  a->id = next_id_++;
  a->port = conf.port.value_or(conf.nts ? 4460 : 123);
  a->name = source_name(conf, a->port);
  a->tls_name = pool ? pool->line.host : conf.host;
  a->pool = pool;
  if (pool) log(pool->line.host + ": pool member " + a->name + " mobilised");
  associations_.push_back(a);
  run_actions(*a, a->machine.start(now()));
}

void UpstreamClient::Impl::remove(Association& a) {
  a.dead = true;
  ++a.generation;
  a.timer.cancel();
  if (a.readable) {
    a.readable->cancel();
    a.readable->release();
    a.readable.reset();
  }
  a.socket.close();
  PoolEntry* pool = a.pool;
  const std::string address = a.conf.host;
  // Out of the list (a queued handler finds its weak pointer expired); the
  // system peer index is kept pointing at the same association.
  for (size_t i = 0; i < associations_.size(); ++i) {
    if (associations_[i].get() != &a) continue;
    const int index = static_cast<int>(i);
    if (system_peer_ == index) system_peer_ = -1;
    if (system_peer_ > index) --system_peer_;
    const auto keep = associations_[i];  // `a` lives until this function returns
    associations_.erase(associations_.begin() + static_cast<std::ptrdiff_t>(i));
    reselect();
    if (pool) run_pool_actions(*pool, pool->pool.member_demobilised(now(), address));
    return;
  }
}

std::vector<std::string> UpstreamClient::Impl::addresses_in_use() const {
  std::vector<std::string> in_use;
  for (const auto& a : associations_) {
    in_use.push_back(a->addresses.empty() ? a->conf.host
                                          : ip_literal(a->addresses[a->address_index % a->addresses.size()]));
  }
  return in_use;
}

void UpstreamClient::Impl::run_pool_actions(PoolEntry& p, const PoolActions& actions) {
  for (const std::string& address : actions.mobilise) mobilise(p.pool.member_config(address), &p);
  if (actions.resolve) {
    const config::UpstreamServer line = p.line;
    const uint16_t port = line.port.value_or(line.nts ? 4460 : 123);
    PoolEntry* entry = &p;  // pools live as long as the loop
    asio::post(jobs_, [this, entry, line, port] {
      std::string error;
      const std::vector<sockaddr_storage> found = resolve(line.host, port, line.family, &error);
      std::vector<std::string> addresses;
      for (const sockaddr_storage& ss : found) addresses.push_back(ip_literal(ss));
      asio::post(io_, [this, entry, addresses, error] {
        if (addresses.empty()) log(entry->line.host + ": pool lookup failed: " + error);
        const std::vector<std::string> in_use = addresses_in_use();
        run_pool_actions(*entry, entry->pool.resolved(now(), !addresses.empty(), addresses, in_use,
                                                      associations_.size() + pools_.size()));
      });
    });
  }
  if (actions.timer_ns) {
    p.timer.expires_after(std::chrono::nanoseconds(std::max<int64_t>(0, *actions.timer_ns - now())));
    PoolEntry* entry = &p;
    p.timer.async_wait([this, entry](const boost::system::error_code& ec) {
      if (!ec) run_pool_actions(*entry, entry->pool.timer(now()));
    });
  }
}

KeTarget UpstreamClient::Impl::ke_target(const Association& a) const {
  KeTarget t;
  t.host = a.tls_name;
  t.address = ip_literal(a.addresses[a.address_index % a.addresses.size()]);
  t.port = a.port;
  t.ca = !a.conf.ca.empty() ? a.conf.ca : options_.nts_ca;
  t.insecure = a.conf.noval;
  if (a.conf.aead) {
    t.aeads = {*a.conf.aead};
  } else if (!options_.nts_aeads.empty()) {
    t.aeads = options_.nts_aeads;
  } else {
    // AES-SIV-CMAC-256 first (RFC 8915's mandatory algorithm, what NTPsec
    // offers); GCM-SIV as the fallback chrony servers also speak.
    t.aeads = {15, 30};
  }
  t.timeout_ms = options_.ke_timeout_ms;
  return t;
}

void UpstreamClient::Impl::arm_timer(Association& a, int64_t at_ns) {
  const int64_t delay_ns = std::max<int64_t>(0, at_ns - now());
  a.timer.expires_after(std::chrono::nanoseconds(delay_ns));
  const uint64_t generation = a.generation;
  a.timer.async_wait([this, w = weak(a), generation](const boost::system::error_code& ec) {
    const auto a = w.lock();
    if (ec || !a || a->dead || a->generation != generation) return;
    run_actions(*a, a->machine.timer(now()));
  });
}

void UpstreamClient::Impl::run_actions(Association& a, const SourceActions& actions) {
  if (actions.drop_session) {
    if (a.session) log(a.name + ": NTS session dropped");
    a.session.reset();
    a.restored = false;
    a.outstanding = false;
  }
  if (actions.missed_poll) {
    a.filter.add_missed_poll(now());
    reselect();
  }
  if (actions.resolve) start_resolve(a);
  if (actions.start_ke) start_ke(a);
  if (actions.send_poll) send_poll(a);
  if (actions.demobilize) {
    log(a.name + ": demobilised");
    remove(a);  // `a` is gone after this
    return;
  }
  if (actions.timer_ns) arm_timer(a, *actions.timer_ns);
}

void UpstreamClient::Impl::start_resolve(Association& a) {
  const uint64_t generation = a.generation;
  const std::string host = a.conf.host;
  const uint16_t port = a.port;
  const config::IpFamily family = a.conf.family;
  asio::post(jobs_, [this, w = weak(a), generation, host, port, family] {
    std::string error;
    auto addresses = resolve(host, port, family, &error);
    asio::post(io_, [this, w, generation, addresses = std::move(addresses), error] {
      const auto a = w.lock();
      if (!a || a->dead || a->generation != generation) return;
      on_resolved(*a, addresses, error);
    });
  });
}

void UpstreamClient::Impl::on_resolved(Association& a, std::vector<sockaddr_storage> addresses,
                                       const std::string& error) {
  const bool ok = !addresses.empty();
  if (ok) {
    // A re-resolution that returns the same set moves on to the next address,
    // so an unreachable address is not retried for ever.
    if (addresses.size() == a.addresses.size() &&
        std::equal(addresses.begin(), addresses.end(), a.addresses.begin(),
                   [](const sockaddr_storage& x, const sockaddr_storage& y) { return std::memcmp(&x, &y, sizeof x) == 0; })) {
      ++a.address_index;
    } else {
      a.addresses = std::move(addresses);
      a.address_index = 0;
    }
    if (!a.conf.nts) {
      a.ntp_address = a.addresses[a.address_index % a.addresses.size()];
      a.has_ntp_address = open_socket(a);
    }
  } else {
    log(a.name + ": cannot resolve " + a.conf.host + ": " + error + "; retrying later");
  }
  run_actions(a, a.machine.resolved(now(), ok && (a.conf.nts || a.has_ntp_address)));
}

void UpstreamClient::Impl::start_ke(Association& a) {
  // A session kept in the cookie file stands in for a new NTS-KE once, at
  // start: the restart then sends NTP at once (chrony's ntsdumpdir idea).
  if (!a.session) {
    for (auto it = persisted_.begin(); it != persisted_.end(); ++it) {
      if (it->ke_server != a.name) continue;
      const auto aead = crypto::aead_from_wire(it->aead);
      NtsSession s = aead ? make_session(*aead, crypto::Bytes(it->c2s.data(), it->c2s.size()),
                                         crypto::Bytes(it->s2c.data(), it->s2c.size()), it->cookies)
                          : NtsSession{};
      s.ntp_host = it->ntp_host;
      s.ntp_port = it->ntp_port;
      const int64_t ke_time = it->ke_time;
      cleanse_session(*it);
      persisted_.erase(it);
      if (!s.c2s || !s.s2c || s.jar.empty()) break;
      std::string error;
      // Only an address literal is used here, on the loop thread (no DNS
      // wait); a Server record naming a host falls back to a new NTS-KE.
      std::vector<sockaddr_storage> ntp = resolve(s.ntp_host, s.ntp_port, a.conf.family, &error, true);
      if (ntp.empty()) break;
      a.session = std::move(s);
      a.session_ke_time_s = ke_time;
      a.ntp_address = ntp.front();
      a.restored = true;
      ++a.restored_sessions;
      if (!open_socket(a)) {
        a.session.reset();
        break;
      }
      a.has_ntp_address = true;
      log(a.name + ": NTS session restored from " + options_.cookie_file + " (" +
          std::to_string(a.session->jar.size()) + " cookies, NTP " + address_text(a.ntp_address) +
          "): no NTS-KE needed");
      const uint32_t cookies = static_cast<uint32_t>(a.session->jar.size());
      asio::post(io_, [this, w = weak(a), generation = a.generation, cookies] {
        const auto a = w.lock();
        if (!a || a->dead || a->generation != generation) return;
        run_actions(*a, a->machine.ke_done(now(), true, cookies));
      });
      return;
    }
  }
  if (a.addresses.empty()) {
    run_actions(a, a.machine.ke_done(now(), false, 0));
    return;
  }
  ++a.ke_runs;
  const uint64_t generation = a.generation;
  const KeTarget target = ke_target(a);
  const config::IpFamily family = a.conf.family;
  asio::post(jobs_, [this, w = weak(a), generation, target, family] {
    std::string error;
    std::optional<NtsSession> session = establish_session(target, &error);
    std::optional<sockaddr_storage> ntp;
    if (session) {
      // The Server record may name a host: resolve it here, off the loop.
      std::vector<sockaddr_storage> addresses = resolve(session->ntp_host, session->ntp_port, family, &error);
      if (addresses.empty()) {
        error = "NTP server " + session->ntp_host + " from the NTS-KE reply: " + error;
        session.reset();
      } else {
        ntp = addresses.front();
      }
    }
    asio::post(io_, [this, w, generation, session = std::move(session), ntp, error]() mutable {
      const auto a = w.lock();
      if (!a || a->dead || a->generation != generation) return;
      on_ke(*a, std::move(session), ntp, error);
    });
  });
}

void UpstreamClient::Impl::on_ke(Association& a, std::optional<NtsSession> session,
                                 std::optional<sockaddr_storage> ntp, const std::string& error) {
  if (!session) {
    log(a.name + ": NTS-KE failed: " + error);
    run_actions(a, a.machine.ke_done(now(), false, 0));
    return;
  }
  a.session = std::move(session);
  a.session_ke_time_s = now() / 1'000'000'000;
  a.restored = false;
  a.ntp_address = *ntp;
  a.outstanding = false;
  a.has_ntp_address = open_socket(a);
  const uint32_t cookies = static_cast<uint32_t>(a.session->jar.size());
  if (!a.has_ntp_address) {
    a.session.reset();
    run_actions(a, a.machine.ke_done(now(), false, 0));
    return;
  }
  log(a.name + ": NTS-KE ok: " + std::to_string(cookies) + " cookies, AEAD " +
      std::to_string(static_cast<int>(a.session->aead)) + ", NTP " + address_text(a.ntp_address));
  save_sessions();  // a kill -9 later still finds these keys
  run_actions(a, a.machine.ke_done(now(), true, cookies));
}

bool UpstreamClient::Impl::open_socket(Association& a) {
  if (a.readable) {
    a.readable->cancel();
    a.readable->release();
    a.readable.reset();
  }
  std::string error;
  if (!a.socket.open(a.ntp_address, sockaddr_length(a.ntp_address), &error)) {
    log(a.name + ": cannot open a socket to " + address_text(a.ntp_address) + ": " + error);
    return false;
  }
  a.refid = 0;
  if (const auto addr = source_address(reinterpret_cast<const sockaddr*>(&a.ntp_address))) {
    a.peer_address = *addr;
    a.refid = reference_id_of(*addr);
  }
  if (rawstats_) {  // the kernel picked our address and port at connect(); read it once
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (getsockname(a.socket.fd(), reinterpret_cast<sockaddr*>(&local), &length) == 0) a.local_text = host_text(local);
  }
  a.readable = std::make_unique<asio::posix::stream_descriptor>(io_, a.socket.fd());
  wait_readable(a);
  return true;
}

void UpstreamClient::Impl::wait_readable(Association& a) {
  if (a.dead || !a.readable) return;  // removed while its datagrams were drained
  const uint64_t generation = a.generation;
  asio::posix::stream_descriptor* d = a.readable.get();
  d->async_wait(asio::posix::stream_descriptor::wait_read,
                [this, w = weak(a), generation, d](const boost::system::error_code& ec) {
                  const auto a = w.lock();
                  if (ec || !a || a->dead || a->generation != generation || a->readable.get() != d) return;
                  drain(*a);
                  wait_readable(*a);
                });
}

void UpstreamClient::Impl::send_poll(Association& a) {
  if (!a.has_ntp_address || !a.socket.is_open()) {
    run_actions(a, a.machine.send_failed(now()));
    return;
  }
  std::array<uint8_t, kMaxDatagram> packet;
  size_t length = 0;
  // The transmit stamp is random (chrony's data minimisation, RFC 9109's
  // spirit): the origin echo matches the reply to the request, and the true
  // send time T1 stays with us.
  const uint64_t transmit = random_u64();
  if (a.conf.nts) {
    if (!a.session) {
      run_actions(a, a.machine.send_failed(now()));
      return;
    }
    std::array<uint8_t, kUniqueIdLength> uid;
    if (RAND_bytes(uid.data(), uid.size()) != 1) {
      run_actions(a, a.machine.send_failed(now()));
      return;
    }
    length = build_nts_request(*a.session, transmit, uid, 0, packet, a.record);
  } else {
    length = build_plain_request(transmit, packet);
    a.plain_transmit = transmit;
  }
  if (length == 0) {
    run_actions(a, a.machine.send_failed(now()));
    return;
  }
  a.t1_ns = now();  // as late as possible before the send
  if (!a.socket.send(std::span(packet).first(length))) {
    a.outstanding = false;
    run_actions(a, a.machine.send_failed(now()));
    return;
  }
  a.outstanding = true;
}

void UpstreamClient::Impl::drain(Association& a) {
  std::array<uint8_t, kMaxDatagram> buffer;
  for (int i = 0; i < 64 && !a.dead; ++i) {  // bounded: a flood cannot starve the other sources
    int64_t t4 = 0;
    const long n = a.socket.receive(buffer, now(), &t4);
    if (n == 0) return;
    if (n < 0) continue;  // ICMP errors, oversized datagrams: nothing to answer
    handle_reply(a, std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)), t4);
  }
}

void UpstreamClient::Impl::handle_reply(Association& a, std::span<const uint8_t> reply, int64_t t4_ns) {
  if (!a.outstanding) return;  // late, duplicate or unsolicited
  const uint64_t transmit = a.conf.nts ? a.record.transmit : a.plain_transmit;
  // Not an answer to our request (wrong origin or mode): ignored without a
  // word to the source machine, so a blind spoofer cannot even cost a poll.
  if (verify_plain_reply(transmit, reply) == ReplyVerdict::kFailed) return;

  SourceReply kind = SourceReply::kFailed;
  bool kod = false;  // an authenticated (or, for a plain source, plain) kiss-o'-death
  if (a.conf.nts) {
    if (!a.session) return;
    switch (verify_nts_reply(*a.session, a.record, reply, CookieCount::kAtMostAsked)) {
      case ReplyVerdict::kVerified:
        kind = SourceReply::kVerified;
        break;
      case ReplyVerdict::kKodAuthenticated:
        kod = true;
        break;
      case ReplyVerdict::kNak:
        kind = SourceReply::kNak;
        break;
      case ReplyVerdict::kKod:  // RATE/DENY without authentication: anyone could have sent it
      case ReplyVerdict::kFailed:
        kind = SourceReply::kUnauthenticated;
        break;
    }
  } else {
    kod = reply[proto::kOffsetStratum] == 0;
    if (!kod) kind = SourceReply::kVerified;
  }
  if (kod) {
    // RFC 5905 §7.4: RATE slows us down, DENY/RSTR ask us to go away; other
    // codes (INIT, STEP: the server has no time yet) are simply not a sample.
    const uint32_t code = proto::load_u32(reply, proto::kOffsetReferenceId);
    kind = code == proto::refid_from_ascii("RATE") ? SourceReply::kKodRate
           : code == proto::refid_from_ascii("DENY") || code == proto::refid_from_ascii("RSTR")
               ? SourceReply::kKodDeny
               : SourceReply::kFailed;
  }
  a.outstanding = false;

  std::optional<Sample> sample;
  if (kind == SourceReply::kVerified) {
    const ExchangeResult r = sample_from_reply(reply, a.t1_ns, t4_ns, std::ldexp(1.0, options_.precision));
    if (r.reject == SampleReject::kNone) {
      sample = r.sample;
    } else {
      kind = SourceReply::kFailed;
    }
  }
  const uint32_t cookies = a.session ? static_cast<uint32_t>(a.session->jar.size()) : 0;
  if (sample) {
    if (rawstats_) write_rawstats(a, reply, t4_ns);
    a.filter.add(*sample);
    // What reaches the discipline: clock/discipline_feed.cc says which and why.
    if (a.unfed.size() < 64) {
      if (auto m = discipline_measurement(*sample, a.filter.estimate())) a.unfed.push_back(*m);
    }
    if (peerstats_) {
      const SourceEstimate& e = a.filter.estimate();
      PeerStatus ps;
      ps.configured = !a.conf.is_pool;
      ps.auth_enabled = a.conf.nts;
      ps.authentic = a.conf.nts;
      ps.reachable = true;
      ps.select = static_cast<PeerSelect>(source_status_select_code(a.verdict.status));
      PeerStatsRecord rec;
      const std::string host = host_text(a.ntp_address);
      rec.source = host;
      rec.status = peer_status_word(ps);
      rec.offset = e.valid ? e.offset : sample->offset;
      rec.delay = e.valid ? e.delay : sample->delay;
      rec.dispersion = e.valid ? e.dispersion : sample->dispersion;
      rec.jitter = e.jitter;
      if (peerstats_->append(t4_ns, peerstats_line(t4_ns, rec)) == StatsWrite::kFailed) {
        if (std::string err = peerstats_->take_error(); !err.empty()) log("peerstats: " + err);
      }
    }
  }
  run_actions(a, a.machine.reply(now(), kind, cookies));
  if (sample) reselect();
}

void UpstreamClient::Impl::reselect() {
  const int64_t t = now();
  std::vector<SelectionInput> inputs;
  inputs.reserve(associations_.size());
  for (auto& a : associations_) {
    SelectionInput in;
    in.estimate = a->filter.estimate();
    in.flags = a->machine.flags();
    // Only samples from verified replies reach an `nts` source's filter
    // (handle_reply); a dead association is out whatever it held.
    in.eligible = !a->dead;
    in.poll_interval_s = std::ldexp(1.0, a->machine.poll());
    inputs.push_back(in);
  }
  const Selection sel = select_sources(inputs, options_.selection, system_peer_, t);
  for (size_t i = 0; i < associations_.size(); ++i) {
    Association& a = *associations_[i];
    a.verdict = sel.sources[i];
    const bool reachable = a.machine.reach() != 0;
    if (reachable != a.logged_reachable) {
      log(a.name + (reachable ? ": reachable" : ": unreachable"));
      a.logged_reachable = reachable;
    }
    if (a.verdict.status != a.logged_status &&
        (a.verdict.status == SourceStatus::kSystemPeer || a.verdict.status == SourceStatus::kFalseticker ||
         a.logged_status == SourceStatus::kSystemPeer || a.logged_status == SourceStatus::kFalseticker)) {
      log(a.name + ": " + source_status_name(a.verdict.status) +
          (a.verdict.status == SourceStatus::kUnusable ? std::string(" (") + unfit_name(a.verdict.unfit) + ")"
                                                      : std::string()));
    }
    a.logged_status = a.verdict.status;
  }
  const SystemEstimate& sys = sel.system;
  server::ServerState state;
  if (sys.synchronized && sys.selected >= 0) {
    Association& peer = *associations_[static_cast<size_t>(sys.selected)];
    std::optional<proto::Leap> leap_override;
    if (leap_table_) leap_override = leap_indicator(*leap_table_, t / 1'000'000'000);
    state = system_.update(t, sys, peer.filter.estimate(), peer.peer_address, leap_override);
    if (!logged_sync_ || system_peer_ != sys.selected) {
      log("synchronised to " + peer.name + " (" + address_text(peer.ntp_address) + "): stratum " +
          std::to_string(state.stratum) + ", offset " + fmt_seconds(sys.offset) + " s");
    }
    logged_sync_ = true;
    system_peer_ = sys.selected;
  } else {
    state = system_.update(t, sys, SourceEstimate{}, SourceAddress{});
    if (logged_sync_) log("no source selectable: holdover (" + std::to_string(sys.survivors) + " survivors)");
    logged_sync_ = false;
    system_peer_ = -1;
  }
  cell_.publish(state);
  discipline_update(t, sel, state);
  publish_reports();
}

void UpstreamClient::Impl::start_discipline(int64_t now_ns) {
  if (options_.backend) {
    backend_ = options_.backend;
  } else {
    own_backend_ = std::make_unique<RealClockBackend>(RealClockBackend::Mode::kDryRun);
    backend_ = own_backend_.get();
  }
  DisciplineParams params = options_.discipline;
  params.measure_only = !backend_->adjusts_host_clock();
  params.frequency_in_force_ppm = backend_->frequency();
  std::optional<double> drift_on_disk;
  if (!options_.driftfile.empty()) {
    const DriftRead drift = read_driftfile(options_.driftfile);
    if (!drift.warning.empty()) log("warning: " + drift.warning);
    if (drift.ppm) {
      params.have_driftfile = true;
      params.driftfile_ppm = *drift.ppm;
      drift_on_disk = drift.ppm;
      log("driftfile " + options_.driftfile + ": " + fmt_seconds(*drift.ppm) + " ppm");
    }
    driftfile_.emplace(options_.driftfile, drift_on_disk, now_ns);
  }
  if (options_.loopstats) loopstats_ = std::make_unique<StatsFileWriter>(*options_.loopstats);
  discipline_.emplace(params);
  apply(discipline_->start(now_ns), now_ns);
  // Until a source is selected the kernel is told the truth: unsynchronised.
  update_kernel_status(server::ServerState{}, true);
}

void UpstreamClient::Impl::discipline_update(int64_t now_ns, const Selection& sel, const server::ServerState& state) {
  if (!discipline_) return;
  // Each survivor's filter estimate, once (the discipline's README says why
  // survivors rather than the combined offset).
  std::vector<OffsetMeasurement> measurements;
  for (size_t i = 0; i < associations_.size() && i < sel.sources.size(); ++i) {
    Association& a = *associations_[i];
    const SourceStatus st = sel.sources[i].status;
    std::vector<OffsetMeasurement> unfed = std::move(a.unfed);
    a.unfed.clear();
    // Only survivors of selection (system peer and candidates) steer.
    if (st != SourceStatus::kSystemPeer && st != SourceStatus::kCandidate) continue;
    for (const OffsetMeasurement& m : unfed) {
      if (m.time_ns <= a.fed_ns) continue;
      a.fed_ns = m.time_ns;
      measurements.push_back(m);
    }
  }
  if (!measurements.empty()) {
    apply(discipline_->update(now_ns, measurements), now_ns);
    write_loopstats(now_ns);
  }
  update_kernel_status(state, false);
}

void UpstreamClient::Impl::apply(const DisciplineAction& action, int64_t now_ns) {
  const bool measure_only = !backend_->adjusts_host_clock();
  if (action.outcome != last_outcome_) {
    switch (action.outcome) {
      case DisciplineOutcome::kPanic:
        log("PANIC: the upstreams' time is more than tinker panic away from the host clock; "
            "nothing is corrected (set the clock by hand, or raise tinker panic)");
        break;
      case DisciplineOutcome::kStepRefused:
        log("WARNING: the upstreams' time jumped past the step threshold after start; slewing instead of "
            "stepping (tinker step; a step while serving would move every client's time)");
        break;
      case DisciplineOutcome::kJumpHeld:
        log("the upstreams' offset jumped; held until the next update confirms it");
        break;
      default:
        break;
    }
  }
  last_outcome_ = action.outcome;
  std::string error;
  if (action.step) {
    const bool late = action.outcome == DisciplineOutcome::kLateStep;
    if (measure_only) {
      log(std::string("measure-only: would step the clock by ") + fmt_seconds(action.step_s) + " s");
    } else if (backend_->step(action.step_s, &error)) {
      ++steps_;
      log(std::string(late ? "STEPPED THE CLOCK WHILE SERVING by " : "stepped the clock at start by ") +
          fmt_seconds(action.step_s) + " s" + (late && action.step_s < 0 ? " (BACKWARDS)" : ""));
    } else {
      log("step failed: " + error);
    }
    // Samples taken before the step measure the old clock: start afresh.
    for (auto& a : associations_) {
      a->filter.reset();
      a->fed_ns = 0;
      a->unfed.clear();
    }
  }
  if (action.set_frequency) {
    if (!backend_->set_frequency(action.frequency_ppm, &error)) {
      log("set frequency failed: " + error);
    } else {
      ++frequency_sets_;
      if (!error.empty()) log(error);  // e.g. clamped to the kernel's limit, said once
    }
    discipline_->frequency_applied(now_ns, backend_->frequency());
  }
}

void UpstreamClient::Impl::update_kernel_status(const server::ServerState& state, bool force) {
  // STA_UNSYNC is clear exactly while ntsd serves a synchronised time, so
  // timedatectl and node_exporter's NodeClockNotSynchronising tell the truth.
  const bool synchronized = state.leap != proto::Leap::kUnsynchronized;
  const DisciplineStats stats = discipline_->stats(now());
  KernelStatus ks;
  ks.synchronized = synchronized;
  // maxerror: the root distance we serve (RFC 5905: what a client must
  // assume at worst); esterror: the discipline's own 1-sigma offset error.
  ks.maxerror_s = synchronized ? static_cast<double>(proto::ns_from_ntp_short(state.root_delay)) * 0.5e-9 +
                                     static_cast<double>(proto::ns_from_ntp_short(state.root_dispersion)) * 1e-9
                               : kMaxDispersion;
  ks.esterror_s = synchronized && stats.valid ? stats.offset_error : kMaxDispersion;
  ks.leap = synchronized ? state.leap : proto::Leap::kNone;
  ks.time_constant = stats.time_constant;
  if (!force && synchronized == kernel_synchronized_ && !synchronized) return;  // nothing new to say
  kernel_synchronized_ = synchronized;
  std::string error;
  if (!backend_->set_status(ks, &error)) log("kernel status: " + error);
}

void UpstreamClient::Impl::write_loopstats(int64_t now_ns) {
  if (!loopstats_) return;
  const DisciplineStats st = discipline_->stats(now_ns);
  if (!st.valid) return;
  LoopStatsRecord rec;
  rec.offset = st.offset;
  rec.drift_ppm = st.drift_ppm;
  rec.jitter = st.jitter;
  rec.wander_ppm = st.wander_ppm;
  rec.time_constant = st.time_constant;
  if (loopstats_->append(now_ns, loopstats_line(now_ns, rec)) == StatsWrite::kFailed) {
    if (std::string err = loopstats_->take_error(); !err.empty()) log("loopstats: " + err);
  }
}

void UpstreamClient::Impl::write_rawstats(const Association& a, std::span<const uint8_t> reply, int64_t t4_ns) {
  const auto header = proto::parse_header(reply);
  if (!header) return;
  RawStatsRecord rec;
  const std::string source = host_text(a.ntp_address);
  rec.source = source;
  rec.destination = a.local_text;
  rec.t1_ns = a.t1_ns;
  rec.t4_ns = t4_ns;
  rec.t2 = header->receive_time.raw;
  rec.t3 = header->transmit_time.raw;
  rec.leap = static_cast<uint8_t>(header->leap);
  rec.version = header->version;
  rec.mode = static_cast<uint8_t>(header->mode);
  rec.stratum = header->stratum;
  rec.poll = header->poll;
  rec.precision = header->precision;
  rec.root_delay = std::ldexp(static_cast<double>(header->root_delay.raw), -16);
  rec.root_dispersion = std::ldexp(static_cast<double>(header->root_dispersion.raw), -16);
  rec.reference_id = header->reference_id;
  if (rawstats_->append(t4_ns, rawstats_line(t4_ns, rec)) == StatsWrite::kFailed) {
    if (std::string err = rawstats_->take_error(); !err.empty()) log("rawstats: " + err);
  }
}

void UpstreamClient::Impl::housekeeping() {
  // Holdover ages the published root dispersion with no event at all; once a
  // second is finer than any client polls.
  const int64_t t = now();
  if (!stopped_.load() && discipline_) {
    if (discipline_->next_tick_ns() <= t) apply(discipline_->tick(t), t);
    if (driftfile_ && discipline_->stats(t).valid) {
      std::string error;
      if (driftfile_->maybe_write(t, discipline_->stats(t).drift_ppm, &error) == DriftWrite::kFailed) {
        log("warning: driftfile: " + error);
      }
    }
  }
  if (!stopped_.load()) {
    const SyncStatus before = system_report_.sync;
    cell_.publish(system_.state(t));
    publish_reports();
    if (before == SyncStatus::kHoldover && system_report_.sync == SyncStatus::kUnsynchronized) {
      log("holdover over (root distance past " + std::to_string(kMaxDistance) + " s): unsynchronised, leap 3");
    }
  }
  housekeeping_.expires_after(std::chrono::seconds(1));
  housekeeping_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) housekeeping();
  });
}

void UpstreamClient::Impl::publish_reports() {
  const int64_t t = now();
  std::vector<SourceReport> reports;
  reports.reserve(associations_.size());
  for (const auto& a : associations_) {
    SourceReport r;
    r.name = a->name;
    if (a->has_ntp_address) r.address = address_text(a->ntp_address);
    r.nts = a->conf.nts;
    r.state = a->machine.state();
    r.status = a->verdict.status;
    r.unfit = a->verdict.unfit;
    r.reach = a->machine.reach();
    r.poll = a->machine.poll();
    const SourceEstimate& e = a->filter.estimate();
    r.valid = e.valid;
    r.stratum = e.header.stratum;
    r.header = e.header;
    r.sample_time_ns = e.valid ? e.time_ns : 0;
    r.offset = e.offset;
    r.delay = e.delay;
    r.jitter = e.jitter;
    r.dispersion = e.dispersion;
    r.cookies = a->session ? static_cast<uint32_t>(a->session->jar.size()) : 0;
    r.last_ke_ns = a->machine.last_ke_ns();
    r.counters = a->machine.counters();
    r.counters.key_exchanges = a->ke_runs;  // the machine also counts restored sessions as KE decisions
    r.restored_sessions = a->restored_sessions;
    reports.push_back(std::move(r));
  }
  DisciplineReport dr;
  if (discipline_) {
    dr.measure_only = !backend_->adjusts_host_clock();
    dr.stats = discipline_->stats(t);
    dr.last_outcome = last_outcome_;
    dr.steps = steps_;
    dr.frequency_sets = frequency_sets_;
  }
  std::lock_guard lock(report_mutex_);
  reports_ = std::move(reports);
  system_report_ = system_.status(t);
  discipline_report_ = dr;
}

void UpstreamClient::Impl::save_sessions() {
  if (options_.cookie_file.empty() || !may_save_cookies_) return;
  std::vector<PersistedSession> sessions;
  for (const auto& a : associations_) {
    if (!a->session || a->session->jar.empty() || a->dead) continue;
    PersistedSession p;
    p.ke_server = a->name;
    p.ke_time = a->session_ke_time_s;
    p.aead = static_cast<uint16_t>(a->session->aead);
    p.ntp_host = a->session->ntp_host;
    p.ntp_port = a->session->ntp_port;
    const crypto::Bytes c2s = a->session->c2s_key.bytes();
    const crypto::Bytes s2c = a->session->s2c_key.bytes();
    p.c2s.assign(c2s.begin(), c2s.end());
    p.s2c.assign(s2c.begin(), s2c.end());
    p.cookies = a->session->jar.cookies();
    sessions.push_back(std::move(p));
  }
  // Sessions of sources not (yet) restored stay in the file.
  for (const PersistedSession& p : persisted_) sessions.push_back(p);
  std::string error;
  if (!save_cookie_file(options_.cookie_file, sessions, error)) log("warning: cookie file: " + error);
  for (auto& p : sessions) cleanse_session(p);
}

// ---- public face ----

UpstreamClient::UpstreamClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UpstreamClient::~UpstreamClient() { stop(); }

std::unique_ptr<UpstreamClient> UpstreamClient::start(ClientOptions options, const Clock& clock,
                                                      server::ServerStateCell& cell, std::string* error) {
  auto impl = std::make_unique<Impl>(std::move(options), clock, cell);
  if (!impl->start(error)) return nullptr;
  return std::unique_ptr<UpstreamClient>(new UpstreamClient(std::move(impl)));
}

void UpstreamClient::stop() {
  if (impl_) impl_->stop();
}

std::vector<SourceReport> UpstreamClient::sources() const { return impl_->sources(); }
SystemStatus UpstreamClient::system() const { return impl_->system(); }
DisciplineReport UpstreamClient::discipline() const { return impl_->discipline(); }

std::vector<std::string> report_lines(const std::vector<SourceReport>& sources, const SystemStatus& system,
                                      const DisciplineReport& discipline) {
  std::vector<std::string> lines;
  char buf[512];
  const DisciplineStats& d = discipline.stats;
  std::snprintf(buf, sizeof buf,
                "discipline: mode=%s last=%s offset=%s drift_ppm=%+.3f host_frequency_ppm=%+.3f jitter=%.6f "
                "wander_ppm=%.4f time_constant=%d offset_error=%.6f points=%d steps=%llu frequency_sets=%llu",
                discipline.measure_only ? "measure-only" : "adjusting",
                discipline_outcome_name(discipline.last_outcome), d.valid ? fmt_seconds(d.offset).c_str() : "-",
                d.drift_ppm, d.host_frequency_ppm, d.jitter, d.wander_ppm, d.time_constant, d.offset_error, d.points,
                (unsigned long long)discipline.steps, (unsigned long long)discipline.frequency_sets);
  lines.emplace_back(buf);
  // Measure-only: where an adjusting ntsd would have put the clock (chronyd -x's virtual clock).
  if (discipline.measure_only && d.valid) lines.back() += " virtual_clock=" + fmt_seconds(d.virtual_clock);
  std::snprintf(buf, sizeof buf,
                "system: sync=%s stratum=%u refid=%08x leap=%u offset=%s jitter=%.6f root_delay=%.6f "
                "root_dispersion=%.6f since_update=%.1f",
                sync_status_name(system.sync), system.stratum, system.reference_id,
                static_cast<unsigned>(system.leap), fmt_seconds(system.offset).c_str(), system.jitter,
                system.root_delay, system.root_dispersion, system.since_update);
  lines.emplace_back(buf);
  for (const SourceReport& s : sources) {
    const SourceCounters& c = s.counters;
    std::snprintf(buf, sizeof buf,
                  "source %s%s: state=%s status=%s reach=%03o poll=%d stratum=%u offset=%s delay=%.6f "
                  "jitter=%.6f cookies=%u polls=%llu verified=%llu naks=%llu kods=%llu unauthenticated=%llu "
                  "failed=%llu key_exchanges=%llu restored=%llu address=%s",
                  s.name.c_str(), s.nts ? " (nts)" : "", state_name(s.state),
                  s.status == SourceStatus::kUnusable ? unfit_name(s.unfit) : source_status_name(s.status),
                  s.reach, s.poll, s.stratum, s.valid ? fmt_seconds(s.offset).c_str() : "-", s.delay, s.jitter,
                  s.cookies, (unsigned long long)c.polls_sent, (unsigned long long)c.verified,
                  (unsigned long long)c.naks, (unsigned long long)c.kods, (unsigned long long)c.unauthenticated,
                  (unsigned long long)c.failed, (unsigned long long)c.key_exchanges,
                  (unsigned long long)s.restored_sessions, s.address.empty() ? "-" : s.address.c_str());
    lines.emplace_back(buf);
  }
  return lines;
}

// ---- configuration ----

std::optional<ClientOptions> client_options_from_config(const config::Config& config, const std::string& state_dir,
                                                        int64_t now_unix_s, std::string* error) {
  ClientOptions o;
  o.servers = config.servers;
  for (const config::TosOption& t : config.tos) {
    if (t.name == "minsane") o.selection.minsane = static_cast<int>(t.value);
    if (t.name == "minclock") o.selection.minclock = static_cast<int>(t.value);
    if (t.name == "maxclock") o.selection.maxclock = static_cast<int>(t.value);
    if (t.name == "mindist") o.selection.mindist = t.value;
    if (t.name == "maxdist") o.selection.maxdist = t.value;
  }
  o.maxclock = max_clock(config.tos);
  o.nts_ca = config.nts.ca;
  o.nts_aeads = config.nts.aead_ids;
  o.cookie_file = !config.nts.cookie_file.empty() ? config.nts.cookie_file
                  : state_dir.empty()             ? std::string()
                                                  : state_dir + "/nts-client-cookies";
  o.leapfile = config.leapfile;
  // One statistics file set, when `statistics` or a `filegen … enable` asks for it.
  const auto stats_file = [&](config::StatsFile which, const char* name, std::optional<FileGenSettings>& out) {
    const bool asked = (config.statistics & config::bit(which)) != 0 ||
                       std::any_of(config.filegens.begin(), config.filegens.end(), [which](const config::FileGen& f) {
                         return f.stats == which && f.enable.value_or(false);
                       });
    if (!asked) return true;
    FileGenSettings settings;
    std::string why;
    if (!filegen_settings(config, which, getpid(), now_unix_s, settings, why)) {
      if (error) *error = std::string(name) + ": " + why;
      return false;
    }
    if (settings.enabled) out = settings;
    return true;
  };
  if (!stats_file(config::StatsFile::kPeerstats, "peerstats", o.peerstats) ||
      !stats_file(config::StatsFile::kLoopstats, "loopstats", o.loopstats) ||
      !stats_file(config::StatsFile::kRawstats, "rawstats", o.rawstats)) {
    return std::nullopt;
  }
  o.driftfile = config.driftfile;
  if (config.tinker_step) o.discipline.step_threshold = *config.tinker_step;
  if (config.tinker_panic) o.discipline.panic_threshold = *config.tinker_panic;
  return o;
}

}  // namespace ntsd::clock
