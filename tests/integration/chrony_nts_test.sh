#!/usr/bin/env bash
# chronyd 4.3 as an NTS client of the real ntsd binary on loopback (embedded
# default: demo certificate, NTS-KE with a Port record, NTS-protected NTP),
# with each I/O backend. chronyd runs with -Q: it never touches the clock.
# Every sample must pass chrony's tests (including test 5, authentication),
# with |offset| < 1 ms, and ntsd must count NTS replies and no NAK.
set -euo pipefail
NTSD="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
require_chronyd

for backend in uring mmsg; do
  dir="$TEST_TMPDIR/$backend"
  mkdir -p "$dir"
  start_ntsd "$dir/ntsd.log" --workers 2 --io-backend "$backend" --ke-port 0 --state-dir "$dir/state"
  [[ -n "$NTSD_KE_PORT" ]] || fail "$backend: no NTS-KE port: $(cat "$dir/ntsd.log")"
  ca="$dir/state/demo-pki/ca.pem"
  [[ -f "$ca" ]] || fail "$backend: no demo CA at $ca"
  grep -q "clients must trust $ca" "$dir/ntsd.log" || fail "$backend: CA not announced"

  # No `port` option: chronyd must learn the NTP port from ntsd's Port record.
  cat >"$dir/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $NTSD_KE_PORT iburst minpoll -2 maxpoll -2 maxsamples 6
ntstrustedcerts $ca
CONF
  chrony_conf_common "$dir" >>"$dir/chrony.conf"
  timeout 60 "$CHRONYD" -Q -u root -f "$dir/chrony.conf" -L 0 >"$dir/chronyd.out" 2>&1 \
    || fail "$backend: chronyd -Q failed: $(cat "$dir/chronyd.out")"
  wrong_by=$(sed -n 's/.*System clock wrong by \([-0-9.e]*\) seconds.*/\1/p' "$dir/chronyd.out")
  [[ -n "$wrong_by" ]] || fail "$backend: chronyd measured nothing: $(cat "$dir/chronyd.out"; cat "$dir/ntsd.log")"
  awk -v x="$wrong_by" 'BEGIN { exit !(x < 0.001 && x > -0.001) }' \
    || fail "$backend: offset $wrong_by s is not within 1 ms"
  lines=$(awk '$3 == "127.0.0.1"' "$dir/measurements.log")
  [[ $(echo "$lines" | grep -c .) -ge 3 ]] || fail "$backend: too few samples: $(cat "$dir/measurements.log")"
  echo "$lines" | awk -v b="$backend" '
    $5 != 10 { print b ": stratum " $5 ": " $0; bad = 1 }
    $6 != "111" || $7 != "111" || $8 != "1111" { print b ": chrony tests failed (567 has test 5, authentication): " $0; bad = 1 }
    { off = $12 + 0; if (off > 0.001 || off < -0.001) { print b ": offset " $12 ": " $0; bad = 1 } }
    END { exit bad }' || fail "$backend: bad sample"

  counters=$(ntsd_counters "$dir/ntsd.log")
  [[ "$counters" =~ nts_replied=([0-9]+) ]] && [[ ${BASH_REMATCH[1]} -ge 3 ]] \
    || fail "$backend: ntsd counted too few NTS replies: $counters"
  [[ "$counters" == *" nts_naks=0 "* ]] || fail "$backend: NAKs sent: $counters"
  grep -q '^ntsd: nts-ke: accepted=[1-9][0-9]* .*handshakes_ok=[1-9]' "$dir/ntsd.log" \
    || fail "$backend: no NTS-KE handshake counted: $(grep nts-ke "$dir/ntsd.log")"
  echo "$backend: chronyd over NTS: offset $wrong_by s, $(echo "$lines" | grep -c .) authenticated samples"
  stop_ntsd "$dir/ntsd.log"
done
echo PASS
