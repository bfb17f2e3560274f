#!/usr/bin/env bash
# Least privilege and state files (issue 12 items 1 and 5), on the real ntsd:
#  - with -u nobody:nogroup every thread runs as nobody with only CAP_SYS_TIME
#    (nothing with --no-adjust or when started without it), bounding set the
#    same, no ambient, no_new_privs, seccomp filter mode, not dumpable; the
#    open-file soft limit is raised to the hard one; forbidden syscalls fail
#    with EPERM (test hook), every io_uring ring refuses io_uring_register;
#    NTS still serves chronyd, SIGUSR1 and SIGHUP still work, SIGTERM exits 0;
#  - a certificate key the new user cannot read: a warning at start naming
#    it, and a SIGHUP reload that fails naming it while the old one serves;
#  - root without -u: a warning, and the filter still applies;
#  - --no-seccomp: no filter; state folder rules: mode 0777 and no HOME refused.
# Creates nothing on the system (uses the existing nobody/nogroup); chronyd
# runs with -Q and nothing here has server lines, so no clock is ever touched.
set -euo pipefail
NTSD="$(realpath "$1")"
PROBE="$(realpath "$2")"
source "$(dirname "$0")/../lib/ntsd_process.sh"
require_chronyd
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (switches to nobody)"; exit 0; }
getent passwd nobody >/dev/null && getent group nogroup >/dev/null || fail "no nobody/nogroup on this system"
NOBODY=$(id -u nobody)
NOGROUP=$(getent group nogroup | cut -d: -f3)

# A base folder nobody can traverse (the bazel test tree under /root is not).
base=$(mktemp -d /tmp/ntsd-privilege.XXXXXX)
chmod 711 "$base"
CLEANUP_PATHS+=("$base")

status_field() { sed -n "s/^$2:[[:space:]]*//p" "$1"; }
SYS_TIME_BIT=$((1 << 25))
shell_caps=$((16#$(status_field /proc/self/status CapEff)))
expect_caps=$(printf '%016x' $(( shell_caps & SYS_TIME_BIT )))

# check_threads LOG UID CAPS SECCOMP: every thread of NTSD_PID.
check_threads() {
  local log="$1" uid="$2" caps="$3" seccomp="$4" tasks=0
  for task in /proc/"$NTSD_PID"/task/*; do
    local s="$task/status"
    [[ -r $s ]] || continue
    tasks=$((tasks + 1))
    [[ "$(status_field "$s" Uid)" == "$uid"$'\t'"$uid"$'\t'"$uid"$'\t'"$uid" ]] \
      || fail "$task: Uid $(status_field "$s" Uid), want $uid: $(cat "$log")"
    if [[ -n $caps ]]; then
      for set in CapPrm CapEff CapBnd; do
        [[ "$(status_field "$s" $set)" == "$caps" ]] || fail "$task: $set $(status_field "$s" $set), want $caps"
      done
      [[ "$(status_field "$s" CapInh)" == 0000000000000000 ]] || fail "$task: CapInh not empty"
      [[ "$(status_field "$s" CapAmb)" == 0000000000000000 ]] || fail "$task: CapAmb not empty"
    fi
    [[ "$(status_field "$s" NoNewPrivs)" == 1 ]] || fail "$task: NoNewPrivs $(status_field "$s" NoNewPrivs)"
    [[ "$(status_field "$s" Seccomp)" == "$seccomp" ]] || fail "$task: Seccomp $(status_field "$s" Seccomp), want $seccomp"
  done
  [[ $tasks -ge 4 ]] || fail "only $tasks threads seen"
  echo "  $tasks threads: Uid $uid, caps ${caps:-unchanged}, NoNewPrivs 1, Seccomp $seccomp"
}

# chrony_nts DIR LABEL: chronyd -Q over NTS against the running ntsd.
chrony_nts() {
  local dir="$1" label="$2"
  cat >"$dir/chrony.conf" <<CONF
server 127.0.0.1 nts ntsport $NTSD_KE_PORT iburst minpoll -2 maxpoll -2 maxsamples 4
ntstrustedcerts $dir/state/demo-pki/ca.pem
CONF
  chrony_conf_common "$dir" >>"$dir/chrony.conf"
  timeout 60 "$CHRONYD" -Q -u root -f "$dir/chrony.conf" -L 0 >"$dir/chronyd.out" 2>&1 \
    || fail "$label: chronyd -Q failed: $(cat "$dir/chronyd.out"; cat "$dir/ntsd.log")"
  grep -q 'System clock wrong by' "$dir/chronyd.out" || fail "$label: chronyd measured nothing: $(cat "$dir/chronyd.out")"
  local counters
  counters=$(ntsd_counters "$dir/ntsd.log")  # SIGUSR1 works under the filter
  [[ "$counters" =~ nts_replied=([0-9]+) ]] && [[ ${BASH_REMATCH[1]} -ge 3 ]] \
    || fail "$label: too few NTS replies: $counters"
  echo "  chronyd over NTS: $(sed -n 's/.*\(System clock wrong by [-0-9.e]* seconds\).*/\1/p' "$dir/chronyd.out"), ${BASH_REMATCH[1]} NTS replies"
}

# --- A: -u nobody:nogroup, io_uring, soft open-file limit 1024 ---------------
dir="$base/a"
mkdir -p "$dir"
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -gt 1024 ]] && ulimit -Sn 1024
NTSD_TEST_FORBIDDEN_SYSCALL=1 start_ntsd "$dir/ntsd.log" --workers 2 --io-backend uring --ke-port 0 \
  -u nobody:nogroup --state-dir "$dir/state"
echo "A: -u nobody:nogroup (io_uring)"
sanitizer=0
grep -q 'seccomp: off in sanitizer builds' "$dir/ntsd.log" && sanitizer=1
seccomp_mode=2
[[ $sanitizer -eq 1 ]] && seccomp_mode=0
if [[ $hard != unlimited && $hard -gt 1024 ]]; then
  grep -q "^ntsd: open files: limit raised 1024 -> $hard\$" "$dir/ntsd.log" \
    || fail "open-file limit not raised: $(grep 'open files' "$dir/ntsd.log")"
  [[ $(awk '/^Max open files/ { print $4 }' /proc/"$NTSD_PID"/limits) == "$hard" ]] || fail "soft limit not $hard"
  echo "  open files: 1024 -> $hard"
fi
grep -q "^ntsd: privileges: running as nobody:nogroup (uid $NOBODY, gid $NOGROUP)" "$dir/ntsd.log" \
  || fail "no privileges line: $(cat "$dir/ntsd.log")"
s=/proc/$NTSD_PID/status
[[ "$(status_field "$s" Gid)" == "$NOGROUP"$'\t'"$NOGROUP"$'\t'"$NOGROUP"$'\t'"$NOGROUP" ]] || fail "Gid $(status_field "$s" Gid)"
[[ "$(status_field "$s" Groups | tr -d " ")" == "$NOGROUP" ]] || fail "supplementary groups: '$(status_field "$s" Groups)'"
check_threads "$dir/ntsd.log" "$NOBODY" "$expect_caps" "$seccomp_mode"
# Not dumpable: /proc/PID files belong to root although the process is nobody's,
# so nobody (the same uid) cannot read its environment or memory.
[[ $(stat -c %u /proc/"$NTSD_PID"/environ) == 0 ]] || fail "/proc/PID/environ not root-owned: still dumpable"
if setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups cat /proc/"$NTSD_PID"/environ >/dev/null 2>&1; then
  fail "nobody can read ntsd's /proc/PID/environ: still dumpable"
fi
echo "  not dumpable: /proc/PID owned by root, unreadable by nobody"
if [[ $sanitizer -eq 0 ]]; then
  grep -q '^ntsd: test: forbidden syscalls: ptrace=EPERM execve=EPERM socket(AF_PACKET)=EPERM$' "$dir/ntsd.log" \
    || fail "forbidden syscalls not refused: $(grep 'forbidden' "$dir/ntsd.log")"
  echo "  $(sed -n 's/^ntsd: test: //p' "$dir/ntsd.log")"
fi
"$PROBE" "$NTSD_PID" >"$dir/probe.out" || fail "io_uring rings not restricted: $(cat "$dir/probe.out")"
echo "  io_uring: $(tail -1 "$dir/probe.out")"
[[ $(stat -c '%u %a' "$dir/state") == "$NOBODY 700" ]] || fail "state folder: $(stat -c '%U %a' "$dir/state")"
for f in keyseed demo-pki demo-pki/key.pem demo-pki/cert.pem demo-pki/ca.pem; do
  [[ $(stat -c %u "$dir/state/$f") == "$NOBODY" ]] || fail "$f not nobody's"
done
chrony_nts "$dir" "A"
kill -HUP "$NTSD_PID"
wait_for_log "$dir/ntsd.log" '^ntsd: SIGHUP: certificate reloaded' 10 || fail "SIGHUP reload: $(tail -3 "$dir/ntsd.log")"
echo "  SIGHUP: certificate reloaded as nobody"
stop_ntsd "$dir/ntsd.log"
# A restart as nobody takes the handed-over state as it is: same seed.
seed_before=$(cat "$dir/state/keyseed")
start_ntsd "$dir/ntsd2.log" --ke-port 0 -u nobody:nogroup --state-dir "$dir/state"
[[ $(cat "$dir/state/keyseed") == "$seed_before" ]] || fail "seed changed across a restart"
stop_ntsd "$dir/ntsd2.log"

# --- B: --no-adjust keeps no capability; recvmmsg backend ---------------------
dir="$base/b"
mkdir -p "$dir"
start_ntsd "$dir/ntsd.log" --workers 2 --io-backend mmsg --ke-port 0 -u nobody:nogroup --no-adjust \
  --state-dir "$dir/state"
echo "B: -u nobody:nogroup --no-adjust (recvmmsg)"
check_threads "$dir/ntsd.log" "$NOBODY" 0000000000000000 "$seccomp_mode"
chrony_nts "$dir" "B"
stop_ntsd "$dir/ntsd.log"

# --- C: started without CAP_SYS_TIME: nothing kept ----------------------------
dir="$base/c"
mkdir -p "$dir"
no_sys_time_wrapper "$dir/ntsd-no-sys-time" "$NTSD"
NTSD_REAL="$NTSD"
NTSD="$dir/ntsd-no-sys-time"
start_ntsd "$dir/ntsd.log" --ke-port 0 -u nobody:nogroup --state-dir "$dir/state"
NTSD="$NTSD_REAL"
echo "C: without CAP_SYS_TIME"
check_threads "$dir/ntsd.log" "$NOBODY" 0000000000000000 "$seccomp_mode"
stop_ntsd "$dir/ntsd.log"

# --- D: a certificate key nobody cannot read ----------------------------------
dir="$base/d"
mkdir -p "$dir"
make_test_pki "$dir/pki"
chmod 755 "$dir/pki"
chmod 644 "$dir/pki/cert.pem"
chmod 600 "$dir/pki/key.pem"  # root:root 0600: readable at start, not after the drop
cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
nts cert $dir/pki/cert.pem
nts key $dir/pki/key.pem
CONF
start_ntsd "$dir/ntsd.log" -c "$dir/ntp.conf" --ke-port 0 -u nobody:nogroup --state-dir "$dir/state"
echo "D: certificate key not readable by nobody"
grep -q "^ntsd: warning: nts key $dir/pki/key.pem is not readable by uid $NOBODY: certificate reloads will fail" \
  "$dir/ntsd.log" || fail "no start-up warning naming the key: $(cat "$dir/ntsd.log")"
if grep -q "warning: nts cert" "$dir/ntsd.log"; then fail "warned about a readable certificate"; fi
kill -HUP "$NTSD_PID"
wait_for_log "$dir/ntsd.log" '^ntsd: error: SIGHUP: certificate reload failed' 10 || fail "reload did not fail: $(tail -3 "$dir/ntsd.log")"
grep '^ntsd: error: SIGHUP: certificate reload failed' "$dir/ntsd.log" | grep -q "$dir/pki/key.pem" \
  || fail "reload error does not name the key: $(grep 'reload failed' "$dir/ntsd.log")"
echo "  $(grep -o 'warning: nts key [^:]*: [a-z ]*' "$dir/ntsd.log")"
echo "  SIGHUP: $(grep '^ntsd: SIGHUP' "$dir/ntsd.log" | cut -c1-140)…"
chgrp nogroup "$dir/pki/key.pem"
chmod 640 "$dir/pki/key.pem"  # certbot-style root:ntsd 0640
kill -HUP "$NTSD_PID"
wait_for_log "$dir/ntsd.log" '^ntsd: SIGHUP: certificate reloaded' 10 || fail "reload after chmod 640: $(tail -3 "$dir/ntsd.log")"
echo "  after chgrp nogroup + chmod 640: SIGHUP reload works"
stop_ntsd "$dir/ntsd.log"

# --- E: root without -u: a warning; no_new_privs and the filter still apply ---
dir="$base/e"
mkdir -p "$dir"
NTSD_TEST_FORBIDDEN_SYSCALL=1 start_ntsd "$dir/ntsd.log" --ke-port 0 --state-dir "$dir/state"
echo "E: root, no -u"
grep -q '^ntsd: warning: running as root: no -u USER given' "$dir/ntsd.log" || fail "no root warning"
check_threads "$dir/ntsd.log" 0 "" "$seccomp_mode"
if [[ $sanitizer -eq 0 ]]; then
  grep -q 'forbidden syscalls: ptrace=EPERM execve=EPERM socket(AF_PACKET)=EPERM$' "$dir/ntsd.log" \
    || fail "root: forbidden syscalls not refused: $(grep forbidden "$dir/ntsd.log")"
fi
stop_ntsd "$dir/ntsd.log"

# --- F: --no-seccomp: no filter (the hook then sees the kernel's own answers) -
dir="$base/f"
mkdir -p "$dir"
NTSD_TEST_FORBIDDEN_SYSCALL=1 start_ntsd "$dir/ntsd.log" --ke-port 0 -u nobody:nogroup --no-seccomp \
  --state-dir "$dir/state"
echo "F: --no-seccomp"
check_threads "$dir/ntsd.log" "$NOBODY" "$expect_caps" 0
grep -q 'forbidden syscalls: ptrace=ESRCH execve=ENOENT socket(AF_PACKET)=EPERM$' "$dir/ntsd.log" \
  || fail "--no-seccomp: $(grep forbidden "$dir/ntsd.log")"
stop_ntsd "$dir/ntsd.log"

# --- G: state folder rules at start -------------------------------------------
dir="$base/g"
mkdir -p "$dir/open"
chmod 777 "$dir/open"
status=0
timeout 20 "$NTSD" --port 0 --ke-port 0 --state-dir "$dir/open" >"$dir/open.log" 2>&1 || status=$?
[[ $status -eq 1 ]] || fail "a 0777 state folder: exit $status: $(cat "$dir/open.log")"
grep -q "state folder $dir/open has mode 0777 and is writable by group or others; fix: chmod go-w $dir/open" \
  "$dir/open.log" || fail "0777 message: $(cat "$dir/open.log")"
status=0
env -u HOME -u XDG_STATE_HOME timeout 20 "$NTSD" --port 0 --ke-port 0 >"$dir/nohome.log" 2>&1 || status=$?
[[ $status -eq 1 ]] || fail "no HOME: exit $status: $(cat "$dir/nohome.log")"
grep -q 'HOME is not set.*--state-dir DIR' "$dir/nohome.log" || fail "no-HOME message: $(cat "$dir/nohome.log")"
echo "G: state folder 0777 and missing HOME refused with the fix named"
echo PASS
