#include "daemon/nts_service.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "crypto/seed_file.h"
#include "daemon/log.h"

namespace ntsd::daemon {
namespace {

int64_t unix_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

// A new folder gets mode 0700, since it holds the seed and a private key.
bool make_state_directory(const std::string& path, std::string* error) {
  std::error_code ec;
  if (std::filesystem::create_directories(path, ec)) {
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
  }
  if (ec) {
    *error = "cannot create " + path + ": " + ec.message();
    return false;
  }
  return true;
}

namespace {

void log_ke(ke::LogLevel level, const std::string& line) {
  log_line("%s%s", level == ke::LogLevel::kInfo ? "" : level == ke::LogLevel::kWarning ? "warning: " : "error: ",
           line.c_str());
}

}  // namespace

std::string state_directory(const DaemonOptions& options, bool embedded_default) {
  if (!options.state_dir.empty()) return options.state_dir;
  if (!embedded_default) return "/var/lib/ntsd";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/ntsd";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && home[0] == '/' ? home : "/tmp") + "/.local/state/ntsd";
}

std::unique_ptr<NtsService> NtsService::start(const config::Config* config, const DaemonOptions& options,
                                              std::string* error) {
  std::unique_ptr<NtsService> service(new NtsService());
  const bool embedded = config == nullptr;
  const std::string state_dir = state_directory(options, embedded);
  service->state_dir_ = state_dir;
  service->config_ = config;
  service->options_ = options;
  const config::NtsSettings defaults;
  const config::NtsSettings& nts = embedded ? defaults : config->nts;

  // Master keys: derived from a seed (fleet mode: `nts keyseed FILE`
  // distributed by the operator; standalone: generated once and kept).
  service->seed_file_ = !nts.keyseed.empty() ? nts.keyseed : state_dir + "/keyseed";
  if (nts.keyseed.empty() && !make_state_directory(state_dir, error)) return nullptr;
  std::string seed_error;
  const auto seed = nts.keyseed.empty() ? crypto::load_or_create_seed(service->seed_file_, seed_error)
                                        : crypto::read_seed_file(service->seed_file_, seed_error);
  if (!seed) {
    *error = "cookie key seed: " + seed_error;
    return nullptr;
  }
  service->ring_ = std::make_unique<crypto::KeyRing>(*seed, nts.rotate_seconds,
                                                     int64_t{nts.keep_days} * 86400);
  service->keys_ = std::make_unique<crypto::KeyPublisher>(service->ring_->snapshot_at(unix_seconds()));

  service->rotation_ = std::thread([raw = service.get()] { raw->rotate_until_stopped(); });
  return service;
}

bool NtsService::start_ke(uint16_t ntp_port, std::string* error) {
  ke::KeOptions ke_options;
  if (config_ == nullptr) {
    ke::DemoCertificate demo;
    if (!ke::ensure_demo_certificate(state_dir_ + "/demo-pki", {}, demo, error)) return false;
    demo_ = demo;
    ke_options.tls.cert_file = demo.cert_file;
    ke_options.tls.key_file = demo.key_file;
    ke_options.listen = {"127.0.0.1", "::1"};
    ke_options.port = kEmbeddedKePort;
  } else if (!ke::ke_options_from_config(*config_, ke_options, error)) {
    return false;
  }
  if (options_.ke_port) ke_options.port = static_cast<uint16_t>(*options_.ke_port);
  ke_options.ntp_port = ntp_port;
  ke_options.log = log_ke;
  ke_ = ke::KeServer::start(ke_options, *keys_, error);
  return ke_ != nullptr;
}

void NtsService::rotate_until_stopped() {
  // The next key is already in every snapshot (prepared ahead), so a
  // rotation only moves "current"; checking once a second is plenty.
  while (!stop_.load()) {
    const int64_t now = unix_seconds();
    const crypto::KeySnapshot* current = keys_->load();
    if (ring_->stale(*current, now)) {
      keys_->publish(ring_->snapshot_at(now, current));
      log_line("cookie master key rotated: epoch %lld", static_cast<long long>(keys_->load()->current_epoch()));
    }
    keys_->reclaim();
    for (int i = 0; i < 10 && !stop_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void NtsService::stop() {
  stop_.store(true);
  if (rotation_.joinable()) rotation_.join();
  if (ke_) ke_->stop();
}

NtsService::~NtsService() { stop(); }

}  // namespace ntsd::daemon
