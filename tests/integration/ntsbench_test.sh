#!/usr/bin/env bash
# ntsbench against the real ntsd binary on loopback (embedded default, demo
# certificate): NTS, plain and NTS-KE modes, short and bounded. Every reply
# must verify (none failed, none lost at this gentle load), the JSON must
# carry the fields bench/compare.sh reads, and ntsd's own counters must
# agree with what ntsbench says it verified.
set -euo pipefail
NTSD="$(realpath "$1")"
NTSBENCH="$(realpath "$2")"
source "$(dirname "$0")/../lib/ntsd_process.sh"

dir="$TEST_TMPDIR/ntsbench"
mkdir -p "$dir"
start_ntsd "$dir/ntsd.log" --workers 1 --ke-port 0 --state-dir "$dir/state"
ca="$dir/state/demo-pki/ca.pem"

json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1"; }

# NTS: 16 clients, 2 threads, open loop at a rate far below saturation.
nts=$(timeout 60 "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$ca" --clients 16 --threads 2 --rate 2000 \
  --duration 2 --server-pid "$NTSD_PID" --json --quiet 2>"$dir/nts.err") \
  || fail "ntsbench nts failed: $(cat "$dir/nts.err")"
echo "nts: $nts"
[[ $(json_field "$nts" mode) == '"nts"' ]] || fail "mode: $nts"
sent=$(json_field "$nts" sent)
verified=$(json_field "$nts" verified)
[[ $sent -ge 3000 ]] || fail "too few requests sent at 2000/s for 2 s: $nts"
[[ $verified -eq $sent ]] || fail "not every NTS reply verified: $nts"
for zero in failed naks kods timeouts late; do
  [[ $(json_field "$nts" $zero) == 0 ]] || fail "$zero is not 0: $nts"
done
[[ $(json_field "$nts" server_cpu_s) != null ]] || fail "no server CPU with --server-pid: $nts"
grep -q '"latency_us":{"p50":[0-9.e+]*,"p99":[0-9.e+]*,"p999":' <<<"$nts" || fail "latency: $nts"
counters=$(ntsd_counters "$dir/ntsd.log")
[[ "$counters" =~ nts_replied=([0-9]+) ]] && [[ ${BASH_REMATCH[1]} -eq $verified ]] \
  || fail "ntsd replied to ${BASH_REMATCH[1]:-?} NTS requests, ntsbench verified $verified: $counters"

# A wrong CA: NTS-KE must fail, and ntsbench must say so and exit 1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -days 1 \
  -keyout "$dir/other.key" -out "$dir/other.pem" 2>/dev/null
status=0
timeout 30 "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$dir/other.pem" --clients 1 --duration 1 --quiet \
  >"$dir/wrongca.out" 2>&1 || status=$?
[[ $status -eq 1 ]] || fail "wrong CA: exit $status, want 1: $(cat "$dir/wrongca.out")"
grep -qi "certificate\|verify" "$dir/wrongca.out" || fail "wrong CA: no clear error: $(cat "$dir/wrongca.out")"

# Plain NTP, closed loop.
plain=$(timeout 60 "$NTSBENCH" --plain --port "$NTSD_PORT" --window 32 --duration 2 --json --quiet 2>/dev/null) \
  || fail "ntsbench plain failed"
echo "plain: $plain"
[[ $(json_field "$plain" verified) -gt 1000 ]] || fail "plain: too few verified: $plain"
[[ $(json_field "$plain" failed) == 0 && $(json_field "$plain" timeouts) == 0 ]] || fail "plain: $plain"

# Plain NTP padded to an NTS request's size (--plain-size: one extension field
# of a type ntsd does not know, which it ignores): every request answered,
# none dropped as malformed. A size that cannot be one field is refused.
padded=$(timeout 60 "$NTSBENCH" --plain --plain-size 232 --port "$NTSD_PORT" --requests 500 --window 16 \
  --duration 10 --json --quiet 2>/dev/null) || fail "ntsbench --plain-size 232 failed"
echo "plain, --plain-size 232: $padded"
[[ $(json_field "$padded" sent) -eq 500 && $(json_field "$padded" verified) -eq 500 ]] \
  || fail "--plain-size 232: not every padded request answered: $padded"
status=0
"$NTSBENCH" --plain --plain-size 52 --port "$NTSD_PORT" --duration 1 --quiet >"$dir/size52.out" 2>&1 || status=$?
[[ $status -ne 0 ]] && grep -q "multiple of 4" "$dir/size52.out" \
  || fail "--plain-size 52 accepted or unclear: exit $status, $(cat "$dir/size52.out")"

# Two threads from two loopback sources (--bind), requests bounded by count.
bound=$(timeout 60 "$NTSBENCH" --plain --port "$NTSD_PORT" --threads 2 --bind 127.0.0.2 127.0.0.3 \
  --requests 2000 --window 16 --duration 10 --json --quiet 2>/dev/null) || fail "ntsbench --bind failed"
echo "plain, --bind, --requests 2000: $bound"
[[ $(json_field "$bound" sent) -eq 2000 && $(json_field "$bound" verified) -eq 2000 ]] \
  || fail "--requests 2000 over two bound threads: $bound"

# NTS-KE handshakes against the embedded default, whose per-address limit
# (burst 50, then 5/s) refuses most of 4 eager connections: refusals count
# as failed, not as handshakes.
ke=$(timeout 60 "$NTSBENCH" --ke --port "$NTSD_KE_PORT" --ca "$ca" --clients 4 --duration 2 --json --quiet \
  2>/dev/null) || fail "ntsbench ke failed"
echo "ke (rate limited): $ke"
handshakes=$(json_field "$ke" handshakes)
[[ $handshakes -ge 40 && $handshakes -le 75 ]] || fail "ke: not burst 50 + 5/s: $ke"
[[ $(json_field "$ke" failed) -gt 0 ]] || fail "ke: refusals not counted: $ke"
stop_ntsd "$dir/ntsd.log"

# The same with `nts kerate 0` (no limit) in a config file: every session succeeds.
cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
nts enable
nts cert $dir/state/demo-pki/cert.pem
nts key $dir/state/demo-pki/key.pem
nts kerate 0
CONF
start_ntsd "$dir/ntsd2.log" --config "$dir/ntp.conf" --workers 1 --ke-port 0 --state-dir "$dir/state2"
ke=$(timeout 60 "$NTSBENCH" --ke --port "$NTSD_KE_PORT" --ca "$ca" --clients 4 --duration 2 --json --quiet \
  2>/dev/null) || fail "ntsbench ke (no limit) failed: $(cat "$dir/ntsd2.log")"
echo "ke (kerate 0): $ke"
[[ $(json_field "$ke" handshakes) -gt 75 ]] || fail "ke: kerate 0 still limits: $ke"
[[ $(json_field "$ke" failed) == 0 ]] || fail "ke: failures without a limit: $ke"

# Usage errors exit 2 and name the problem.
status=0
"$NTSBENCH" --port "$NTSD_KE_PORT" --duration 1 >"$dir/usage.out" 2>&1 || status=$?
[[ $status -eq 2 ]] && grep -q -- "--ca" "$dir/usage.out" || fail "no --ca: exit $status: $(cat "$dir/usage.out")"

stop_ntsd "$dir/ntsd2.log"
echo PASS
