#!/usr/bin/env bash
# Side-by-side load comparison on loopback: ntsd, chronyd 4.3, NTPsec 1.2.2
# ntpd and the no-crypto reflector (the kernel's ceiling), each in turn pinned
# to CPU 0, the same ntsbench load pinned to CPU 1; one table of medians.
# "echo" is the reflector answering plain requests padded to an NTS request's
# size with replies as long (reflector --echo, ntsbench --plain-size): the
# kernel's ceiling for datagrams of NTS's size, without the crypto.
#
#   bench/compare.sh [--only ntsd,chronyd,ntpd,reflector,echo] [--seconds N] [--runs N] [--rounds N] [--open-rate R]
#
# Two loads per server: closed loop (saturation: 256 requests outstanding)
# and open loop at --open-rate requests/s (default 40,000; below saturation,
# where real servers live), where the figure to read is server CPU per reply.
#
# Environment: COMPARE_SECONDS (default 10) as --seconds; BAZEL (default
# "bazel", e.g. "bazel --output_base=DIR"); COMPARE_NO_BUILD=1 uses the
# binaries already in bazel-bin; NTSBENCH=PATH another ntsbench binary;
# NTSD_PEERS_DIR (chronyd, as deploy/setup-dev.sh unpacked it),
# NTSD_NTPSEC_NTPD (default /usr/sbin/ntpd).
#
# No server ever touches the clock: chronyd runs with -x, ntpd without
# CAP_SYS_TIME (and with `disable ntp`/`disable kernel`), ntsd and the
# reflector only read it. Every process started is stopped on exit, error or
# Ctrl-C, and the temporary folder (certificate, configurations, logs) removed.
set -euo pipefail

usage() {
  cat <<'END'
usage: bench/compare.sh [--only LIST] [--seconds N] [--runs N] [--rounds N] [--open-rate R]
  --only LIST    comma-separated subset of ntsd,chronyd,ntpd,reflector,echo (default: all)
  --seconds N    ntsbench --duration of each run, 1..120 (default: $COMPARE_SECONDS, else 10)
  --runs N       runs per server and mode, 1..9; the table shows medians (default 3)
  --rounds N     1..9: every server in turn, N times over, --runs each time, so
                 ratios between servers do not hang on one stretch of machine
                 load; medians over all rounds' runs (default 1)
  --open-rate R  open-loop rows at R requests/s, 1000..200000; 0: none (default 40000)
END
}

# ---------------------------------------------------------------- options
ORIGINAL_COMMAND="$0"
for arg in "$@"; do
  if [[ "$arg" =~ ^[A-Za-z0-9_./,=:+-]+$ ]]; then ORIGINAL_COMMAND+=" $arg"; else ORIGINAL_COMMAND+=" $(printf '%q' "$arg")"; fi
done
ONLY="ntsd,chronyd,ntpd,reflector,echo"
RUN_SECONDS="${COMPARE_SECONDS:-10}"
RUNS=3
ROUNDS=1
OPEN_RATE=40000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; ONLY="$2"; shift 2 ;;
    --only=*) ONLY="${1#*=}"; shift ;;
    --seconds) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; RUN_SECONDS="$2"; shift 2 ;;
    --seconds=*) RUN_SECONDS="${1#*=}"; shift ;;
    --runs) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; RUNS="$2"; shift 2 ;;
    --runs=*) RUNS="${1#*=}"; shift ;;
    --rounds) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; ROUNDS="$2"; shift 2 ;;
    --rounds=*) ROUNDS="${1#*=}"; shift ;;
    --open-rate) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; OPEN_RATE="$2"; shift 2 ;;
    --open-rate=*) OPEN_RATE="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if ! [[ "$RUN_SECONDS" =~ ^[0-9]+$ ]] || ((RUN_SECONDS < 1 || RUN_SECONDS > 120)); then
  echo "compare: --seconds must be 1..120, got '$RUN_SECONDS'" >&2; exit 2
fi
if ! [[ "$RUNS" =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 9)); then
  echo "compare: --runs must be 1..9, got '$RUNS'" >&2; exit 2
fi
if ! [[ "$ROUNDS" =~ ^[0-9]+$ ]] || ((ROUNDS < 1 || ROUNDS > 9)); then
  echo "compare: --rounds must be 1..9, got '$ROUNDS'" >&2; exit 2
fi
if ! [[ "$OPEN_RATE" =~ ^[0-9]+$ ]] || { ((OPEN_RATE != 0)) && ((OPEN_RATE < 1000 || OPEN_RATE > 200000)); }; then
  echo "compare: --open-rate must be 0 or 1000..200000, got '$OPEN_RATE'" >&2; exit 2
fi
declare -A WANT=()
IFS=',' read -r -a only_list <<<"$ONLY"
for s in "${only_list[@]}"; do
  case "$s" in
    ntsd|chronyd|ntpd|reflector|echo) WANT[$s]=1 ;;
    *) echo "compare: --only takes ntsd, chronyd, ntpd, reflector, echo; got '$s'" >&2; exit 2 ;;
  esac
done
[[ ${#WANT[@]} -gt 0 ]] || { echo "compare: --only names no server" >&2; exit 2; }

# The same loads for every server (one load thread on CPU 1): closed loop
# (256 outstanding), and open loop paced at OPEN_RATE requests/s.
LOAD_ARGS=(--host 127.0.0.1 --clients 64 --duration "$RUN_SECONDS" --json --quiet)
CLOSED_ARGS=(--window 256)
OPEN_ARGS=(--rate "$OPEN_RATE")
OPEN_MODE="@$((OPEN_RATE / 1000))k"  # row suffix, e.g. "NTS@40k"
# The echo rows' datagram size: ntsbench's NTS request (header 48, Unique
# Identifier 36, one AEAD 15 cookie 108, tag-only authenticator 40) and
# ntsd's reply to it (header, Unique Identifier, authenticator sealing one
# fresh cookie) are both 232 bytes.
ECHO_SIZE=232
RUN_BOUND=$((RUN_SECONDS + 60))  # hard bound of one ntsbench run (KE, load, drain)

cd "$(dirname "$0")/.."
BAZEL="${BAZEL:-bazel}"
CHRONYD="${NTSD_PEERS_DIR:-/var/cache/ntsd-peers}/chrony/usr/sbin/chronyd"
NTPD="${NTSD_NTPSEC_NTPD:-/usr/sbin/ntpd}"

die() { echo "compare: $*" >&2; exit 1; }
note() { echo "compare: $*" >&2; }

for tool in jq openssl taskset timeout ss awk setpriv; do
  command -v "$tool" >/dev/null || die "'$tool' not found: run deploy/setup-dev.sh"
done
{ taskset -c 0 true && taskset -c 1 true; } 2>/dev/null \
  || die "needs CPUs 0 and 1 (server on 0, load on 1); this machine/cgroup allows: $(taskset -pc $$ | sed 's/.*: //')"

# ---------------------------------------------------------------- processes
# Every background process goes into PIDS (the `timeout` wrapper for servers
# and bounded runs, which forwards SIGTERM to its child); servers' own pids
# (and their forked helpers, e.g. chronyd's NTS-KE helper) into SERVER_PIDS.
PIDS=()
SERVER_PIDS=()
WORK=""
NTPD_STARTED=0

forget_pid() {  # PID: drop it from PIDS and SERVER_PIDS (it has been reaped)
  local p keep=()
  for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
  keep=()
  for p in "${SERVER_PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  SERVER_PIDS=("${keep[@]}")
}

# alive_any, terminate
source bench/process_lib.sh  # the working folder is the repository root (cd above)

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  local p helpers=()
  for p in "${SERVER_PIDS[@]}"; do  # e.g. chronyd's NTS-KE helper
    # shellcheck disable=SC2207
    helpers+=($(ps -o pid= --ppid "$p" 2>/dev/null))
  done
  terminate "${SERVER_PIDS[@]}" "${helpers[@]}" "${PIDS[@]}"
  [[ -n "$WORK" && -d "$WORK" ]] && rm -rf "$WORK"
  if [[ $NTPD_STARTED -eq 1 ]]; then
    local left
    left=$(ss -Hlunp 'sport = :123' 2>/dev/null | grep ntpd)
    [[ -z "$left" ]] || note "WARNING: an ntpd still holds UDP 123 after clean-up: $left"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'note "interrupted"; exit 130' INT
trap 'note "terminated"; exit 143' TERM

# run_bounded SECONDS OUT ERR CMD...: runs CMD (stdin /dev/null) in the
# background under timeout, waits for it; returns its status (124: timed out).
# In the background so that Ctrl-C reaches the trap at once.
run_bounded() {
  local bound=$1 out=$2 err=$3 pid status=0
  shift 3
  timeout -s TERM -k 5 "$bound" "$@" </dev/null >"$out" 2>"$err" &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || status=$?
  forget_pid "$pid"
  return "$status"
}

# start_server LOG LIFETIME CMD...: starts CMD pinned to CPU 0 (under a
# timeout of LIFETIME seconds as a safety net should this script be killed).
# Sets SERVER_PID (the server itself: timeout's child, as taskset and setpriv
# exec) and SERVER_WRAPPER (the timeout process).
start_server() {
  local log=$1 lifetime=$2
  shift 2
  : >"$log"
  timeout -s TERM -k 5 "$lifetime" taskset -c 0 "$@" </dev/null >"$log" 2>&1 &
  SERVER_WRAPPER=$!
  PIDS+=("$SERVER_WRAPPER")
  SERVER_PID=""
  for _ in $(seq 1 100); do
    SERVER_PID=$(ps -o pid= --ppid "$SERVER_WRAPPER" 2>/dev/null | head -1 | tr -d ' ' || true)
    [[ -n "$SERVER_PID" ]] && break
    kill -0 "$SERVER_WRAPPER" 2>/dev/null || break
    sleep 0.02
  done
  [[ -n "$SERVER_PID" ]] && SERVER_PIDS+=("$SERVER_PID")
  return 0
}

# stop_server: SIGTERM to the server and any helper it forked, bounded.
stop_server() {
  local helpers
  helpers=$(ps -o pid= --ppid "${SERVER_PID:-0}" 2>/dev/null | tr -d ' ' || true)
  # shellcheck disable=SC2086
  terminate ${SERVER_PID:+"$SERVER_PID"} $helpers "$SERVER_WRAPPER"
  forget_pid "${SERVER_PID:-0}"
  forget_pid "$SERVER_WRAPPER"
  SERVER_PID=""
}

server_running() { [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

log_tail() {  # FILE...: the last lines of a log, indented
  local f
  for f in "$@"; do
    [[ -s "$f" ]] || continue
    echo "    --- $(basename "$f") (last 15 lines)"
    tail -n 15 "$f" | sed 's/^/    /'
  done
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s while the server runs.
wait_for() {
  local tenths=$(($1 * 10))
  shift
  for _ in $(seq 1 "$tenths"); do
    "$@" && return 0
    server_running || return 1
    sleep 0.1
  done
  return 1
}

udp_listening() { [[ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]]; }
tcp_listening() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

# free_port START: the first port from START on that is free for UDP and TCP.
free_port() {
  local p
  for ((p = $1; p < $1 + 200; p++)); do
    udp_listening "$p" || tcp_listening "$p" || { echo "$p"; return 0; }
  done
  die "no free port in $1..$(($1 + 199))"
}

# ---------------------------------------------------------------- results
# Rows of the table, in order: "server|mode". ROW_NOTE holds why a row has no
# figures; results.tsv one line per completed run.
ROWS=()
declare -A ROW_LABEL=() ROW_NOTE=()
add_row() {  # KEY LABEL (once per KEY, whatever the number of rounds)
  [[ -n "${ROW_LABEL[$1]:-}" ]] && return 0
  ROWS+=("$1")
  ROW_LABEL[$1]="$2"
}
fail_row() {  # KEY REASON (and the KEY's open-loop row, if any)
  ROW_NOTE[$1]="$2"
  [[ -n "${ROW_LABEL[$1$OPEN_MODE]:-}" ]] && ROW_NOTE[$1$OPEN_MODE]="$2"
  return 0
}
add_rows() {  # KEY LABEL: the closed-loop row and, with --open-rate, the open-loop one
  add_row "$1" "$2"
  ((OPEN_RATE > 0)) && add_row "$1$OPEN_MODE" "$2"
  return 0
}
both_runs() {  # KEY SERVER_PID MODE_ARGS...: closed-loop runs, then open-loop ones
  local key=$1
  shift
  bench_runs "$key" "$@"
  ((OPEN_RATE > 0)) && bench_runs "$key$OPEN_MODE" "$@"
  return 0
}

# nts_check NAME KE_PORT: one chronyd -Q measurement over NTS against the
# server (the certificate checked against our CA; the NTP port from the
# server's Port record, else 123). Succeeds when chronyd took an
# authenticated sample that passed all its tests; else prints why.
nts_check() {
  local name=$1 ke_port=$2 dir="$WORK/r$ROUND/check-$1" status=0
  if [[ ! -x "$CHRONYD" ]]; then
    echo "  NTS check skipped: no chronyd at $CHRONYD (deploy/setup-dev.sh unpacks it)"
    return 0
  fi
  mkdir -p "$dir"
  cat >"$dir/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $ke_port iburst minpoll -2 maxpoll -2 maxsamples 4
ntstrustedcerts $WORK/pki/ca.pem
pidfile $dir/chronyd.pid
ntsdumpdir $dir
cmdport 0
logdir $dir
log measurements
CONF
  run_bounded 25 "$dir/out" "$dir/err" "$CHRONYD" -Q -u root -f "$dir/chrony.conf" -L 0 || status=$?
  local sample=""
  [[ -f "$dir/measurements.log" ]] && sample=$(awk '$3 == "127.0.0.1"' "$dir/measurements.log" | tail -1)
  if [[ $status -ne 0 ]] || ! grep -q 'System clock wrong by' "$dir/out" "$dir/err" 2>/dev/null \
     || ! awk '{ exit !($6 == "111" && $7 == "111" && $8 == "1111") }' <<<"$sample"; then
    note "$name: NTS check with chronyd -Q failed (status $status)"
    log_tail "$dir/out" "$dir/err" "$dir/measurements.log" >&2
    return 1
  fi
  echo "  NTS check: chronyd -Q took authenticated samples, stratum $(awk '{print $5}' <<<"$sample"), offset $(awk '{print $12}' <<<"$sample") s"
}

# bench_runs KEY SERVER_PID MODE_ARGS...: RUNS runs of ntsbench on CPU 1,
# closed loop, or open loop when KEY's mode ends in OPEN_MODE; each run's
# figures go to results.tsv.
bench_runs() {
  local key=$1 pid=$2 run status load_args=("${CLOSED_ARGS[@]}")
  shift 2
  [[ "$key" == *"$OPEN_MODE" ]] && load_args=("${OPEN_ARGS[@]}")
  for run in $(seq 1 "$RUNS"); do
    if ! server_running; then
      fail_row "$key" "server exited during the runs"
      note "${ROW_LABEL[$key]}: server exited"
      log_tail "$SERVER_LOG" >&2
      return 0
    fi
    local base="$WORK/runs/${key//|/_}_${ROUND}_$run"
    status=0
    run_bounded "$RUN_BOUND" "$base.json" "$base.err" \
      taskset -c 1 "$NTSBENCH" "${LOAD_ARGS[@]}" "${load_args[@]}" --server-pid "$pid" "$@" || status=$?
    if [[ $status -ne 0 ]] || ! jq -e '.verified_per_s != null' "$base.json" >/dev/null 2>&1; then
      local why="ntsbench exit status $status"
      [[ $status -eq 124 ]] && why="ntsbench timed out after ${RUN_BOUND} s"
      [[ $status -eq 1 ]] && why="ntsbench setup (NTS-KE) failed"
      note "${ROW_LABEL[$key]} run $run: $why"
      log_tail "$base.err" >&2
      [[ -n "${ROW_NOTE[$key]:-}" ]] || fail_row "$key" "$why"
      continue
    fi
    jq -r --arg key "$key" '[$key, .verified_per_s, .server_cpu_pct, .verified_per_server_cpu_s,
        .latency_us.p99, .lost_pct,
        (if (.verified // 0) > 0 and .server_cpu_s != null then .server_cpu_s / .verified * 1e6 else null end)]
        | map(if . == null then "null" else tostring end) | @tsv' \
      "$base.json" >>"$WORK/results.tsv"
    jq -r --arg name "${ROW_LABEL[$key]} ${key#*|}" --arg run "$( ((ROUNDS > 1)) && echo "$ROUND.")$run/$RUNS" '
        def r(d): if type == "number" then (. * d + 0.5 | floor) / d else "?" end;
        "  \($name) run \($run): \(.verified_per_s | r(1)) verified/s, "
        + "server CPU \(.server_cpu_pct | r(10))%, \(.verified_per_server_cpu_s | r(1)) per CPU-s, "
        + "p99 \(.latency_us.p99 | r(1)) µs, lost \(.lost_pct | r(1000))%, "
        + "failed \(.failed), naks \(.naks), kods \(.kods), timeouts \(.timeouts)"' \
      "$base.json"
  done
}

# ---------------------------------------------------------------- build
if [[ "${COMPARE_NO_BUILD:-0}" != 1 ]]; then
  echo "compare: building (bazel build -c opt //daemon:ntsd //bench:ntsbench //bench:reflector) ..."
  build_log=$(mktemp)
  # --symlink_prefix=/: leave the workspace's bazel-bin links alone (the
  # binaries are found with `bazel info` below).
  # shellcheck disable=SC2086
  if ! $BAZEL build -c opt --symlink_prefix=/ //daemon:ntsd //bench:ntsbench //bench:reflector \
      >"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    rm -f "$build_log"
    die "build failed"
  fi
  rm -f "$build_log"
fi
# shellcheck disable=SC2086
BIN=$($BAZEL info -c opt bazel-bin 2>/dev/null) || die "'$BAZEL info -c opt bazel-bin' failed"
NTSD="$BIN/daemon/ntsd"
REFLECTOR="$BIN/bench/reflector"
NTSBENCH="${NTSBENCH:-$BIN/bench/ntsbench}"
[[ -x "$NTSBENCH" ]] || die "ntsbench not found at $NTSBENCH"

WORK=$(mktemp -d /tmp/ntsd-compare.XXXXXX)
mkdir -p "$WORK/pki" "$WORK/runs"
: >"$WORK/results.tsv"
LIFETIME=$((3 * RUNS * (RUN_BOUND + 10) + 120))  # safety net for a server's life in one round (3 loads)

# ---------------------------------------------------------------- certificate
# One throwaway CA and one ECDSA P-256 server certificate for 127.0.0.1 and
# localhost, used by every NTS server; ntsbench and chronyd -Q check it.
(
  cd "$WORK/pki"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=ntsd compare.sh throwaway CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
  openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
  cat >server.ext <<'EXT'
subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
EXT
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 \
    -extfile server.ext -out server.pem
  openssl verify -CAfile ca.pem server.pem
) >"$WORK/pki/openssl.log" 2>&1 || { cat "$WORK/pki/openssl.log" >&2; die "certificate generation failed"; }
CA="$WORK/pki/ca.pem"
CERT="$WORK/pki/server.pem"
KEY="$WORK/pki/server.key"
# 8 NTS-KE sessions shared by the 64 clients: the NTP load is the same as
# with one each, and 3 runs stay within ntsd's per-address NTS-KE burst (50).
KE_SESSIONS=8
NTS_ARGS=(--ca "$CA" --ke-sessions "$KE_SESSIONS")

# ---------------------------------------------------------------- header
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
HEADER=$(cat <<END
ntsd comparison, $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)
CPU:     ${cpu_model:-unknown} ($(nproc) CPUs online); server on CPU 0, ntsbench on CPU 1
kernel:  $(uname -r); load average at start $(cut -d' ' -f1-3 /proc/loadavg) (other work on CPUs 0-1 skews the figures)
command: $ORIGINAL_COMMAND
load:    ntsbench ${LOAD_ARGS[*]} --server-pid PID, closed loop ${CLOSED_ARGS[*]}$( ((OPEN_RATE > 0)) && echo " and open loop ${OPEN_ARGS[*]} (rows ending $OPEN_MODE)")
         + NTS: --ca CA --ke-sessions $KE_SESSIONS --port KE_PORT; plain: --plain --port NTP_PORT
         $( ((ROUNDS > 1)) && echo "$ROUNDS rounds (every server in turn, then again) of ")$RUNS runs per row; the table shows medians
END
)
echo "$HEADER"
echo

# Rounds: every wanted server in turn, then again (--rounds), each started
# afresh; results.tsv gathers every round's runs.
for ROUND in $(seq 1 "$ROUNDS"); do
  ((ROUNDS > 1)) && echo "=== round $ROUND of $ROUNDS" && echo
# (the sections below run inside this loop; not indented, for their here-documents)
# ---------------------------------------------------------------- ntsd
# Once per I/O backend, like the reflector, so each has its same-backend ceiling.
if [[ -n "${WANT[ntsd]:-}" ]]; then
  for io in uring mmsg; do
  key="ntsd-$io"
  add_rows "$key|NTS" "ntsd ($io)"
  add_row "$key|plain" "ntsd ($io)"
  echo "== ntsd ($("$NTSD" --version 2>&1 | head -1)), 1 worker, --io-backend $io"
  dir="$WORK/r$ROUND/$key"
  mkdir -p "$dir"
  # No `restrict` line: no restrictions, so no `limited` rate limiting.
  cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
nts enable
nts cert $CERT
nts key $KEY
CONF
  SERVER_LOG="$dir/ntsd.log"
  start_server "$SERVER_LOG" "$LIFETIME" "$NTSD" -c "$dir/ntp.conf" --workers 1 --io-backend "$io" \
    --port 0 --ke-port 0 --state-dir "$dir/state"
  ntsd_ready() { grep -q '^ntsd: ready' "$SERVER_LOG"; }
  if ! wait_for 15 ntsd_ready; then
    note "ntsd --io-backend $io did not start"
    log_tail "$SERVER_LOG" >&2
    fail_row "$key|NTS" "did not start"
    fail_row "$key|plain" "did not start"
  else
    ntp_port=$(sed -n 's/^ntsd: serving NTP on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$SERVER_LOG" | head -1)
    ke_port=$(sed -n 's/^ntsd: serving NTS-KE on port \([0-9]*\) .*/\1/p' "$SERVER_LOG" | head -1)
    echo "  pid $SERVER_PID, NTP 127.0.0.1:$ntp_port, NTS-KE port $ke_port"
    if nts_check "$key" "$ke_port"; then
      both_runs "$key|NTS" "$SERVER_PID" "${NTS_ARGS[@]}" --port "$ke_port"
    else
      fail_row "$key|NTS" "NTS check failed"
    fi
    bench_runs "$key|plain" "$SERVER_PID" --plain --port "$ntp_port"
  fi
  stop_server
  echo
  done
fi

# ---------------------------------------------------------------- chronyd
if [[ -n "${WANT[chronyd]:-}" ]]; then
  add_rows "chronyd|NTS" "chronyd"
  add_row "chronyd|plain" "chronyd"
  if [[ ! -x "$CHRONYD" ]]; then
    note "chronyd not found at $CHRONYD: run deploy/setup-dev.sh"
    fail_row "chronyd|NTS" "not installed"
    fail_row "chronyd|plain" "not installed"
  else
    dir="$WORK/r$ROUND/chronyd"
    mkdir -p "$dir"
    ntp_port=$(free_port 11400)
    ke_port=$(free_port 14400)
    echo "== chronyd ($("$CHRONYD" --version 2>&1 | head -1 | awk '{print $3, $4}')), -x (never touches the clock)"
    # `local stratum 10` serves the host clock unsynchronised; `allow` opens
    # the NTP server port; no `ratelimit` (off by default). NTS-KE is served
    # by a forked helper (`ntsprocesses`, default 1), NTP by the main
    # process, whose pid ntsbench watches. chronyd sends an NTPv4 Port record
    # as its port is not 123.
    cat >"$dir/chrony.conf" <<CONF
port $ntp_port
ntsport $ke_port
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 10
ntsservercert $CERT
ntsserverkey $KEY
ntsdumpdir $dir
cmdport 0
pidfile $dir/chronyd.pid
driftfile $dir/drift
CONF
    SERVER_LOG="$dir/chronyd.log"
    start_server "$SERVER_LOG" "$LIFETIME" "$CHRONYD" -x -d -f "$dir/chrony.conf" -u root
    chronyd_ready() { udp_listening "$ntp_port" && tcp_listening "$ke_port"; }
    if ! wait_for 15 chronyd_ready; then
      note "chronyd did not start (or did not open UDP $ntp_port and TCP $ke_port)"
      log_tail "$SERVER_LOG" >&2
      fail_row "chronyd|NTS" "did not start"
      fail_row "chronyd|plain" "did not start"
    else
      echo "  pid $SERVER_PID (NTP), NTP 127.0.0.1:$ntp_port, NTS-KE port $ke_port (NTS-KE helper pid $(ps -o pid= --ppid "$SERVER_PID" | tr -d ' ' | paste -sd ' '))"
      if nts_check chronyd "$ke_port"; then
        both_runs "chronyd|NTS" "$SERVER_PID" "${NTS_ARGS[@]}" --port "$ke_port"
      else
        fail_row "chronyd|NTS" "NTS check failed"
      fi
      bench_runs "chronyd|plain" "$SERVER_PID" --plain --port "$ntp_port"
    fi
    stop_server
  fi
  echo
fi

# ---------------------------------------------------------------- ntpd
if [[ -n "${WANT[ntpd]:-}" ]]; then
  add_rows "ntpd|NTS" "ntpd"
  add_row "ntpd|plain" "ntpd"
  # NTPsec 1.2.2 cannot move its ports: UDP 123 (hard-wired) and NTS-KE TCP
  # 4460 (no `nts port`); its NTS-KE sends no Port record, so ntsbench uses 123.
  taken=$( (ss -Hlunp 'sport = :123'; ss -Hltnp 'sport = :4460') 2>/dev/null || true)
  if [[ ! -x "$NTPD" ]]; then
    note "NTPsec ntpd not found at $NTPD: run deploy/setup-dev.sh"
    fail_row "ntpd|NTS" "not installed"
    fail_row "ntpd|plain" "not installed"
  elif [[ -n "$taken" ]]; then
    note "ntpd skipped: NTPsec ntpd needs UDP port 123 and TCP port 4460, and cannot move them," \
      "but they are taken (a packaged ntpd or chronyd? deploy/setup-dev.sh stops the ntpsec service):"
    while IFS= read -r line; do echo "    $line"; done <<<"$taken" >&2
    fail_row "ntpd|NTS" "UDP 123 / TCP 4460 in use"
    fail_row "ntpd|plain" "UDP 123 / TCP 4460 in use"
  else
    dir="$WORK/r$ROUND/ntpd"
    mkdir -p "$dir/stats"
    echo "== ntpd ($("$NTPD" --version 2>&1 | head -1)), without CAP_SYS_TIME, orphan stratum 10"
    # Orphan mode with no sources: after `orphanwait` (default 300 s, here 0)
    # ntpd serves stratum 10 (refid 127.0.0.1, leap none). `restrict default`
    # without flags: no `limited`; `restrict 127.0.0.1` lets ntpq query it.
    # `disable ntp`/`disable kernel`: no discipline (and no CAP_SYS_TIME).
    cat >"$dir/ntp.conf" <<CONF
driftfile $dir/ntp.drift
statsdir $dir/stats/
logfile $dir/ntpd.log
disable ntp
disable kernel
interface ignore all
interface ignore ipv6
interface listen 127.0.0.1
restrict default
restrict 127.0.0.1
tos orphan 10
tos orphanwait 0
nts enable
nts cert $CERT
nts key $KEY
nts cookie $dir/nts-keys
CONF
    NTPD_STARTED=1
    SERVER_LOG="$dir/ntpd.out"
    start_server "$SERVER_LOG" "$LIFETIME" setpriv --bounding-set=-sys_time --inh-caps=-sys_time \
      --ambient-caps=-sys_time -- "$NTPD" -n -c "$dir/ntp.conf" -p "$dir/ntpd.pid"
    ntpd_exec() { [[ "$(cat "/proc/$SERVER_PID/comm" 2>/dev/null)" == ntpd ]]; }
    ntpd_ready() { udp_listening 123 && tcp_listening 4460; }
    ok=0
    if ! wait_for 15 ntpd_exec || ! wait_for 15 ntpd_ready; then
      note "ntpd did not start (or did not open UDP 123 and TCP 4460)"
      log_tail "$SERVER_LOG" "$dir/ntpd.log" >&2
    else
      # Belt and braces: CAP_SYS_TIME (bit 25) must not be effective.
      cap_eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
      if (( (16#$cap_eff >> 25) & 1 )); then
        note "ntpd still has CAP_SYS_TIME (CapEff=$cap_eff); stopping it"
      else
        ok=1
      fi
    fi
    if [[ $ok -ne 1 ]]; then
      fail_row "ntpd|NTS" "did not start"
      fail_row "ntpd|plain" "did not start"
    else
      echo "  pid $SERVER_PID, NTP 127.0.0.1:123, NTS-KE port 4460 (CapEff=$cap_eff)"
      # Orphan mode starts at the first timer tick after orphanwait: wait
      # until ntpd itself reports stratum 10 (mode-6 query, needs the
      # `restrict 127.0.0.1` above), else a client sees stratum 16 first.
      ntpd_orphan() {
        timeout 5 ntpq -n -c "rv 0 stratum" 127.0.0.1 2>/dev/null | grep -q 'stratum=10'
      }
      if command -v ntpq >/dev/null && ! wait_for 20 ntpd_orphan; then
        note "ntpd did not reach orphan stratum 10 within 20 s"
      fi
      if nts_check ntpd 4460; then
        both_runs "ntpd|NTS" "$SERVER_PID" "${NTS_ARGS[@]}" --port 4460
      else
        fail_row "ntpd|NTS" "NTS check failed"
        log_tail "$dir/ntpd.log" >&2
      fi
      bench_runs "ntpd|plain" "$SERVER_PID" --plain --port 123
      if grep -q 'adj_systime\|step_systime' "$dir/ntpd.log" 2>/dev/null; then
        note "WARNING: ntpd tried to adjust the clock (refused: no CAP_SYS_TIME)"
      fi
    fi
    stop_server
  fi
  echo
fi

# ---------------------------------------------------------------- reflector
# reflector_rows IO KIND: the reflector on backend IO; KIND "plain" (48-byte
# replies under plain load) or "echo" (--echo under requests padded to
# ECHO_SIZE, replies as long).
reflector_rows() {
  local io=$1 kind=$2 key label what server_args=() load_args=()
  if [[ $kind == echo ]]; then
    key="echo-$io|plain" label="echo $ECHO_SIZE B ($io)"
    what="reflector --echo --io $io ($ECHO_SIZE-byte requests and replies, no crypto)"
    server_args=(--echo) load_args=(--plain-size "$ECHO_SIZE")
  else
    key="reflector-$io|plain" label="reflector ($io)"
    what="reflector --io $io (no crypto, no NTP: the kernel's ceiling)"
  fi
  add_rows "$key" "$label"
  local dir="$WORK/r$ROUND/$kind-$io"
  mkdir -p "$dir"
  echo "== $what"
  SERVER_LOG="$dir/reflector.log"
  start_server "$SERVER_LOG" "$LIFETIME" "$REFLECTOR" --address 127.0.0.1 --port 0 --io "$io" \
    --seconds "$LIFETIME" "${server_args[@]}"
  reflector_ready() { grep -q '^reflector: serving on' "$SERVER_LOG"; }
  if ! wait_for 15 reflector_ready; then
    note "${what%% (*} did not start"
    log_tail "$SERVER_LOG" >&2
    fail_row "$key" "did not start"
  else
    local port
    port=$(sed -n 's/^reflector: serving on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$SERVER_LOG" | head -1)
    echo "  pid $SERVER_PID, 127.0.0.1:$port"
    both_runs "$key" "$SERVER_PID" --plain "${load_args[@]}" --port "$port"
  fi
  stop_server
}
for kind in reflector echo; do
  [[ -n "${WANT[$kind]:-}" ]] || continue
  for io in uring mmsg; do reflector_rows "$io" "${kind/reflector/plain}"; done
  echo
done
done

# ---------------------------------------------------------------- table
# median KEY COLUMN (2..7 of results.tsv): the median over the runs that
# reported it; empty when none did.
median() {
  awk -F'\t' -v key="$1" -v col="$2" '$1 == key && $col != "null" && $col != "" { print $col }' \
    "$WORK/results.tsv" | sort -g | awk '{ v[NR] = $1 }
      END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
runs_of() { awk -F'\t' -v key="$1" '$1 == key' "$WORK/results.tsv" | wc -l; }
fmt() {  # PRINTF_FORMAT VALUE: "-" for an empty value
  # shellcheck disable=SC2059
  if [[ -z "$2" ]]; then echo "-"; else LC_ALL=C printf "$1" "$2"; fi
}

echo "$HEADER"
echo
fmt_row="%-17s %-9s %12s %8s %16s %12s %10s %7s %5s  %s\n"
# (the headers' µ is two bytes, hence widths 13 and 11 there)
printf "%-17s %-9s %12s %8s %16s %13s %11s %7s %5s\n" \
  "server" "mode" "verified/s" "CPU %" "verified/CPU-s" "CPU µs/reply" "p99 µs" "loss %" "runs"
printf "%-17s %-9s %12s %8s %16s %12s %10s %7s %5s\n" \
  "-----------------" "---------" "------------" "--------" "----------------" "------------" "----------" "-------" "-----"
declare -A PER_CPU=() US_PER_REPLY=() P99=() LOSS=()
for key in "${ROWS[@]}"; do
  mode=${key#*|}
  n=$(runs_of "$key")
  rate=$(median "$key" 2)
  cpu=$(median "$key" 3)
  per_cpu=$(median "$key" 4)
  p99=$(median "$key" 5)
  loss=$(median "$key" 6)
  us=$(median "$key" 7)
  PER_CPU[$key]="$per_cpu"
  US_PER_REPLY[$key]="$us"
  P99[$key]="$p99"
  LOSS[$key]="$loss"
  remark=""
  if [[ -n "${ROW_NOTE[$key]:-}" ]]; then
    [[ $n -eq 0 ]] && remark="FAILED: ${ROW_NOTE[$key]}" || remark="(some runs failed: ${ROW_NOTE[$key]})"
  fi
  # shellcheck disable=SC2059
  printf "$fmt_row" "${ROW_LABEL[$key]}" "$mode" "$(fmt '%.0f' "$rate")" "$(fmt '%.1f' "$cpu")" \
    "$(fmt '%.0f' "$per_cpu")" "$(fmt '%.2f' "$us")" "$(fmt '%.0f' "$p99")" "$(fmt '%.2f' "$loss")" "$n/$((RUNS * ROUNDS))" \
    "$remark" | sed 's/ *$//'
done
echo

# ntsd's NTS efficiency against the others.
ratio() {  # A B: A/B with two decimals, or empty
  [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}
best_reflector=""
for key in "reflector-uring|plain" "reflector-mmsg|plain"; do
  v="${PER_CPU[$key]:-}"
  [[ -n "$v" ]] || continue
  if [[ -z "$best_reflector" ]] || awk -v a="$v" -v b="$best_reflector" 'BEGIN { exit !(a > b) }'; then
    best_reflector=$v
  fi
done
percent() {  # A B: 100*A/B with one decimal, or empty
  [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b }'
}
or_na() { if [[ -n "$1" ]]; then echo "$1$2"; else echo "n/a"; fi; }
for io in uring mmsg; do
  ntsd_nts="${PER_CPU[ntsd-$io|NTS]:-}"
  echo "ntsd ($io) NTS verified replies per server CPU-second:"
  if [[ -z "$ntsd_nts" ]]; then
    echo "  n/a (no figure)"
    continue
  fi
  echo "  vs chronyd NTS:             $(or_na "$(ratio "$ntsd_nts" "${PER_CPU[chronyd|NTS]:-}" || true)" x)"
  echo "  vs ntpd NTS:                $(or_na "$(ratio "$ntsd_nts" "${PER_CPU[ntpd|NTS]:-}" || true)" x)"
  echo "  of the reflector ($io):  $(or_na "$(percent "$ntsd_nts" "${PER_CPU[reflector-$io|plain]:-}" || true)" %)"
  echo "  of the best reflector:      $(or_na "$(percent "$ntsd_nts" "$best_reflector" || true)" %) (no crypto: $(or_na "$(fmt '%.0f' "$best_reflector")" ""))"
  echo "  of the echo reflector ($io): $(or_na "$(percent "$ntsd_nts" "${PER_CPU[echo-$io|plain]:-}" || true)" %) (same datagram sizes, no crypto)"
done

# Below saturation (issue 14's goal at 40,000 requests/s: server CPU per
# verified reply at most half chronyd's and 1.5 x the reflector's on the
# same backend, p99 at most 1 ms, nothing lost).
if ((OPEN_RATE > 0)); then
  for io in uring mmsg; do
    k="ntsd-$io|NTS$OPEN_MODE"
    us="${US_PER_REPLY[$k]:-}"
    echo "ntsd ($io) NTS at $OPEN_RATE requests/s, server CPU per verified reply:"
    if [[ -z "$us" ]]; then
      echo "  n/a (no figure)"
      continue
    fi
    echo "  $(fmt '%.2f' "$us") µs; p99 $(fmt '%.0f' "${P99[$k]:-}") µs, loss $(fmt '%.2f' "${LOSS[$k]:-}") %"
    echo "  of chronyd's (NTS):         $(or_na "$(ratio "$us" "${US_PER_REPLY[chronyd|NTS$OPEN_MODE]:-}" || true)" x)"
    echo "  of ntpd's (NTS):            $(or_na "$(ratio "$us" "${US_PER_REPLY[ntpd|NTS$OPEN_MODE]:-}" || true)" x)"
    echo "  of the reflector's ($io): $(or_na "$(ratio "$us" "${US_PER_REPLY[reflector-$io|plain$OPEN_MODE]:-}" || true)" x)"
    echo "  of the echo reflector's ($io): $(or_na "$(ratio "$us" "${US_PER_REPLY[echo-$io|plain$OPEN_MODE]:-}" || true)" x)"
  done
fi
