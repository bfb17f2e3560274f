#include "ops/control_render.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace ntsd::ops {
namespace {

using nlohmann::json;

// A table: a header row and data rows, each column padded to its widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string text() const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], row[i].size());
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string count(const json& v) { return v.is_number() ? std::to_string(v.get<uint64_t>()) : str(v); }

std::string seconds_or_dash(const json& v, bool signed_value) {
  return v.is_number() ? human_seconds(v.get<double>(), signed_value) : "-";
}

std::string utc(double unix_s) {
  const time_t t = static_cast<time_t>(std::floor(unix_s));
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return buf;
}

std::string field(const char* name, const std::string& value) {
  std::string line = name;
  line.resize(std::max<size_t>(line.size() + 1, 17), ' ');
  return line + value + "\n";
}

// "name=value, …" of the non-zero members of an object, or "none".
std::string nonzero(const json& object) {
  std::string out;
  for (const auto& [name, value] : object.items()) {
    if (value.is_number() && value.get<uint64_t>() == 0) continue;
    out += (out.empty() ? "" : ", ") + name + " " + str(value);
  }
  return out.empty() ? "none" : out;
}

std::string render_status(const json& d) {
  std::string out;
  std::string sync = str(d.value("sync", json()));
  if (d.contains("system_peer") && !d["system_peer"].is_null()) sync += " to " + str(d["system_peer"]);
  out += field("sync", sync);
  out += field("stratum", str(d.value("stratum", json())));
  out += field("refid", str(d.value("refid", json())) + " (0x" + str(d.value("refid_hex", json())) + ")");
  out += field("leap", str(d.value("leap", json())));
  out += field("offset", seconds_or_dash(d.value("offset_s", json()), true) +
                             (d.value("measure_only", false) ? " (measure-only)" : ""));
  const json freq = d.value("frequency_ppm", json());
  char f[48] = "-";
  if (freq.is_number()) std::snprintf(f, sizeof(f), "%+.3f ppm", freq.get<double>());
  out += field("frequency", f);
  out += field("root delay", seconds_or_dash(d.value("root_delay_s", json()), false));
  out += field("root dispersion", seconds_or_dash(d.value("root_dispersion_s", json()), false));
  const json ref = d.value("reference_time_unix", json());
  out += field("reference time", ref.is_number() ? utc(ref.get<double>()) : "- (local reference: each reply's receive time)");
  out += field("upstreams", str(d.value("upstreams", json())));
  out += field("uptime", human_age(d.value("uptime_s", 0.0)));
  out += field("version", str(d.value("version", json())));
  return out;
}

std::string render_sources(const json& d) {
  const json& list = d.value("sources", json::array());
  if (list.empty()) return "no upstream sources (no server or pool lines): ntsd serves its local reference\n";
  Table t({"", "name", "address", "selection", "state", "st", "reach", "poll", "offset", "delay", "jitter", "cookies",
           "last KE"});
  for (const json& s : list) {
    char reach[8];
    std::snprintf(reach, sizeof(reach), "%03o", s.value("reach", 0));
    const json ke = s.value("last_ke_ago_s", json());
    const bool valid = s.value("valid", false);
    t.add({str(s.value("tally", json(" "))), str(s.value("name", json())), str(s.value("address", json())),
           str(s.value("selection", json())), str(s.value("state", json())), str(s.value("stratum", json())), reach,
           std::to_string(1 << std::clamp(s.value("poll_log2", 0), 0, 30)),
           valid ? seconds_or_dash(s.value("offset_s", json()), true) : "-",
           valid ? seconds_or_dash(s.value("delay_s", json()), false) : "-",
           valid ? seconds_or_dash(s.value("jitter_s", json()), false) : "-",
           s.value("nts", false) ? count(s.value("cookies", json())) : "-",
           ke.is_number() ? human_age(ke.get<double>()) + " ago" : "-"});
  }
  return t.text();
}

std::string render_server(const json& d) {
  std::string out = "NTP on";
  for (const json& e : d.value("endpoints", json::array())) out += " " + str(e);
  out += " (" + str(d.value("io_backend", json())) + "), up " + human_age(d.value("uptime_s", 0.0)) + "\n\n";
  Table t({"worker", "received", "replied", "nts", "naks", "kod_rate", "rate_limited", "dropped", "send_errors"});
  const auto row = [&](const std::string& name, const json& w) {
    t.add({name, count(w.value("received", json())), count(w.value("replied", json())),
           count(w.value("nts_replied", json())), count(w.value("naks", json())), count(w.value("kod_rate", json())),
           count(w.value("rate_limited", json())), count(w.value("dropped", json())),
           count(w.value("send_errors", json()))});
  };
  const json& workers = d.value("workers", json::array());
  for (size_t i = 0; i < workers.size(); ++i) row(std::to_string(i), workers[i]);
  const json& total = d.value("total", json::object());
  row("total", total);
  out += t.text() + "\n";
  out += field("NAKs by reason", nonzero(total.value("naks_by_reason", json::object())));
  out += field("drops by reason", nonzero(total.value("dropped_by_reason", json::object())));
  return out;
}

std::string render_nts(const json& d) {
  std::string out;
  out += field("cookie opens", "by key age: " + nonzero(d.value("cookie_opens_by_key_age", json::object())));
  if (!d.value("enabled", false)) return out + field("NTS server", "off");
  const json& k = d.value("keys", json::object());
  const json next = k.value("next_rotation_unix", json());
  out += field("cookie keys", "epoch " + str(k.value("current_epoch", json())) + ", rotated every " +
                                  str(k.value("rotate_s", json())) + " s; next " +
                                  (next.is_number() ? utc(next.get<double>()) : "-") + " (in " +
                                  human_age(k.value("next_rotation_in_s", 0.0)) + ")");
  out += field("", "cookies open back to epoch " + str(k.value("oldest_open_epoch", json())) + " (" +
                       str(k.value("retained_epochs", json())) + " retained)");
  const json& ke = d.value("ke", json::object());
  out += field("NTS-KE", "port " + str(ke.value("port", json())) + ", " + str(ke.value("threads", json())) +
                             " threads, " + count(ke.value("active", json())) + " open of " +
                             count(ke.value("max_connections", json())) + ", " + count(ke.value("accepted", json())) +
                             " accepted");
  out += field("certificate", str(ke.value("certificate", json())));
  out += field("handshakes", nonzero(ke.value("handshakes", json::object())));
  out += field("TLS versions", nonzero(ke.value("tls_versions", json::object())));
  out += field("AEADs chosen", nonzero(ke.value("aead", json::object())));
  out += field("responses", nonzero(ke.value("responses", json::object())) + "; " +
                                count(ke.value("cookies_issued", json())) + " cookies issued");
  out += field("request errors", nonzero(ke.value("request_errors", json::object())));
  out += field("refused", nonzero(ke.value("refused", json::object())));
  out += field("reloads", nonzero(ke.value("reloads", json::object())));
  return out;
}

std::string render_clients(const json& d) {
  if (!d.value("tracked", false)) {
    return "no client table: clients are tracked by the rate limiter, which only runs with `restrict … limited`\n";
  }
  std::string out = count(d.value("entries", json())) + " clients tracked of " + count(d.value("capacity", json())) +
                    ", " + count(d.value("evictions", json())) + " evicted\n\n";
  Table t({"address", "worker", "requests", "limited", "kod", "avg interval", "last", "bucket", "state"});
  for (const json& c : d.value("clients", json::array())) {
    t.add({str(c.value("address", json())), str(c.value("worker", json())), count(c.value("requests", json())),
           count(c.value("limited", json())), count(c.value("kod", json())),
           seconds_or_dash(c.value("average_interval_s", json()), false),
           human_age(c.value("last_ago_s", 0.0)) + " ago",
           str(c.value("bucket_s", json())) + "/" + str(c.value("bucket_limit_s", json())) + " s",
           str(c.value("state", json()))});
  }
  return out + t.text();
}

}  // namespace

std::string human_seconds(double s, bool signed_value) {
  const double a = std::fabs(s);
  const char* unit = "s";
  double v = s;
  if (a < 1e-6 && a != 0) {
    unit = "ns";
    v = s * 1e9;
  } else if (a < 1e-3 && a != 0) {
    unit = "us";
    v = s * 1e6;
  } else if (a < 1) {
    unit = "ms";
    v = s * 1e3;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), signed_value ? "%+.3f%s" : "%.3f%s", v, unit);
  return buf;
}

std::string human_age(double s) {
  if (!(s >= 0)) return "-";
  char buf[32];
  if (s < 600) {
    std::snprintf(buf, sizeof(buf), "%.0fs", s);
  } else if (s < 36000) {
    std::snprintf(buf, sizeof(buf), "%.0fm", s / 60);
  } else if (s < 4 * 86400) {
    std::snprintf(buf, sizeof(buf), "%.0fh", s / 3600);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0fd", s / 86400);
  }
  return buf;
}

std::string render_text(Command command, const json& data) {
  switch (command) {
    case Command::kStatus: return render_status(data);
    case Command::kSources: return render_sources(data);
    case Command::kServer: return render_server(data);
    case Command::kNts: return render_nts(data);
    case Command::kClients: return render_clients(data);
    case Command::kReload:
    case Command::kRotate: return str(data.value("message", json())) + "\n";
  }
  return data.dump(2) + "\n";
}

}  // namespace ntsd::ops
