#include "ops/metrics.h"

#include <cmath>
#include <string>
#include <utility>

#include "clock/selection.h"
#include "clock/system_state.h"
#include "ke/ke_server.h"
#include "server/verdict.h"

namespace ntsd::ops {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Builds families in order: family() opens one, add() appends a sample to it.
class Families {
 public:
  void family(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    out_.push_back(std::move(f));
  }
  void add(double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (out_.back().type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    out_.back().metric.push_back(std::move(m));
  }
  // A family with exactly one sample.
  void one(std::string name, std::string help, MetricType type, double value, Labels labels = {}) {
    family(std::move(name), std::move(help), type);
    add(value, std::move(labels));
  }
  std::vector<MetricFamily> take() { return std::move(out_); }

 private:
  std::vector<MetricFamily> out_;
};

constexpr MetricType kCounter = MetricType::Counter;
constexpr MetricType kGauge = MetricType::Gauge;

double ntp_short_seconds(proto::NtpShort s) { return static_cast<double>(s.raw) / 65536.0; }

uint64_t drops(const server::CounterTotals& t, server::DropReason r) { return t.dropped[static_cast<size_t>(r)]; }

// ntpd-rs's server counters, derived from ntsd's finer ones so that its
// dashboards work unchanged: received = accepted + denied + ignored + rate
// limited + NTS NAKs. ntsd decides restrict and rate limiting before it looks
// at a request's NTS fields, so an NTS request refused there counts as denied
// or rate limited, not under the ntp_server_nts_* families.
struct NtpdRsServerCounts {
  uint64_t received, accepted, denied, ignored, rate_limited, nts_received, nts_accepted, nts_denied, nts_nak;
};

NtpdRsServerCounts ntpd_rs_counts(const server::CounterTotals& t) {
  using server::DropReason;
  NtpdRsServerCounts c{};
  c.received = t.received;
  c.nts_nak = t.naks_total();
  c.accepted = t.replied - c.nts_nak - t.kod_rate;  // time given out, plain or NTS
  c.denied = drops(t, DropReason::kRestricted) + drops(t, DropReason::kNtsRequired);
  c.rate_limited = drops(t, DropReason::kRateLimited) + t.kod_rate;
  c.ignored = t.dropped_total() - c.denied - drops(t, DropReason::kRateLimited);
  c.nts_accepted = t.nts_replied;
  for (DropReason r : {DropReason::kNtsNotAvailable, DropReason::kNtsMalformed, DropReason::kNtsNoRoom, DropReason::kNtsCryptoFailure, DropReason::kNtsNoSealKey}) {
    c.nts_denied += drops(t, r);
  }
  c.nts_received = c.nts_accepted + c.nts_denied + c.nts_nak;
  return c;
}

void build_info_family(Families& f, const DaemonStatus& s) {
  f.one("ntsd_build_info", "Always 1; the labels say what was built and which AES path this CPU gets.", kGauge, 1,
        {{"version", s.build.version},
         {"compiler", s.build.compiler},
         {"openssl", s.build.openssl},
         {"aes_path", s.build.aes_path}});
  f.one("ntsd_start_time_seconds", "Unix time the daemon started.", kGauge, s.started_unix_ns / 1e9);
}

// What clients are told (ntpd-rs's ntp_system_*): the served state, present
// with or without upstream servers (a local reference serves stratum 10).
void system_families(Families& f, const DaemonStatus& s) {
  f.one("ntp_system_stratum", "Stratum served to clients (16: unsynchronized).", kGauge, s.served.stratum);
  f.one("ntp_system_leap_indicator", "Leap indicator served (0 none, 1 insert, 2 delete, 3 unsynchronized).", kGauge,
        static_cast<double>(s.served.leap));
  f.one("ntp_system_root_delay_seconds", "Root delay served to clients.", kGauge,
        ntp_short_seconds(s.served.root_delay));
  f.one("ntp_system_root_dispersion_seconds", "Root dispersion served to clients.", kGauge,
        ntp_short_seconds(s.served.root_dispersion));
  f.one("ntp_system_precision_seconds", "Precision of the host clock as served.", kGauge,
        std::ldexp(1.0, s.served.precision));
}

void server_families(Families& f, const DaemonStatus& s) {
  const server::CounterTotals& t = s.server.total;
  const NtpdRsServerCounts c = ntpd_rs_counts(t);
  f.one("ntp_server_received_packets_total", "NTP requests received.", kCounter, c.received);
  f.one("ntp_server_accepted_packets_total", "Requests answered with time (plain or NTS).", kCounter, c.accepted);
  f.one("ntp_server_denied_packets_total", "Requests refused by restrict (or nts require).", kCounter, c.denied);
  f.one("ntp_server_ignored_packets_total", "Requests dropped as malformed or failing NTS checks.", kCounter,
        c.ignored);
  f.one("ntp_server_rate_limited_packets_total", "Requests over the rate limit (dropped or KoD RATE).", kCounter,
        c.rate_limited);
  f.one("ntp_server_response_send_errors_total", "Replies the kernel refused to send.", kCounter, t.send_errors);
  f.one("ntp_server_nts_received_packets_total", "NTS requests past restrict and rate limiting.", kCounter,
        c.nts_received);
  f.one("ntp_server_nts_accepted_packets_total", "NTS requests answered with authenticated time.", kCounter,
        c.nts_accepted);
  f.one("ntp_server_nts_denied_packets_total", "NTS requests dropped (malformed, bad authenticator, ...).",
        kCounter, c.nts_denied);
  f.one("ntp_server_nts_nak_packets_total", "NTS requests answered with a NAK (KoD NTSN).", kCounter, c.nts_nak);

  // Per worker: the main counters only. The by-reason families below are
  // summed over workers, so series grow with workers + reasons, not their
  // product (64 workers x 15 drop reasons would be ~1000 mostly-zero series).
  struct PerWorker {
    const char* name;
    const char* help;
    uint64_t server::CounterTotals::*field;
  };
  static constexpr PerWorker kPerWorker[] = {
      {"ntsd_worker_received_packets_total", "Datagrams received, per worker.", &server::CounterTotals::received},
      {"ntsd_worker_replied_packets_total", "Replies sent (any kind), per worker.", &server::CounterTotals::replied},
      {"ntsd_worker_nts_replied_packets_total", "NTS-authenticated replies, per worker.",
       &server::CounterTotals::nts_replied},
      {"ntsd_worker_kiss_rate_packets_total", "KoD RATE replies, per worker.", &server::CounterTotals::kod_rate},
      {"ntsd_worker_send_errors_total", "Replies the kernel refused, per worker.",
       &server::CounterTotals::send_errors},
      {"ntsd_worker_received_bytes_total", "UDP payload bytes received, per worker.",
       &server::CounterTotals::bytes_in},
      {"ntsd_worker_sent_bytes_total", "UDP payload bytes sent, per worker.", &server::CounterTotals::bytes_out},
      {"ntsd_worker_batches_total", "Receive batches processed, per worker.", &server::CounterTotals::batches},
  };
  for (const PerWorker& p : kPerWorker) {
    f.family(p.name, p.help, kCounter);
    for (size_t w = 0; w < s.server.workers.size(); ++w) {
      f.add(s.server.workers[w].*p.field, {{"worker", std::to_string(w)}});
    }
  }
  f.family("ntsd_worker_dropped_packets_total", "Requests dropped (all reasons), per worker.", kCounter);
  for (size_t w = 0; w < s.server.workers.size(); ++w) {
    f.add(s.server.workers[w].dropped_total(), {{"worker", std::to_string(w)}});
  }
  f.family("ntsd_server_dropped_packets_total", "Requests dropped, by reason.", kCounter);
  for (size_t i = 0; i < t.dropped.size(); ++i) {
    f.add(t.dropped[i], {{"reason", server::drop_reason_name(static_cast<server::DropReason>(i))}});
  }
  f.family("ntsd_server_nts_naks_total", "NTS NAKs (cookie did not open), by reason.", kCounter);
  for (size_t i = 0; i < t.naks.size(); ++i) {
    f.add(t.naks[i], {{"reason", server::nak_reason_name(static_cast<server::NakReason>(i))}});
  }
  // Operators size the key retention window from this: opens under "older"
  // keys mean clients that poll rarely still hold old cookies.
  f.family("ntsd_server_cookie_opens_total", "Cookies opened, by the age of the key that sealed them.", kCounter);
  for (size_t i = 0; i < t.cookie_key_age.size(); ++i) {
    f.add(t.cookie_key_age[i], {{"key_age", server::key_age_name(static_cast<server::KeyAge>(i))}});
  }
  f.one("ntsd_server_workers", "UDP worker threads.", kGauge, static_cast<double>(s.server.workers.size()));
  f.one("ntsd_server_io_info", "Always 1; the label names the UDP I/O backend.", kGauge, 1,
        {{"backend", s.server.io_backend}});
}

void nts_families(Families& f, const NtsSection& n) {
  const ke::KeCounters& k = n.ke;
  f.one("ntsd_nts_ke_connections_accepted_total", "NTS-KE TCP connections accepted.", kCounter, k.accepted);
  f.family("ntsd_nts_ke_connections_refused_total", "NTS-KE connections refused, by reason.", kCounter);
  f.add(k.refused_connection_cap, {{"reason", "connection_cap"}});
  f.add(k.refused_rate_limit, {{"reason", "rate_limit"}});
  f.add(k.refused_rate_table_full, {{"reason", "rate_table_full"}});
  f.add(k.refused_per_address, {{"reason", "per_address"}});
  f.one("ntsd_nts_ke_connections_evicted_total", "Unfinished TLS connections closed to make room.", kCounter,
        k.evicted);
  f.one("ntsd_nts_ke_accept_errors_total", "accept() failures (EMFILE and the like).", kCounter, k.accept_errors);
  f.one("ntsd_nts_ke_active_connections", "NTS-KE connections open now.", kGauge, k.active);
  f.one("ntsd_nts_ke_max_connections", "The global NTS-KE connection cap in force.", kGauge, k.max_connections);
  f.family("ntsd_nts_ke_handshakes_total", "NTS-KE TLS handshakes, by result.", kCounter);
  f.add(k.handshakes_ok, {{"result", "ok"}});
  f.add(k.handshake_failed_tls, {{"result", "tls_error"}});
  f.add(k.handshake_failed_timeout, {{"result", "timeout"}});
  f.add(k.handshake_failed_alpn, {{"result", "no_alpn"}});
  f.add(k.first_byte_timeout, {{"result", "first_byte_timeout"}});
  f.family("ntsd_nts_ke_tls_handshakes_total", "Completed NTS-KE TLS handshakes, by TLS version.", kCounter);
  f.add(k.tls13, {{"version", "TLSv1.3"}});
  f.add(k.tls12, {{"version", "TLSv1.2"}});
  f.family("ntsd_nts_ke_responses_total", "NTS-KE responses sent, by outcome.", kCounter);
  f.add(k.responses_cookies, {{"result", "cookies"}});
  f.add(k.responses_no_protocol, {{"result", "no_protocol"}});
  f.add(k.responses_no_aead, {{"result", "no_aead"}});
  f.add(k.responses_internal_error, {{"result", "internal_error"}});
  f.family("ntsd_nts_ke_request_errors_total", "NTS-KE requests that failed after the handshake, by reason.",
           kCounter);
  f.add(k.request_timeout, {{"reason", "timeout"}});
  f.add(k.request_truncated, {{"reason", "truncated"}});
  // Index 0 and 1 are "ok" and "incomplete": states, not errors.
  for (size_t i = 2; i < k.request_errors.size(); ++i) {
    const std::string name = ke::ke_request_error_name(i);
    if (name != "unknown") f.add(k.request_errors[i], {{"reason", name}});
  }
  f.family("ntsd_nts_ke_aead_total", "AEAD algorithm chosen in NTS-KE responses.", kCounter);
  f.add(k.aead_siv256, {{"aead", "AEAD_AES_SIV_CMAC_256"}});
  f.add(k.aead_siv384, {{"aead", "AEAD_AES_SIV_CMAC_384"}});
  f.add(k.aead_siv512, {{"aead", "AEAD_AES_SIV_CMAC_512"}});
  f.add(k.aead_gcm_siv, {{"aead", "AEAD_AES_128_GCM_SIV"}});
  f.one("ntsd_nts_ke_cookies_issued_total", "Cookies handed out by NTS-KE.", kCounter, k.cookies_issued);
  f.family("ntsd_nts_ke_certificate_reloads_total", "Certificate reloads, by result.", kCounter);
  f.add(k.reloads_ok, {{"result", "ok"}});
  f.add(k.reloads_failed, {{"result", "failed"}});
  f.one("ntsd_nts_cookie_key_epoch", "Epoch of the cookie key that seals new cookies.", kGauge,
        static_cast<double>(n.keys.current_epoch));
  f.one("ntsd_nts_cookie_key_next_rotation_timestamp_seconds", "Unix time the next cookie key becomes current.",
        kGauge, static_cast<double>(n.keys.next_rotation_unix));
  f.one("ntsd_nts_cookie_key_rotation_period_seconds", "Cookie key rotation period.", kGauge,
        static_cast<double>(n.keys.rotate_seconds));
  f.one("ntsd_nts_cookie_key_retention_epochs", "Key epochs whose cookies still open.", kGauge,
        static_cast<double>(n.keys.retention_epochs));
}

// Polls since the last answer, at most 8: the trailing zeros of the reach register.
int unanswered_polls(uint8_t reach) {
  int n = 0;
  while (n < 8 && ((reach >> n) & 1) == 0) ++n;
  return n;
}

void clock_families(Families& f, const ClockSection& c) {
  const auto per_source = [&](const char* name, const char* help, MetricType type, auto value, bool valid_only) {
    f.family(name, help, type);
    for (const clock::SourceReport& r : c.sources) {
      // An offset of 0 for a source never heard from would be a lie; leave it out.
      if (valid_only && !r.valid) continue;
      f.add(static_cast<double>(value(r)), {{"name", r.name}, {"address", r.address}});
    }
  };
  using R = const clock::SourceReport&;
  per_source("ntp_source_offset_seconds", "Offset of the source (positive: host clock behind).", kGauge,
             [](R r) { return r.offset; }, true);
  per_source("ntp_source_delay_seconds", "Round-trip delay to the source.", kGauge, [](R r) { return r.delay; },
             true);
  per_source("ntp_source_uncertainty_seconds", "Jitter of the source's offset estimate.", kGauge,
             [](R r) { return r.jitter; }, true);
  per_source("ntp_source_poll_interval_seconds", "Time between polls of the source.", kGauge,
             [](R r) { return std::ldexp(1.0, r.poll); }, false);
  per_source("ntp_source_unanswered_polls", "Polls since the last answer, at most 8.", kGauge,
             [](R r) { return unanswered_polls(r.reach); }, false);
  per_source("ntp_source_nts_cookies", "NTS cookies held for the source.", kGauge, [](R r) { return r.cookies; },
             false);
  per_source("ntsd_source_stratum", "Stratum the source reports.", kGauge, [](R r) { return r.stratum; }, false);
  per_source("ntsd_source_reach", "Reach register (8 bits, 255: last 8 polls answered).", kGauge,
             [](R r) { return r.reach; }, false);
  f.family("ntsd_source_selection", "Always 1; the label is the selection status of the source.", kGauge);
  for (const clock::SourceReport& r : c.sources) {
    f.add(1, {{"name", r.name}, {"address", r.address}, {"status", clock::source_status_name(r.status)}});
  }
  per_source("ntsd_source_polls_sent_total", "Requests sent to the source.", kCounter,
             [](R r) { return r.counters.polls_sent; }, false);
  per_source("ntsd_source_verified_replies_total", "Verified replies from the source.", kCounter,
             [](R r) { return r.counters.verified; }, false);
  per_source("ntsd_source_key_exchanges_total", "NTS-KE runs started for the source.", kCounter,
             [](R r) { return r.counters.key_exchanges; }, false);

  const clock::SystemStatus& sys = c.system;
  f.one("ntsd_clock_synchronized", "1 while following a system peer, 0 otherwise (see the label).", kGauge,
        sys.sync == clock::SyncStatus::kSynchronized ? 1 : 0, {{"state", clock::sync_status_name(sys.sync)}});
  f.one("ntsd_clock_offset_seconds", "System offset at the last update (positive: host clock behind).", kGauge,
        sys.offset);
  f.one("ntsd_clock_jitter_seconds", "System jitter at the last update.", kGauge, sys.jitter);

  const clock::DisciplineReport& d = c.discipline;
  f.one("ntsd_discipline_measure_only", "1 when the host clock is only measured, never adjusted.", kGauge,
        d.measure_only ? 1 : 0);
  if (d.stats.valid) {
    f.one("ntsd_discipline_offset_seconds", "Discipline's estimate of the host clock offset now.", kGauge,
          d.stats.offset);
    f.one("ntsd_discipline_offset_error_seconds", "1-sigma error of that estimate.", kGauge, d.stats.offset_error);
    f.one("ntsd_discipline_jitter_seconds", "RMS of the measurements about the fit.", kGauge, d.stats.jitter);
    // Base units: a frequency correction is a ratio (ppm / 1e6), as node_exporter's timex metrics.
    f.one("ntsd_discipline_frequency_ratio", "Learned base frequency correction (the driftfile value / 1e6).",
          kGauge, d.stats.drift_ppm * 1e-6);
    f.one("ntsd_discipline_frequency_in_force_ratio", "Frequency correction the clock is running at now.", kGauge,
          d.stats.frequency_in_force_ppm * 1e-6);
    f.one("ntsd_discipline_wander_ratio", "RMS change of the base frequency between updates.", kGauge,
          d.stats.wander_ppm * 1e-6);
  }
  f.one("ntsd_discipline_steps_total", "Steps of the host clock.", kCounter, static_cast<double>(d.steps));
}

}  // namespace

std::vector<prometheus::MetricFamily> metric_families(const DaemonStatus& status) {
  Families f;
  build_info_family(f, status);
  system_families(f, status);
  server_families(f, status);
  if (status.nts) nts_families(f, *status.nts);
  if (status.clock) clock_families(f, *status.clock);
  return f.take();
}

std::vector<prometheus::MetricFamily> StatusCollectable::Collect() const {
  return metric_families(source_.collect());
}

}  // namespace ntsd::ops
