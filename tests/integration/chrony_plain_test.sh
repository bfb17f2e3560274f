#!/usr/bin/env bash
# The real ntsd binary on loopback, queried by chronyd 4.3 in measure-only
# mode (-Q: it never touches this machine's clock), over IPv4 and IPv6, with
# each I/O backend, and with `--io-backend auto` (both measured at start, the
# cheaper serves). Checks stratum, chrony's packet tests and |offset| < 10 ms.
set -euo pipefail
NTSD="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
require_chronyd

for backend in uring mmsg auto; do
  dir="$TEST_TMPDIR/$backend"
  mkdir -p "$dir"
  start_ntsd "$dir/ntsd.log" --workers 2 --io-backend "$backend" --ke-port 0 --state-dir "$dir/state"
  expect=$backend
  if [[ $backend == auto ]]; then
    # "I/O backend auto: io_uring 6.35 µs, recvmmsg/sendmmsg 5.67 µs per datagram -> recvmmsg/sendmmsg"
    probe=$(sed -n 's/^ntsd: I\/O backend auto: //p' "$dir/ntsd.log")
    [[ $probe =~ ^io_uring\ [0-9.]+\ µs,\ recvmmsg/sendmmsg\ [0-9.]+\ µs\ per\ datagram\ -\>\ (io_uring|recvmmsg/sendmmsg)$ ]] \
      || fail "auto: no measurement line: $(cat "$dir/ntsd.log")"
    expect=$([[ ${BASH_REMATCH[1]} == io_uring ]] && echo uring || echo mmsg)
    echo "auto: $probe"
  fi
  grep -q "2 workers, $( [[ $expect == uring ]] && echo io_uring || echo mmsg ) I/O" "$dir/ntsd.log" \
    || fail "$backend: wrong backend: $(cat "$dir/ntsd.log")"
  grep -q "serving NTP on \[::1\]:$NTSD_PORT" "$dir/ntsd.log" || fail "$backend: no IPv6 listener"

  cat >"$dir/chrony.conf" <<CONF
server 127.0.0.1 port $NTSD_PORT iburst minpoll -2 maxpoll -2 maxsamples 6
server ::1 port $NTSD_PORT iburst minpoll -2 maxpoll -2 maxsamples 6
CONF
  chrony_conf_common "$dir" >>"$dir/chrony.conf"
  timeout 60 "$CHRONYD" -Q -u root -f "$dir/chrony.conf" -L 0 >"$dir/chronyd.out" 2>&1 \
    || fail "$backend: chronyd -Q failed: $(cat "$dir/chronyd.out")"
  # "System clock wrong by -0.000012 seconds (ignored)"
  wrong_by=$(sed -n 's/.*System clock wrong by \([-0-9.e]*\) seconds.*/\1/p' "$dir/chronyd.out")
  [[ -n "$wrong_by" ]] || fail "$backend: chronyd measured nothing: $(cat "$dir/chronyd.out")"
  awk -v x="$wrong_by" 'BEGIN { exit !(x < 0.01 && x > -0.01) }' \
    || fail "$backend: offset $wrong_by s is not within 10 ms"

  # measurements.log: Date Time IP L St 123 567 ABCD LP RP Score Offset ...
  for address in 127.0.0.1 ::1; do
    lines=$(awk -v a="$address" '$3 == a' "$dir/measurements.log")
    [[ -n "$lines" ]] || fail "$backend: no measurement from $address: $(cat "$dir/measurements.log")"
    echo "$lines" | awk -v b="$backend" '
      $5 != 10 { print b ": stratum " $5 " != 10: " $0; bad = 1 }
      $6 != "111" || $7 != "111" || $8 != "1111" { print b ": chrony packet tests failed: " $0; bad = 1 }
      { off = $12 + 0; if (off > 0.01 || off < -0.01) { print b ": offset " $12 ": " $0; bad = 1 } }
      END { exit bad }' || fail "$backend: bad measurement from $address"
  done
  echo "$backend: chronyd measured offset $wrong_by s; $(grep -c . "$dir/measurements.log") log lines"

  [[ "$(ntsd_counters "$dir/ntsd.log")" == "ntsd: counters: received="[1-9]* ]] \
    || fail "$backend: SIGUSR1 printed no counters"
  stop_ntsd "$dir/ntsd.log"
done
echo PASS
