#!/usr/bin/python3
"""systemd's side of Type=notify, played by this test (issue 13 item 5).

A Unix datagram socket stands in for systemd's notify socket; the real ntsd
starts with NOTIFY_SOCKET pointing at it and WATCHDOG_USEC=1.5 s. Checked:
READY=1 arrives, and when it does the NTP and NTS-KE ports already answer;
STATUS= says what is served; WATCHDOG=1 keeps coming; when one worker is
stopped (ptrace PTRACE_INTERRUPT on that thread only: the test build needs
no hook) WATCHDOG=1 stops and ntsd names the worker, and comes back when the
worker runs again; SIGTERM gives STOPPING=1. Embedded default (loopback,
no upstreams): nothing here can touch the clock.
"""
import ctypes
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

NTSD = os.path.realpath(sys.argv[1])
work = tempfile.mkdtemp(prefix="ntsd-notify.", dir="/tmp")  # short: sun_path is 108 bytes
log_path = os.path.join(work, "ntsd.log")
messages = []  # (monotonic time, text)
proc = None


def fail(text):
    print("FAIL: " + text)
    try:
        print("ntsd log:\n" + open(log_path).read())
    except OSError:
        pass
    print("notifications:", [m for _, m in messages][-20:])
    if proc and proc.poll() is None:
        proc.kill()
    sys.exit(1)


def receive(sock, seconds):
    """Collects notifications for `seconds`."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return
        messages.append((time.monotonic(), data.decode()))


def count(prefix, since):
    return sum(1 for t, m in messages if t >= since for line in m.split("\n") if line.startswith(prefix))


def ntp_answers(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    # NTPv4 client request with a transmit timestamp (a zero one may be dropped).
    s.sendto(b"\x23" + b"\x00" * 39 + struct.pack("!II", 0xE8000000, 1), ("127.0.0.1", port))
    try:
        reply = s.recv(512)
    except socket.timeout:
        return False
    return len(reply) >= 48 and reply[0] & 7 == 4  # server mode


notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify_path = os.path.join(work, "notify")
notify.bind(notify_path)
env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="1500000")
env.pop("WATCHDOG_PID", None)
env.pop("JOURNAL_STREAM", None)
log = open(log_path, "w")
proc = subprocess.Popen([NTSD, "--workers", "2", "--port", "0", "--ke-port", "0", "--state-dir",
                         os.path.join(work, "state")], stdout=log, stderr=subprocess.STDOUT, env=env)

# READY=1, then the ports must already answer.
deadline = time.monotonic() + 20
while time.monotonic() < deadline and count("READY=1", 0) == 0:
    receive(notify, 0.2)
    if proc.poll() is not None:
        fail("ntsd exited at start-up")
if count("READY=1", 0) == 0:
    fail("no READY=1 within 20 s")
text = open(log_path).read()
ntp_port = int(re.search(r"^ntsd: serving NTP on 127\.0\.0\.1:(\d+)$", text, re.M).group(1))
ke_port = int(re.search(r"^ntsd: serving NTS-KE on port (\d+) ", text, re.M).group(1))
if not ntp_answers(ntp_port):
    fail("READY=1 arrived but NTP on port %d did not answer" % ntp_port)
socket.create_connection(("127.0.0.1", ke_port), timeout=2).close()
ready = [m for _, m in messages if "READY=1" in m][0]
print("READY: " + ready.replace("\n", " | "))
if not re.search(r"STATUS=serving: 2 workers, NTS on, stratum 10, \d+ req/s", ready):
    fail("READY=1 without the STATUS= line: " + ready)

# WATCHDOG=1 keeps coming: every 0.5 s (a third of 1.5 s).
t0 = time.monotonic()
receive(notify, 3.0)
fed = count("WATCHDOG=1", t0)
print("WATCHDOG=1 in 3 s: %d" % fed)
if fed < 4:
    fail("WATCHDOG=1 only %d times in 3 s" % fed)

# A stuck worker: stop the thread named ntsd-worker-0, and only it.
task_dir = "/proc/%d/task" % proc.pid
worker = None
for tid in os.listdir(task_dir):
    with open(os.path.join(task_dir, tid, "comm")) as f:
        if f.read().strip() == "ntsd-worker-0":
            worker = int(tid)
if worker is None:
    fail("no thread named ntsd-worker-0")
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH = 0x4206, 0x4207, 17
if libc.ptrace(PTRACE_SEIZE, worker, None, None) != 0:
    err = ctypes.get_errno()
    print("SKIP stuck-worker part: ptrace(PTRACE_SEIZE) refused: %s" % os.strerror(err))
else:
    libc.ptrace(PTRACE_INTERRUPT, worker, None, None)
    os.waitpid(worker, 0x40000000)  # __WALL: the worker thread is now stopped
    receive(notify, 1.0)  # at most one tick was already on its way
    t1 = time.monotonic()
    receive(notify, 2.5)
    starved = count("WATCHDOG=1", t1)
    print("WATCHDOG=1 in 2.5 s with worker 0 stopped: %d" % starved)
    if starved != 0:
        fail("WATCHDOG=1 still sent with a worker stopped")
    if "watchdog: worker(s) 0 made no progress" not in open(log_path).read():
        fail("no log line naming the stuck worker")
    libc.ptrace(PTRACE_DETACH, worker, None, None)
    t2 = time.monotonic()
    receive(notify, 2.0)
    back = count("WATCHDOG=1", t2)
    print("WATCHDOG=1 in 2 s after the worker runs again: %d" % back)
    if back < 2:
        fail("WATCHDOG=1 did not come back")

# STATUS= is refreshed every 10 s with the request rate.
t3 = time.monotonic()
receive(notify, 11.0)
status = [m for t, m in messages if t >= t3 and m.startswith("STATUS=")]
if not status:
    fail("no STATUS= refresh within 11 s")
print("refreshed: " + status[-1])

proc.send_signal(signal.SIGTERM)
proc.wait(timeout=20)
receive(notify, 0.5)
if count("STOPPING=1", t3) != 1:
    fail("no STOPPING=1 at SIGTERM")
if proc.returncode != 0:
    fail("ntsd exited with %d" % proc.returncode)
print("STOPPING=1 at SIGTERM; PASS")
subprocess.run(["rm", "-rf", work])
