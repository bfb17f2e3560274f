#include "config/format.h"

#include <cstdio>

#include "config/address.h"
#include "config/values.h"

namespace ntsd::config {
namespace {

// A token as the tokenizer reads it back: quoted when it holds a space, a
// '#', or is empty. (A '"' cannot occur: the tokenizer never yields one.)
std::string token(std::string_view t) {
  bool plain = !t.empty();
  for (char c : t) {
    if (c == ' ' || c == '\t' || c == '#' || c == '\r' || c == '\f' || c == '\v') plain = false;
  }
  return plain ? std::string(t) : "\"" + std::string(t) + "\"";
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* family_flag(IpFamily f) {
  return f == IpFamily::kIPv4 ? " -4" : f == IpFamily::kIPv6 ? " -6" : "";
}

void line(std::string& out, std::string_view text) {
  out.append(text);
  out += '\n';
}

void path(std::string& out, std::string_view name, const std::string& value) {
  if (!value.empty()) line(out, std::string(name) + " " + token(value));
}

void servers(std::string& out, const Config& c) {
  for (const auto& s : c.servers) {
    std::string l = s.is_pool ? "pool" : "server";
    l += family_flag(s.family);
    l += " " + token(s.host);
    if (s.nts) l += " nts";
    if (s.iburst) l += " iburst";
    if (s.burst) l += " burst";
    l += " minpoll " + std::to_string(s.minpoll) + " maxpoll " + std::to_string(s.maxpoll);
    if (s.noval) l += " noval";
    if (s.prefer) l += " prefer";
    if (s.noselect) l += " noselect";
    if (s.port) l += " port " + std::to_string(*s.port);
    if (s.version) l += " version " + std::to_string(*s.version);
    if (!s.ca.empty()) l += " ca " + token(s.ca);
    if (s.aead) l += " aead " + std::string(aead_name(*s.aead));
    line(out, l);
  }
}

void nts(std::string& out, const NtsSettings& n) {
  if (n.enabled) line(out, *n.enabled ? "nts enable" : "nts disable");
  if (!n.cert.empty()) line(out, "nts cert " + token(n.cert));
  if (!n.key.empty()) line(out, "nts key " + token(n.key));
  if (!n.ca.empty()) line(out, "nts ca " + token(n.ca));
  if (!n.cookie_file.empty()) line(out, "nts cookie " + token(n.cookie_file));
  if (!n.aead_ids.empty()) {
    std::string l = "nts aead";
    for (uint16_t id : n.aead_ids) l += " " + std::string(aead_name(id));
    line(out, l);
  }
  line(out, "nts mintls " + std::string(tls_name(n.mintls)) + " maxtls " +
                std::string(tls_name(n.maxtls)));
  if (!n.tls_ciphers.empty()) line(out, "nts tlsciphers " + token(n.tls_ciphers));
  if (!n.tls_ciphersuites.empty()) line(out, "nts tlsciphersuites " + token(n.tls_ciphersuites));
  line(out, "nts port " + std::to_string(n.ke_port));
  if (!n.keyseed.empty()) line(out, "nts keyseed " + token(n.keyseed));
  if (n.keyseed_from) {
    line(out, "nts keyseed " + token(n.keyseed_new) + " from " + format_utc_time(*n.keyseed_from));
  }
  line(out, "nts rotate " + std::to_string(n.rotate_seconds) + " keepkeys " +
                std::to_string(n.keep_days));
  if (n.ke_threads) line(out, "nts kethreads " + std::to_string(*n.ke_threads));
  line(out, "nts kerate " + std::to_string(n.ke_rate) + " keburst " + std::to_string(n.ke_burst));
  if (n.ke_max_connections) line(out, "nts kemaxconn " + std::to_string(*n.ke_max_connections));
  if (n.ke_per_address != NtsSettings{}.ke_per_address) {
    line(out, "nts keperaddr " + std::to_string(n.ke_per_address));
  }
  for (const auto& s : n.ntp_servers) line(out, "nts ntpserver " + token(s));
  if (n.require_nts) line(out, "nts require");
}

void restricts(std::string& out, const Config& c) {
  for (const auto& r : c.restricts) {
    std::string l = "restrict";
    if (r.is_default || r.is_source) {
      l += family_flag(r.family);
      l += r.is_default ? " default" : " source";
    } else {
      l += " " + address_text(r.family, r.address) + "/" + std::to_string(r.prefix_len);
    }
    for (const auto& f : restrict_flag_names()) {
      if (r.has(f.value)) l += " " + std::string(f.name);
    }
    line(out, l);
  }
}

void listen(std::string& out, const Config& c) {
  for (const auto& l : c.listen) {
    std::string what;
    if (l.all) {
      what = l.family == IpFamily::kAny ? "all" : l.family == IpFamily::kIPv4 ? "ipv4" : "ipv6";
    } else {
      what = address_text(l.family, l.address);
    }
    line(out, "interface listen " + what);
  }
}

void stats(std::string& out, const Config& c) {
  if (c.statistics != 0) {
    std::string l = "statistics";
    for (const auto& s : stats_file_names()) {
      if (c.statistics & bit(s.value)) l += " " + std::string(s.name);
    }
    line(out, l);
  }
  for (const auto& f : c.filegens) {
    std::string l = "filegen " + std::string(name_of(stats_file_names(), f.stats)) + " file " +
                    token(f.file) + " type " + std::string(name_of(filegen_type_names(), f.type));
    if (f.enable) l += *f.enable ? " enable" : " disable";
    if (f.link) l += *f.link ? " link" : " nolink";
    line(out, l);
  }
}

}  // namespace

std::string to_text(const Config& c) {
  std::string out;
  servers(out, c);
  nts(out, c.nts);
  restricts(out, c);
  listen(out, c);
  if (c.ntp_port) line(out, "ntpport " + std::to_string(*c.ntp_port));
  if (c.workers) line(out, "workers " + std::to_string(*c.workers));
  if (c.metrics) {
    const std::string host = address_text(c.metrics->family, c.metrics->address);
    line(out, "metrics " + (c.metrics->family == IpFamily::kIPv6 ? "[" + host + "]" : host) + ":" +
                  std::to_string(c.metrics->port));
  }
  path(out, "driftfile", c.driftfile);
  path(out, "logfile", c.logfile);
  path(out, "statsdir", c.statsdir);
  path(out, "leapfile", c.leapfile);
  if (!c.control_socket.empty()) {
    line(out, "controlsocket " + token(c.control_socket) + (c.control_group.empty() ? "" : " group " + token(c.control_group)));
  }
  stats(out, c);
  for (const auto& t : c.tos) line(out, "tos " + t.name + " " + number(t.value));
  if (c.tinker_step) line(out, "tinker step " + number(*c.tinker_step));
  if (c.tinker_panic) line(out, "tinker panic " + number(*c.tinker_panic));
  if (!c.logconfig.empty()) {
    std::string l = "logconfig";
    for (const auto& item : c.logconfig) l += " " + item;
    line(out, l);
  }
  std::string d = "discard average " + std::to_string(c.discard_average) + " minimum " +
                  std::to_string(c.discard_minimum);
  if (c.discard_monitor) d += " monitor " + std::to_string(*c.discard_monitor);
  line(out, d);
  return out;
}

}  // namespace ntsd::config
