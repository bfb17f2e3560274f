#!/usr/bin/env bash
# The stratum chain, every hop NTS, on loopback:
#
#   chronyd 4.3 NTS server (`local stratum 3`)
#     -> ntsd, configured with the NTS guide's server configuration (no
#        `nts enable`; only paths, addresses and ports changed, plus the test
#        CA), as an NTS client of that chronyd and an NTS server itself
#     -> chronyd -Q as an NTS client of ntsd.
#
# ntsd must take its time from chronyd over NTS (every sample authenticated,
# |offset| < 1 ms: same host, so the true offset is 0), serve stratum 4 with
# refid 127.0.0.1 and leap 0, and chronyd must accept it (all packet tests,
# authentication included). Then ntsd restarts with its `nts cookie` file:
# the second start must reach the upstream with no new NTS-KE (counted on
# chronyd itself, `chronyc serverstats`).
#
# No process here may set the clock: both chronyds run with -x / -Q and ntsd
# runs without CAP_SYS_TIME.
set -euo pipefail
NTSD_REAL="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
require_chronyd
CHRONYC="${NTSD_CHRONYC:-$NTSD_PEERS_DIR/chrony/usr/bin/chronyc}"
[[ -x "$CHRONYC" ]] || fail "chronyc not found at $CHRONYC: run deploy/setup-dev.sh"
dir="$TEST_TMPDIR"
make_test_pki "$dir/pki"
NTSD="$dir/ntsd-nocap"
no_sys_time_wrapper "$NTSD" "$NTSD_REAL"

# ---- the upstream: chronyd 4.3, NTS server, local stratum 3 ----
up="$dir/upstream"
mkdir -p "$up" && chmod 700 "$up"
mkdir -p /run/chrony  # chronyc's own socket lives there
# Unix socket paths are limited to 108 bytes; bazel's test folder is longer.
sock_dir=$(mktemp -d /tmp/ntsd-chain.XXXXXX)
CLEANUP_PATHS+=("$sock_dir")
up_ntp=$(free_port udp)
up_ke=$(free_port tcp)
cat >"$up/chrony.conf" <<CONF
local stratum 3
allow 127.0.0.1
bindaddress 127.0.0.1
port $up_ntp
ntsport $up_ke
ntsserverkey $dir/pki/key.pem
ntsservercert $dir/pki/cert.pem
ntsdumpdir $up
pidfile $up/chronyd.pid
driftfile $up/drift
cmdport 0
bindcmdaddress $sock_dir/chronyd.sock
CONF
"$CHRONYD" -x -d -u root -f "$up/chrony.conf" -L 0 >"$up/chronyd.out" 2>&1 &
STARTED_PIDS+=("$!")
for _ in $(seq 1 50); do [[ -S "$sock_dir/chronyd.sock" ]] && break; sleep 0.1; done
[[ -S "$sock_dir/chronyd.sock" ]] || fail "upstream chronyd did not start: $(cat "$up/chronyd.out")"

# NTS-KE sessions chronyd has accepted so far.
upstream_ke_count() {
  "$CHRONYC" -h "$sock_dir/chronyd.sock" serverstats 2>&1 | awk -F: '/NTS-KE connections accepted/ { gsub(/ /, "", $2); print $2 }'
}
[[ "$(upstream_ke_count)" == 0 ]] || fail "chronyc serverstats unusable: $("$CHRONYC" -h "$sock_dir/chronyd.sock" serverstats 2>&1)"

# ---- ntsd with the guide's server configuration ----
mid="$dir/ntsd"
mkdir -p "$mid/stats"
# tests/data/config/good_guide_server_debian.conf with its paths, addresses
# and ports changed, and the test CA named (the guide relies on the system
# store, which does not know this CA).
sed -e "s|^server .*||" \
    -e "s|/var/lib/ntpsec/|$mid/|g" -e "s|/var/log/ntpsec/|$mid/stats/|" \
    -e "s|/etc/letsencrypt/live/ntp.example.com/fullchain.pem|$dir/pki/cert.pem|" \
    -e "s|/etc/letsencrypt/live/ntp.example.com/privkey.pem|$dir/pki/key.pem|" \
    "$(dirname "$0")/../data/config/good_guide_server_debian.conf" >"$mid/ntp.conf"
cat >>"$mid/ntp.conf" <<CONF
server 127.0.0.1:$up_ke nts iburst
nts ca $dir/pki/ca.pem
interface listen 127.0.0.1
CONF
grep -q '^nts enable' "$mid/ntp.conf" && fail "the guide's form has no nts enable"
check=$("$NTSD_REAL" --check -c "$mid/ntp.conf" 2>&1) || fail "config rejected: $check"
[[ "$check" == *"NTS server: on (nts cert + nts key)"* ]] || fail "--check: $check"

start_ntsd "$mid/ntsd.log" -c "$mid/ntp.conf" --workers 1 --ke-port 0 --state-dir "$mid/state"
[[ -n "$NTSD_KE_PORT" ]] || fail "ntsd serves no NTS-KE with the guide's configuration: $(cat "$mid/ntsd.log")"
cap_eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$NTSD_PID/status")
(( (16#$cap_eff >> 25) & 1 )) && fail "ntsd has CAP_SYS_TIME (CapEff=$cap_eff)"
grep -q 'clock: no CAP_SYS_TIME: measure-only' "$mid/ntsd.log" || fail "no measure-only notice: $(cat "$mid/ntsd.log")"
wait_for_log "$mid/ntsd.log" 'clock: synchronised to 127\.0\.0\.1' 40 \
  || fail "ntsd did not synchronise to chronyd in 40 s: $(cat "$mid/ntsd.log"; cat "$up/chronyd.out")"
sleep 6  # a few more iburst samples for the offset check

report=$(ntsd_clock_report "$mid/ntsd.log")
system=$(grep 'clock: system:' <<<"$report")
source_line=$(grep 'clock: source' <<<"$report")
[[ "$system" == *"sync=synchronized stratum=4 refid=7f000001 leap=0 "* ]] || fail "ntsd system state: $report"
[[ "$source_line" == *"state=polling status=sys.peer"* ]] || fail "source: $report"
[[ "$source_line" == *" unauthenticated=0 failed=0 "* ]] || fail "an unauthenticated or failed reply: $report"
[[ "$source_line" =~ verified=([0-9]+) ]] && (( BASH_REMATCH[1] >= 4 )) || fail "too few verified replies: $report"
[[ "$source_line" == *"key_exchanges=1 restored=0"* ]] || fail "expected exactly one NTS-KE: $report"

# peerstats (NTPsec format): every sample's offset within 1 ms of 0.
peerstats=$(cat "$mid"/stats/peerstats.* 2>/dev/null || true)
[[ $(grep -c . <<<"$peerstats") -ge 4 ]] || fail "too few peerstats lines: $(ls -l "$mid/stats"; echo "$peerstats")"
awk '{ o = $5 < 0 ? -$5 : $5; if (o >= 0.001) { print "offset " $5 " s: " $0; bad = 1 } } END { exit bad }' \
  <<<"$peerstats" || fail "an offset of 1 ms or more"
max_offset=$(awk '{ o = $5 < 0 ? -$5 : $5; if (o > m) m = o } END { printf "%.6f", m }' <<<"$peerstats")

# The discipline runs measure-only (no CAP_SYS_TIME) and writes NTPsec
# loopstats; its offset estimate is error too (true offset 0).
discipline=$(grep 'clock: discipline:' <<<"$report")
[[ "$discipline" == *"mode=measure-only"* && "$discipline" == *" steps=0 frequency_sets=0"* ]] \
  || fail "discipline: $report"
loopstats=$(cat "$mid"/stats/loopstats.* 2>/dev/null || true)
[[ $(grep -c . <<<"$loopstats") -ge 1 ]] || fail "no loopstats line: $(ls -l "$mid/stats")"
awk '{ o = $3 < 0 ? -$3 : $3; if (o >= 0.001) { print "loop offset " $3 " s: " $0; bad = 1 } } END { exit bad }' \
  <<<"$loopstats" || fail "a loopstats offset of 1 ms or more"

# ---- chronyd -Q as an NTS client of ntsd ----
down="$dir/downstream"
mkdir -p "$down"
cat >"$down/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $NTSD_KE_PORT iburst minpoll -2 maxpoll -2 maxsamples 4
ntstrustedcerts $dir/pki/ca.pem
CONF
chrony_conf_common "$down" >>"$down/chrony.conf"
timeout 60 "$CHRONYD" -Q -u root -f "$down/chrony.conf" -L 0 >"$down/chronyd.out" 2>&1 \
  || fail "chronyd -Q against ntsd failed: $(cat "$down/chronyd.out"; cat "$mid/ntsd.log")"
grep -q 'System clock wrong by' "$down/chronyd.out" || fail "chronyd measured nothing: $(cat "$down/chronyd.out")"
samples=$(awk '$3 == "127.0.0.1"' "$down/measurements.log")
[[ -n "$samples" ]] || fail "no measurements: $(cat "$down/chronyd.out")"
# Columns: L St 123 567 ... Refid (17th). Leap N (0), stratum 4, refid 127.0.0.1.
awk '$4 != "N" || $5 != 4 || $6 != "111" || $7 != "111" || $17 != "7F000001" { print "bad sample: " $0; bad = 1 }
     END { exit bad }' <<<"$samples" || fail "chronyd's view of ntsd: $samples"
chain_sample=$(head -1 <<<"$samples")

# ---- restart with the cookie file: no NTS-KE on the second start ----
ke_before=$(upstream_ke_count)
[[ "$ke_before" == 1 ]] || fail "upstream counted $ke_before NTS-KE sessions, expected 1"
stop_ntsd "$mid/ntsd.log"
[[ -s "$mid/nts-keys" ]] || fail "no cookie file written at stop (nts cookie $mid/nts-keys)"
start_ntsd "$mid/ntsd2.log" -c "$mid/ntp.conf" --workers 1 --ke-port 0 --state-dir "$mid/state"
wait_for_log "$mid/ntsd2.log" 'clock: synchronised to 127\.0\.0\.1' 40 \
  || fail "ntsd did not synchronise after the restart: $(cat "$mid/ntsd2.log")"
grep -q 'NTS session restored from' "$mid/ntsd2.log" || fail "session not restored: $(cat "$mid/ntsd2.log")"
report2=$(ntsd_clock_report "$mid/ntsd2.log")
[[ "$report2" == *"key_exchanges=0 restored=1"* ]] || fail "restart report: $report2"
ke_after=$(upstream_ke_count)
[[ "$ke_after" == "$ke_before" ]] || fail "the restart ran NTS-KE: upstream count $ke_before -> $ke_after"
stop_ntsd "$mid/ntsd2.log"

echo "PASS: chain chronyd(stratum 3) -> ntsd -> chronyd: $system"
echo "  ntsd's max |offset| to chronyd over $(grep -c . <<<"$peerstats") samples: $max_offset s"
echo "  chronyd -Q's sample of ntsd: $chain_sample"
echo "  restart with the cookie file: upstream NTS-KE count stayed $ke_after"
echo "  $discipline"
echo "  loopstats: $(tail -1 <<<"$loopstats")"
