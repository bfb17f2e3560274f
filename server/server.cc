#include "server/server.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <string>

#include "server/worker.h"

namespace ntsd::server {
namespace {

void pin_to_cpu(std::thread& thread, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Best effort: a CPU set restricted by a container just leaves it unpinned.
  pthread_setaffinity_np(thread.native_handle(), sizeof(set), &set);
}

int online_cpus() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

std::unique_ptr<Server> Server::start(const ServerOptions& options, const ServerStateCell& state,
                                      const clock::Clock& clock, std::string* error) {
  if (options.listen.empty()) {
    *error = "no address to listen on";
    return nullptr;
  }
  std::unique_ptr<Server> server(new Server());
  const int workers = options.workers > 0 ? options.workers : online_cpus();
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

  std::vector<std::unique_ptr<PacketIo>> ios;
  for (int w = 0; w < workers; ++w) {
    std::string backend_error;
    std::unique_ptr<PacketIo> io = make_packet_io(options.backend, server->worker_sockets_[w],
                                                  &backend_error, &server->fallback_reason_);
    if (io == nullptr) {
      *error = "worker " + std::to_string(w) + ": " + backend_error;
      return nullptr;
    }
    server->backend_name_ = io->name();
    ios.push_back(std::move(io));
    server->counters_.push_back(std::make_unique<WorkerCounters>());
  }

  // Every worker is built (and has its key-reader slot) before any thread
  // runs, so a shortage fails the start instead of leaving a worker without NTS.
  std::vector<std::shared_ptr<Worker>> built;
  for (int w = 0; w < workers; ++w) {
    WorkerShared shared{&state,
                        &clock,
                        options.keys,
                        options.crypto != nullptr ? options.crypto : &crypto::auto_nts_crypto(),
                        options.require_nts,
                        options.access,
                        options.rate_limit};
    if (options.mode6) {
      if (!server->mode6_) server->mode6_ = std::make_unique<std::unique_ptr<Mode6Inbox>[]>(workers);
      server->mode6_[w] = std::make_unique<Mode6Inbox>();
      server->mode6_[w]->sockets = server->worker_sockets_[w];
      server->mode6_[w]->counters = server->counters_[w].get();
      shared.mode6 = server->mode6_[w].get();
    }
    built.push_back(std::make_shared<Worker>(std::move(ios[w]), shared, *server->counters_[w]));
    if (!built.back()->has_key_reader()) {
      *error = "worker " + std::to_string(w) + ": no free cookie-key reader slot (" +
               std::to_string(crypto::SnapshotPublisherBase::kMaxReaders) +
               " in all, some taken by other threads); run fewer workers";
      return nullptr;
    }
  }
  const int cpus = online_cpus();
  for (int w = 0; w < workers; ++w) {
    Server* raw = server.get();
    server->threads_.emplace_back([worker = built[w], raw] { worker->run(raw->stop_); });
    if (options.pin_workers) pin_to_cpu(server->threads_.back(), w % cpus);
    // "ntsd-worker-N" in top -H, ps -L and /proc/PID/task/*/comm.
    const std::string name = "ntsd-worker-" + std::to_string(w);
    pthread_setname_np(server->threads_.back().native_handle(), name.substr(0, 15).c_str());
  }
  for (const auto& worker : built) {
    server->rate_limiters_.push_back(worker->rate_limiter());
    server->workers_.push_back(worker);
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
