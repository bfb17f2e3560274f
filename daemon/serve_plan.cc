#include "daemon/serve_plan.h"

#include <arpa/inet.h>

#include <cstring>

namespace ntsd::daemon {
namespace {

server::Endpoint endpoint_of(const config::ListenAddress& listen, bool ipv6) {
  server::Endpoint endpoint;
  if (ipv6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, listen.address.data(), 16);
    endpoint.length = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, listen.address.data(), 4);
    endpoint.length = sizeof(sockaddr_in);
  }
  return endpoint;
}

void add_wildcards(config::IpFamily family, std::vector<server::Endpoint>* out) {
  server::Endpoint endpoint;
  if (family != config::IpFamily::kIPv6) {
    server::Endpoint::parse("0.0.0.0", &endpoint);
    out->push_back(endpoint);
  }
  if (family != config::IpFamily::kIPv4) {
    server::Endpoint::parse("::", &endpoint);
    out->push_back(endpoint);
  }
}

}  // namespace

std::optional<ServePlan> make_serve_plan(const std::optional<config::Config>& config,
                                         const DaemonOptions& options, std::string* error) {
  ServePlan plan;
  plan.initial_state = server::local_reference_state();
  if (!config) {
    server::Endpoint v4, v6;
    server::Endpoint::parse("127.0.0.1", &v4);
    server::Endpoint::parse("::1", &v6);
    plan.server.listen = {v4, v6};
    plan.server.port = kEmbeddedNtpPort;
    plan.description = "embedded default (no config file): local stratum-10 reference";
  } else {
    for (const config::ListenAddress& listen : config->listen) {
      if (listen.all) {
        add_wildcards(listen.family, &plan.server.listen);
      } else {
        plan.server.listen.push_back(endpoint_of(listen, listen.family == config::IpFamily::kIPv6));
      }
    }
    if (config->listen.empty()) add_wildcards(config::IpFamily::kAny, &plan.server.listen);
    plan.server.port = config->ntp_port.value_or(123);
    if (!config->restricts.empty()) {
      plan.server.access = std::make_shared<const server::AccessTable>(config->restricts);
    }
    plan.server.rate_limit = server::rate_limit_params(*config);
    if (config->workers) plan.server.workers = *config->workers;
    if (config->servers.empty()) {
      // No upstream at all: serve the host clock as a local reference, like
      // chrony's `local stratum 10`.
      plan.description = "no server/pool lines: local stratum-10 reference";
    } else {
      // Upstreams configured: nothing is claimed until the client has
      // selected one (RFC 5905: leap 3, stratum 16 means "no time yet").
      plan.initial_state = server::ServerState{};
      plan.description = std::to_string(config->servers.size()) +
                         " upstream server/pool line(s); leap 3 (unsynchronised) until the first selection";
    }
  }
  if (options.workers) plan.server.workers = *options.workers;
  if (options.ntp_port) plan.server.port = static_cast<uint16_t>(*options.ntp_port);
  plan.server.backend = options.io_backend;
  plan.server.coalesce.max_wait_us = options.coalesce_us;
  if (plan.server.listen.empty()) {
    *error = "no address to listen on";
    return std::nullopt;
  }
  return plan;
}

}  // namespace ntsd::daemon
