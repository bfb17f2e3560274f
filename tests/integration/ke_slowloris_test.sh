#!/usr/bin/env bash
# NTS-KE under a slowloris (issue 12, item 2), against the real ntsd binary on
# loopback. An attacker holds 10,000 TCP connections from 250 source
# addresses (127.0.1.1–127.0.1.250), idle or trickling one byte of a
# ClientHello every 2 s, and reopens every connection the server closes; a
# legitimate client meanwhile makes 100 full NTS-KE sessions from 127.0.0.2
# (4 per second, inside the production rate limit) with 3 s each.
# Pass: at least 90 succeed within 3 s, in both runs:
#   1. soft open-file limit 1024, hard limit high (a service manager's
#      default; ntsd may raise its soft limit), trickling attacker;
#   2. soft = hard = 1024 (ntsd cannot raise it), idle attacker.
# ntsd runs with the settings an operator would use: a certificate, the
# default NTS-KE limits (kerate 5, keburst 50, per-address and global
# connection caps), so the legitimate client is limited exactly as in
# production. Bounded: every process has a time limit.
# SLOWLORIS_REPORT_ONLY=1 prints the figures without asserting (used to
# measure an older binary).
set -euo pipefail
NTSD_REAL="$(realpath "$1")"
ATTACKER="$(realpath "$2")"
PROBE="$(realpath "$3")"
source "$(dirname "$0")/../lib/ntsd_process.sh"

CONNECTIONS=${SLOWLORIS_CONNECTIONS:-10000}
ADDRESSES=${SLOWLORIS_ADDRESSES:-250}
ATTEMPTS=100
dir="$TEST_TMPDIR/ke_slowloris"
mkdir -p "$dir"

hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
[[ $hard -ge $((CONNECTIONS + 200)) ]] \
  || fail "the hard open-file limit ($hard) is below $((CONNECTIONS + 200)); the attacker needs one fd per connection"

make_test_pki "$dir/pki"
cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
nts enable
nts cert $dir/pki/cert.pem
nts key $dir/pki/key.pem
CONF

# run_phase NAME SOFT HARD TRICKLE_MS: one attack with ntsd under the given open-file limits.
run_phase() {
  local name="$1" soft="$2" nofile_hard="$3" trickle="$4"
  local log="$dir/$name.ntsd.log"
  printf '#!/bin/sh\nexec prlimit --nofile=%s:%s -- %s "$@"\n' "$soft" "$nofile_hard" "$NTSD_REAL" >"$dir/ntsd-$name"
  chmod +x "$dir/ntsd-$name"
  NTSD="$dir/ntsd-$name"
  start_ntsd "$log" --config "$dir/ntp.conf" --workers 1 --ke-port 0 --state-dir "$dir/state-$name"
  [[ -n "$NTSD_KE_PORT" ]] || fail "$name: ntsd did not print its NTS-KE port: $(cat "$log")"
  local limits
  limits=$(awk '/Max open files/ {print $4 ":" $5}' "/proc/$NTSD_PID/limits")
  echo "== $name: ntsd open-file limit (soft:hard) $limits, attacker $CONNECTIONS connections from" \
    "$ADDRESSES addresses, trickle ${trickle} ms (0: idle)"

  # The attacker: its own fd limit, bounded in time.
  (ulimit -n $((CONNECTIONS + 200)) && exec timeout 120 "$ATTACKER" --port "$NTSD_KE_PORT" \
    --connections "$CONNECTIONS" --addresses "$ADDRESSES" --duration 50 --trickle-ms "$trickle") \
    >"$dir/$name.attacker.log" 2>&1 &
  local attacker=$!
  STARTED_PIDS+=("$attacker")
  sleep 6  # the attack reaches its steady state
  tail -1 "$dir/$name.attacker.log"

  # Resources of ntsd while under attack, sampled during the probe.
  (for _ in $(seq 1 30); do
     kill -0 "$NTSD_PID" 2>/dev/null || break
     echo "$(ls "/proc/$NTSD_PID/fd" 2>/dev/null | wc -l) $(awk '/VmRSS/ {print $2}' "/proc/$NTSD_PID/status")"
     sleep 1
   done) >"$dir/$name.resources" &
  local sampler=$!

  local probe
  probe=$(timeout 150 "$PROBE" --port "$NTSD_KE_PORT" --ca "$dir/pki/ca.pem" --bind 127.0.0.2 \
    --attempts "$ATTEMPTS" --rate 4 --threads 8 --limit-ms 3000) || fail "$name: ke_probe failed: $probe"
  echo "$probe"
  tail -1 "$dir/$name.attacker.log"
  wait "$sampler" || true
  local max_fds
  max_fds=$(awk '{ if ($1 > fd) fd = $1 } END { print fd + 0 }' "$dir/$name.resources")
  awk '{ if ($1 > fd) fd = $1; if ($2 > rss) rss = $2 } END { printf "ntsd under attack: max open fds %d, max RSS %.1f MiB\n", fd, rss / 1024 }' \
    "$dir/$name.resources"
  ntsd_counters "$log" >/dev/null
  sleep 0.3
  grep 'nts-ke:' "$log" | tail -1 | sed 's/^ntsd: //'
  grep -E 'NTS-KE (under pressure|accept)' "$log" | tail -3 | sed 's/^ntsd: //' || true

  kill "$attacker" 2>/dev/null || true
  wait "$attacker" 2>/dev/null || true
  grep 'attacker: done' "$dir/$name.attacker.log" || true
  stop_ntsd "$log"

  local ok
  ok=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$probe")
  if [[ ${SLOWLORIS_REPORT_ONLY:-0} != 1 ]]; then
    [[ $ok -ge $((ATTEMPTS * 9 / 10)) ]] || fail "$name: only $ok of $ATTEMPTS NTS-KE sessions within 3 s: $probe"
    # The connection cap, not the fd limit, decides who is served.
    [[ $max_fds -lt ${limits%%:*} ]] || fail "$name: ntsd reached its open-file limit ($max_fds fds, limits $limits)"
  fi
}

run_phase raised 1024 "$hard" 2000
run_phase fixed1024 1024 1024 0
echo PASS
