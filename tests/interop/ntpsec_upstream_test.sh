#!/usr/bin/env bash
# ntsd as an NTS client of an NTPsec 1.2.2 ntpd NTS server on loopback.
# NTPsec cannot move its ports, so ntpd binds UDP 123 and TCP 4460 on
# 127.0.0.1 (orphan mode, stratum 10: it serves its own clock at once); ntsd
# finds it through `server 127.0.0.1 nts` (NTS-KE on the default port 4460,
# no Port record: NTP on 123), validates its certificate against the test
# CA, and must take every sample from an authenticated reply with |offset| <
# 1 ms (same host: the true offset is 0). Nobody touches the clock: ntpd runs
# without CAP_SYS_TIME and with `disable ntp`/`disable kernel`, ntsd without
# CAP_SYS_TIME.
set -euo pipefail
NTSD_REAL="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
NTPD="${NTSD_NTPSEC_NTPD:-/usr/sbin/ntpd}"
[[ -x "$NTPD" ]] || fail "NTPsec ntpd not found at $NTPD: apt-get install ntpsec (deploy/setup-dev.sh)"
taken=$( { ss -Hlunp 'sport = :123'; ss -Hltnp 'sport = :4460'; } 2>/dev/null || true)
[[ -z "$taken" ]] || fail "UDP 123 or TCP 4460 is in use; NTPsec ntpd needs both: $taken"

dir="$TEST_TMPDIR"
make_test_pki "$dir/pki"
NTSD="$dir/ntsd-nocap"
no_sys_time_wrapper "$NTSD" "$NTSD_REAL"

up="$dir/ntpsec"
mkdir -p "$up/stats"
cat >"$up/ntp.conf" <<CONF
driftfile $up/ntp.drift
statsdir $up/stats/
logfile $up/ntpd.log
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
nts cert $dir/pki/cert.pem
nts key $dir/pki/key.pem
nts cookie $up/nts-keys
CONF
setpriv --bounding-set=-sys_time --inh-caps=-sys_time --ambient-caps=-sys_time -- \
  "$NTPD" -n -c "$up/ntp.conf" -p "$up/ntpd.pid" >"$up/ntpd.out" 2>&1 &
ntpd_pid=$!
STARTED_PIDS+=("$ntpd_pid")
for _ in $(seq 1 50); do
  [[ -n "$(ss -Hltn 'sport = :4460' 2>/dev/null)" ]] && break
  kill -0 "$ntpd_pid" 2>/dev/null || fail "ntpd exited: $(cat "$up/ntpd.out" "$up/ntpd.log" 2>/dev/null)"
  sleep 0.1
done
[[ -n "$(ss -Hltn 'sport = :4460' 2>/dev/null)" ]] || fail "ntpd serves no NTS-KE on 4460: $(cat "$up/ntpd.log" 2>/dev/null)"

mid="$dir/ntsd"
mkdir -p "$mid/stats"
cat >"$mid/ntp.conf" <<CONF
server 127.0.0.1 nts iburst
nts ca $dir/pki/ca.pem
nts cookie $mid/nts-cookies
statsdir $mid/stats/
statistics peerstats
filegen peerstats file peerstats type day enable
interface listen 127.0.0.1
CONF
start_ntsd "$mid/ntsd.log" -c "$mid/ntp.conf" --workers 1 --state-dir "$mid/state" --no-adjust
grep -q 'clock: --no-adjust: measure-only' "$mid/ntsd.log" || fail "no measure-only notice: $(cat "$mid/ntsd.log")"
wait_for_log "$mid/ntsd.log" 'clock: synchronised to 127\.0\.0\.1' 40 \
  || fail "ntsd did not synchronise to NTPsec in 40 s: $(cat "$mid/ntsd.log"; cat "$up/ntpd.log" 2>/dev/null)"
sleep 6

report=$(ntsd_clock_report "$mid/ntsd.log")
system=$(grep 'clock: system:' <<<"$report")
source_line=$(grep 'clock: source' <<<"$report")
# NTPsec in orphan mode serves stratum 10, so ntsd serves 11 with refid 127.0.0.1.
[[ "$system" == *"sync=synchronized stratum=11 refid=7f000001 leap=0 "* ]] || fail "ntsd system state: $report"
[[ "$source_line" == *"state=polling status=sys.peer"* ]] || fail "source: $report"
[[ "$source_line" == *" unauthenticated=0 "* ]] || fail "an unauthenticated reply: $report"
# NTPsec answers the first request after its start with an authenticated INIT
# kiss (stratum 0, leap 3): believed, but no sample; it counts under failed.
[[ "$source_line" =~ failed=([0-9]+) ]] && (( BASH_REMATCH[1] <= 2 )) || fail "failed replies: $report"
[[ "$source_line" == *"key_exchanges=1 "* ]] || fail "expected one NTS-KE: $report"
[[ "$source_line" == *"address=127.0.0.1:123"* ]] || fail "NTP not on 123 without a Port record: $report"
[[ "$source_line" =~ verified=([0-9]+) ]] && (( BASH_REMATCH[1] >= 4 )) || fail "too few verified replies: $report"

peerstats=$(cat "$mid"/stats/peerstats.* 2>/dev/null || true)
[[ $(grep -c . <<<"$peerstats") -ge 4 ]] || fail "too few peerstats lines: $peerstats"
awk '{ o = $5 < 0 ? -$5 : $5; if (o >= 0.001) { print "offset " $5 " s: " $0; bad = 1 } } END { exit bad }' \
  <<<"$peerstats" || fail "an offset of 1 ms or more"
max_offset=$(awk '{ o = $5 < 0 ? -$5 : $5; if (o > m) m = o } END { printf "%.6f", m }' <<<"$peerstats")
stop_ntsd "$mid/ntsd.log"
echo "PASS: ntsd <- NTPsec ntpd over NTS: $system"
echo "  max |offset| over $(grep -c . <<<"$peerstats") authenticated samples: $max_offset s"
