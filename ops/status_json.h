#pragma once
// DaemonStatus as JSON, one object per ntsctl command. Field names carry
// their unit (`_s`, `_ppm`, `_unix`); counters are plain integers. The
// control socket sends these and ntsctl renders them, so the schema is the
// contract between the two (documented in README.md, "ntsctl").
#include <nlohmann/json.hpp>

#include "ops/status.h"

namespace ntsd::ops {

nlohmann::json status_json(const DaemonStatus& status);   // sync state, stratum, refid, offset, ...
nlohmann::json sources_json(const DaemonStatus& status);  // one object per upstream association
nlohmann::json server_json(const DaemonStatus& status);   // per-worker and summed counters
nlohmann::json nts_json(const DaemonStatus& status);      // cookie keys, NTS-KE, AEADs
nlohmann::json clients_json(const ClientsSection& clients, int64_t now_unix_ns);

// A reference id as ntpq shows it: an IPv4 address, or 4 printable ASCII
// characters for stratum 0/1 and the local clock ("LOCL" style), else hex.
std::string refid_text(uint32_t refid, uint8_t stratum);

}  // namespace ntsd::ops
