#!/usr/bin/env bash
# Fleet seed rotation (`nts keyseed FILE from TIME`, deploy/README.md
# "Rotating the fleet seed") as `ntsd --check` reports it: which seed derives
# the current, next and retained epochs; a warning when the switch is less
# than one rotation period away and when the old seed is no longer needed;
# errors for a missing or loose new seed file. And the daemon's start-up:
# a missing new seed is refused, never created.
set -euo pipefail
NTSD="$(realpath "$1")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
dir=$(mktemp -d /tmp/ntsd-seed.XXXXXX)
CLEANUP_PATHS+=("$dir")
chmod 755 "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 90 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj "/CN=seed.example.net" >/dev/null 2>&1 \
  || fail "openssl: cannot make a certificate"
openssl rand -hex 32 >"$dir/old" && openssl rand -hex 32 >"$dir/new"
chmod 600 "$dir/old" "$dir/new"

# Hourly epochs, 1 day kept: 24 retained epochs. Not within 15 s of an hour
# boundary, so the epoch --check sees is the one computed here.
while (( $(date +%s) % 3600 < 15 || $(date +%s) % 3600 > 3585 )); do sleep 1; done
now=$(date +%s)
epoch=$((now / 3600))
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

conf() {  # conf NAME FROM-UNIX-TIME [NEW-SEED-FILE]: writes $dir/NAME.conf
  printf 'nts cert %s\nnts key %s\nnts rotate 3600 keepkeys 1\nnts keyseed %s\nnts keyseed %s from %s\n' \
    "$dir/cert.pem" "$dir/key.pem" "$dir/old" "${3:-$dir/new}" "$(utc "$2")" >"$dir/$1.conf"
}
check() {  # check NAME WANT_STATUS: runs --check, sets $out
  local status=0
  out=$("$NTSD" --check -c "$dir/$1.conf" --state-dir "$dir/state" 2>&1) || status=$?
  [[ $status -eq $2 ]] || fail "$1: exit $status, expected $2: $out"
}
has() { grep -qF -- "$2" <<<"$out" || fail "$1: no line with '$2' in: $out"; }
hasnt() { if grep -qF -- "$2" <<<"$out"; then fail "$1: unexpected '$2' in: $out"; fi; }

# Switch in ten days: everything from the old seed, nothing to warn about.
conf later $((now + 10 * 86400))
check later 0
sw=$(( (now + 10 * 86400 + 3599) / 3600 ))
has later "nts keyseed $dir/old: a valid seed"
has later "nts keyseed $dir/new from $(utc $((now + 10 * 86400))): a valid seed"
has later "seed switch: epochs from $sw (the first starting at or after $(utc $((now + 10 * 86400)))"
has later "cookie keys: current epoch $epoch from the old seed $dir/old; next epoch $((epoch + 1)) from the old seed $dir/old"
has later "cookie keys: retained epochs $((epoch - 24))..$((epoch - 1)) from the old seed $dir/old"
hasnt later "seed switch ("
hasnt later "no longer needed"
echo "later:"; sed 's/^/  /' <<<"$out"

# A switch time on an epoch boundary is that epoch; one second later, the next.
conf boundary $(( (epoch + 48) * 3600 ))
check boundary 0
has boundary "seed switch: epochs from $((epoch + 48)) "
conf boundary1 $(( (epoch + 48) * 3600 + 1 ))
check boundary1 0
has boundary1 "seed switch: epochs from $((epoch + 49)) "

# Switch at the next hour: less than one rotation period away. The next
# epoch already derives from the new seed.
conf soon $(( (epoch + 1) * 3600 ))
check soon 0
has soon "next epoch $((epoch + 1)) from the new seed $dir/new"
has soon "current epoch $epoch from the old seed $dir/old"
has soon "warning: the seed switch ($(date -u -d "@$(( (epoch + 1) * 3600 ))" '+%Y-%m-%d %H:%M UTC')) is less than one rotation period (3600 s) away"
echo "soon:"; grep warning <<<"$out" | sed 's/^/  /'

# Switch five hours ago: retained epochs straddle it, both seeds needed.
conf straddle $(( (epoch - 5) * 3600 ))
check straddle 0
has straddle "current epoch $epoch from the new seed $dir/new"
has straddle "cookie keys: retained epochs $((epoch - 24))..$((epoch - 1)): $((epoch - 24))..$((epoch - 6)) from the old seed $dir/old, $((epoch - 5))..$((epoch - 1)) from the new seed $dir/new"
hasnt straddle "warning: the seed switch"
hasnt straddle "no longer needed"

# Switch two days ago: no retained epoch is before it, the old line can go.
conf past $((now - 2 * 86400))
check past 0
has past "cookie keys: retained epochs $((epoch - 24))..$((epoch - 1)) from the new seed $dir/new"
has past "warning: every retained epoch ($((epoch - 24)) on) is past the seed switch: the old seed $dir/old is no longer needed"
echo "past:"; grep warning <<<"$out" | sed 's/^/  /'

# The new seed file passes the same checks as the old: missing, loose mode, bad format.
conf missing $((now + 10 * 86400)) "$dir/absent"
check missing 1
has missing "error: nts keyseed $dir/absent from $(utc $((now + 10 * 86400))): cannot open key seed file $dir/absent: No such file or directory"
cp "$dir/new" "$dir/loose" && chmod 640 "$dir/loose"
conf loose $((now + 10 * 86400)) "$dir/loose"
check loose 1
has loose "key seed file $dir/loose has mode 0640"
printf 'not hex\n' >"$dir/text" && chmod 600 "$dir/text"
conf text $((now + 10 * 86400)) "$dir/text"
check text 1
has text "key seed file $dir/text must hold exactly 64 hex digits"
echo "errors:"; sed 's/^/  /' <<<"$out" | grep error

# Start-up: a missing new seed is refused and not created (a seed one member
# invented would derive keys no other member has).
status=0
out=$(timeout 20 "$NTSD" -c "$dir/missing.conf" --port 0 --ke-port 0 --state-dir "$dir/state" 2>&1) || status=$?
[[ $status -eq 1 ]] || fail "ntsd started with a missing new seed (exit $status): $out"
has start "not started: cookie key seed from $(utc $((now + 10 * 86400))): cannot open key seed file $dir/absent: No such file or directory; copy the fleet's new seed file here"
[[ ! -e "$dir/absent" ]] || fail "ntsd created the new seed file $dir/absent"
echo "start-up: $(grep 'not started' <<<"$out")"
echo PASS
