#!/usr/bin/env bash
# Fleet proof on loopback (issue 15 item 5): three ntsd processes on
# 127.0.0.1, 127.0.0.2 and 127.0.0.3, one shared seed file (`nts keyseed`),
# no runtime link between them. Clients do NTS-KE with the first only and
# send NTP with its cookies to the other two:
#   - ntsbench (--ntp-host) to 127.0.0.2 and to 127.0.0.3: every reply
#     verifies (unique id, authenticator under the session's S2C key, fresh
#     cookies that the next request uses), no NAK, no loss;
#   - chronyd 4.3 follows the first's NTPv4 Server record (`nts ntpserver
#     127.0.0.3:PORT`, the split layout of deploy/kubernetes/) and takes
#     authenticated samples from 127.0.0.3 only.
# The counters say who answered: the first served no NTP at all. A fourth
# ntsd with another seed NAKs every one of those cookies, which shows the
# seed is what the others share. Each ntsd starts with the 1024 open-file
# soft limit services get, with --no-adjust, without CAP_SYS_TIME and without
# `server` lines: nothing here can touch the clock.
set -euo pipefail
NTSD_BIN="$(realpath "$1")"
NTSBENCH="$(realpath "$2")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
require_chronyd

dir="$TEST_TMPDIR/fleet"
mkdir -p "$dir"
make_test_pki "$dir/pki"
# make_test_pki's certificate names 127.0.0.1 and localhost; NTS-KE is only done there.
openssl rand -hex 32 >"$dir/seed"
chmod 600 "$dir/seed"
openssl rand -hex 32 >"$dir/other-seed"
chmod 600 "$dir/other-seed"
no_sys_time_wrapper "$dir/ntsd-no-time" "$NTSD_BIN"
ntp_port=$(free_port udp)
ke_port=$(free_port tcp)

# start_member N SEED [EXTRA-LINE]: ntsd on 127.0.0.N, NTP on $ntp_port and
# NTS-KE on $ke_port (same ports on every address, as behind anycast).
declare -A PID
start_member() {
  local n="$1" seed="$2" extra="${3:-}" log="$dir/ntsd$1.log"
  cat >"$dir/ntsd$n.conf" <<CONF
interface listen 127.0.0.$n
ntpport $ntp_port
nts port $ke_port
nts cert $dir/pki/cert.pem
nts key $dir/pki/key.pem
nts keyseed $seed
nts kerate 0
controlsocket none
$extra
CONF
  : >"$log"
  (ulimit -Sn 1024 && exec "$dir/ntsd-no-time" -c "$dir/ntsd$n.conf" --workers 2 --no-adjust \
    --state-dir "$dir/state$n") >"$log" 2>&1 &
  PID[$n]=$!
  STARTED_PIDS+=("${PID[$n]}")
  wait_for_log "$log" '^ntsd: ready' 10 || fail "ntsd $n not ready: $(cat "$log")"
  grep -Eq "open files: limit (raised 1024 -> |1024 \(already)" "$log" \
    || fail "ntsd $n did not start from the 1024 soft limit: $(grep 'open files' "$log")"
}
counters_of() { NTSD_PID="${PID[$1]}" ntsd_counters "$dir/ntsd$1.log"; }
counter() { [[ "$1" =~ (^|[ :])$2=([0-9]+) ]] && echo "${BASH_REMATCH[2]}" || echo "?"; }

start_member 1 "$dir/seed" "nts ntpserver 127.0.0.3:$ntp_port"
start_member 2 "$dir/seed"
start_member 3 "$dir/seed"
start_member 4 "$dir/other-seed"
for n in 1 2 3 4; do
  grep -q "serving NTP on 127.0.0.$n:$ntp_port" "$dir/ntsd$n.log" || fail "ntsd $n: $(cat "$dir/ntsd$n.log")"
done

json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
# bench N: NTS-KE with 127.0.0.1, NTP to 127.0.0.N; prints ntsbench's JSON.
bench() {
  timeout 60 "$NTSBENCH" --host 127.0.0.1 --port "$ke_port" --ca "$dir/pki/ca.pem" --ntp-host "127.0.0.$1" \
    --ntp-port "$ntp_port" --clients 8 --rate 500 --requests 1000 --duration 10 --json --quiet \
    2>"$dir/bench$1.err" || fail "ntsbench to 127.0.0.$1: $(cat "$dir/bench$1.err")"
}
for n in 2 3; do
  out=$(bench "$n")
  echo "cookies from 127.0.0.1, NTP to 127.0.0.$n: $out"
  [[ $(json_field "$out" sent) -eq 1000 ]] || fail "127.0.0.$n: not 1000 sent: $out"
  [[ $(json_field "$out" verified) -eq 1000 ]] || fail "127.0.0.$n: not every reply verified: $out"
  for zero in failed naks kods timeouts late; do
    [[ $(json_field "$out" $zero) == 0 ]] || fail "127.0.0.$n: $zero is not 0: $out"
  done
  c=$(counters_of "$n")
  [[ $(counter "$c" nts_replied) -eq 1000 ]] || fail "ntsd $n: nts_replied is not 1000: $c"
  [[ $(counter "$c" nts_naks) -eq 0 ]] || fail "ntsd $n sent NAKs: $c"
done

# A real client in the split layout: chronyd does NTS-KE with 127.0.0.1 and,
# told by its Server and Port records, polls 127.0.0.3.
cat >"$dir/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $ke_port iburst minpoll -2 maxpoll -2 maxsamples 4
ntstrustedcerts $dir/pki/ca.pem
CONF
chrony_conf_common "$dir" >>"$dir/chrony.conf"
timeout 60 "$CHRONYD" -Q -u root -f "$dir/chrony.conf" -L 0 >"$dir/chronyd.out" 2>&1 \
  || fail "chronyd -Q failed: $(cat "$dir/chronyd.out")"
grep -q 'System clock wrong by' "$dir/chronyd.out" || fail "chronyd measured nothing: $(cat "$dir/chronyd.out")"
samples=$(awk '$3 == "127.0.0.3" && $6 == "111" && $7 == "111" && $8 == "1111"' "$dir/measurements.log" | grep -c . || true)
[[ $samples -ge 3 ]] || fail "chronyd: $samples authenticated samples from 127.0.0.3: $(cat "$dir/measurements.log")"
awk '$3 != "127.0.0.3" && $3 ~ /^127/' "$dir/measurements.log" | grep -q . \
  && fail "chronyd polled another server: $(cat "$dir/measurements.log")"
echo "chronyd: NTS-KE with 127.0.0.1, $samples authenticated samples from 127.0.0.3"
c=$(counters_of 3)
[[ $(counter "$c" nts_replied) -ge 1003 ]] || fail "ntsd 3 did not answer chronyd: $c"

# Nobody sent NTP to the first: its cookies were opened by the others.
c=$(counters_of 1)
[[ $(counter "$c" received) -eq 0 ]] || fail "ntsd 1 received NTP: $c"

# Another seed: every cookie of the fleet is an NTS NAK there.
out=$(timeout 60 "$NTSBENCH" --host 127.0.0.1 --port "$ke_port" --ca "$dir/pki/ca.pem" --ntp-host 127.0.0.4 \
  --ntp-port "$ntp_port" --clients 4 --rate 200 --requests 100 --duration 10 --timeout-ms 500 --json --quiet \
  2>"$dir/bench4.err") || true
echo "cookies from 127.0.0.1, NTP to 127.0.0.4 (another seed): $out"
[[ $(json_field "$out" verified) == 0 ]] || fail "127.0.0.4 verified replies with another seed: $out"
c=$(counters_of 4)
[[ $(counter "$c" nts_replied) -eq 0 && $(counter "$c" nts_naks) -ge 100 ]] \
  || fail "ntsd 4 did not NAK the fleet's cookies: $c"

for n in 1 2 3 4; do
  NTSD_PID="${PID[$n]}" stop_ntsd "$dir/ntsd$n.log"
done
echo PASS
