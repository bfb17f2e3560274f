#pragma once
// `--io-backend auto`, decided by measurement (issue 14): which datagram
// backend costs the running kernel less CPU per datagram. Which one wins
// depends on the kernel (io_uring's multishot receive and deferred task
// running vs epoll + recvmmsg/sendmmsg), its mitigations and the hypervisor,
// so it is measured at start rather than assumed.
//
// Both backends serve a short loopback load on the calling thread, the
// daemon's configuration (coalescing) included: rounds alternate between
// them, a round being `batches` bursts of `batch` datagrams from a client
// socket, each answered by the backend under test. What is counted is the
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID) inside the backend's own calls
// (receive, lend, send; on loopback that includes the kernel's delivery),
// not the client's; each backend's figure is the median of its rounds.
// About 80 ms at start with the default coalescing bound, most of it waiting.
#include <cstddef>
#include <string>

#include "server/packet_io.h"

namespace ntsd::server {

struct BackendProbeOptions {
  CoalesceOptions coalesce{kDefaultCoalesceUs, 32};  // the workers' own
  int rounds = 3;      // per backend, alternating (uring, mmsg, uring, ...)
  int batches = 64;    // bursts per round, after 4 unmeasured ones
  size_t batch = 16;   // datagrams per burst: about 40,000 requests/s at the default bound
  size_t payload = 228;  // bytes per datagram: a chrony NTS request with one cookie
  // recvmmsg is chosen only when it costs at least this fraction less: the
  // probe's own run-to-run spread on an idle 2-core VM was about 3 %
  // (bench/README.md "Choosing the I/O backend"), so a smaller difference
  // is noise, and io_uring, one system call per batch, keeps the tie.
  double margin = 0.05;
};

struct BackendMeasurement {
  IoBackend chosen = IoBackend::kAuto;  // kAuto: nothing could be measured (see error)
  double uring_ns = 0;  // CPU ns per datagram; 0 if io_uring could not run
  double mmsg_ns = 0;
  std::string uring_unavailable;  // why io_uring could not run (then recvmmsg is chosen)
  std::string error;              // why no measurement was made (no loopback, socket limits)
  // One line for the log: both figures and the choice, or why there was none.
  std::string summary() const;
};

BackendMeasurement measure_backends(const BackendProbeOptions& options = {});

}  // namespace ntsd::server
