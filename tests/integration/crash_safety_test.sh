#!/usr/bin/env bash
# Crash safety (issue 12 item 7): kill -9 at random moments, 200 times, during
# key rotation, seed creation, certificate reload and cookie-jar writes; every
# restart opens every cookie issued before, and no state file is ever torn.
#
# Two ntsd instances per iteration, both killed with SIGKILL:
#  A  the server whose cookies are kept. One state folder for the whole run
#     (seed and demo PKI from a first bootstrap start), a config with
#     `nts rotate 60` and `nts keepkeys 1` (keepkeys is in DAYS: every key of
#     this run, which lasts minutes, still opens, so "every cookie issued
#     before opens" is exact, with no retention window to allow for). Every
#     other iteration a fresh NTS-KE session (8 cookies) is kept in a store by
#     cookie_keeper; sometimes SIGHUP (certificate reload) right before; near a
#     minute boundary A is kept alive until its key rotation and killed just
#     after it; sometimes A is killed during start-up. Every 20 iterations and
#     at the end, A is restarted and every stored cookie must verify.
#  B  a scratch instance in a folder wiped every iteration, killed 0..120 ms
#     after launch so the kill lands on seed creation and, alternately, on the
#     demo certificate's creation (embedded default) or on the first cookie-jar
#     write of an NTS upstream client of A (config with `server … nts`,
#     `nts cookie`, --no-adjust). After the kill each file is absent or whole:
#     seed = 64 hex digits + newline, mode 0600; PEM files parse (openssl); the
#     jar parses (cookie_keeper inspect). A leftover `*.tmp` is allowed (the
#     next write removes it). Then B restarts on what is left and must come up,
#     keeping a seed that was already there.
# The clock is never touched: --no-adjust, and every ntsd runs without
# CAP_SYS_TIME in any set. Loopback only; every wait is bounded.
set -euo pipefail
NTSD_REAL="$(realpath "$1")"
KEEPER="$(realpath "$2")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
iterations="${CRASH_ITERATIONS:-200}"
dir="$TEST_TMPDIR/crash"
rm -rf "$dir"
mkdir -p "$dir"
chmod 700 "$dir"
NTSD="$dir/ntsd-no-sys-time"
no_sys_time_wrapper "$NTSD" "$NTSD_REAL"
state="$dir/state"
store="$dir/store"
scratch="$dir/scratch"
json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
ms_sleep() { sleep "$(printf '0.%03d' "$1")"; }
kills=0 restarts=0 startup_kills=0 hups=0 rotation_kills=0 sessions=0 checks=0 cookies_verified=0
port_retries=0 b_kills=0 b_restarts=0 b_seeds=0 b_pki_whole=0 b_pki_partial=0 b_jars=0 tmp_leftovers=0

# ---- process handling: STARTED_PIDS holds live processes only, so the
# EXIT cleanup never signals a recycled pid after 400 kills.
forget_pid() {
  local keep=() p
  for p in "${STARTED_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  STARTED_PIDS=("${keep[@]}")
}
kill9() {
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}
# launch LOG ARGS...: ntsd in the background; sets LAUNCHED.
launch() {
  local log="$1"
  shift
  : >"$log"
  "$NTSD" --port 0 --workers 1 --no-adjust "$@" >"$log" 2>&1 &
  LAUNCHED=$!
  STARTED_PIDS+=("$LAUNCHED")
}
# wait_ready LOG PID: up to 10 s; sets READY_NTP and READY_KE. Returns 1 if
# ntsd exited because a port was taken: with --port 0 / --ke-port 0 ntsd binds
# its first address to a free port and every further one (the embedded
# default's ::1) to the same number, which another process may hold on ::1
# (a Bazel server's gRPC port, say).
wait_ready() {
  local log="$1" pid="$2"
  for _ in $(seq 1 1000); do
    if grep -q '^ntsd: ready' "$log"; then
      READY_NTP=$(sed -n 's/^ntsd: serving NTP on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" | head -1)
      READY_KE=$(sed -n 's/^ntsd: serving NTS-KE on port \([0-9]*\) .*/\1/p' "$log" | head -1)
      [[ -n "$READY_NTP" && -n "$READY_KE" ]] || fail "no ports in: $(cat "$log")"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      forget_pid "$pid"
      grep -q 'Address already in use' "$log" && return 1
      fail "ntsd exited at start-up after a kill -9: $(cat "$log")"
    fi
    sleep 0.01
  done
  fail "ntsd not ready after 10 s: $(cat "$log")"
}
# start_ready LOG ARGS...: launch and wait_ready, relaunched (at most 5 times)
# only when a port was taken by someone else; sets NTSD_PID.
start_ready() {
  local attempt
  for attempt in 1 2 3 4 5; do
    launch "$@"
    if wait_ready "$1" "$LAUNCHED"; then
      NTSD_PID=$LAUNCHED
      return 0
    fi
    port_retries=$((port_retries + 1))
  done
  fail "ntsd could not bind its ports 5 times: $(cat "$1")"
}

# ---- file checks ----
check_seed() {  # FILE: exactly 64 lowercase hex digits and a newline, mode 0600
  local f="$1" what="$2"
  [[ $(stat -c %s "$f") == 65 && "$(cat "$f")" =~ ^[0-9a-f]{64}$ && "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" == '\n' ]] \
    || fail "$what: torn or malformed seed $f: $(od -An -c "$f" | head -5)"
  [[ $(stat -c %a "$f") == 600 ]] || fail "$what: seed $f has mode $(stat -c %a "$f")"
}
check_pem() {  # FILE x509|pkey
  local f="$1" kind="$2" what="$3"
  openssl "$kind" -noout -in "$f" 2>/dev/null || fail "$what: $f does not parse ($kind): $(head -c 300 "$f")"
}
count_tmp() {
  local n
  n=$(find "$1" -name '*.tmp' 2>/dev/null | wc -l)
  tmp_leftovers=$((tmp_leftovers + n))
}
check_a_files() {
  check_seed "$state/keyseed" "server state"
  cmp -s "$state/keyseed" "$dir/keyseed.orig" || fail "the server's seed changed: its cookies can no longer open"
  local f
  for f in ca.pem cert.pem key.pem; do
    cmp -s "$state/demo-pki/$f" "$dir/pki.orig/$f" || fail "server demo-pki/$f changed"
  done
  count_tmp "$state"
}
check_a_pem() {
  check_pem "$state/demo-pki/ca.pem" x509 "server"
  check_pem "$state/demo-pki/cert.pem" x509 "server"
  check_pem "$state/demo-pki/key.pem" pkey "server"
}
check_b_files() {
  local s="$scratch/state" whole=0 present=0 out
  if [[ -e "$s/keyseed" ]]; then
    check_seed "$s/keyseed" "scratch"
    b_seeds=$((b_seeds + 1))
  fi
  for f in ca.pem:x509 cert.pem:x509 key.pem:pkey; do
    if [[ -e "$s/demo-pki/${f%%:*}" ]]; then
      check_pem "$s/demo-pki/${f%%:*}" "${f##*:}" "scratch"
      present=$((present + 1))
    fi
  done
  ((present == 3)) && b_pki_whole=$((b_pki_whole + 1))
  ((present > 0 && present < 3)) && b_pki_partial=$((b_pki_partial + 1))
  out=$("$KEEPER" inspect --store "$scratch/cookies" 2>&1) || fail "scratch cookie jar torn: $out"
  [[ $(json_field "$out" kind) == '"ours"' ]] && b_jars=$((b_jars + 1))
  count_tmp "$scratch"
}

check_store() {  # PORT: every stored cookie must verify
  local out
  out=$(timeout 120 "$KEEPER" check --store "$store" --port "$1" 2>&1) \
    || fail "after $kills kills: not every stored cookie opens: $out"
  local line
  line=$(tail -1 <<<"$out")
  cookies_verified=$((cookies_verified + $(json_field "$line" verified)))
  checks=$((checks + 1))
  echo "check $checks after $kills kills: $line"
}

# ---- bootstrap: the demo PKI and seed (embedded default), then the config ----
start_ready "$dir/bootstrap.log" --ke-port 0 --state-dir "$state"
stop_ntsd "$dir/bootstrap.log"
forget_pid "$NTSD_PID"
cp "$state/keyseed" "$dir/keyseed.orig"
cp -r "$state/demo-pki" "$dir/pki.orig"
ca="$state/demo-pki/ca.pem"
cat >"$dir/ntp.conf" <<CONF
nts cert $state/demo-pki/cert.pem
nts key $state/demo-pki/key.pem
nts rotate 60
nts keepkeys 1
interface listen 127.0.0.1
CONF
"$NTSD_REAL" --check -c "$dir/ntp.conf" >/dev/null || fail "config rejected: $("$NTSD_REAL" --check -c "$dir/ntp.conf" 2>&1)"
a_args=(-c "$dir/ntp.conf" --ke-port 0 --state-dir "$state")
first_epoch=$(($(date +%s) / 60))
force_fetch=0

one_iteration() {
  local i="$1" log="$dir/a.log"
  # Sometimes a kill during start-up (seed read, key derivation, binding).
  if ((RANDOM % 6 == 0)); then
    launch "$log" "${a_args[@]}"
    ms_sleep $((RANDOM % 60))
    kill9 "$LAUNCHED"
    kills=$((kills + 1)) startup_kills=$((startup_kills + 1))
    check_a_files
  fi
  start_ready "$log" "${a_args[@]}"
  local a=$NTSD_PID
  restarts=$((restarts + 1))
  local ntp=$READY_NTP ke=$READY_KE
  ((i % 20 == 0)) && check_store "$ntp"

  # B: a fresh folder, killed soon after launch (seed creation, then the demo
  # certificate or the upstream client's first cookie-jar write).
  rm -rf "$scratch"
  mkdir -m 700 "$scratch"
  local b_log="$dir/b.log" b_args
  if ((i % 2 == 0)); then
    b_args=(--ke-port 0 --state-dir "$scratch/state")
  else
    cat >"$scratch/ntp.conf" <<CONF
nts cert $state/demo-pki/cert.pem
nts key $state/demo-pki/key.pem
server 127.0.0.1:$ke nts ca $ca iburst minpoll 0 maxpoll 0
nts cookie $scratch/cookies
driftfile $scratch/drift
interface listen 127.0.0.1
CONF
    b_args=(-c "$scratch/ntp.conf" --ke-port 0 --state-dir "$scratch/state")
  fi
  launch "$b_log" "${b_args[@]}"
  local b=$LAUNCHED

  # A: near a minute boundary, live through the key rotation and die right after it.
  local rotation=0
  (( $(date +%s) % 60 >= 58 )) && rotation=1
  if ((RANDOM % 4 == 0)); then
    kill -HUP "$a"
    hups=$((hups + 1))
  fi
  if ((i % 2 == 0 || force_fetch)); then
    out=$(timeout 20 "$KEEPER" fetch --ke-port "$ke" --ca "$ca" --store "$store" 2>&1) \
      || fail "iteration $i: NTS-KE fetch failed: $out; $(cat "$log")"
    sessions=$((sessions + 1))
  fi
  ms_sleep $((RANDOM % 120))
  kill9 "$b"
  b_kills=$((b_kills + 1))
  if ((rotation)); then
    wait_for_log "$log" 'cookie master key rotated' 5 || fail "no key rotation at the minute boundary: $(cat "$log")"
    # A session sealed with the new key, then the kill.
    out=$(timeout 20 "$KEEPER" fetch --ke-port "$ke" --ca "$ca" --store "$store" 2>&1) \
      || fail "iteration $i: NTS-KE fetch after the rotation failed: $out"
    sessions=$((sessions + 1))
    rotation_kills=$((rotation_kills + 1))
  fi
  ms_sleep $((RANDOM % 180))
  kill9 "$a"
  kills=$((kills + 1))
  check_a_files
  ((i % 20 == 0)) && check_a_pem

  check_b_files
  # B restarts on whatever the kill left, keeping a seed that was there.
  local seed_before=""
  [[ -e "$scratch/state/keyseed" ]] && seed_before=$(cat "$scratch/state/keyseed")
  start_ready "$b_log" "${b_args[@]}"
  b=$NTSD_PID
  b_restarts=$((b_restarts + 1))
  [[ -z "$seed_before" || "$(cat "$scratch/state/keyseed")" == "$seed_before" ]] \
    || fail "iteration $i: the restart replaced an existing seed"
  kill9 "$b"
  b_kills=$((b_kills + 1))
  check_b_files
}

started=$SECONDS
for i in $(seq 1 "$iterations"); do
  one_iteration "$i"
done
# The assertion covers an epoch change only if the kept cookies span two
# key epochs; a run faster than a minute waits for the next one (bounded).
if (( $(date +%s) / 60 == first_epoch )); then
  sleep $((60 - $(date +%s) % 60 + 1))
  force_fetch=1
  one_iteration $((iterations + 1))
fi
epochs=$(awk '$1 == "ke-time" { print int($2 / 60) }' "$store" | sort -u | wc -l)
((epochs >= 2)) || fail "the stored sessions span $epochs key epoch(s); expected at least 2"

# Final: a clean start, every cookie, then a clean stop with no NAK counted.
start_ready "$dir/final.log" "${a_args[@]}"
restarts=$((restarts + 1))
check_store "$READY_NTP"
counters=$(ntsd_counters "$dir/final.log")
[[ "$counters" == *" nts_naks=0 "* ]] || fail "NAKs at the final check: $counters"
stop_ntsd "$dir/final.log"
forget_pid "$NTSD_PID"
older=$(sed -n 's/.*cookie_key_older=\([0-9]*\).*/\1/p' <<<"$counters")
previous=$(sed -n 's/.*cookie_key_previous=\([0-9]*\).*/\1/p' <<<"$counters")
echo "PASS: $iterations iterations in $((SECONDS - started)) s: $kills kills of the server ($startup_kills during start-up, $rotation_kills right after a key rotation, $hups SIGHUPs), $restarts restarts; $sessions sessions over $epochs key epochs, $checks checks, $cookies_verified cookies verified (final check opened ${previous:-?} with the previous key, ${older:-?} with older ones); scratch: $b_kills kills, $b_restarts restarts, seed whole $b_seeds times, demo PKI whole $b_pki_whole / partial $b_pki_partial, cookie jar whole $b_jars; $tmp_leftovers leftover *.tmp files; $port_retries relaunches for a port taken by another process"
