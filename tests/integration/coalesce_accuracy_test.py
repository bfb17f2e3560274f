#!/usr/bin/python3
"""Bounded coalescing costs clients no accuracy (issue 14 item 3).

The real ntsd serves its embedded default (loopback, local stratum 10: the
host clock, so the true offset is 0) with --coalesce-us 5000, far above the
default, on each I/O backend. A lone plain NTP request then waits the whole
bound for a batch that never fills, so its round trip is >= 5 ms; but the
receive stamp is the kernel's and the transmit stamp is taken just before
sending, so the server reports the wait as its own time (T3 - T2), NTP's
delay ((T4 - T1) - (T3 - T2)) stays that of loopback, and the offset stays
about 0. With --coalesce-us 0 the round trip is short. A server that stamped
T2 after the wait, or T3 before it, would show a 2.5 ms offset here.
Nothing here can touch the clock (no upstreams, loopback only).
"""
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

NTSD = os.path.realpath(sys.argv[1])
NTP_UNIX = 2208988800
BOUND_US = 5000


def ntp_to_unix(raw):
    return (raw >> 32) - NTP_UNIX + (raw & 0xFFFFFFFF) / 2**32


def start(backend, coalesce_us, work):
    log = open(os.path.join(work, f"ntsd-{backend}-{coalesce_us}.log"), "w+")
    proc = subprocess.Popen(
        [NTSD, "--workers", "1", "--io-backend", backend, "--coalesce-us", str(coalesce_us), "--port", "0",
         "--ke-port", "0", "--state-dir", os.path.join(work, f"state-{backend}-{coalesce_us}")],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read()
        m = re.search(r"^ntsd: serving NTP on 127\.0\.0\.1:(\d+)$", text, re.M)
        if m and "ntsd: ready" in text:
            return proc, int(m.group(1)), log
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    log.seek(0)
    sys.exit(f"FAIL: ntsd --io-backend {backend} did not start:\n{log.read()}")


def probe(port, count=15):
    """count sequential plain requests; returns [(rtt_s, server_time_s, delay_s, offset_s)]."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    out = []
    for i in range(count):
        t1 = time.time()
        xmt = int((t1 + NTP_UNIX) * 2**32)
        request = bytes([0x23]) + bytes(39) + struct.pack("!Q", xmt)  # v4, mode 3
        s.sendto(request, ("127.0.0.1", port))
        reply = s.recv(1024)
        t4 = time.time()
        if len(reply) < 48 or (reply[0] & 7) != 4 or struct.unpack("!Q", reply[24:32])[0] != xmt:
            sys.exit(f"FAIL: bad reply {reply[:48].hex()}")
        t2 = ntp_to_unix(struct.unpack("!Q", reply[32:40])[0])
        t3 = ntp_to_unix(struct.unpack("!Q", reply[40:48])[0])
        out.append((t4 - t1, t3 - t2, (t4 - t1) - (t3 - t2), ((t2 - t1) + (t3 - t4)) / 2))
        time.sleep(0.02)
    s.close()
    return out


def main():
    work = tempfile.mkdtemp(prefix="ntsd-coalesce.", dir="/tmp")
    failures = []
    for backend in ("uring", "mmsg"):
        for coalesce_us in (0, BOUND_US):
            proc, port, log = start(backend, coalesce_us, work)
            try:
                rows = probe(port)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            rtt = statistics.median(r[0] for r in rows) * 1e6
            held = statistics.median(r[1] for r in rows) * 1e6
            delay = statistics.median(r[2] for r in rows) * 1e6
            offset = statistics.median(abs(r[3]) for r in rows) * 1e6
            print(f"{backend} --coalesce-us {coalesce_us}: median round trip {rtt:.0f} µs, server time "
                  f"(T3-T2) {held:.0f} µs, delay {delay:.0f} µs, |offset| {offset:.0f} µs")
            if coalesce_us:
                if rtt < 0.9 * BOUND_US or held < 0.9 * BOUND_US:
                    failures.append(f"{backend}: a lone request was not held ~{BOUND_US} µs "
                                    f"(round trip {rtt:.0f}, T3-T2 {held:.0f})")
            elif rtt > 2000:
                failures.append(f"{backend}: without coalescing the round trip is {rtt:.0f} µs")
            # Loopback through Python: delay well under a millisecond, offset a few tens of µs.
            if delay > 1000:
                failures.append(f"{backend} --coalesce-us {coalesce_us}: delay {delay:.0f} µs includes the wait")
            if offset > 500:
                failures.append(f"{backend} --coalesce-us {coalesce_us}: |offset| {offset:.0f} µs")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("PASS")


main()
