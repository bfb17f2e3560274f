#include "daemon/nts_service.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <sys/stat.h>

#include "config/values.h"
#include "crypto/seed_file.h"
#include "daemon/log.h"

namespace ntsd::daemon {
namespace {

int64_t unix_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

// A fleet seed (`nts keyseed FILE`, with or without `from`) is read once, at
// start, as root if need be: root or the daemon user may own it, nobody else
// (they could rewrite every key). A missing file is an error, never created.
std::optional<std::vector<uint8_t>> read_fleet_seed(const std::string& path, const StateOwner& owner,
                                                    std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != owner.uid) {
    error = path + " is owned by uid " + std::to_string(st.st_uid) +
            ", neither root nor the user ntsd runs as (uid " + std::to_string(owner.uid) + ")";
    return std::nullopt;
  }
  return crypto::read_seed_file(path, error);
}

}  // namespace

namespace {

void log_ke(ke::LogLevel level, const std::string& line) {
  log_text(level == ke::LogLevel::kInfo      ? Level::kInfo
           : level == ke::LogLevel::kWarning ? Level::kWarning
                                             : Level::kError,
           config::kLogSysEvents, line);
}

}  // namespace

std::unique_ptr<NtsService> NtsService::start(const config::Config* config, const DaemonOptions& options,
                                              const StateOwner& owner, std::string* error) {
  std::unique_ptr<NtsService> service(new NtsService());
  const bool embedded = config == nullptr;
  const std::string state_dir = state_directory(options, embedded, error);
  if (state_dir.empty()) return nullptr;
  service->state_dir_ = state_dir;
  service->config_ = config;
  service->options_ = options;
  const config::NtsSettings defaults;
  const config::NtsSettings& nts = embedded ? defaults : config->nts;

  // Master keys: derived from a seed (fleet mode: `nts keyseed FILE`
  // distributed by the operator; standalone: generated once and kept).
  service->seed_file_ = !nts.keyseed.empty() ? nts.keyseed : state_dir + "/keyseed";
  // The state folder is needed for the generated seed and the demo
  // certificate; a fleet seed elsewhere with a config file needs none.
  if (nts.keyseed.empty() && !make_state_directory(state_dir, owner, error)) return nullptr;
  std::string seed_error;
  const auto seed = nts.keyseed.empty() ? crypto::load_or_create_seed(service->seed_file_, seed_error)
                                        : read_fleet_seed(service->seed_file_, owner, seed_error);
  if (!seed) {
    *error = "cookie key seed: " + seed_error;
    return nullptr;
  }
  // `nts keyseed FILE from TIME`: the seed of the epochs from the switch on.
  // Read the way the plain fleet seed is, and never created: a seed one
  // member invented would give it keys no other member has.
  std::optional<std::vector<uint8_t>> new_seed;
  if (nts.keyseed_from) {
    struct stat st {};
    const bool missing = ::stat(nts.keyseed_new.c_str(), &st) != 0 && errno == ENOENT;
    new_seed = read_fleet_seed(nts.keyseed_new, owner, seed_error);
    if (!new_seed) {
      *error = "cookie key seed from " + config::format_utc_time(*nts.keyseed_from) + ": " + seed_error +
               (missing ? "; copy the fleet's new seed file here (ntsd never generates a seed that "
                          "other members must share)"
                        : "");
      return nullptr;
    }
  }
  if (const std::string why = crypto::key_ring_size_error(nts.rotate_seconds, int64_t{nts.keep_days} * 86400);
      !why.empty()) {
    *error = why;
    return nullptr;
  }
  const int64_t retention = int64_t{nts.keep_days} * 86400;
  service->ring_ = new_seed ? std::make_unique<crypto::KeyRing>(
                                  *seed, *new_seed,
                                  crypto::first_epoch_from(*nts.keyseed_from, nts.rotate_seconds),
                                  nts.rotate_seconds, retention)
                            : std::make_unique<crypto::KeyRing>(*seed, nts.rotate_seconds, retention);
  if (new_seed) {
    const int64_t switch_epoch = service->ring_->switch_epoch();
    log_info(config::kLogSysInfo, "cookie keys of epoch %lld on (from %s) from %s, earlier ones from %s",
             static_cast<long long>(switch_epoch),
             config::format_utc_time(switch_epoch * service->ring_->rotation_seconds()).c_str(),
             nts.keyseed_new.c_str(), service->seed_file_.c_str());
  }
  auto first = service->ring_->snapshot_at(unix_seconds());
  // Keys fail closed: a ring whose keys did not all derive never serves.
  if (!first->complete()) {
    *error = "cookie key derivation failed (OpenSSL HKDF); refusing to serve NTS with missing keys";
    return nullptr;
  }
  service->keys_ = std::make_unique<crypto::KeyPublisher>(std::move(first));
  service->current_epoch_.store(service->keys_->load()->current_epoch());

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
    // The clock's epoch, or one ahead after `ntsctl rotate` until the clock
    // catches up (never back: cookies already sealed ahead must keep opening).
    const int64_t wanted = std::max(ring_->epoch_at(now), ahead_epoch_.load());
    if (current->current_epoch() != wanted) {
      auto next = ring_->snapshot_at(wanted * ring_->rotation_seconds(), current);
      // Published anyway (the epoch must move on), but an incomplete ring
      // seals nothing: NTS requests are dropped and counted (nts_no_seal_key).
      if (!next->complete()) log_error("cookie key derivation failed at rotation; NTS replies stop until it works");
      keys_->publish(std::move(next));
      current_epoch_.store(wanted);
      log_notice(config::kLogSysEvents, "cookie master key rotated: epoch %lld%s",
                 static_cast<long long>(keys_->load()->current_epoch()),
                 ring_->has_new_seed() && wanted == ring_->switch_epoch() ? " (the first from the new fleet seed)" : "");
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

bool NtsService::seal_with_next_key(std::string* message) {
  // Keys are derived from the epoch, floor(unix / period), so that fleet
  // members agree with no coordination. A server cannot make up a new key
  // (the others could not open its cookies); what it can do is start
  // sealing with the next epoch's key, which every member derives already
  // and holds as "next". Going two ahead would seal with a key the others
  // do not hold yet, so that is refused. Older keys are not revoked: cookies
  // sealed under them keep opening (to retire a leaked key, replace the seed
  // on every member). The cost: the ring is one epoch ahead until the clock
  // catches up, so on this server the oldest retained epoch's cookies stop
  // opening one period early (an NTS NAK, and that client redoes NTS-KE once).
  const int64_t clock_epoch = ring_->epoch_at(unix_seconds());
  const int64_t current = current_epoch_.load();
  if (current > clock_epoch) {
    *message = "rotate: already sealing with the next key (epoch " + std::to_string(current) +
               ", one ahead of the clock); the key after it is not held by other fleet members yet, so ntsd will "
               "not go further before " + std::to_string(current * ring_->rotation_seconds()) + " (unix)";
    return false;
  }
  ahead_epoch_.store(clock_epoch + 1);
  // The rotation thread, the only writer of the key snapshots, checks
  // several times a second.
  for (int i = 0; i < 50 && current_epoch_.load() != clock_epoch + 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (current_epoch_.load() != clock_epoch + 1) {
    *message = "rotate: the key rotation thread did not confirm within 5 s";
    return false;
  }
  *message = "cookies are now sealed with the key of epoch " + std::to_string(clock_epoch + 1) +
             " (ahead of the clock's epoch " + std::to_string(clock_epoch) + "); cookies of epochs " +
             std::to_string(clock_epoch + 1 - ring_->retention_epochs()) + " and later still open here (epoch " +
             std::to_string(clock_epoch - ring_->retention_epochs()) + " no longer: one period early)";
  log_line("cookie master key rotated ahead by request: epoch %lld", static_cast<long long>(clock_epoch + 1));
  return true;
}

}  // namespace ntsd::daemon
