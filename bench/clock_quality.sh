#!/usr/bin/env bash
# Time quality side by side (issue 11): ntsd and chronyd 4.3 as measure-only NTS
# clients of the same upstream chronyd, both through bench/delay_relay (every
# datagram delayed 5 ms ± 1 ms). All of them share this host's clock, so the
# true offset is 0 and every offset a client reports is error.
#
#   bench/clock_quality.sh [--minutes N] [--burst] [--json FILE]
#                          [--delay-ms D] [--jitter-ms J] [--burst-extra-ms X]
#
# The path (chronyd 4.3 advertises its own NTP port in the NTS-KE Port record
# and cannot name another, so the relay takes the same port on another
# loopback address, and the Server record sends the clients there):
#
#   clients --NTS-KE--> 127.0.0.1:KE   upstream chronyd (ntsntpserver 127.0.0.2, port P)
#   clients --NTP-----> 127.0.0.2:P    delay_relay --upstream 127.0.0.1:P
#                                      --> 127.0.0.1:P upstream chronyd (bindaddress 127.0.0.1)
#
# With --burst a second, identical set (its own upstream, relay and clients)
# runs at the same time, whose relay adds an asymmetric jitter burst in the
# middle of the window: extra delay uniform in [0, 2X] ms (mean X, default 10)
# on upstream->client datagrams only, from 40 % to 60 % of the window.
#
# Nothing touches the clock: every chronyd runs with -x, ntsd with --no-adjust
# and without CAP_SYS_TIME. Traffic stays on loopback. Every process started is
# stopped, and the temporary folders removed, on exit, error, Ctrl-C or SIGTERM.
# After the build the script ends within --minutes + 1 minutes.
#
# Environment: BAZEL (default "bazel"); CLOCK_QUALITY_NO_BUILD=1 uses the
# binaries already built (-c opt); CLOCK_QUALITY_KEEP=1 keeps the temporary
# folder (configurations, logs, statistics files); NTSD_PEERS_DIR (chronyd, chronyc).
set -euo pipefail

usage() {
  cat <<'END'
usage: bench/clock_quality.sh [--minutes N] [--burst] [--json FILE]
                              [--delay-ms D] [--jitter-ms J] [--burst-extra-ms X]
  --minutes N        measurement window, 1..120 (default 10)
  --burst            also measure, at the same time, a second set whose relay adds an
                     asymmetric jitter burst from 40 % to 60 % of the window
  --json FILE        where the JSON results go (default /tmp/ntsd-clock-quality-UTCSTAMP.json)
  --delay-ms D       relay's mean one-way delay (default 5)
  --jitter-ms J      relay's uniform jitter, ± J (default 1)
  --burst-extra-ms X burst's extra delay, uniform in [0, 2X], mean X (default 10)
END
}

MINUTES=10
BURST=0
JSON_OUT=""
DELAY_MS=5
JITTER_MS=1
BURST_EXTRA_MS=10
POLL_ARGS="iburst minpoll 4 maxpoll 6"  # the same polling for both clients
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; MINUTES="$2"; shift 2 ;;
    --burst) BURST=1; shift ;;
    --json) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; JSON_OUT="$2"; shift 2 ;;
    --delay-ms) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; DELAY_MS="$2"; shift 2 ;;
    --jitter-ms) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; JITTER_MS="$2"; shift 2 ;;
    --burst-extra-ms) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; BURST_EXTRA_MS="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "clock_quality: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if ! [[ "$MINUTES" =~ ^[0-9]+$ ]] || ((MINUTES < 1 || MINUTES > 120)); then
  echo "clock_quality: --minutes must be 1..120, got '$MINUTES'" >&2; exit 2
fi
for v in "$DELAY_MS" "$JITTER_MS" "$BURST_EXTRA_MS"; do
  [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "clock_quality: not a number of ms: '$v'" >&2; exit 2; }
done
WINDOW_S=$((MINUTES * 60))
BURST_START_S=$((WINDOW_S * 2 / 5))
BURST_SECONDS=$((WINDOW_S / 5))
[[ -n "$JSON_OUT" ]] || JSON_OUT="/tmp/ntsd-clock-quality-$(date -u +%Y%m%dT%H%M%SZ).json"

cd "$(dirname "$0")/.."
REPO=$PWD
BAZEL="${BAZEL:-bazel}"
PEERS="${NTSD_PEERS_DIR:-/var/cache/ntsd-peers}"
CHRONYD="$PEERS/chrony/usr/sbin/chronyd"
CHRONYC="$PEERS/chrony/usr/bin/chronyc"

die() { echo "clock_quality: $*" >&2; exit 1; }
note() { echo "clock_quality: $*" >&2; }

for tool in jq openssl timeout ss awk setpriv sort; do
  command -v "$tool" >/dev/null || die "'$tool' not found: run deploy/setup-dev.sh"
done
[[ -x "$CHRONYD" ]] || die "chronyd not found at $CHRONYD: run deploy/setup-dev.sh"
[[ -x "$CHRONYC" ]] || die "chronyc not found at $CHRONYC: run deploy/setup-dev.sh"

# ---------------------------------------------------------------- processes
PIDS=()  # every background process (the `timeout` wrappers)
WORK=""
SOCKS=""

# alive_any, terminate
source bench/process_lib.sh  # the working folder is the repository root (cd above)

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  terminate "${PIDS[@]}"
  if [[ "${CLOCK_QUALITY_KEEP:-0}" == 1 && -n "$WORK" ]]; then
    note "kept $WORK"
  elif [[ -n "$WORK" && -d "$WORK" ]]; then
    rm -rf "$WORK"
  fi
  [[ -n "$SOCKS" && -d "$SOCKS" ]] && rm -rf "$SOCKS"
  exit "$status"
}
trap cleanup EXIT
trap 'note "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'note "interrupted"; exit 130' INT
trap 'note "terminated"; exit 143' TERM

# start NAME LOG CMD...: CMD in the background under a timeout of LIFETIME
# seconds (the safety net should this script be killed); its pid (the
# wrapper's) into PID_<NAME>.
start() {
  local name=$1 log=$2
  shift 2
  : >"$log"
  timeout -s TERM -k 5 "$LIFETIME" "$@" </dev/null >"$log" 2>&1 &
  PIDS+=("$!")
  printf -v "PID_$name" '%s' "$!"
}

# wait_for SECONDS PID CMD...: polls CMD every 0.1 s while PID lives.
wait_for() {
  local tenths=$(($1 * 10)) pid=$2
  shift 2
  for _ in $(seq 1 "$tenths"); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

udp_used() { [[ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]]; }
tcp_used() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }
# pick_port VAR: sets VAR to a port free for UDP and TCP on every address and
# not handed out before (no subshell, so TAKEN keeps count).
TAKEN=" "
pick_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    [[ "$TAKEN" == *" $p "* ]] && continue
    if ! udp_used "$p" && ! tcp_used "$p"; then
      TAKEN+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  die "no free port found"
}

# ---------------------------------------------------------------- build
if [[ "${CLOCK_QUALITY_NO_BUILD:-0}" != 1 ]]; then
  echo "clock_quality: building (bazel build -c opt //daemon:ntsd //bench:delay_relay //bench:offset_probe) ..." >&2
  build_log=$(mktemp)
  # --symlink_prefix=/: leave the workspace's bazel-* links alone.
  # shellcheck disable=SC2086
  if ! $BAZEL build -c opt --symlink_prefix=/ //daemon:ntsd //bench:delay_relay //bench:offset_probe >"$build_log" 2>&1; then
    grep -v 'linux-sandbox' "$build_log" | tail -n 30 >&2
    rm -f "$build_log"
    die "build failed"
  fi
  rm -f "$build_log"
fi
# shellcheck disable=SC2086
BIN=$($BAZEL info -c opt bazel-bin 2>/dev/null) || die "'$BAZEL info -c opt bazel-bin' failed"
NTSD_REAL="$BIN/daemon/ntsd"
RELAY="$BIN/bench/delay_relay"
PROBE="$BIN/bench/offset_probe"
[[ -x "$NTSD_REAL" && -x "$RELAY" && -x "$PROBE" ]] || die "binaries missing in $BIN (build first)"

SCRIPT_START=$(date +%s)  # after the build: the N + 1 minute bound starts here
WORK=$(mktemp -d /tmp/ntsd-clock-quality.XXXXXX)
chmod 700 "$WORK"
# Unix socket paths are limited to 108 bytes: chronyc's sockets go in a short folder.
SOCKS=$(mktemp -d /tmp/cq.XXXXXX)
mkdir -p /run/chrony  # chronyc's own socket lives there
LIFETIME=$((WINDOW_S + 50))

# The test helpers' throwaway PKI and no-CAP_SYS_TIME wrapper (their EXIT trap
# is replaced by ours).
# shellcheck source=tests/lib/ntsd_process.sh disable=SC1091
source "$REPO/tests/lib/ntsd_process.sh"
trap cleanup EXIT
fail() { die "$*"; }
make_test_pki "$WORK/pki"
NTSD="$WORK/ntsd-nocap"
no_sys_time_wrapper "$NTSD" "$NTSD_REAL"

SCENARIOS=(steady)
[[ $BURST -eq 1 ]] && SCENARIOS+=(burst)

# ---------------------------------------------------------------- start
# set_up SCENARIO: upstream chronyd, relay, chronyd client, ntsd client.
set_up() {
  local sc=$1 dir="$WORK/$1"
  mkdir -p "$dir/up" "$dir/chronyd" "$dir/ntsd/stats" "$dir/ntsd/state"
  chmod 700 "$dir/up" "$dir/chronyd"
  local ntp ke served
  pick_port ntp
  pick_port ke
  pick_port served
  printf -v "NTP_$sc" '%s' "$ntp"
  printf -v "KE_$sc" '%s' "$ke"

  cat >"$dir/up/chrony.conf" <<CONF
local stratum 1
allow 127.0.0.0/8
bindaddress 127.0.0.1
port $ntp
ntsport $ke
ntsntpserver 127.0.0.2
ntsserverkey $WORK/pki/key.pem
ntsservercert $WORK/pki/cert.pem
ntsdumpdir $dir/up
pidfile $dir/up/chronyd.pid
cmdport 0
bindcmdaddress /
CONF
  start "up_$sc" "$dir/up/chronyd.log" "$CHRONYD" -x -d -u root -f "$dir/up/chrony.conf" -L 0
  local pid_var="PID_up_$sc"
  wait_for 10 "${!pid_var}" tcp_used "$ke" || { cat "$dir/up/chronyd.log" >&2; die "$sc: upstream chronyd did not start"; }

  local relay_args=(--listen 127.0.0.2 --port "$ntp" --upstream "127.0.0.1:$ntp"
    --delay-ms "$DELAY_MS" --jitter-ms "$JITTER_MS" --duration "$LIFETIME")
  if [[ $sc == burst ]]; then
    relay_args+=(--burst-start "$BURST_START_S" --burst-seconds "$BURST_SECONDS"
      --burst-extra-ms "$BURST_EXTRA_MS" --burst-direction to-client)
  fi
  start "relay_$sc" "$dir/relay.log" "$RELAY" "${relay_args[@]}"
  pid_var="PID_relay_$sc"
  relay_ready() { grep -q '^delay_relay: relaying' "$1"; }
  wait_for 10 "${!pid_var}" relay_ready "$dir/relay.log" || { cat "$dir/relay.log" >&2; die "$sc: relay did not start"; }

  cat >"$dir/chronyd/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $ke $POLL_ARGS
ntstrustedcerts $WORK/pki/ca.pem
bindaddress 127.0.0.1
port $served
allow 127.0.0.1
cmdport 0
bindcmdaddress $SOCKS/$sc.sock
ntsdumpdir $dir/chronyd
pidfile $dir/chronyd/chronyd.pid
logdir $dir/chronyd
log tracking measurements statistics
CONF
  start "chronyd_$sc" "$dir/chronyd/chronyd.out" "$CHRONYD" -x -d -u root -f "$dir/chronyd/chrony.conf" -L 0
  # The time chronyd -x would serve: its corrections go to a virtual clock that
  # its NTP replies carry, so its server port read against the host clock is its
  # real error. The upstream, which corrects nothing, gives the probe's own floor.
  start "probe_chronyd_$sc" "$dir/probe_chronyd.log" "$PROBE" --server "127.0.0.1:$served" --duration "$LIFETIME"
  start "probe_up_$sc" "$dir/probe_up.log" "$PROBE" --server "127.0.0.1:$ntp" --duration "$LIFETIME"

  cat >"$dir/ntsd/ntp.conf" <<CONF
server 127.0.0.1:$ke nts $POLL_ARGS
nts ca $WORK/pki/ca.pem
interface listen 127.0.0.1
statsdir $dir/ntsd/stats/
statistics loopstats peerstats rawstats
filegen loopstats file loopstats type none enable
filegen peerstats file peerstats type none enable
filegen rawstats file rawstats type none enable
CONF
  "$NTSD_REAL" --check -c "$dir/ntsd/ntp.conf" >"$dir/ntsd/check.log" 2>&1 \
    || { cat "$dir/ntsd/check.log" >&2; die "$sc: ntsd rejected its configuration"; }
  start "ntsd_$sc" "$dir/ntsd/ntsd.log" "$NTSD" -c "$dir/ntsd/ntp.conf" --no-adjust --workers 1 \
    --port 0 --state-dir "$dir/ntsd/state"
  pid_var="PID_ntsd_$sc"
  ntsd_ready() { grep -q '^ntsd: ready' "$1"; }
  wait_for 10 "${!pid_var}" ntsd_ready "$dir/ntsd/ntsd.log" || { cat "$dir/ntsd/ntsd.log" >&2; die "$sc: ntsd did not start"; }
  # The real ntsd: timeout's child is the wrapper, which execs setpriv, which execs ntsd.
  local npid
  npid=$(ps -o pid= --ppid "${!pid_var}" | tr -d ' ' | head -1)
  printf -v "NTSD_PID_$sc" '%s' "$npid"
  local cap_eff
  cap_eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$npid/status")
  (( (16#$cap_eff >> 25) & 1 )) && die "$sc: ntsd has CAP_SYS_TIME (CapEff=$cap_eff)"
  grep -q 'measure-only' "$dir/ntsd/ntsd.log" || die "$sc: ntsd did not say measure-only"
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
START_UTC=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
echo "clock_quality: $START_UTC, ${MINUTES} min window, scenarios: ${SCENARIOS[*]}" >&2
for sc in "${SCENARIOS[@]}"; do set_up "$sc"; done
WINDOW_START=$(date +%s)
WINDOW_END=$((WINDOW_START + WINDOW_S))
# A slow start-up shortens the window rather than the bound (the stop takes < 30 s).
((WINDOW_END <= SCRIPT_START + WINDOW_S + 30)) || WINDOW_END=$((SCRIPT_START + WINDOW_S + 30))
echo "clock_quality: clients started; measuring until $(date -u -d "@$WINDOW_END" '+%H:%M:%S UTC')" >&2

# ---------------------------------------------------------------- window
# ntsd's system offset (the combined estimate) from its SIGUSR1 report every second,
# for when it writes no loopstats; a new update shows as since_update going down.
while (( $(date +%s) < WINDOW_END )); do
  for sc in "${SCENARIOS[@]}"; do
    pid_var="NTSD_PID_$sc"
    kill -USR1 "${!pid_var}" 2>/dev/null || die "$sc: ntsd exited: $(tail -5 "$WORK/$sc/ntsd/ntsd.log")"
    for name in up relay chronyd; do
      pid_var="PID_${name}_$sc"
      kill -0 "${!pid_var}" 2>/dev/null || die "$sc: $name exited early"
    done
  done
  left=$((WINDOW_END - $(date +%s)))
  if ((left > 0)); then sleep 1; fi
done

for sc in "${SCENARIOS[@]}"; do
  dir="$WORK/$sc"
  pid_var="NTSD_PID_$sc"
  kill -USR1 "${!pid_var}" 2>/dev/null || true
  sleep 0.2
  grep 'clock: source' "$dir/ntsd/ntsd.log" | tail -1 >"$dir/ntsd_source.txt" || true
  timeout 5 "$CHRONYC" -h "$SOCKS/$sc.sock" -n authdata >"$dir/chronyd_authdata.txt" 2>&1 || true
  timeout 5 "$CHRONYC" -h "$SOCKS/$sc.sock" -n sourcestats >"$dir/chronyd_sourcestats.txt" 2>&1 || true
done
# Stop everything (clients first, so the relay's counts are final).
for sc in "${SCENARIOS[@]}"; do
  c="PID_chronyd_$sc"; n="PID_ntsd_$sc"; pc="PID_probe_chronyd_$sc"; pu="PID_probe_up_$sc"
  terminate "${!pc}" "${!pu}" "${!c}" "${!n}"
done
for sc in "${SCENARIOS[@]}"; do
  r="PID_relay_$sc"; u="PID_up_$sc"
  terminate "${!r}" "${!u}"
done

# ---------------------------------------------------------------- figures
# stats: |offset| figures of the offsets (s) on stdin -> "n rms_us p99_us max_us mean_us"
stats() {
  awk '{ v = $1 + 0; a = v < 0 ? -v : v; print a, v }' | sort -g | awk '
    { abs[NR] = $1; sum2 += $1 * $1; sum += $2 }
    END {
      if (NR == 0) { print 0, "null", "null", "null", "null"; exit }
      k = int(0.99 * NR); if (k < 0.99 * NR) k++; if (k < 1) k = 1
      printf "%d %.1f %.1f %.1f %.1f\n", NR, sqrt(sum2 / NR) * 1e6, abs[k] * 1e6, abs[NR] * 1e6, sum / NR * 1e6
    }'
}

# chronyd's log lines carry "YYYY-MM-DD HH:MM:SS" (UTC); keep those in the window.
in_window_chrony() {
  awk -v s="$(date -u -d "@$WINDOW_START" '+%Y-%m-%d %H:%M:%S')" \
      -v e="$(date -u -d "@$WINDOW_END" '+%Y-%m-%d %H:%M:%S')" \
      '$1 ~ /^[0-9][0-9][0-9][0-9]-/ { t = $1 " " $2; if (t >= s && t <= e) print }' "$@" 2>/dev/null
}

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
row() {  # SCENARIO CLIENT WHAT SOURCE < offsets
  local figures
  figures=$(stats)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${figures// /$'\t'}" >>"$RESULTS"
}
declare -A RELAY_COUNTS=() BURST_TIMES=() NTSD_SYSTEM_FROM=()
for sc in "${SCENARIOS[@]}"; do
  dir="$WORK/$sc"
  # chronyd: tracking.log Offset (7th column) per clock update (not the unsynchronised
  # start line, source 0.0.0.0); measurements.log offset (12th) per sample.
  in_window_chrony "$dir"/chronyd/tracking.log | awk '$3 != "0.0.0.0" { print $7 }' \
    | row "$sc" chronyd system "tracking.log Offset (per clock update)"
  in_window_chrony "$dir"/chronyd/measurements.log | awk '$3 == "127.0.0.2" || $3 == "127.0.0.1" { print $12 }' \
    | row "$sc" chronyd samples "measurements.log offset (per sample)"
  # ntsd: loopstats offset (3rd) when it writes them, else the SIGUSR1 system offset per update.
  loop=$(cat "$dir"/ntsd/stats/loopstats* 2>/dev/null | awk 'NF >= 3 { print $3 }' || true)
  if [[ -n "$loop" ]]; then
    NTSD_SYSTEM_FROM[$sc]="loopstats offset (per clock update)"
    row "$sc" ntsd system "${NTSD_SYSTEM_FROM[$sc]}" <<<"$loop"
  else
    NTSD_SYSTEM_FROM[$sc]="SIGUSR1 'clock: system:' offset, one per update (no loopstats written)"
    grep -h '^ntsd: clock: system: sync=synchronized' "$dir/ntsd/ntsd.log" \
      | sed -n 's/.* offset=\([-+0-9.e]*\) .* since_update=\([0-9.]*\).*/\1 \2/p' \
      | awk 'NR == 1 || $2 < since || $1 != offset { print $1 } { offset = $1; since = $2 }' \
      | row "$sc" ntsd system "${NTSD_SYSTEM_FROM[$sc]}"
  fi
  # Served time, once a second from each one's first update to the window's end:
  # where each would have put the clock. chronyd -x: its server port read by
  # offset_probe (its virtual clock minus the host's). ntsd --no-adjust: its
  # virtual clock (the same plan, slews included), and also its estimate line
  # between updates — loopstats offset plus drift times the time since, the
  # offset an active ntsd would be correcting at that second.
  awk -v s="$WINDOW_START" -v e="$WINDOW_END" '$1 >= s && $1 <= e { print $2 }' "$dir/probe_chronyd.log" \
    | row "$sc" chronyd served "offset_probe: chronyd's clock minus the host's (1 Hz)"
  { cat "$dir"/ntsd/stats/loopstats* 2>/dev/null || true; } \
    | awk -v b="$WINDOW_START" -v e="$WINDOW_END" 'NF >= 4 { n++; t[n] = ($1 - 40587) * 86400 + $2; o[n] = $3; d[n] = $4 }
        END { if (n == 0) exit; k = 1; s = int(t[1]) + 1; if (s < b) s = b
              for (; s <= e; s++) {
                while (k < n && t[k + 1] <= s) k++
                printf "%.9f\n", o[k] + d[k] * 1e-6 * (s - t[k]) } }' \
    | row "$sc" ntsd estimate "loopstats line: offset + drift x elapsed (1 Hz)"
  # ntsd's virtual clock (measure-only plans as chronyd -x does): the SIGUSR1
  # discipline line, sent every second of the window, once ntsd has an estimate.
  grep -h '^ntsd: clock: discipline: mode=measure-only' "$dir/ntsd/ntsd.log" \
    | sed -n 's/.* virtual_clock=\([-+0-9.e]*\).*/\1/p' \
    | row "$sc" ntsd served "virtual clock: SIGUSR1 virtual_clock= (1 Hz)"
  awk -v s="$WINDOW_START" -v e="$WINDOW_END" '$1 >= s && $1 <= e { print $2 }' "$dir/probe_up.log" \
    | row "$sc" upstream served "offset_probe floor: upstream (corrects nothing) minus the host (1 Hz)"
  # peerstats (NTPsec's meaning): the clock filter's pick, one line per poll,
  # repeated while the filter keeps an older sample; repeats are dropped.
  { cat "$dir"/ntsd/stats/peerstats* 2>/dev/null || true; } \
    | awk 'NF >= 6 && ($5 != offset || $6 != delay) { print $5 } { offset = $5; delay = $6 }' \
    | row "$sc" ntsd peer "peerstats offset (per new clock-filter pick)"
  RELAY_COUNTS[$sc]=$(grep '^delay_relay: from_clients=' "$dir/relay.log" | tail -1 | sed 's/^delay_relay: //' || true)
  BURST_TIMES[$sc]=$(grep '^delay_relay: burst' "$dir/relay.log" | sed 's/^delay_relay: //' | paste -sd ';' - || true)
done

# ---------------------------------------------------------------- report
fmt() { if [[ "$1" == null ]]; then echo "-"; else echo "$1"; fi; }
echo
echo "## ntsd vs chronyd 4.3 through delay_relay: |offset| error (true offset 0)"
echo
echo "$START_UTC, $(uname -r), ${cpu_model:-unknown CPU} ($(nproc) CPUs), load average at end $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Window ${MINUTES} min; relay ${DELAY_MS} ms ± ${JITTER_MS} ms (uniform) each way; both clients \`$POLL_ARGS\` over NTS."
if [[ $BURST -eq 1 ]]; then
  echo "Burst set: +[0, $(awk -v x="$BURST_EXTRA_MS" 'BEGIN { print 2 * x }')] ms (mean ${BURST_EXTRA_MS} ms) upstream->client only, from ${BURST_START_S} s for ${BURST_SECONDS} s."
fi
echo
echo "| run | client | estimate | n | RMS µs | p99 µs | max µs | mean µs |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
while IFS=$'\t' read -r sc client what source n rms p99 max mean; do
  echo "| $sc | $client | $what: $source | $n | $(fmt "$rms") | $(fmt "$p99") | $(fmt "$max") | $(fmt "$mean") |"
done <"$RESULTS"
echo
for sc in "${SCENARIOS[@]}"; do
  echo "- $sc: relay ${RELAY_COUNTS[$sc]:-no final counts}${BURST_TIMES[$sc]:+; ${BURST_TIMES[$sc]}}"
  echo "  ntsd: $(sed 's/^ntsd: clock: //' "$WORK/$sc/ntsd_source.txt" | grep -o 'state=[^ ]* status=[^ ]*\|verified=[0-9]*\|unauthenticated=[0-9]*\|key_exchanges=[0-9]*' | paste -sd ' ' -)"
  echo "  chronyd: $(awk '$1 ~ /^127\./ { print "mode " $2 ", AEAD " $4 ", NAKs " $8 ", cookies " $9 }' "$WORK/$sc/chronyd_authdata.txt" | head -1)"
done

# JSON
jq -n --arg date "$START_UTC" --arg kernel "$(uname -r)" --arg cpu "${cpu_model:-unknown}" \
  --argjson cpus "$(nproc)" --argjson minutes "$MINUTES" --argjson delay "$DELAY_MS" \
  --argjson jitter "$JITTER_MS" --arg poll "$POLL_ARGS" --argjson burst "$BURST" \
  --argjson burst_extra "$BURST_EXTRA_MS" --argjson burst_start "$BURST_START_S" \
  --argjson burst_seconds "$BURST_SECONDS" \
  --arg relay_steady "${RELAY_COUNTS[steady]:-}" --arg relay_burst "${RELAY_COUNTS[burst]:-}" \
  --arg burst_times "${BURST_TIMES[burst]:-}" --rawfile rows "$RESULTS" '
  def num: if . == "null" then null else tonumber end;
  {date: $date, kernel: $kernel, cpu: $cpu, cpus: $cpus, minutes: $minutes,
   relay: {delay_ms: $delay, jitter_ms: $jitter, distribution: "uniform"}, polling: $poll,
   burst: (if $burst == 1 then {extra_ms_uniform_0_to: (2 * $burst_extra), mean_extra_ms: $burst_extra,
           direction: "to-client", start_s: $burst_start, seconds: $burst_seconds, relay_log: $burst_times} else null end),
   relay_counts: {steady: $relay_steady, burst: (if $burst == 1 then $relay_burst else null end)},
   results: [$rows | split("\n")[] | select(length > 0) | split("\t") |
     {run: .[0], client: .[1], estimate: .[2], source: .[3], n: (.[4] | tonumber),
      rms_us: (.[5] | num), p99_us: (.[6] | num), max_us: (.[7] | num), mean_us: (.[8] | num)}]}' \
  >"$JSON_OUT"
echo
echo "JSON: $JSON_OUT"
