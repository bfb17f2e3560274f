# Shell helpers for integration tests: start the real ntsd on a free port,
# find the interop peers, and clean up every process a test started.
# Source it; it uses $TEST_TMPDIR (set by `bazel test`).

NTSD_PEERS_DIR="${NTSD_PEERS_DIR:-/var/cache/ntsd-peers}"
CHRONYD="${NTSD_CHRONYD:-$NTSD_PEERS_DIR/chrony/usr/sbin/chronyd}"
STARTED_PIDS=()

cleanup_processes() {
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup_processes EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

require_chronyd() {
  [[ -x "$CHRONYD" ]] || fail "chronyd not found at $CHRONYD: run deploy/setup-dev.sh"
}

# start_ntsd LOG ARGS...: starts ntsd in the background with --port 0 and
# waits until it says where it serves. Sets NTSD_PID, NTSD_PORT and (when
# NTS is on) NTSD_KE_PORT; pass --ke-port 0 for a free NTS-KE port.
start_ntsd() {
  local log="$1"
  shift
  : >"$log"  # exists before the background child opens it, for the polling below
  "$NTSD" --port 0 "$@" >"$log" 2>&1 &
  NTSD_PID=$!
  STARTED_PIDS+=("$NTSD_PID")
  for _ in $(seq 1 100); do
    if grep -q '^ntsd: ready' "$log"; then
      NTSD_PORT=$(sed -n 's/^ntsd: serving NTP on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" | head -1)
      NTSD_KE_PORT=$(sed -n 's/^ntsd: serving NTS-KE on port \([0-9]*\) .*/\1/p' "$log" | head -1)
      [[ -n "$NTSD_PORT" ]] || fail "ntsd did not print its IPv4 address: $(cat "$log")"
      return 0
    fi
    kill -0 "$NTSD_PID" 2>/dev/null || fail "ntsd exited at start-up: $(cat "$log")"
    sleep 0.1
  done
  fail "ntsd not ready after 10 s: $(cat "$log")"
}

# stop_ntsd LOG: SIGTERM, expect a clean exit 0 and the final counters line.
stop_ntsd() {
  local log="$1"
  kill -TERM "$NTSD_PID"
  local status=0
  wait "$NTSD_PID" || status=$?
  [[ $status -eq 0 ]] || fail "ntsd exited with $status after SIGTERM: $(cat "$log")"
  grep -q '^ntsd: stopped; counters:' "$log" || fail "no final counters line: $(cat "$log")"
}

# chrony_conf_common DIR: the chrony.conf lines every test shares — all state
# and logs in DIR, no command port, one measurement per sample in
# DIR/measurements.log.
chrony_conf_common() {
  local dir="$1"
  cat <<CONF
pidfile $dir/chronyd.pid
driftfile $dir/drift
ntsdumpdir $dir
cmdport 0
logdir $dir
log measurements
CONF
}

# ntsd_counters LOG: asks the running ntsd (NTSD_PID) for its counters
# (SIGUSR1) and prints the newest "ntsd: counters:" line.
ntsd_counters() {
  local log="$1"
  local before
  before=$(grep -c '^ntsd: counters:' "$log" || true)
  kill -USR1 "$NTSD_PID"
  for _ in $(seq 1 50); do
    [[ $(grep -c '^ntsd: counters:' "$log" || true) -gt $before ]] && break
    sleep 0.1
  done
  grep '^ntsd: counters:' "$log" | tail -1
}
