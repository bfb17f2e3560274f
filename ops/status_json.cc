#include "ops/status_json.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "clock/selection.h"
#include "clock/system_state.h"
#include "proto/ntp_time.h"
#include "server/verdict.h"
#include "proto/ntp_packet.h"

namespace ntsd::ops {
namespace {

using nlohmann::json;

double seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }
double short_seconds(proto::NtpShort s) { return seconds(proto::ns_from_ntp_short(s)); }

const char* leap_name(proto::Leap leap) {
  switch (leap) {
    case proto::Leap::kNone: return "none";
    case proto::Leap::kInsert61: return "insert";
    case proto::Leap::kDelete59: return "delete";
    case proto::Leap::kUnsynchronized: return "unsynchronised";
  }
  return "?";
}

const char* source_state_name(clock::SourceState state) {
  switch (state) {
    case clock::SourceState::kIdle: return "idle";
    case clock::SourceState::kResolving: return "resolving";
    case clock::SourceState::kResolveBackoff: return "resolve_backoff";
    case clock::SourceState::kKeyExchange: return "key_exchange";
    case clock::SourceState::kKeBackoff: return "ke_backoff";
    case clock::SourceState::kPolling: return "polling";
    case clock::SourceState::kDemobilized: return "demobilized";
  }
  return "?";
}

// The four words the issue asks for, from the selection status: selected,
// candidate, falseticker, unreachable; and what ntpq would call an outlier
// or a source not (yet) fit to select.
const char* selection_word(const clock::SourceReport& s) {
  switch (s.status) {
    case clock::SourceStatus::kSystemPeer: return "selected";
    case clock::SourceStatus::kCandidate: return "candidate";
    case clock::SourceStatus::kOutlier: return "outlier";
    case clock::SourceStatus::kFalseticker: return "falseticker";
    default: break;
  }
  if (s.reach == 0) return "unreachable";
  return s.unfit == clock::Unfit::kNoselect ? "noselect" : "unusable";
}

// The server's own words for its sync state: what it serves, and why.
std::string sync_word(const DaemonStatus& status) {
  if (status.clock) return clock::sync_status_name(status.clock->system.sync);
  return status.served.leap == proto::Leap::kUnsynchronized ? "unsynchronized" : "local_reference";
}

json totals_json(const server::CounterTotals& t) {
  json drops = json::object();
  for (size_t i = 0; i < t.dropped.size(); ++i) {
    drops[server::drop_reason_name(static_cast<server::DropReason>(i))] = t.dropped[i];
  }
  json naks = json::object();
  for (size_t i = 0; i < t.naks.size(); ++i) naks[server::nak_reason_name(static_cast<server::NakReason>(i))] = t.naks[i];
  return {{"received", t.received},
          {"replied", t.replied},
          {"nts_replied", t.nts_replied},
          {"naks", t.naks_total()},
          {"naks_by_reason", naks},
          {"kod_rate", t.kod_rate},
          {"rate_limited", t.dropped[static_cast<size_t>(server::DropReason::kRateLimited)] + t.kod_rate},
          {"dropped", t.dropped_total()},
          {"dropped_by_reason", drops},
          {"send_errors", t.send_errors},
          {"bytes_in", t.bytes_in},
          {"bytes_out", t.bytes_out},
          {"batches", t.batches}};
}

}  // namespace

std::string refid_text(uint32_t refid, uint8_t stratum) {
  if (stratum <= 1) {
    const std::string text = proto::refid_chars(refid);
    if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) {
      return text;
    }
  }
  return proto::refid_dotted_quad(refid);
}

json status_json(const DaemonStatus& status) {
  const server::ServerState& s = status.served;
  json out = {{"sync", sync_word(status)},
              {"stratum", s.stratum},
              {"refid", refid_text(s.reference_id, s.stratum)},
              {"refid_hex", [&] {
                 char hex[12];
                 std::snprintf(hex, sizeof(hex), "%08x", s.reference_id);
                 return std::string(hex);
               }()},
              {"leap", leap_name(s.leap)},
              {"precision_log2", s.precision},
              {"root_delay_s", short_seconds(s.root_delay)},
              {"root_dispersion_s", short_seconds(s.root_dispersion)},
              {"now_unix", seconds(status.now_unix_ns)},
              {"uptime_s", seconds(status.now_unix_ns - status.started_unix_ns)},
              {"version", status.build.version},
              {"upstreams", status.clock ? status.clock->sources.size() : 0}};
  if (s.reference_time.raw != 0) {
    out["reference_time_unix"] = seconds(proto::unix_ns_from_ntp(s.reference_time, status.now_unix_ns));
  } else {
    out["reference_time_unix"] = nullptr;  // a local reference stamps each reply with its receive time
  }
  if (status.clock) {
    const clock::SystemStatus& sys = status.clock->system;
    const clock::DisciplineReport& d = status.clock->discipline;
    out["offset_s"] = d.stats.valid ? d.stats.offset : sys.offset;
    out["system_offset_s"] = sys.offset;
    out["system_jitter_s"] = sys.jitter;
    out["since_update_s"] = sys.since_update;
    // The learned frequency correction (the driftfile value, chronyc
    // tracking's "Frequency"); what the kernel runs at now is separate (0
    // when measure-only, since nothing is adjusted).
    out["frequency_ppm"] = d.stats.drift_ppm;
    out["frequency_in_force_ppm"] = d.stats.frequency_in_force_ppm;
    out["host_frequency_ppm"] = d.stats.host_frequency_ppm;
    out["offset_error_s"] = d.stats.offset_error;
    out["measure_only"] = d.measure_only;
    out["discipline"] = clock::discipline_outcome_name(d.last_outcome);
    out["steps"] = d.steps;
    std::string peer;
    for (const clock::SourceReport& src : status.clock->sources) {
      if (src.status == clock::SourceStatus::kSystemPeer) peer = src.name;
    }
    out["system_peer"] = peer.empty() ? json(nullptr) : json(peer);
  } else {
    // No upstreams: the host clock is served as it is; nothing is measured.
    out["offset_s"] = nullptr;
    out["frequency_ppm"] = nullptr;
    out["system_peer"] = nullptr;
  }
  return out;
}

json sources_json(const DaemonStatus& status) {
  json list = json::array();
  if (!status.clock) return {{"sources", list}};
  for (const clock::SourceReport& s : status.clock->sources) {
    json one = {{"name", s.name},
                {"address", s.address},
                {"nts", s.nts},
                {"selection", selection_word(s)},
                {"tally", std::string(1, clock::source_status_tally(s.status))},
                {"state", source_state_name(s.state)},
                {"unfit", clock::unfit_name(s.unfit)},
                {"stratum", s.stratum},
                {"reach", s.reach},
                {"poll_log2", s.poll},
                {"valid", s.valid},
                {"offset_s", s.offset},
                {"delay_s", s.delay},
                {"jitter_s", s.jitter},
                {"dispersion_s", s.dispersion},
                {"cookies", s.cookies},
                {"polls", s.counters.polls_sent},
                {"verified", s.counters.verified},
                {"naks", s.counters.naks},
                {"kods", s.counters.kods},
                {"unauthenticated", s.counters.unauthenticated},
                {"key_exchanges", s.counters.key_exchanges}};
    one["last_ke_unix"] = s.last_ke_ns ? json(seconds(*s.last_ke_ns)) : json(nullptr);
    one["last_ke_ago_s"] = s.last_ke_ns ? json(seconds(status.now_unix_ns - *s.last_ke_ns)) : json(nullptr);
    list.push_back(std::move(one));
  }
  return {{"sources", list}};
}

json server_json(const DaemonStatus& status) {
  const ServerSection& s = status.server;
  json workers = json::array();
  for (const server::CounterTotals& w : s.workers) workers.push_back(totals_json(w));
  return {{"io_backend", s.io_backend},
          {"port", s.port},
          {"endpoints", s.endpoints},
          {"uptime_s", seconds(status.now_unix_ns - status.started_unix_ns)},
          {"total", totals_json(s.total)},
          {"workers", workers}};
}

json nts_json(const DaemonStatus& status) {
  const server::CounterTotals& t = status.server.total;
  json ages = json::object();
  for (size_t i = 0; i < t.cookie_key_age.size(); ++i) {
    ages[server::key_age_name(static_cast<server::KeyAge>(i))] = t.cookie_key_age[i];
  }
  if (!status.nts) return {{"enabled", false}, {"cookie_opens_by_key_age", ages}};
  const NtsSection& n = *status.nts;
  const ke::KeCounters& k = n.ke;
  json request_errors = json::object();
  for (size_t i = 0; i < k.request_errors.size(); ++i) {
    if (k.request_errors[i] != 0) request_errors[ke::ke_request_error_name(i)] = k.request_errors[i];
  }
  return {
      {"enabled", true},
      {"cookie_opens_by_key_age", ages},
      {"keys",
       {{"current_epoch", n.keys.current_epoch},
        {"rotate_s", n.keys.rotate_seconds},
        {"next_rotation_unix", n.keys.next_rotation_unix},
        {"next_rotation_in_s", n.keys.next_rotation_unix - status.now_unix_ns / 1'000'000'000},
        {"retained_epochs", n.keys.retention_epochs},
        {"oldest_open_epoch", n.keys.current_epoch - n.keys.retention_epochs}}},
      {"ke",
       {{"port", n.ke_port},
        {"threads", n.ke_threads},
        {"certificate", n.certificate},
        {"accepted", k.accepted},
        {"active", k.active},
        {"max_connections", k.max_connections},
        {"handshakes",
         {{"ok", k.handshakes_ok},
          {"failed_tls", k.handshake_failed_tls},
          {"failed_timeout", k.handshake_failed_timeout},
          {"failed_alpn", k.handshake_failed_alpn}}},
        {"tls_versions", {{"TLSv1.3", k.tls13}, {"TLSv1.2", k.tls12}}},
        {"responses",
         {{"cookies", k.responses_cookies},
          {"no_protocol", k.responses_no_protocol},
          {"no_aead", k.responses_no_aead},
          {"internal_error", k.responses_internal_error}}},
        {"request_timeout", k.request_timeout},
        {"request_truncated", k.request_truncated},
        {"request_errors", request_errors},
        {"refused",
         {{"connection_cap", k.refused_connection_cap},
          {"rate_limit", k.refused_rate_limit},
          {"rate_table_full", k.refused_rate_table_full},
          {"per_address", k.refused_per_address},
          {"evicted", k.evicted},
          {"first_byte_timeout", k.first_byte_timeout},
          {"accept_errors", k.accept_errors}}},
        {"cookies_issued", k.cookies_issued},
        {"aead",
         {{"AES-SIV-CMAC-256", k.aead_siv256},
          {"AES-SIV-CMAC-384", k.aead_siv384},
          {"AES-SIV-CMAC-512", k.aead_siv512},
          {"AES-128-GCM-SIV", k.aead_gcm_siv}}},
        {"reloads", {{"ok", k.reloads_ok}, {"failed", k.reloads_failed}}}}}};
}

json clients_json(const ClientsSection& clients, int64_t now_unix_ns) {
  json rows = json::array();
  for (const ClientRow& c : clients.busiest) {
    const double span = seconds(c.last_unix_ns - c.first_unix_ns);
    // The bucket as a request arriving now would find it: drained one second
    // per second since the last request; refused when one more increment
    // (limit / 8, NTPsec's head) would reach the limit.
    const int64_t idle_s = (now_unix_ns - c.last_unix_ns) / 1'000'000'000;
    const int64_t bucket = std::max<int64_t>(0, c.leak_s - std::max<int64_t>(0, idle_s));
    const bool limited_now = c.limit_s > 0 && bucket + c.limit_s / 8 >= c.limit_s;
    rows.push_back({{"address", c.address},
                    {"worker", c.worker},
                    {"requests", c.requests},
                    {"limited", c.limited},
                    {"kod", c.kod},
                    {"first_unix", seconds(c.first_unix_ns)},
                    {"last_unix", seconds(c.last_unix_ns)},
                    {"last_ago_s", seconds(now_unix_ns - c.last_unix_ns)},
                    {"average_interval_s", c.requests > 1 ? json(span / static_cast<double>(c.requests - 1)) : json(nullptr)},
                    {"bucket_s", bucket},
                    {"bucket_limit_s", c.limit_s},
                    {"state", limited_now ? "limited" : "ok"}});
  }
  return {{"tracked", clients.tracked},
          {"entries", clients.entries},
          {"capacity", clients.capacity},
          {"evictions", clients.evictions},
          {"clients", rows}};
}

}  // namespace ntsd::ops
