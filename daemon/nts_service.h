#pragma once
// The NTS half of the daemon: the cookie master keys (seed file, key ring,
// rotation thread publishing KeySnapshots) and the NTS-KE server.
#include <atomic>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "config/config.h"
#include "crypto/key_ring.h"
#include "crypto/key_snapshot.h"
#include "daemon/options.h"
#include "daemon/state_dir.h"
#include "ke/demo_cert.h"
#include "ke/ke_server.h"

namespace ntsd::daemon {

// The embedded default's NTS-KE port: unprivileged and not 4460, so a demo
// does not collide with a real NTS server on the same host.
constexpr uint16_t kEmbeddedKePort = 14460;

class NtsService {
 public:
  // Loads or creates the seed, publishes the first key snapshot and starts
  // the rotation thread. `config` null: the embedded default.
  // State files must belong to `owner` (daemon/state_dir.h).
  static std::unique_ptr<NtsService> start(const config::Config* config, const DaemonOptions& options,
                                           const StateOwner& owner, std::string* error);
  // Starts the NTS-KE server, which announces `ntp_port` in a Port record
  // when it is not 123. The embedded default uses a demo certificate kept in
  // the state folder and listens on loopback only.
  bool start_ke(uint16_t ntp_port, std::string* error);
  ~NtsService();

  crypto::KeyPublisher& keys() { return *keys_; }
  ke::KeServer& ke() { return *ke_; }
  const std::optional<ke::DemoCertificate>& demo_certificate() const { return demo_; }
  const std::string& seed_file() const { return seed_file_; }
  const std::string& state_dir() const { return state_dir_; }
  // The epoch of the key new cookies are sealed with; any thread (a copy kept
  // by the rotation thread, so no snapshot pointer is held outside a reader).
  int64_t current_key_epoch() const { return current_epoch_.load(); }
  // `ntsctl rotate`: seal with the next epoch's key from now on, at most one
  // epoch ahead of the clock (every fleet member already holds that key, as
  // "next", so their cookies keep opening everywhere); false with a reason
  // when already ahead or the rotation thread did not confirm in time.
  bool seal_with_next_key(std::string* message);
  const crypto::KeyRing& ring() const { return *ring_; }
  void stop();

 private:
  NtsService() = default;
  void rotate_until_stopped();

  std::unique_ptr<crypto::KeyRing> ring_;
  std::unique_ptr<crypto::KeyPublisher> keys_;
  std::unique_ptr<ke::KeServer> ke_;
  std::optional<ke::DemoCertificate> demo_;
  std::string seed_file_;
  std::string state_dir_;
  const config::Config* config_ = nullptr;
  DaemonOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> current_epoch_{0};
  std::atomic<int64_t> ahead_epoch_{std::numeric_limits<int64_t>::min()};  // epoch made current early by seal_with_next_key()
  std::thread rotation_;
};

}  // namespace ntsd::daemon
