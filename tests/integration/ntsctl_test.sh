#!/bin/bash
# ntsctl against the real ntsd on loopback (issue 13 item 1): ntsd runs as
# uid 65534 with its control socket group-owned by root's group 0; NTS and
# plain load from 127.0.0.1 and 127.0.0.2; then every command, the JSON, the
# exit codes, and privileged commands refused to a user outside the group.
# No `server` lines: nothing here can touch the clock (and --no-adjust).
set -euo pipefail
NTSD="$1"
NTSCTL_BUILT="$2"
NTSBENCH="$3"
source tests/lib/ntsd_process.sh

command -v jq >/dev/null || fail "jq not found"
command -v setpriv >/dev/null || fail "setpriv not found"
[[ $(id -u) -eq 0 ]] || fail "needs root (runs ntsd with -u 65534)"

# A short folder: a Unix socket path is at most 107 bytes.
dir=$(mktemp -d /tmp/ntsctl-test.XXXXXX)
CLEANUP_PATHS+=("$dir")
chmod 755 "$dir"
make_test_pki "$dir/pki"
chown 65534 "$dir/pki/key.pem" "$dir/pki/cert.pem"  # the daemon user re-reads them on reload
install -m 755 "$NTSCTL_BUILT" "$dir/ntsctl"         # reachable by uid 65534, unlike the runfiles
NTSCTL="$dir/ntsctl"
sock="$dir/run/ntsd.sock"
cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
restrict default kod limited
discard average 0 minimum 0
nts cert $dir/pki/cert.pem
nts key $dir/pki/key.pem
controlsocket $sock group 0
CONF
no_sys_time_wrapper "$dir/ntsd-no-time" "$NTSD"
NTSD="$dir/ntsd-no-time"
start_ntsd "$dir/ntsd.log" --config "$dir/ntp.conf" --workers 2 --ke-port 0 --state-dir "$dir/state" \
  -u 65534:65534 --no-adjust
grep -q "control socket for ntsctl: $sock" "$dir/ntsd.log" || fail "no control socket line: $(cat "$dir/ntsd.log")"

# The socket: mode 0660, owner the daemon user, group 0; its folder 0750.
[[ $(stat -c '%a %u %g %F' "$sock") == "660 65534 0 socket" ]] || fail "socket: $(stat -c '%a %u %g %F' "$sock")"
[[ $(stat -c '%a %u %g' "$dir/run") == "750 65534 0" ]] || fail "folder: $(stat -c '%a %u %g' "$dir/run")"

received() { timeout 10 "$NTSCTL" -s "$sock" --json server | jq -e '.data.total.received'; }
before=$(received) || fail "ntsctl --json server failed"

timeout 60 "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$dir/pki/ca.pem" --clients 4 --rate 500 --duration 2 \
  --json --quiet >"$dir/nts.json" 2>"$dir/nts.err" || fail "ntsbench nts: $(cat "$dir/nts.err")"
timeout 60 "$NTSBENCH" --plain --port "$NTSD_PORT" --bind 127.0.0.2 --requests 200 --window 4 --duration 5 \
  --json --quiet >"$dir/plain.json" 2>/dev/null || true  # rate limiting refuses some: expected
after=$(received)
echo "server received: $before -> $after"
(( after > before + 100 )) || fail "received did not rise: $before -> $after"

# Human tables and JSON.
"$NTSCTL" -s "$sock" status | tee "$dir/status.txt"
grep -q '^stratum *10$' "$dir/status.txt" || fail "status table: $(cat "$dir/status.txt")"
"$NTSCTL" -s "$sock" --json status | jq -e '.ok == true and .data.stratum == 10 and .data.refid == "127.127.1.1"' \
  >/dev/null || fail "status JSON: $("$NTSCTL" -s "$sock" --json status)"
"$NTSCTL" -s "$sock" sources | tee "$dir/sources.txt"
"$NTSCTL" -s "$sock" server | tee "$dir/server.txt"
grep -q '^total ' "$dir/server.txt" || fail "server table"
"$NTSCTL" -s "$sock" --json server | jq -e '(.data.workers | length) == 2 and .data.total.nts_replied > 0' \
  >/dev/null || fail "no NTS replies counted"
"$NTSCTL" -s "$sock" nts | tee "$dir/nts.txt"
"$NTSCTL" -s "$sock" --json nts | jq -e '.data.ke.handshakes.ok >= 4 and .data.cookie_opens_by_key_age.current > 0' \
  >/dev/null || fail "nts counters: $("$NTSCTL" -s "$sock" --json nts)"
"$NTSCTL" -s "$sock" clients | tee "$dir/clients.txt"
grep -q '^127\.0\.0\.1 ' "$dir/clients.txt" || fail "127.0.0.1 not among the clients"
grep -q '^127\.0\.0\.2 ' "$dir/clients.txt" || fail "127.0.0.2 not among the clients"
"$NTSCTL" -s "$sock" --json clients 1 | jq -e '(.data.clients | length) == 1' >/dev/null || fail "clients 1"

# Privileged commands: root may; the daemon user (owner of the socket, not in
# group 0) may read but not reload or rotate.
as_nobody() { timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups "$NTSCTL" -s "$sock" "$@"; }
as_nobody status >/dev/null || fail "uid 65534 cannot read status"
rc=0; as_nobody reload 2>"$dir/refused.err" || rc=$?
[[ $rc -eq 1 ]] || fail "reload by uid 65534: exit $rc, expected 1"
grep -q 'permission denied' "$dir/refused.err" || fail "refusal text: $(cat "$dir/refused.err")"
rc=0; as_nobody rotate 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "rotate by uid 65534: exit $rc, expected 1"
grep -q 'control: reload by uid 65534' "$dir/ntsd.log" || fail "refusal not logged"
# A user who cannot reach the socket at all: exit 3.
rc=0; timeout 10 setpriv --reuid=12345 --regid=12345 --clear-groups "$NTSCTL" -s "$sock" status 2>/dev/null || rc=$?
[[ $rc -eq 3 ]] || fail "uid 12345: exit $rc, expected 3"

"$NTSCTL" -s "$sock" reload || fail "reload by root"
grep -q 'control: reload by uid 0' "$dir/ntsd.log" || fail "reload not logged"
epoch=$("$NTSCTL" -s "$sock" --json nts | jq -e '.data.keys.current_epoch')
"$NTSCTL" -s "$sock" rotate || fail "rotate by root"
[[ $("$NTSCTL" -s "$sock" --json nts | jq -e '.data.keys.current_epoch') -eq $((epoch + 1)) ]] || fail "epoch did not move"
rc=0; "$NTSCTL" -s "$sock" rotate 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "a second rotate: exit $rc, expected 1 (one epoch ahead at most)"
# Cookies keep working across the early rotation (fresh NTS-KE and polls).
timeout 60 "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$dir/pki/ca.pem" --clients 2 --rate 200 --duration 1 \
  --json --quiet >"$dir/nts2.json" 2>/dev/null || fail "ntsbench after rotate"
jq -e '.verified > 0 and .naks == 0' "$dir/nts2.json" >/dev/null || fail "after rotate: $(cat "$dir/nts2.json")"

# Exit codes: usage 2, cannot connect 3.
rc=0; "$NTSCTL" -s "$sock" bogus 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "bogus command: exit $rc"
rc=0; "$NTSCTL" -s "$sock" clients 0 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "clients 0: exit $rc"
rc=0; "$NTSCTL" 2>/dev/null >/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "no command: exit $rc"
rc=0; "$NTSCTL" -s "$dir/none.sock" status 2>/dev/null || rc=$?; [[ $rc -eq 3 ]] || fail "no socket: exit $rc"

stop_ntsd "$dir/ntsd.log"
[[ ! -e $sock ]] || fail "socket left behind after a clean stop"
echo "PASS"
