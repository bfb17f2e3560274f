#include "server/server.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <string>

#include "server/worker.h"

namespace ntsd::server {
namespace {

// The CPUs this process may run on (its affinity mask: taskset, cgroup
// cpusets, systemd's CPUAffinity=), in order; worker w is pinned to the
// w-th of them (modulo their number), never to a CPU outside the mask.
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (int cpu = 0; cpu < (n > 0 ? n : 1); ++cpu) cpus.push_back(cpu);
  }
  return cpus;
}

bool pin_this_thread(int cpu, std::string* error) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (rc != 0) *error = "pinning to CPU " + std::to_string(cpu) + ": " + std::strerror(rc);
  return rc == 0;
}

}  // namespace

// What a worker thread reports back once it has built its Worker (or failed to).
struct Server::Launch {
  std::promise<std::string> ready;  // "" when the worker is serving, else why it is not
  std::string backend_name;
  std::string fallback_reason;
};

std::unique_ptr<Server> Server::start(const ServerOptions& options, const ServerStateCell& state,
                                      const clock::Clock& clock, std::string* error) {
  if (options.listen.empty()) {
    *error = "no address to listen on";
    return nullptr;
  }
  std::unique_ptr<Server> server(new Server());
  const std::vector<int> cpus = allowed_cpus();
  const int workers = options.workers > 0 ? options.workers : static_cast<int>(cpus.size());
  // Each worker needs a key-reader slot of the key publisher; a worker
  // without one would drop every NTS request (silent NTS loss), so too many
  // workers is a start-up error, checked before any socket is opened.
  if (options.keys != nullptr &&
      static_cast<size_t>(workers) > crypto::SnapshotPublisherBase::kMaxReaders) {
    *error = std::to_string(workers) + " workers, but NTS supports at most " +
             std::to_string(crypto::SnapshotPublisherBase::kMaxReaders) +
             " (one cookie-key reader slot each); set 'workers " +
             std::to_string(crypto::SnapshotPublisherBase::kMaxReaders) + "' or fewer in ntp.conf";
    return nullptr;
  }
  server->worker_sockets_.resize(workers);

  // Socket i of every group belongs to worker i: the steering program's index
  // is the order in which the group's sockets were bound.
  uint16_t port = options.port;
  for (const Endpoint& listen : options.listen) {
    Endpoint endpoint = listen;
    for (int w = 0; w < workers; ++w) {
      endpoint.set_port(port);
      const int fd = open_reuseport_socket(endpoint, error);
      if (fd < 0) return nullptr;  // ~Server closes what was opened
      server->worker_sockets_[w].push_back(fd);
      if (port == 0) port = bound_port(fd);
      if (w == 0) {
        endpoint.set_port(port);
        server->endpoints_.push_back(endpoint);
      }
    }
    if (!attach_source_address_steering(server->worker_sockets_[0].back(), endpoint.family(),
                                        static_cast<uint32_t>(workers), error)) {
      return nullptr;
    }
  }
  server->port_ = port;

  for (int w = 0; w < workers; ++w) server->counters_.push_back(std::make_unique<WorkerCounters>());
  if (options.mode6) {
    server->mode6_ = std::make_unique<std::unique_ptr<Mode6Inbox>[]>(workers);
    for (int w = 0; w < workers; ++w) {
      server->mode6_[w] = std::make_unique<Mode6Inbox>();
      server->mode6_[w]->sockets = server->worker_sockets_[w];
      server->mode6_[w]->counters = server->counters_[w].get();
    }
  }
  server->workers_.resize(workers);
  server->rate_limiters_.resize(workers);

  // Each worker is built on its own thread, after pinning it: the backend's
  // rings and buffers, the responder's scratch and the rate table are first
  // touched there, so they sit in that core's NUMA node and caches. start()
  // waits until every worker has reported; one that cannot start (no
  // io_uring, no key-reader slot) fails the whole start, and the others stop.
  const crypto::NtsCrypto& crypto = options.crypto != nullptr ? *options.crypto : crypto::auto_nts_crypto();
  std::vector<std::unique_ptr<Launch>> launches;
  std::vector<std::future<std::string>> ready;
  for (int w = 0; w < workers; ++w) {
    launches.push_back(std::make_unique<Launch>());
    ready.push_back(launches.back()->ready.get_future());
    const int cpu = options.pin_workers ? cpus[static_cast<size_t>(w) % cpus.size()] : -1;
    Server* raw = server.get();
    Launch* launch = launches.back().get();
    server->threads_.emplace_back([raw, launch, w, cpu, &options, &state, &clock, &crypto] {
      // "ntsd-worker-N" in top -H, ps -L and /proc/PID/task/*/comm.
      const std::string name = "ntsd-worker-" + std::to_string(w);
      pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
      const auto fail = [&](const std::string& why) {
        launch->ready.set_value("worker " + std::to_string(w) + ": " + why);
      };
      std::string why;
      if (cpu >= 0 && !pin_this_thread(cpu, &why)) {
        return fail(why);
      }
      std::unique_ptr<PacketIo> io = open_packet_io(options.backend, raw->worker_sockets_[w], options.coalesce,
                                                    &why, &launch->fallback_reason);
      if (io == nullptr) {
        return fail(why);
      }
      launch->backend_name = io->name();
      auto responder = std::make_unique<NtpResponder>(state, options.keys, crypto, options.require_nts);
      if (!responder->has_key_reader()) {
        return fail("no free cookie-key reader slot (" + std::to_string(crypto::SnapshotPublisherBase::kMaxReaders) +
                    " in all, some taken by other threads); run fewer workers");
      }
      WorkerOptions worker_options{&clock, options.access, options.rate_limit,
                                   raw->mode6_ ? raw->mode6_[w].get() : nullptr};
      auto worker = std::make_shared<Worker>(std::move(io), std::move(responder), worker_options, *raw->counters_[w]);
      raw->workers_[w] = worker;
      raw->rate_limiters_[w] = worker->rate_limiter();
      launch->ready.set_value("");
      worker->run(raw->stop_);
    });
  }
  std::string failure;
  for (int w = 0; w < workers; ++w) {
    std::string why = ready[w].get();
    if (!why.empty() && failure.empty()) failure = why;
  }
  if (!failure.empty()) {
    *error = failure;
    return nullptr;  // ~Server stops and joins the workers that did start
  }
  server->backend_name_ = launches[0]->backend_name;
  for (const auto& launch : launches) {
    if (!launch->fallback_reason.empty()) server->fallback_reason_ = launch->fallback_reason;
  }
  return server;
}

Server::~Server() {
  stop();
  for (const auto& sockets : worker_sockets_) {
    for (int fd : sockets) close(fd);
  }
}

void Server::stop() {
  stop_.store(true);
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

CounterTotals Server::totals() const {
  CounterTotals totals;
  for (const auto& counters : counters_) totals.add(*counters);
  return totals;
}

}  // namespace ntsd::server
