#!/usr/bin/env bash
# A cookie master-key rotation in the middle of a chrony NTS session causes no
# NAK and no lost sample. ntsd runs from a config file in the NTS guide's
# server form (`nts cert` + `nts key`, no `nts enable`), with `nts rotate 60` (`nts keepkeys 1`: a minute-long period with the default 14 days would need 20,160 keys, which ntsd refuses)
# and the demo certificate; chronyd 4.3 (-x: never touches the clock)
# polls every second for ~75 s, so at least one rotation happens while it
# holds cookies sealed with the previous key.
set -euo pipefail
NTSD="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
require_chronyd
dir="$TEST_TMPDIR"
state="$dir/state"

# A first, brief start of the embedded default creates the demo certificate.
start_ntsd "$dir/bootstrap.log" --workers 1 --ke-port 0 --state-dir "$state"
stop_ntsd "$dir/bootstrap.log"

cat >"$dir/ntp.conf" <<CONF
nts cert $state/demo-pki/cert.pem
nts key $state/demo-pki/key.pem
nts rotate 60
nts keepkeys 1
interface listen 127.0.0.1
CONF
"$NTSD" --check -c "$dir/ntp.conf" >/dev/null || fail "config rejected: $("$NTSD" --check -c "$dir/ntp.conf" 2>&1)"
# Keys rotate on minute boundaries (epoch = unix time / 60). Start well inside
# a minute, so chronyd gets its cookies before the rotation, not after it.
while (( $(date +%s) % 60 < 2 || $(date +%s) % 60 > 45 )); do sleep 1; done
session_start=$SECONDS
start_ntsd "$dir/ntsd.log" -c "$dir/ntp.conf" --workers 2 --ke-port 0 --state-dir "$state"
[[ -n "$NTSD_KE_PORT" ]] || fail "no NTS-KE port: $(cat "$dir/ntsd.log")"
epoch_start=$(sed -n 's/.*cookie keys from .* (epoch \([0-9]*\)).*/\1/p' "$dir/ntsd.log")

cat >"$dir/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $NTSD_KE_PORT minpoll 0 maxpoll 0
ntstrustedcerts $state/demo-pki/ca.pem
CONF
chrony_conf_common "$dir" >>"$dir/chrony.conf"
"$CHRONYD" -x -d -u root -f "$dir/chrony.conf" -L 0 >"$dir/chronyd.out" 2>&1 &
chrony_pid=$!
STARTED_PIDS+=("$chrony_pid")
# Run until a rotation has happened, 12 s of polls came after it, and the
# session has lasted 35 s.
deadline=$((SECONDS + 150))
while (( SECONDS < deadline )); do
  sleep 1
  if grep -q 'cookie master key rotated' "$dir/ntsd.log"; then
    rotated_at=${rotated_at:-$SECONDS}
    (( SECONDS - rotated_at >= 12 && SECONDS - session_start >= 35 )) && break
  fi
done
kill -TERM "$chrony_pid"
wait "$chrony_pid" || true
grep -q 'cookie master key rotated' "$dir/ntsd.log" || fail "no key rotation within the test: $(cat "$dir/ntsd.log")"

samples=$(awk '$3 == "127.0.0.1"' "$dir/measurements.log")
count=$(echo "$samples" | grep -c .)
[[ $count -ge 30 ]] || fail "only $count samples: $(cat "$dir/chronyd.out")"
# Columns 123 and 567 are chrony's packet tests (567 includes test 5,
# authentication). ABCD are delay filters that judge the machine's noise over
# a long session, not the server's packets, so they are not asserted here.
echo "$samples" | awk '
  $6 != "111" || $7 != "111" { print "sample failed chrony packet tests: " $0; bad = 1 }
  END { exit bad }' || fail "a sample failed chrony's packet or authentication tests"

counters=$(ntsd_counters "$dir/ntsd.log")
[[ "$counters" == *" nts_naks=0 "* ]] || fail "NAKs during the rotation: $counters"
[[ "$counters" == *" dropped=0 "* ]] || fail "requests dropped: $counters"
[[ "$counters" =~ cookie_key_previous=([0-9]+) ]] && [[ ${BASH_REMATCH[1]} -ge 1 ]] \
  || fail "no cookie sealed with the previous key was used: $counters"
[[ "$counters" =~ received=([0-9]+)\ replied=([0-9]+) ]] || fail "no counters: $counters"
received=${BASH_REMATCH[1]}
replied=${BASH_REMATCH[2]}
[[ $received -eq $replied ]] || fail "received $received, replied $replied"
# chrony logs one measurement per reply it accepted: none lost.
[[ $count -ge $((replied - 1)) ]] || fail "chrony logged $count samples for $replied replies"
stop_ntsd "$dir/ntsd.log"
echo "PASS: epoch $epoch_start rotated; $count authenticated samples, $replied replies, no NAK ($counters)" | cut -c1-300
