# Shell helpers for integration tests: start the real ntsd on a free port,
# find the interop peers, and clean up every process a test started.
# Source it; it uses $TEST_TMPDIR (set by `bazel test`).

NTSD_PEERS_DIR="${NTSD_PEERS_DIR:-/var/cache/ntsd-peers}"
CHRONYD="${NTSD_CHRONYD:-$NTSD_PEERS_DIR/chrony/usr/sbin/chronyd}"
STARTED_PIDS=()
CLEANUP_PATHS=()  # removed at exit, after the processes (e.g. short socket folders)

cleanup_processes() {
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for path in "${CLEANUP_PATHS[@]}"; do
    rm -rf "$path"
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

# make_test_pki DIR: a throwaway CA (DIR/ca.pem) and a server certificate for
# 127.0.0.1 and localhost (DIR/cert.pem, DIR/key.pem), ECDSA P-256.
make_test_pki() {
  local pki="$1"
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$pki/ca.key" -out "$pki/ca.pem" -subj "/CN=ntsd test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >/dev/null 2>&1 || fail "openssl: cannot make the test CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/key.pem" -out "$pki/cert.csr" -subj "/CN=localhost" >/dev/null 2>&1 \
    || fail "openssl: cannot make the test key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$pki/ext.cnf"
  openssl x509 -req -in "$pki/cert.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/ext.cnf" -out "$pki/cert.pem" >/dev/null 2>&1 \
    || fail "openssl: cannot sign the test certificate"
}

# free_port tcp|udp: a port nobody listens on (bounded attempts), drawn
# below the kernel's ephemeral range: a port in that range can be handed to
# any port-0 bind or outgoing connection (and sit in TIME_WAIT) between this
# check and the test's bind — a CI run lost prometheus_scrape_test that way
# ("cannot bind to 127.0.0.1:49288: Address already in use").
free_port() {
  local proto="$1" port low=32768
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  (( low > 21024 )) || low=32768
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % (low - 20000)))
    if [[ $proto == tcp ]]; then
      [[ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]] && { echo "$port"; return 0; }
    else
      [[ -z "$(ss -Huln "sport = :$port" 2>/dev/null)" ]] && { echo "$port"; return 0; }
    fi
  done
  fail "no free $proto port"
}

# no_sys_time_wrapper PATH BINARY: writes an executable PATH that runs BINARY
# without CAP_SYS_TIME (bounding, inheritable and ambient sets), so nothing it
# starts can ever set this machine's clock.
no_sys_time_wrapper() {
  command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"
  printf '#!/bin/sh\nexec setpriv --bounding-set=-sys_time --inh-caps=-sys_time --ambient-caps=-sys_time -- %s "$@"\n' \
    "$2" >"$1"
  chmod +x "$1"
}

# wait_for_log LOG PATTERN SECONDS: waits until LOG has a line matching PATTERN.
wait_for_log() {
  local log="$1" pattern="$2" seconds="$3"
  for _ in $(seq 1 $((seconds * 10))); do
    grep -qE "$pattern" "$log" && return 0
    sleep 0.1
  done
  return 1
}

# ntsd_clock_report LOG: asks the running ntsd (NTSD_PID) for its counters and
# prints the newest "clock:" report lines (discipline, system, then one per source).
ntsd_clock_report() {
  local log="$1"
  ntsd_counters "$log" >/dev/null
  sleep 0.2
  local first
  first=$(grep -n '^ntsd: clock: discipline:' "$log" | tail -1 | cut -d: -f1)
  [[ -n "$first" ]] && tail -n +"$first" "$log" | grep '^ntsd: clock: \(discipline\|system\|source\)'
}
