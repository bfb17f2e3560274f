#!/usr/bin/env bash
# `ntsd --check` checks what an operator would break (issue 13 item 7), with
# real files: a missing certificate, a key of another certificate, an expired
# and an expiring certificate, a missing CA file, a driftfile folder the
# daemon user cannot write. Exit codes: 0 OK (warnings allowed), 1 errors.
# And the daemon's own start-up error for a missing certificate: plain words,
# one "NTS-KE:" prefix.
set -euo pipefail
NTSD="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
# Under /tmp, not $TEST_TMPDIR: that sits below /root, which the daemon
# user (nobody) cannot search, and the folder checks would rightly say so.
dir=$(mktemp -d /tmp/ntsd-check.XXXXXX)
CLEANUP_PATHS+=("$dir")
chmod 755 "$dir"
mkdir -p "$dir/drift" "$dir/stats"

certificate() {  # certificate NAME DAYS: a self-signed NAME.pem / NAME.key valid for DAYS days
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$2" \
    -keyout "$dir/$1.key" -out "$dir/$1.pem" -subj "/CN=$1.example.net" >/dev/null 2>&1 \
    || fail "openssl: cannot make $1"
}
certificate good 90
certificate other 90
certificate soon 5
# An expired one: `openssl ca` takes explicit dates (req -days cannot go back).
mkdir -p "$dir/ca" && touch "$dir/ca/index.txt" && echo 01 >"$dir/ca/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/ca/index.txt\nnew_certs_dir=%s/ca\nserial=%s/ca/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
  "$dir" "$dir" "$dir" >"$dir/ca/ca.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/expired.key" \
  -out "$dir/expired.csr" -subj "/CN=expired.example.net" >/dev/null 2>&1 || fail "openssl: csr"
openssl ca -batch -config "$dir/ca/ca.cnf" -selfsign -keyfile "$dir/expired.key" -in "$dir/expired.csr" \
  -startdate 20200101000000Z -enddate 20200201000000Z -out "$dir/expired.pem" >/dev/null 2>&1 || fail "openssl: ca"

conf() {  # conf NAME CERT KEY [EXTRA LINE]: writes $dir/NAME.conf
  printf 'nts cert %s\nnts key %s\nnts ca %s\ndriftfile %s/drift/ntp.drift\nstatsdir %s/stats/\n%s\n' \
    "$2" "$3" "$dir/good.pem" "$dir" "$dir" "${4:-}" >"$dir/$1.conf"
}
check() {  # check NAME WANT_STATUS [ARGS...]: runs --check, sets $out
  local name="$1" want="$2" status=0
  shift 2
  out=$("$NTSD" --check -c "$dir/$name.conf" --state-dir "$dir/state" "$@" 2>&1) || status=$?
  [[ $status -eq $want ]] || fail "$name: exit $status, expected $want: $out"
  if grep -q 'BIO routines\|error:[0-9A-F]\{8\}:' <<<"$out"; then fail "$name: OpenSSL codes, not words: $out"; fi
}

conf good "$dir/good.pem" "$dir/good.key"
check good 0
grep -q "^certificate: /CN=good.example.net .*; key $dir/good.key matches$" <<<"$out" || fail "good: $out"
grep -q '^certificate expires on 20[0-9-]* [0-9:]* UTC (\(89\|90\) days from now)$' <<<"$out" || fail "good: no expiry: $out"
grep -q "^nts ca $dir/good.pem: 1 CA certificate(s)$" <<<"$out" || fail "good: CA: $out"
grep -q "^$dir/good.conf: OK" <<<"$out" || fail "good: no OK line: $out"
echo "good:"; sed 's/^/  /' <<<"$out"

conf missing "$dir/missing.pem" "$dir/good.key"
check missing 1
grep -q "^error: nts cert $dir/missing.pem: No such file or directory$" <<<"$out" || fail "missing: $out"

conf mismatch "$dir/good.pem" "$dir/other.key"
check mismatch 1
grep -q "^error: private key $dir/other.key does not match certificate $dir/good.pem$" <<<"$out" || fail "mismatch: $out"

conf expired "$dir/expired.pem" "$dir/expired.key"
check expired 1
grep -q "^error: certificate $dir/expired.pem expired on Feb  1 00:00:00 2020 GMT$" <<<"$out" || fail "expired: $out"

conf soon "$dir/soon.pem" "$dir/soon.key"
check soon 0
grep -q "^warning: certificate $dir/soon.pem expires in [45] day(s), on " <<<"$out" || fail "soon: $out"

conf noca "$dir/good.pem" "$dir/good.key"
sed -i "s|^nts ca .*|nts ca $dir/nothere.pem|" "$dir/noca.conf"
check noca 1
grep -q "^error: nts ca $dir/nothere.pem: No such file or directory$" <<<"$out" || fail "noca: $out"

# The daemon user (nobody) cannot write a root-owned 0755 driftfile folder.
chmod 755 "$dir/drift"
chmod 777 "$dir/stats"
check good 1 -u nobody
grep -q "^error: driftfile folder $dir/drift is not writable by nobody (uid [0-9]*): mode 0755, owner uid 0" <<<"$out" \
  || fail "driftfile: $out"
grep -q "^warning: nts key $dir/good.key is not readable by nobody" <<<"$out" || fail "key for reloads: $out"
echo "unwritable driftfile folder:"; grep '^error\|^warning' <<<"$out" | sed 's/^/  /'

# --syntax-only reads the file alone.
check missing 0 --syntax-only
grep -q "OK (syntax only" <<<"$out" || fail "--syntax-only: $out"

# The daemon's start-up error: plain words, the NTS-KE prefix once.
status=0
out=$(timeout 20 "$NTSD" -c "$dir/missing.conf" --port 0 --ke-port 0 --state-dir "$dir/state" 2>&1) || status=$?
[[ $status -eq 1 ]] || fail "ntsd started with a missing certificate (exit $status): $out"
grep -q "^ntsd: error: not started: NTS-KE: nts cert $dir/missing.pem: No such file or directory$" <<<"$out" \
  || fail "start-up error: $out"
echo "start-up: $(grep 'not started' <<<"$out")"
echo "PASS"
