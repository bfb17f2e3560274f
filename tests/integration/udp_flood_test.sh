#!/usr/bin/env bash
# UDP flood (issue 12 item 3): while legitimate NTS clients run an open-loop
# load (ntsbench: 16 clients, 2,000 requests/s), an attacker on other loopback
# addresses floods the same single worker, as fast as it can, with (a) random
# garbage, (b) NTS requests carrying forged cookies, (c) truncated and
# oversized extension fields. Every legitimate request must still verify
# (>= 99 %), memory must stay bounded (RSS before/after), and every flood
# datagram ntsd saw must be accounted for by a drop reason or a NAK.
# Loopback only; bounded in time (about 10 s of load).
set -euo pipefail
NTSD="$(realpath "$1")"
NTSBENCH="$(realpath "$2")"
FLOOD="$(realpath "$3")"
source "$(dirname "$0")/../lib/ntsd_process.sh"

dir="$TEST_TMPDIR/flood"
mkdir -p "$dir"
seconds=8
# ntsd runs at a higher priority than anything else here (nice -10, every
# thread inherits it): what is measured is how ntsd sorts a flood from
# legitimate traffic, not whether a busy test machine schedules it.
REAL_NTSD="$NTSD"
NTSD="$dir/ntsd-prio"
printf '#!/bin/sh\nexec nice -n -10 %s "$@"\n' "$REAL_NTSD" >"$NTSD"
chmod +x "$NTSD"
start_ntsd "$dir/ntsd.log" --workers 1 --ke-port 0 --state-dir "$dir/state"
ca="$dir/state/demo-pki/ca.pem"
# ntsd pins its one worker to CPU 0; the load generator and the attacker share
# the other CPU, so the measurement is of ntsd, not of who gets scheduled.
pin=()
(( $(nproc) >= 2 )) && pin=(taskset -c 1)
json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$NTSD_PID/status"; }

# Warm up (first NTS-KE, first batches), then measure memory.
timeout 30 "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$ca" --clients 4 --rate 500 --duration 1 --quiet \
  >/dev/null 2>&1 || fail "warm-up ntsbench failed"
rss_before=$(rss_kib)

timeout $((seconds + 30)) "${pin[@]}" "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$ca" --clients 16 --threads 1 --rate 2000 \
  --duration "$seconds" --server-pid "$NTSD_PID" --json --quiet >"$dir/legit.json" 2>"$dir/legit.err" &
legit_pid=$!
sleep 0.5  # the legitimate clients hold their cookies before the flood starts
timeout $((seconds + 10)) "${pin[@]}" nice -n 10 "$FLOOD" --port "$NTSD_PORT" --sources 32 --seconds $((seconds - 1)) \
  >"$dir/flood.json" 2>"$dir/flood.err" || fail "udp_flood failed: $(cat "$dir/flood.err")"
wait "$legit_pid" || fail "ntsbench failed: $(cat "$dir/legit.err")"
rss_after=$(rss_kib)

legit=$(cat "$dir/legit.json")
flood=$(cat "$dir/flood.json")
counters=$(ntsd_counters "$dir/ntsd.log")
sent=$(json_field "$legit" sent)
verified=$(json_field "$legit" verified)
flood_sent=$(json_field "$flood" sent)
flood_rate=$(json_field "$flood" rate)
[[ $sent -ge $((2000 * (seconds - 1))) ]] || fail "too few legitimate requests sent: $legit"
# >= 99 % of legitimate requests verified.
(( verified * 100 >= sent * 99 )) || fail "only $verified of $sent legitimate requests verified under the flood: $legit / $flood / $counters"
[[ $(json_field "$legit" failed) == 0 ]] || fail "a legitimate reply failed verification: $legit"

# Memory bounded: the flood leaves RSS within 8 MiB of where it was.
(( rss_after - rss_before <= 8192 )) || fail "RSS grew from $rss_before KiB to $rss_after KiB under the flood"

# Every kind of flood datagram was seen and accounted for by reason.
value() { [[ "$counters" =~ (^| )$1=([0-9]+) ]] && echo "${BASH_REMATCH[2]}" || echo 0; }
garbage_drops=$(( $(value drop_too_short) + $(value drop_bad_version) + $(value drop_not_client_mode) + $(value drop_zero_transmit) + $(value drop_malformed_extensions) ))
malformed_drops=$(value drop_malformed_extensions)
forged_naks=$(( $(value nak_unknown_key) + $(value nak_tampered) + $(value nak_bad_length) + $(value nak_expired_key) + $(value nak_unsupported_aead) ))
(( garbage_drops > 0 )) || fail "no garbage dropped by reason: $counters"
(( malformed_drops > 0 )) || fail "no malformed extension fields dropped: $counters"
(( forged_naks > 0 )) || fail "no forged cookie NAKed: $counters"
received=$(value received)
replied=$(value replied)
dropped=$(value dropped)
naks=$(value nts_naks)
# Everything received is either replied to (legitimate replies and NAKs) or dropped by a reason.
(( received == replied + dropped )) || fail "received $received != replied $replied + dropped $dropped: $counters"
legit_server=$(value nts_replied)
(( legit_server >= verified )) || fail "ntsd counted $legit_server NTS replies, ntsbench verified $verified"

echo "PASS: flood of $flood_sent datagrams ($flood_rate/s) from 32 addresses against 1 worker"
echo "  legitimate: $verified of $sent verified ($(awk -v v="$verified" -v s="$sent" 'BEGIN { printf "%.3f", 100 * v / s }') %)"
echo "  ntsd: received=$received replied=$replied dropped=$dropped naks=$naks (garbage drops $garbage_drops, malformed $malformed_drops, forged NAKs $forged_naks)"
echo "  kernel drops are not seen by ntsd: flood sent $flood_sent, ntsd received $((received - sent))"
echo "  RSS before $rss_before KiB, after $rss_after KiB"
echo "  legit: $legit"
stop_ntsd "$dir/ntsd.log"
