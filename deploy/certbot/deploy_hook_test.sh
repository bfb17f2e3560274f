#!/usr/bin/env bash
# deploy/certbot/ntsd-deploy-hook against the real ntsd (issue 15 item 3): a
# certbot-style lineage (live/ symlinks into archive/, folders 0700, keys
# 0600 root), ntsd running as uid 65534 with --no-adjust and no CAP_SYS_TIME.
# A renewal followed by the hook: the new key becomes root:nogroup 0640, ntsd
# serves the new certificate, same process (reload, not restart). A renewal
# ntsd cannot use: the hook exits 1 with ntsd's reason, the old certificate
# keeps serving. Another lineage: untouched. And the start-up check: a
# world-readable key stops `ntsd --check` and ntsd itself with the fix.
set -euo pipefail
NTSD="$(realpath "$1")"
NTSCTL_BUILT="$(realpath "$2")"
HOOK="$(realpath "$3")"
source tests/lib/ntsd_process.sh  # the runfiles root is the working directory

[[ $(id -u) -eq 0 ]] || fail "needs root (chgrp, ntsd -u 65534)"
getent group nogroup >/dev/null || fail "no group nogroup"

# A short folder: a Unix socket path is at most 107 bytes.
dir=$(mktemp -d /tmp/ntsd-hook-test.XXXXXX)
CLEANUP_PATHS+=("$dir")
chmod 755 "$dir"
make_test_pki "$dir/pki"
install -m 755 "$NTSCTL_BUILT" "$dir/ntsctl"

# issue NAME N CN: what certbot writes for lineage NAME's Nth certificate.
le="$dir/letsencrypt"
issue() {
  local name="$1" n="$2" cn="$3" archive="$le/archive/$1"
  mkdir -p "$archive" "$le/live/$name"
  chmod 700 "$le/archive" "$le/live"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$archive/privkey$n.pem" \
    -out "$dir/$name$n.csr" -subj "/CN=$cn" >/dev/null 2>&1 || fail "openssl key"
  openssl x509 -req -in "$dir/$name$n.csr" -CA "$dir/pki/ca.pem" -CAkey "$dir/pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$dir/pki/ext.cnf" -out "$archive/cert$n.pem" >/dev/null 2>&1 || fail "openssl cert"
  cat "$archive/cert$n.pem" "$dir/pki/ca.pem" >"$archive/fullchain$n.pem"
  chmod 600 "$archive/privkey$n.pem"
  ln -sfn "../../archive/$name/privkey$n.pem" "$le/live/$name/privkey.pem"
  ln -sfn "../../archive/$name/fullchain$n.pem" "$le/live/$name/fullchain.pem"
}
issue ntp.example.com 1 first.example.com
issue other.example.com 1 other.example.com

sock="$dir/run/ntsd.sock"
cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
nts cert "$le/live/ntp.example.com/fullchain.pem"
nts key  "$le/live/ntp.example.com/privkey.pem"   # certbot's names
controlsocket $sock
CONF
hook() {
  env RENEWED_LINEAGE="$le/live/$1" NTSD_CONF="$dir/ntp.conf" NTSD_GROUP=nogroup NTSCTL="$dir/ntsctl" \
    NTSD_SOCKET="$sock" NTSD_UNIT=ntsd-hook-test-no-such.service "$HOOK"
}
mode_of() { stat -c '%a %U:%G' "$1"; }

# First issuance: certbot runs the deploy hook too; ntsd is not running yet.
hook ntp.example.com >"$dir/hook0.out" 2>&1 || fail "hook before ntsd: $(cat "$dir/hook0.out")"
grep -q 'ntsd is not running' "$dir/hook0.out" || fail "hook before ntsd: $(cat "$dir/hook0.out")"
[[ $(mode_of "$le/archive/ntp.example.com/privkey1.pem") == "640 root:nogroup" ]] \
  || fail "key after the hook: $(mode_of "$le/archive/ntp.example.com/privkey1.pem")"
for d in "$le/live" "$le/archive"; do
  [[ $(mode_of "$d") == "750 root:nogroup" ]] || fail "$d after the hook: $(mode_of "$d")"
done
[[ $(mode_of "$le/archive/other.example.com/privkey1.pem") == "600 root:root" ]] || fail "other lineage's key touched"

# The start-up check of the key's mode (issue 15 item 3), in --check and at start.
chmod 644 "$le/archive/ntp.example.com/privkey1.pem"
rc=0; "$NTSD" --check -c "$dir/ntp.conf" -u 65534:65534 >"$dir/check.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "--check with a world-readable key: exit $rc: $(cat "$dir/check.out")"
want="nts key $le/live/ntp.example.com/privkey.pem is readable by every user (mode 0644"
grep -qF "$want" "$dir/check.out" || fail "--check: no clear error: $(cat "$dir/check.out")"
grep -qF "fix: chown root:ntsd" "$dir/check.out" || fail "--check: no fix named: $(cat "$dir/check.out")"
no_sys_time_wrapper "$dir/ntsd-no-time" "$NTSD"
rc=0; timeout 20 "$dir/ntsd-no-time" -c "$dir/ntp.conf" --port 0 --ke-port 0 --state-dir "$dir/state" \
  -u 65534:65534 --no-adjust >"$dir/refused.log" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "ntsd started with a world-readable key"
grep -qF "$want" "$dir/refused.log" || fail "start-up: no clear error: $(cat "$dir/refused.log")"
echo "world-readable key refused: $(grep -F "$want" "$dir/refused.log")"
chmod 640 "$le/archive/ntp.example.com/privkey1.pem"
"$NTSD" --check -c "$dir/ntp.conf" -u 65534:65534 >"$dir/check-ok.out" 2>&1 \
  || fail "--check with root:nogroup 0640: $(cat "$dir/check-ok.out")"

NTSD="$dir/ntsd-no-time"
start_ntsd "$dir/ntsd.log" --config "$dir/ntp.conf" --workers 1 --ke-port 0 --state-dir "$dir/state" \
  -u 65534:65534 --no-adjust
pid=$NTSD_PID
grep -q 'not readable' "$dir/ntsd.log" && fail "ntsd cannot re-read its key: $(cat "$dir/ntsd.log")"
subject() { "$dir/ntsctl" -s "$sock" nts | sed -n 's/^certificate *//p'; }
[[ $(subject) == */CN=first.example.com* ]] || fail "serving: $(subject)"

# Renewal: a new key (0600 root, as certbot may write it) and certificate.
issue ntp.example.com 2 renewed.example.com
hook ntp.example.com >"$dir/hook1.out" 2>&1 || fail "hook after renewal: $(cat "$dir/hook1.out")"
cat "$dir/hook1.out"
grep -q 'certificate reloaded: /CN=renewed.example.com' "$dir/hook1.out" || fail "no reload: $(cat "$dir/hook1.out")"
[[ $(mode_of "$le/archive/ntp.example.com/privkey2.pem") == "640 root:nogroup" ]] || fail "new key's mode"
[[ $(subject) == */CN=renewed.example.com* ]] || fail "after the hook ntsd serves: $(subject)"
kill -0 "$pid" || fail "ntsd is gone"
[[ $NTSD_PID -eq $pid ]] || fail "ntsd was restarted"
# NTS-KE with the renewed certificate works end to end.
openssl s_client -connect "127.0.0.1:$NTSD_KE_PORT" -alpn ntske/1 -CAfile "$dir/pki/ca.pem" </dev/null \
  2>/dev/null | grep -q 'subject=CN = renewed.example.com' || fail "NTS-KE does not present the renewed certificate"

# A renewal ntsd refuses (a key of another certificate): exit 1 with the
# reason; the renewed certificate keeps serving.
cp "$le/archive/other.example.com/privkey1.pem" "$le/archive/ntp.example.com/privkey3.pem"
ln -sfn ../../archive/ntp.example.com/privkey3.pem "$le/live/ntp.example.com/privkey.pem"
rc=0; hook ntp.example.com >"$dir/hook2.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "hook with a mismatched key: exit $rc: $(cat "$dir/hook2.out")"
grep -q 'does not match certificate' "$dir/hook2.out" || fail "no reason: $(cat "$dir/hook2.out")"
[[ $(subject) == */CN=renewed.example.com* ]] || fail "after a refused reload ntsd serves: $(subject)"

# Another lineage: nothing happens.
hook other.example.com >"$dir/hook3.out" 2>&1 || fail "hook for another lineage failed"
[[ $(mode_of "$le/archive/other.example.com/privkey1.pem") == "600 root:root" ]] || fail "other lineage's key touched"

stop_ntsd "$dir/ntsd.log"
echo PASS
