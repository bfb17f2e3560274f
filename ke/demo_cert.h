#pragma once
// A self-signed demo PKI for trying ntsd without a real certificate: a CA
// and a server certificate (P-256, SAN localhost / 127.0.0.1 / ::1 and the
// given host names) kept in a state folder and reused on later starts.

#include <string>
#include <vector>

namespace ntsd::ke {

struct DemoCertificate {
  std::string ca_file;    // what a client must trust (chrony: ntstrustedcerts)
  std::string cert_file;  // server chain: leaf ‖ CA
  std::string key_file;   // server key, mode 0600
  bool created = false;   // false: reused from an earlier start
};

// Ensures `dir` holds a valid demo PKI (creates it, or replaces one expiring within 30 days); false + error.
bool ensure_demo_certificate(const std::string& dir, const std::vector<std::string>& extra_names, DemoCertificate& out,
                             std::string* error);
// A ready-to-paste chrony.conf line for a demo server on this host.
std::string chrony_demo_line(const DemoCertificate& cert, const std::string& host, int ke_port, int ntp_port);

}  // namespace ntsd::ke
