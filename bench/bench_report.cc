#include "bench/bench_report.h"

#include <cstdio>

namespace ntsd::bench {

namespace {

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string optional_number(const std::optional<double>& value) { return value ? number(*value) : "null"; }

// Targets and modes are IP literals, ports and fixed words; escape anyway.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

}  // namespace

double lost_percent(const BenchReport& r) {
  return r.sent == 0 ? 0 : 100.0 * static_cast<double>(r.timeouts) / static_cast<double>(r.sent);
}

double verified_per_second(const BenchReport& r) {
  return r.duration_s > 0 ? static_cast<double>(r.verified) / r.duration_s : 0;
}

std::optional<double> verified_per_server_cpu_second(const BenchReport& r) {
  if (!r.server_cpu_s || *r.server_cpu_s <= 0) return std::nullopt;
  return static_cast<double>(r.verified) / *r.server_cpu_s;
}

std::string report_json(const BenchReport& r) {
  std::optional<double> cpu_percent;
  if (r.server_cpu_s && r.duration_s > 0) cpu_percent = 100.0 * *r.server_cpu_s / r.duration_s;
  std::string json = "{";
  auto field = [&json](const char* key, const std::string& value) {
    if (json.size() > 1) json += ",";
    json += std::string("\"") + key + "\":" + value;
  };
  auto count = [](uint64_t v) { return std::to_string(v); };
  field("mode", quoted(r.mode));
  field("target", quoted(r.target));
  field("clients", std::to_string(r.clients));
  field("threads", std::to_string(r.threads));
  field("duration_s", number(r.duration_s));
  field("sent", count(r.sent));
  field("verified", count(r.verified));
  field("failed", count(r.failed));
  field("naks", count(r.naks));
  field("kods", count(r.kods));
  field("timeouts", count(r.timeouts));
  field("late", count(r.late));
  field("reused_cookies", count(r.reused_cookies));
  field("send_errors", count(r.send_errors));
  field("slots_exhausted", count(r.slots_exhausted));
  field("lost_pct", number(lost_percent(r)));
  field("verified_per_s", number(verified_per_second(r)));
  if (r.mode == "ke") {
    field("handshakes", count(r.verified));
    field("handshakes_per_s", number(verified_per_second(r)));
  }
  field("latency_us", "{\"p50\":" + number(r.p50_us) + ",\"p99\":" + number(r.p99_us) +
                          ",\"p999\":" + number(r.p999_us) + "}");
  field("server_cpu_s", optional_number(r.server_cpu_s));
  field("server_cpu_pct", optional_number(cpu_percent));
  field("verified_per_server_cpu_s", optional_number(verified_per_server_cpu_second(r)));
  field("client_cpu_s", number(r.client_cpu_s));
  return json + "}";
}

std::string report_summary(const BenchReport& r) {
  char line[512];
  if (r.mode == "ke") {
    std::snprintf(line, sizeof line,
                  "ntsbench ke %s: %llu sessions in %.1f s = %.0f handshakes/s, %llu failed, latency p50 %.0f p99 "
                  "%.0f µs",
                  r.target.c_str(), static_cast<unsigned long long>(r.verified), r.duration_s,
                  verified_per_second(r), static_cast<unsigned long long>(r.failed), r.p50_us, r.p99_us);
  } else {
    std::snprintf(line, sizeof line,
                  "ntsbench %s %s: sent %llu, verified %llu (%.0f/s), failed %llu, nak %llu, kod %llu, lost %.3f%%, "
                  "latency p50 %.0f p99 %.0f p99.9 %.0f µs",
                  r.mode.c_str(), r.target.c_str(), static_cast<unsigned long long>(r.sent),
                  static_cast<unsigned long long>(r.verified), verified_per_second(r),
                  static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.naks),
                  static_cast<unsigned long long>(r.kods), lost_percent(r), r.p50_us, r.p99_us, r.p999_us);
  }
  std::string out = line;
  if (const auto per_cpu = verified_per_server_cpu_second(r)) {
    std::snprintf(line, sizeof line, ", server CPU %.2f s (%.0f%%), %.0f verified per server CPU-second",
                  *r.server_cpu_s, r.duration_s > 0 ? 100.0 * *r.server_cpu_s / r.duration_s : 0.0, *per_cpu);
    out += line;
  }
  return out;
}

}  // namespace ntsd::bench
