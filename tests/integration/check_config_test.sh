#!/usr/bin/env bash
# `ntsd --check --syntax-only -c FILE` (the files these configurations name
# belong to other hosts; check_files_test checks those): every good configuration (the NTS guide's client and
# server configurations, Debian and source-build paths) passes unchanged;
# every broken one is rejected with FILE:LINE errors and a non-zero exit.
set -euo pipefail
NTSD="$(realpath "$1")"
shift
good=0
bad=0
for file in "$@"; do
  case "$(basename "$file")" in
    good_*)
      out=$("$NTSD" --check --syntax-only -c "$file" 2>&1) || { echo "FAIL: $file rejected: $out"; exit 1; }
      [[ "$out" == *"$file: OK"* ]] || { echo "FAIL: $file: no OK line: $out"; exit 1; }
      good=$((good + 1))
      ;;
    bad_*)
      status=0
      out=$("$NTSD" --check --syntax-only -c "$file" 2>&1) || status=$?
      [[ $status -ne 0 ]] || { echo "FAIL: $file accepted"; exit 1; }
      grep -qE "^$file:[0-9]+: .+, expected .+" <<<"$out" \
        || { echo "FAIL: $file: no FILE:LINE error: $out"; exit 1; }
      bad=$((bad + 1))
      ;;
  esac
done
[[ $good -ge 4 && $bad -ge 10 ]] || { echo "FAIL: too few files ($good good, $bad bad)"; exit 1; }

# --check says whether the NTS server will run: the guide's form (nts cert +
# nts key, no nts enable) and NTPsec's Quick Start form (nts enable) both turn
# it on; a client-only file leaves it off.
for file in "$@"; do
  case "$(basename "$file")" in
    good_guide_server_debian.conf) want="NTS server: on (nts cert + nts key)" ;;
    good_nts_server_debian.conf) want="NTS server: on (nts enable)" ;;
    good_nts_client_debian.conf) want="NTS server: off" ;;
    *) continue ;;
  esac
  out=$("$NTSD" --check --syntax-only -c "$file" 2>&1)
  [[ "$out" == *"$want"* ]] || { echo "FAIL: $file: expected '$want': $out"; exit 1; }
done
printf 'nts disable\nnts cert /c.pem\nnts key /k.pem\n' >"$TEST_TMPDIR/disabled.conf"
out=$("$NTSD" --check -c "$TEST_TMPDIR/disabled.conf" 2>&1)
[[ "$out" == *"NTS server: off (nts disable)"* ]] || { echo "FAIL: nts disable: $out"; exit 1; }

# A missing file, and --check without a file.
status=0
out=$("$NTSD" --check -c "$TEST_TMPDIR/missing.conf" 2>&1) || status=$?
[[ $status -ne 0 && "$out" == *"missing.conf: cannot read"* ]] || { echo "FAIL: missing file: $out"; exit 1; }
status=0
"$NTSD" --check >/dev/null 2>&1 || status=$?
[[ $status -ne 0 ]] || { echo "FAIL: --check without --config accepted"; exit 1; }

# The daemon refuses to start on a broken file and applies nothing.
status=0
out=$(timeout 10 "$NTSD" -c "$(ls "$@" | grep bad_ | head -1)" --port 0 2>&1) || status=$?
[[ $status -eq 1 && "$out" == *"not started"* ]] || { echo "FAIL: started on a bad config: $out"; exit 1; }
echo "PASS: $good good and $bad bad configurations"
