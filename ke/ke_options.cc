// KeOptions from ntp.conf, and the defaults that depend on the host (the
// connection cap from the open-file limit).
#include <sys/resource.h>

#include <algorithm>
#include <string>

#include "ke/ke_server.h"
#include "ke/negotiate.h"
#include "third_party/asio.h"

namespace ntsd::ke {

namespace asio = boost::asio;

size_t open_file_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return rl.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : static_cast<size_t>(rl.rlim_cur);
}

// Each KE connection is one fd. The rest of the daemon needs some too (UDP
// sockets, io_uring rings, Asio's epoll/eventfd/timerfd per KE thread, the
// upstream client, logs, state files, control and metrics sockets): a
// quarter of the limit, at least 64, is kept for them, so the cap is reached
// before accept() runs out of fds (with the 1024 service default: 768). The
// upper bound, 10000, bounds memory: a connection that has started TLS holds
// about 40 KB (OpenSSL state and Asio's record buffers), so the worst case is
// ~400 MB; an idle one holds a few hundred bytes (session.cc). A server that
// wants more sets `nts kemaxconn`.
size_t default_max_connections(size_t nofile) {
  const size_t reserve = std::max<size_t>(64, nofile / 4);
  const size_t room = nofile > reserve ? nofile - reserve : 0;
  return std::clamp<size_t>(room, 16, 10000);
}

std::string ke_counters_text(const KeCounters& c) {
  std::string out;
  auto add = [&out](const char* name, uint64_t v) {
    if (!out.empty()) out += ' ';
    out += name;
    out += '=';
    out += std::to_string(v);
  };
  add("accepted", c.accepted);
  add("active", c.active);
  add("max_connections", c.max_connections);
  add("handshakes_ok", c.handshakes_ok);
  add("cookies_issued", c.cookies_issued);
  add("evicted", c.evicted);
  add("refused_per_address", c.refused_per_address);
  add("refused_cap", c.refused_connection_cap);
  add("refused_rate", c.refused_rate_limit);
  add("refused_rate_table_full", c.refused_rate_table_full);
  add("accept_errors", c.accept_errors);
  add("first_byte_timeout", c.first_byte_timeout);
  add("failed_timeout", c.handshake_failed_timeout);
  add("failed_tls", c.handshake_failed_tls);
  add("failed_alpn", c.handshake_failed_alpn);
  add("request_timeout", c.request_timeout);
  add("request_truncated", c.request_truncated);
  return out;
}

bool ke_options_from_config(const config::Config& config, KeOptions& out, std::string* error) {
  const config::NtsSettings& nts = config.nts;
  out.tls.cert_file = nts.cert;
  out.tls.key_file = nts.key;
  out.tls.min_tls =
      nts.mintls == config::TlsVersion::kTls12 ? TlsVersion::kTls12 : TlsVersion::kTls13;
  out.tls.max_tls =
      nts.maxtls == config::TlsVersion::kTls12 ? TlsVersion::kTls12 : TlsVersion::kTls13;
  out.tls.ciphers = nts.tls_ciphers;
  out.tls.ciphersuites = nts.tls_ciphersuites;
  out.port = nts.ke_port;
  out.threads = nts.ke_threads.value_or(0);
  out.rate_limit.per_second = nts.ke_rate;  // 0 disables the limit
  out.rate_limit.burst = nts.ke_burst;
  out.max_connections = nts.ke_max_connections.value_or(0);  // 0: sized from the fd limit at start
  out.max_per_address = static_cast<size_t>(nts.ke_per_address);
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
      if (std::find(out.listen.begin(), out.listen.end(), a) == out.listen.end())
        out.listen.push_back(a);
    };
    for (const config::ListenAddress& l : config.listen) {
      if (l.all) {
        if (l.family != config::IpFamily::kIPv6) add("0.0.0.0");
        if (l.family != config::IpFamily::kIPv4) add("::");
      } else if (l.family == config::IpFamily::kIPv4) {
        add(asio::ip::address_v4({l.address[0], l.address[1], l.address[2], l.address[3]})
                .to_string());
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
