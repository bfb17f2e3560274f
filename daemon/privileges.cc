#include "daemon/privileges.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "daemon/log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NTSD_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define NTSD_SANITIZER_BUILD 1
#endif
#endif

namespace ntsd::daemon {
namespace {

// The user a config-file start switches to when it exists and no -u is given.
constexpr const char* kDefaultUser = "ntsd";

std::string errno_text(int e) { return std::strerror(e); }

bool parse_id(const std::string& text, unsigned long* out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  *out = std::strtoul(text.c_str(), nullptr, 10);
  return errno == 0 && *out < 0xffffffffUL;
}

// ---- Every thread ---------------------------------------------------------
//
// Capabilities, PR_SET_KEEPCAPS and no_new_privs belong to a thread, not to
// the process, and by the time ntsd drops privileges its workers, NTS-KE
// threads, key rotation and clock threads already run (the rings and sockets
// they own are what must be opened first). glibc applies setgroups/setgid/
// setuid to every thread (its "setxid" signal); for the rest ntsd does the
// same: it signals each thread in /proc/self/task and runs one step there.
// libcap's cap_setuid() does not help: it issues raw syscalls for the calling
// thread only unless libpsx is linked with -Wl,-wrap,pthread_create, and that
// wrap cannot see threads started by std::thread inside libstdc++.so.

using ThreadStep = void (*)();
std::atomic<ThreadStep> g_step{nullptr};
std::atomic<int> g_acks{0};
std::atomic<const char*> g_failed_call{nullptr};
std::atomic<int> g_failed_errno{0};
std::atomic<uint64_t> g_keep{0};           // capability bits to keep
std::atomic<bool> g_drop_bounding{false};  // also reduce the bounding set to g_keep
std::atomic<int> g_last_cap{CAP_LAST_CAP};

void record_failure(const char* call) {
  const int e = errno;
  const char* none = nullptr;
  if (g_failed_call.compare_exchange_strong(none, call)) g_failed_errno.store(e);
}

void on_step_signal(int) {
  const int saved = errno;
  if (ThreadStep step = g_step.load()) step();
  g_acks.fetch_add(1);
  errno = saved;
}

std::vector<pid_t> thread_ids() {
  std::vector<pid_t> ids;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return ids;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  ::closedir(dir);
  return ids;
}

bool thread_exists(pid_t tid) { return ::access(("/proc/self/task/" + std::to_string(tid)).c_str(), F_OK) == 0; }

// Runs `step` on this thread, then on every other thread (in its signal
// handler), including threads that appear meanwhile.
bool run_on_every_thread(ThreadStep step, std::string* error) {
  const int sig = SIGRTMIN + 4;
  struct sigaction action {}, previous {};
  action.sa_handler = on_step_signal;
  action.sa_flags = SA_RESTART;
  sigfillset(&action.sa_mask);
  if (::sigaction(sig, &action, &previous) != 0) {
    *error = "sigaction: " + errno_text(errno);
    return false;
  }
  g_step.store(step);
  step();
  std::set<pid_t> done{static_cast<pid_t>(::gettid())};
  bool ok = true;
  for (int pass = 0; ok && pass < 100; ++pass) {
    bool found = false;
    for (pid_t tid : thread_ids()) {
      if (!done.insert(tid).second) continue;
      found = true;
      g_acks.store(0);
      if (::syscall(SYS_tgkill, ::getpid(), tid, sig) != 0) {
        if (errno == ESRCH) continue;  // exited meanwhile
        *error = "cannot signal thread " + std::to_string(tid) + ": " + errno_text(errno);
        ok = false;
        break;
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (g_acks.load() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (g_acks.load() == 0 && thread_exists(tid)) {
        *error = "thread " + std::to_string(tid) + " did not run the privilege step (signal blocked?)";
        ok = false;
        break;
      }
    }
    if (!found) break;
  }
  ::sigaction(sig, &previous, nullptr);
  g_step.store(nullptr);
  if (ok && g_failed_call.load() != nullptr) {
    *error = std::string(g_failed_call.load()) + ": " + errno_text(g_failed_errno.load());
    ok = false;
  }
  return ok;
}

// Step 1 (as root, before setuid): keep the permitted set across the uid
// change, and empty the bounding set (needs CAP_SETPCAP, which root has) and
// the ambient set.
void step_before_setuid() {
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) record_failure("prctl(PR_SET_KEEPCAPS)");
  const uint64_t keep = g_keep.load();
  for (int cap = 0; cap <= g_last_cap.load(); ++cap) {
    if ((keep >> cap) & 1) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) record_failure("prctl(PR_CAPBSET_DROP)");
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    record_failure("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
}

// Step 2: permitted = effective = what is kept (and was there), inheritable
// and ambient empty, keep-caps off again, no_new_privs on.
void step_restrict() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) record_failure("capget");
  const uint64_t permitted = data[0].permitted | uint64_t{data[1].permitted} << 32;
  const uint64_t keep = g_keep.load() & permitted;
  if (g_drop_bounding.load()) {
    for (int cap = 0; cap <= g_last_cap.load(); ++cap) {
      if ((keep >> cap) & 1) continue;
      // Without CAP_SETPCAP (an unprivileged start) the bounding set stays;
      // no_new_privs below makes it moot.
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM) {
        record_failure("prctl(PR_CAPBSET_DROP)");
      }
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    record_failure("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct wanted[_LINUX_CAPABILITY_U32S_3]{};
  wanted[0].permitted = wanted[0].effective = static_cast<uint32_t>(keep);
  wanted[1].permitted = wanted[1].effective = static_cast<uint32_t>(keep >> 32);
  if (::syscall(SYS_capset, &header, wanted) != 0) record_failure("capset");
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) record_failure("prctl(PR_SET_KEEPCAPS, 0)");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) record_failure("prctl(PR_SET_NO_NEW_PRIVS)");
}

// Root staying root: capabilities untouched, no_new_privs on.
void step_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) record_failure("prctl(PR_SET_NO_NEW_PRIVS)");
}

// "Uid:" and "CapEff:" of every thread must agree with what was asked.
bool verify_threads(uid_t uid, uint64_t cap_eff, bool check_caps, size_t* threads, std::string* error) {
  *threads = 0;
  for (pid_t tid : thread_ids()) {
    std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
    std::string line;
    bool uid_ok = false, caps_ok = !check_caps, nnp = false;
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        unsigned long r = 0, e = 0, s = 0, f = 0;
        uid_ok = std::sscanf(line.c_str() + 4, "%lu %lu %lu %lu", &r, &e, &s, &f) == 4 && r == uid && e == uid &&
                 s == uid && f == uid;
      } else if (check_caps && line.rfind("CapEff:", 0) == 0) {
        caps_ok = std::stoull(line.substr(7), nullptr, 16) == cap_eff;
      } else if (line.rfind("NoNewPrivs:", 0) == 0) {
        nnp = line.find('1') != std::string::npos;
      }
    }
    if (!uid_ok || !caps_ok || !nnp) {
      if (!thread_exists(tid)) continue;  // exited while we looked
      *error = "thread " + std::to_string(tid) + " kept other credentials (uid, capabilities or no_new_privs)";
      return false;
    }
    ++*threads;
  }
  return true;
}

std::string capability_text() {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return "?";
  char* text = cap_to_text(caps, nullptr);
  std::string out = text != nullptr ? text : "?";
  cap_free(text);
  cap_free(caps);
  return out == "=" ? "none" : out;
}

}  // namespace

bool resolve_run_as(const std::string& spec, bool config_file, std::optional<RunAs>* out, std::string* note,
                    std::string* error) {
  out->reset();
  note->clear();
  std::string user = spec, group;
  if (const size_t colon = spec.find(':'); colon != std::string::npos) {
    user = spec.substr(0, colon);
    group = spec.substr(colon + 1);
  }
  if (spec.empty()) {
    if (::geteuid() != 0) return true;  // already unprivileged: nothing to switch
    if (config_file && ::getpwnam(kDefaultUser) != nullptr) {
      user = kDefaultUser;
    } else {
      *note = std::string("warning: running as root: no -u USER given") +
              (config_file ? " and no user `ntsd` exists (create it: useradd --system --no-create-home ntsd)" : "") +
              "; capabilities are kept, only seccomp and no_new_privs apply";
      return true;
    }
  }
  if (user.empty()) {
    *error = "-u " + spec + ": no user name";
    return false;
  }
  RunAs run_as;
  unsigned long id = 0;
  if (const passwd* pw = ::getpwnam(user.c_str()); pw != nullptr) {
    run_as.uid = pw->pw_uid;
    run_as.gid = pw->pw_gid;
  } else if (parse_id(user, &id)) {
    const passwd* by_id = ::getpwuid(static_cast<uid_t>(id));
    run_as.uid = static_cast<uid_t>(id);
    if (by_id == nullptr && group.empty()) {
      *error = "-u " + spec + ": uid " + user + " has no passwd entry; give the group too (-u " + user + ":GID)";
      return false;
    }
    if (by_id != nullptr) run_as.gid = by_id->pw_gid;
  } else {
    *error = "-u " + spec + ": no such user " + user;
    return false;
  }
  run_as.user = user;
  if (!group.empty()) {
    if (const struct group* gr = ::getgrnam(group.c_str()); gr != nullptr) {
      run_as.gid = gr->gr_gid;
    } else if (parse_id(group, &id)) {
      run_as.gid = static_cast<gid_t>(id);
    } else {
      *error = "-u " + spec + ": no such group " + group;
      return false;
    }
    run_as.group = group;
  } else if (const struct group* gr = ::getgrgid(run_as.gid); gr != nullptr) {
    run_as.group = gr->gr_name;
  } else {
    run_as.group = std::to_string(run_as.gid);
  }
  if (::geteuid() != 0 && run_as.uid != ::geteuid()) {
    *error = "-u " + spec + ": only root can switch user (running as uid " + std::to_string(::geteuid()) + ")";
    return false;
  }
  if (run_as.uid == 0) {
    *note = "warning: -u " + spec + " is root: privileges are not dropped";
    return true;
  }
  *out = run_as;
  return true;
}

std::string raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return "open files: getrlimit failed: " + errno_text(errno);
  const auto text = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur == limit.rlim_max) return "open files: limit " + text(before) + " (already the hard limit)";
  // Every NTS-KE connection is a descriptor; the usual soft limit of 1024
  // would let a few thousand idle connections lock clients out (issue 12).
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return "warning: open files: cannot raise the limit " + text(before) + " to " + text(limit.rlim_max) + ": " +
           errno_text(errno);
  }
  return "open files: limit raised " + text(before) + " -> " + text(limit.rlim_max);
}

bool drop_privileges(const std::optional<RunAs>& run_as, bool keep_sys_time, std::string* report,
                     std::string* error) {
  const int last = cap_max_bits() > 0 ? static_cast<int>(cap_max_bits()) - 1 : CAP_LAST_CAP;
  g_last_cap.store(std::min(last, 63));
  g_keep.store(keep_sys_time ? uint64_t{1} << CAP_SYS_TIME : 0);
  g_failed_call.store(nullptr);

  // Not dumpable: no core file, no ptrace or /proc/PID/mem by the same user
  // (the cookie key seed and master keys are in memory). Per process.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    *error = "prctl(PR_SET_DUMPABLE): " + errno_text(errno);
    return false;
  }
  size_t threads = 0;
  if (run_as) {
    g_drop_bounding.store(false);
    if (!run_on_every_thread(step_before_setuid, error)) return false;
    // glibc applies each of these to every thread.
    if (::setgroups(1, &run_as->gid) != 0) {
      *error = "setgroups(" + std::to_string(run_as->gid) + "): " + errno_text(errno);
      return false;
    }
    if (::setresgid(run_as->gid, run_as->gid, run_as->gid) != 0) {
      *error = "setresgid(" + std::to_string(run_as->gid) + "): " + errno_text(errno);
      return false;
    }
    if (::setresuid(run_as->uid, run_as->uid, run_as->uid) != 0) {
      *error = "setresuid(" + std::to_string(run_as->uid) + "): " + errno_text(errno);
      return false;
    }
    if (!run_on_every_thread(step_restrict, error)) return false;
    // A root process that could regain uid 0 would make all of this moot.
    if (::setresuid(0, 0, 0) == 0) {
      *error = "could regain root after the switch";
      return false;
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    ::syscall(SYS_capget, &header, data);
    const uint64_t effective = data[0].effective | uint64_t{data[1].effective} << 32;
    if (!verify_threads(run_as->uid, effective, true, &threads, error)) return false;
    if ((effective & ~g_keep.load()) != 0) {
      *error = "capabilities beyond CAP_SYS_TIME remain after the switch";
      return false;
    }
    *report = "privileges: running as " + run_as->user + ":" + run_as->group + " (uid " +
              std::to_string(run_as->uid) + ", gid " + std::to_string(run_as->gid) + ") on " +
              std::to_string(threads) + " threads; capabilities: " + capability_text() +
              " (bounding set the same, no ambient); no_new_privs; not dumpable";
    return true;
  }
  if (::geteuid() != 0) {
    // Unprivileged start, perhaps with capabilities given by systemd
    // (AmbientCapabilities=): keep at most CAP_SYS_TIME.
    g_drop_bounding.store(true);
    if (!run_on_every_thread(step_restrict, error)) return false;
    *report = "privileges: running as uid " + std::to_string(::geteuid()) + "; capabilities: " + capability_text() +
              " (no ambient); no_new_privs; not dumpable";
    return true;
  }
  if (!run_on_every_thread(step_no_new_privs, error)) return false;
  *report = "privileges: running as root with capabilities " + capability_text() + "; no_new_privs; not dumpable";
  return true;
}

bool install_syscall_filter(std::string* report, std::string* error) {
#ifdef NTSD_SANITIZER_BUILD
  (void)error;
  *report = "seccomp: off in sanitizer builds (their runtime needs ptrace, clone and more at exit)";
  return true;
#else
  // Default: EPERM, not kill. An allow-list gap is then an error return that
  // ntsd reports and survives (a failed reload, a lost log line), not a
  // time server that vanishes for every client because glibc or OpenSSL
  // picked a new syscall in an update. BPF cannot log, so the first refusal
  // is found with --no-seccomp and strace -f, or by the error it causes.
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) {
    *error = "seccomp_init failed";
    return false;
  }
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);  // every thread, atomically
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
  int allowed = 0;
  auto rule = [&](const char* name, uint32_t action, unsigned count, const scmp_arg_cmp* args) {
    if (rc != 0) return;
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not on this architecture or too new for libseccomp
    rc = seccomp_rule_add_array(ctx, action, nr, count, args);
    if (rc != 0) {
      *error = std::string("seccomp rule for ") + name + ": " + errno_text(-rc);
    } else if (action == SCMP_ACT_ALLOW) {
      ++allowed;
    }
  };
  auto allow = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) rule(name, SCMP_ACT_ALLOW, 0, nullptr);
  };
  auto allow_if = [&](const char* name, scmp_arg_cmp cmp) { rule(name, SCMP_ACT_ALLOW, 1, &cmp); };

  // Memory (jemalloc, OpenSSL, libstdc++), threads and their exit.
  allow({"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex", "futex_waitv", "set_robust_list",
         "get_robust_list", "rseq", "sched_yield", "sched_getaffinity", "getcpu", "gettid", "getpid", "getppid",
         "exit", "exit_group", "restart_syscall"});
  // New threads only (no fork, so no exec either); clone3 answers ENOSYS so
  // glibc falls back to clone, whose flags BPF can see.
  allow_if("clone", SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  rule("clone3", SCMP_ACT_ERRNO(ENOSYS), 0, nullptr);
  // Signals: sigwait in main, abort/raise, the handlers' return.
  allow({"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "tgkill"});
  // Time: reading clocks; the clock thread's clock_adjtime/adjtimex (which
  // change the clock only with CAP_SYS_TIME, kept only when disciplining).
  allow({"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "clock_adjtime",
         "adjtimex"});
  // Files: certificate reload, CA files, cookie jar, driftfile, stats, log;
  // atomic writes (temp, fsync, rename, fsync dir).
  allow({"openat", "open", "close", "read", "write", "pread64", "pwrite64", "readv", "writev", "lseek", "fstat",
         "newfstatat", "stat", "lstat", "statx", "fstatfs", "fsync", "fdatasync", "rename", "renameat", "renameat2",
         "unlink", "unlinkat", "link", "linkat", "fchmod", "getdents64", "access", "faccessat", "faccessat2",
         "readlink", "readlinkat", "fcntl", "dup", "dup3"});
  // Asio (non-blocking mode, bytes available) and stdio's isatty.
  for (unsigned long request : {FIONBIO, FIONREAD, TCGETS, TIOCGWINSZ}) {
    allow_if("ioctl", SCMP_A1(SCMP_CMP_EQ, request));
  }
  // Sockets: UDP/TCP for upstreams and DNS, netlink for getaddrinfo's
  // AI_ADDRCONFIG, unix for nscd and sd_notify (a datagram socket and
  // sendmsg to NOTIFY_SOCKET per message); no raw or packet sockets.
  for (int domain : {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK}) {
    allow_if("socket", SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(domain)));
  }
  allow({"connect", "bind", "accept", "accept4", "getsockname", "getpeername", "setsockopt", "getsockopt",
         "shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg"});
  // Event loops: Asio's epoll + eventfd + timerfd; poll for DNS and OpenSSL.
  allow({"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2", "timerfd_create",
         "timerfd_settime", "timerfd_gettime", "poll", "ppoll", "select", "pselect6", "pipe2"});
  // io_uring workers: submit/wait on the rings made at start, and enable
  // them (each worker enables its own on its first round). No new rings.
  allow({"io_uring_enter"});
  allow_if("io_uring_register", SCMP_A1(SCMP_CMP_EQ, IORING_REGISTER_ENABLE_RINGS));
  // Misc: OpenSSL's random source, uname, limits, ids, thread names.
  allow({"getrandom", "uname", "sysinfo", "prlimit64", "getrlimit", "getrusage", "times", "getuid", "geteuid",
         "getgid", "getegid", "getgroups", "getresuid", "getresgid", "capget"});
  for (int option : {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS}) {
    allow_if("prctl", SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(option)));
  }
  if (rc == 0) rc = seccomp_load(ctx);
  if (rc != 0 && error->empty()) *error = "seccomp_load: " + errno_text(-rc);
  seccomp_release(ctx);
  if (rc != 0) return false;
  *report = "seccomp: allow-list of " + std::to_string(allowed) +
            " syscall rules on every thread, anything else fails with EPERM (--no-seccomp turns it off)";
  return true;
#endif
}

std::string try_forbidden_syscalls() {
  std::string line = "test: forbidden syscalls:";
  errno = 0;
  ::ptrace(PTRACE_PEEKDATA, 0, nullptr, nullptr);  // pid 0: ESRCH when allowed
  line += std::string(" ptrace=") + strerrorname_np(errno);
  char* const argv[] = {const_cast<char*>("ntsd-forbidden"), nullptr};
  ::execve("/nonexistent/ntsd-forbidden", argv, environ);  // ENOENT when allowed
  line += std::string(" execve=") + strerrorname_np(errno);
  const int fd = ::socket(AF_PACKET, SOCK_RAW, 0);
  line += std::string(" socket(AF_PACKET)=") + (fd >= 0 ? "allowed" : strerrorname_np(errno));
  if (fd >= 0) ::close(fd);
  return line;
}

namespace {

// A warning when the switched-to user cannot `mode` (R_OK, W_OK) `path`.
// access() checks the real uid, which is the new user now.
void warn_unreachable(const std::string& path, int mode, const char* what, const char* consequence) {
  if (path.empty() || ::access(path.c_str(), mode) == 0) return;
  log_warning("%s %s is not %s by uid %u: %s (%s)", what, path.c_str(), mode == R_OK ? "readable" : "writable",
              static_cast<unsigned>(::getuid()), consequence, errno_text(errno).c_str());
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool lock_down(const config::Config* config, const DaemonOptions& options, const std::optional<RunAs>& run_as,
               const StateOwner& owner, std::string* error) {
  std::string ignored;
  const std::string state_dir = state_directory(options, config == nullptr, &ignored);
  if (run_as && !state_dir.empty() && !hand_over_state_directory(state_dir, owner, error)) return false;
  std::string report;
  // CAP_SYS_TIME is kept unless measure-only was asked for; nothing else is:
  // no socket is bound after start-up (NTS-KE listeners stay open, a
  // certificate reload only re-reads files), so CAP_NET_BIND_SERVICE goes.
  if (!drop_privileges(run_as, !options.no_adjust, &report, error)) {
    *error = "dropping privileges: " + *error;
    return false;
  }
  log_info(config::kLogSysInfo, "%s", report.c_str());
  if (run_as && config != nullptr) {
    if (config::nts_server_on(config->nts)) {
      const char* reload = "certificate reloads will fail; make it group-readable, e.g. chgrp ntsd FILE; chmod 640 FILE "
                           "(and its folders searchable)";
      warn_unreachable(config->nts.cert, R_OK, "nts cert", reload);
      warn_unreachable(config->nts.key, R_OK, "nts key", reload);
    }
    if (!config->driftfile.empty()) {
      warn_unreachable(folder_of(config->driftfile), W_OK, "driftfile folder", "the drift will not be saved");
    }
    warn_unreachable(config->statsdir, W_OK, "statsdir", "statistics files cannot be written");
    if (!config->nts.cookie_file.empty()) {
      warn_unreachable(folder_of(config->nts.cookie_file), W_OK, "nts cookie folder", "NTS sessions will not persist");
    }
  }
  if (options.no_seccomp) {
    log_warning("seccomp: off (--no-seccomp)");
  } else {
    if (!install_syscall_filter(&report, error)) {
      *error = "seccomp: " + *error;
      return false;
    }
    log_info(config::kLogSysInfo, "%s", report.c_str());
  }
  if (const char* hook = std::getenv("NTSD_TEST_FORBIDDEN_SYSCALL"); hook != nullptr && hook[0] == '1') {
    log_notice(config::kLogSysInfo, "%s", try_forbidden_syscalls().c_str());
  }
  return true;
}

}  // namespace ntsd::daemon
