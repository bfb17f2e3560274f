#!/usr/bin/env bash
# Issue 13 item 3: NTPsec's own ntpq (1.2.2) reads ntsd over mode 6.
# ntpq only talks to UDP port 123, so the test re-runs itself in a private
# network namespace (unshare --net, needs root) where it may bind 123:
#  - upstream: an ntsd on its embedded default (local stratum-10 reference,
#    NTS-KE on 14460, NTP on 11123);
#  - client: an ntsd on port 123 with `server 127.0.0.1:14460 nts` and the NTS
#    guide's restrict lines, as nobody:nogroup under the seccomp filter, with
#    --no-adjust and without CAP_SYS_TIME (no_sys_time_wrapper): nothing here
#    can touch the clock;
#  - ntpq -p / rv / sysinfo / iostats / ntsinfo against the client show the
#    real figures (sys.peer '*', refid, stratum 11, the cookie count, NTS
#    counters), io_received rises between two iostats, and a query from a
#    non-loopback address (noquery) gets nothing and is counted.
set -euo pipefail
NTSD="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
command -v ntpq >/dev/null || fail "ntpq (NTPsec) not found: run deploy/setup-dev.sh"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (unshare --net, port 123)"; exit 0; }
getent passwd nobody >/dev/null && getent group nogroup >/dev/null || fail "no nobody/nogroup on this system"

if [[ -z "${NTPQ_TEST_IN_NETNS:-}" ]]; then
  # Everything below runs again, alone in a new network namespace.
  NTPQ_TEST_IN_NETNS=1 exec timeout 180 unshare --net -- "$BASH" "$0" "$@"
fi
ip link set lo up
ip addr add 10.99.0.1/32 dev lo  # a non-loopback address, for the noquery check

base=$(mktemp -d /tmp/ntsd-ntpq.XXXXXX)
chmod 711 "$base"
CLEANUP_PATHS+=("$base")
mkdir -m 700 "$base/up" "$base/client"
no_sys_time_wrapper "$base/ntsd-no-time" "$NTSD"

# Upstream: the embedded default, on loopback only.
"$base/ntsd-no-time" --workers 1 --state-dir "$base/up" >"$base/up.log" 2>&1 &
STARTED_PIDS+=($!)
wait_for_log "$base/up.log" '^ntsd: ready' 20 || fail "upstream not ready: $(cat "$base/up.log")"

install -m 644 "$base/up/demo-pki/ca.pem" "$base/ca.pem"  # nobody must read it
cat >"$base/ntp.conf" <<CONF
server 127.0.0.1:14460 nts iburst minpoll 4 maxpoll 4
nts ca $base/ca.pem
controlsocket none
restrict default kod limited nomodify noquery
restrict 127.0.0.1
restrict ::1
CONF
chmod 644 "$base/ntp.conf"
"$base/ntsd-no-time" -c "$base/ntp.conf" --no-adjust --workers 2 -u nobody:nogroup \
  --state-dir "$base/client" >"$base/client.log" 2>&1 &
NTSD_PID=$!
STARTED_PIDS+=("$NTSD_PID")
wait_for_log "$base/client.log" '^ntsd: ready' 20 || fail "client not ready: $(cat "$base/client.log")"
# Sanitizer builds run without the filter (their runtime needs more
# syscalls); everywhere else the answers must come from under it.
grep -q 'seccomp: allow-list\|seccomp: off in sanitizer builds' "$base/client.log" ||
  fail "no seccomp filter: $(cat "$base/client.log")"

# ntpq -p until the upstream is the system peer ('*'), at most 40 s.
synced=""
for _ in $(seq 1 40); do
  peers=$(timeout 15 ntpq -p 127.0.0.1 2>&1 || true)
  if grep -q '^\*' <<<"$peers"; then synced=1; break; fi
  sleep 1
done
[[ -n $synced ]] || fail "no system peer in ntpq -p: $peers; $(cat "$base/client.log")"

run() {
  local out
  out=$(timeout 15 ntpq "$@" 127.0.0.1 2>&1) || fail "ntpq $*: $out"
  echo "\$ ntpq $* 127.0.0.1" >&2
  echo "$out" >&2
  echo "$out"
}
peers=$(run -p)
rv=$(run -c rv)
sysinfo=$(run -c sysinfo)
iostats=$(run -c iostats)
ntsinfo=$(run -c ntsinfo)

# -p: sys.peer, the upstream's refid and stratum, 't' is the cookie count.
line=$(grep '^\*' <<<"$peers")
read -r remote refid st t when poll reach delay offset jitter <<<"${line#\*}"
[[ $refid == 127.127.1.1 && $st == 10 ]] || fail "ntpq -p: refid/stratum: $line"
[[ $t =~ ^[1-8]$ ]] || fail "ntpq -p: t is not a cookie count: $line"
[[ $poll == 16 && $reach != 0 ]] || fail "ntpq -p: poll/reach: $line"
# rv and sysinfo: one more than the upstream's stratum, its address as refid, synced by NTP.
grep -q 'status=06.. leap_none, sync_ntp' <<<"$rv" || fail "rv status: $rv"
grep -q 'stratum=11,' <<<"$rv" && grep -q 'refid=127.0.0.1,' <<<"$rv" || fail "rv: $rv"
grep -q 'version="ntsd ' <<<"$rv" || fail "rv version: $rv"
grep -Eq '^stratum: +11$' <<<"$sysinfo" || fail "sysinfo stratum: $sysinfo"
grep -Eq '^system peer: +(127.0.0.1|localhost):11123$' <<<"$sysinfo" || fail "sysinfo peer: $sysinfo"
grep -Eq '^reference ID: +127.0.0.1$' <<<"$sysinfo" || fail "sysinfo refid: $sysinfo"
# ntsinfo: the client's NTS polls were answered and verified.
good=$(sed -n 's/^NTS client recvs good: *\([0-9]*\)$/\1/p' <<<"$ntsinfo")
[[ -n $good && $good -ge 1 ]] || fail "ntsinfo: $ntsinfo"
grep -Eq '^NTS KE client probes good: +1$' <<<"$ntsinfo" || fail "ntsinfo KE: $ntsinfo"

# iostats: io_received counts every datagram, ntpq's own included; the
# snapshot is at most a second old.
received_of() { sed -n 's/^received packets: *\([0-9]*\).*/\1/p' <<<"$1"; }
r1=$(received_of "$iostats")
[[ -n $r1 ]] || fail "iostats: $iostats"
for _ in 1 2 3; do timeout 15 ntpq -c rv 127.0.0.1 >/dev/null || fail "ntpq rv"; done
sleep 1.2
iostats2=$(run -c iostats)
r2=$(received_of "$iostats2")
[[ $r2 -ge $((r1 + 3)) ]] || fail "io_received did not rise: $r1 -> $r2"

# noquery: from 10.99.0.1 (restrict default … noquery) nothing comes back.
# (ntpq exits 0 after a timeout; its output says so.)
out=$(timeout 30 ntpq -c rv 10.99.0.1 2>&1 || true)
grep -q 'timed out' <<<"$out" && ! grep -q 'stratum=' <<<"$out" || fail "a noquery address was answered: $out"
counters=$(ntsd_counters "$base/client.log")
denied=$(sed -n 's/.* drop_mode6_denied=\([0-9]*\).*/\1/p' <<<"$counters")
answered=$(sed -n 's/.* mode6_answered=\([0-9]*\).*/\1/p' <<<"$counters")
[[ $denied -ge 1 ]] || fail "noquery drop not counted: $counters"
[[ $answered -ge 10 ]] || fail "answers not counted: $counters"
grep -q ' mode6_send_errors=0' <<<"$counters" || fail "send errors: $counters"

stop_ntsd "$base/client.log"
echo "PASS: ntpq -p/rv/sysinfo/iostats/ntsinfo read ntsd; noquery refused ($denied), $answered answered"
