#!/usr/bin/env bash
# CI for the Debian package (issue 15 item 2), called by deploy/test.sh:
#   1. deploy/deb/build-deb.sh builds ntsd_VERSION_amd64.deb (bazel -c opt);
#   2. lintian: no error and no warning (deploy/README.md lists what is left);
#   3. dpkg installs it into a throwaway root (--root, maintainer scripts run
#      chrootless with DPKG_ROOT): files, the ntsd system user, state and log
#      folders, the unit enabled as deb-systemd-helper does;
#   4. systemd-analyze verify on the installed unit (with the installed
#      binaries and man pages in place) and security --threshold;
#   5. in a private mount namespace, chroot into the root (the host's
#      libraries and tools bound read-only): the installed `ntsd --check` on
#      the installed /etc/ntsd/ntp.conf fails while the certificate is
#      missing, passes once a certbot-style lineage exists and the installed
#      deploy hook made its key root:ntsd 0640, fails again with the key
#      world-readable; then ntsd starts as the unit starts it (user ntsd,
#      ambient CAP_NET_BIND_SERVICE, no CAP_SYS_TIME, --no-adjust, free
#      ports) and the installed ntsctl reads its status over /run/ntsd;
#   6. purge: files, state and enablement gone, the user kept.
# Nothing touches the host outside a temp folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "needs root (dpkg --root with owners, chroot, mount namespace)"
for tool in lintian dpkg systemd-analyze unshare chroot setpriv openssl; do
  command -v "$tool" >/dev/null || fail "$tool not found: run deploy/setup-dev.sh"
done

work=$(mktemp -d /tmp/ntsd-deb-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

echo "--- build"
deb=$(deploy/deb/build-deb.sh "$work/out")
[[ -f "$deb" && "$(basename "$deb")" =~ ^ntsd_[0-9.]+_amd64\.deb$ ]] || fail "no package: $deb"
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

echo "--- lintian"
lintian --fail-on error,warning --display-info --tag-display-limit 0 "$deb" | tee "$work/lintian.out" \
  || fail "lintian: $(cat "$work/lintian.out")"

echo "--- dpkg --root"
root="$work/root"
mkdir -p "$root"/{etc,var/lib/dpkg/{info,updates,triggers},var/log,usr/{bin,sbin,lib,lib64,share},run,dev,proc,sys,tmp}
chmod 1777 "$root/tmp"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done  # Debian 12's merged /usr
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nadm:x:4:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
printf 'root:*::\nadm:*::\nnogroup:*::\n' >"$root/etc/gshadow"
chmod 640 "$root/etc/shadow" "$root/etc/gshadow"
cp /etc/login.defs "$root/etc/"
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$root/etc/nsswitch.conf"
dpkg_root() { dpkg --root="$root" --log="$root/var/log/dpkg.log" --force-script-chrootless --force-depends "$@"; }
dpkg_root -i "$deb" || fail "dpkg -i into $root failed"
[[ $(dpkg-query --root="$root" -W -f='${Status} ${Version}' ntsd) == "install ok installed "* ]] \
  || fail "not installed: $(dpkg-query --root="$root" -W -f='${Status}' ntsd)"
for f in usr/sbin/ntsd usr/sbin/ntsctl usr/lib/systemd/system/ntsd.service etc/ntsd/ntp.conf \
  usr/libexec/ntsd/certbot-deploy-hook usr/share/man/man8/ntsd.8.gz usr/share/man/man8/ntsctl.8.gz \
  usr/share/man/man5/ntsd.conf.5.gz usr/share/doc/ntsd/copyright; do
  [[ -e "$root/$f" ]] || fail "/$f not installed"
done
IFS=: read -r _ _ uid gid _ home shell < <(grep '^ntsd:' "$root/etc/passwd") || fail "no user ntsd"
(( uid > 0 && uid < 1000 )) || fail "ntsd is not a system user: uid $uid"
grep -q "^ntsd:x:$gid:" "$root/etc/group" || fail "group ntsd is not ntsd's primary group"
[[ "$home" == /var/lib/ntsd && "$shell" == /usr/sbin/nologin ]] || fail "ntsd's home/shell: $home $shell"
[[ $(stat -c '%a %u %g' "$root/var/lib/ntsd") == "700 $uid $gid" ]] || fail "/var/lib/ntsd: $(stat -c '%a %u %g' "$root/var/lib/ntsd")"
[[ $(stat -c '%a %u %g' "$root/var/log/ntsd") == "750 $uid $gid" ]] || fail "/var/log/ntsd: $(stat -c '%a %u %g' "$root/var/log/ntsd")"
[[ $(readlink "$root/etc/systemd/system/multi-user.target.wants/ntsd.service") == /lib/systemd/system/ntsd.service ]] \
  || fail "ntsd.service not enabled: $(ls -lR "$root/etc/systemd" 2>&1)"
grep -qx /etc/ntsd/ntp.conf "$root/var/lib/dpkg/info/ntsd.conffiles" || fail "ntp.conf is not a conffile"
echo "installed: user ntsd (uid $uid), /var/lib/ntsd 0700, /var/log/ntsd 0750, unit enabled"

echo "--- systemd-analyze"
unit="$root/usr/lib/systemd/system/ntsd.service"
unshare --mount --propagation private bash -c '
  set -e
  mount --bind "$1/usr/sbin" /usr/sbin   # the installed ntsd where the unit names it
  MANPATH="$1/usr/share/man" systemd-analyze verify "$2"' _ "$root" "$unit" || fail "systemd-analyze verify"
echo "systemd-analyze verify: ok"
systemd-analyze security --offline=true --threshold=30 "$unit" | tail -1 \
  || fail "systemd-analyze security: exposure above 3.0"

echo "--- in the root"
run_in_root() {
  unshare --mount --propagation private bash -s -- "$root" "$uid" "$gid" <<'IN_ROOT'
set -euo pipefail
root="$1" uid="$2" gid="$3"
fail() { echo "FAIL: $*" >&2; exit 1; }
# The host's libraries, tools and time zones, read-only; nothing else.
for d in usr/bin usr/lib/x86_64-linux-gnu usr/lib64 usr/share/zoneinfo usr/lib/ssl; do
  [[ -e "/$d" ]] || continue
  mkdir -p "$root/$d"
  mount --bind "/$d" "$root/$d"
  mount -o remount,bind,ro "$root/$d"
done
touch "$root/dev/null" "$root/dev/urandom"
mount --bind /dev/null "$root/dev/null"
mount --bind /dev/urandom "$root/dev/urandom"
mount -t proc proc "$root/proc"
mount --bind /sys "$root/sys"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin HOME=/root "$@"; }

# A fresh install: the certificate the default configuration names is missing.
rc=0; in_root ntsd --check -c /etc/ntsd/ntp.conf >"$root/tmp/check0.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "--check without a certificate: exit $rc: $(cat "$root/tmp/check0.out")"
grep -q 'nts cert /etc/letsencrypt/live/ntp.example.com/fullchain.pem: No such file or directory' \
  "$root/tmp/check0.out" || fail "--check without a certificate: $(cat "$root/tmp/check0.out")"

# What `certbot certonly -d ntp.example.com` writes, then its deploy hook.
le="$root/etc/letsencrypt"
mkdir -p "$le/archive/ntp.example.com" "$le/live/ntp.example.com"
chmod 700 "$le/archive" "$le/live"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=ntp.example.com \
  -keyout "$le/archive/ntp.example.com/privkey1.pem" -out "$le/archive/ntp.example.com/fullchain1.pem" \
  >/dev/null 2>&1 || fail "openssl"
chmod 600 "$le/archive/ntp.example.com/privkey1.pem"
ln -s ../../archive/ntp.example.com/privkey1.pem "$le/live/ntp.example.com/privkey.pem"
ln -s ../../archive/ntp.example.com/fullchain1.pem "$le/live/ntp.example.com/fullchain.pem"
in_root env RENEWED_LINEAGE=/etc/letsencrypt/live/ntp.example.com /usr/libexec/ntsd/certbot-deploy-hook \
  >"$root/tmp/hook.out" 2>&1 || fail "deploy hook: $(cat "$root/tmp/hook.out")"
cat "$root/tmp/hook.out"
[[ $(stat -c '%a %g' "$le/archive/ntp.example.com/privkey1.pem") == "640 $gid" ]] || fail "key not root:ntsd 0640"

in_root ntsd --check -c /etc/ntsd/ntp.conf >"$root/tmp/check1.out" 2>&1 \
  || fail "--check on the installed configuration: $(cat "$root/tmp/check1.out")"
cat "$root/tmp/check1.out"
grep -q '^NTS server: on (nts cert + nts key)' "$root/tmp/check1.out" || fail "NTS not on"
grep -q "daemon user: ntsd\|uid $uid" "$root/tmp/check1.out" || fail "--check did not check as ntsd"

chmod 644 "$le/archive/ntp.example.com/privkey1.pem"
rc=0; in_root ntsd --check -c /etc/ntsd/ntp.conf >"$root/tmp/check2.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] && grep -q 'privkey.pem is readable by every user (mode 0644' "$root/tmp/check2.out" \
  || fail "world-readable key: exit $rc: $(cat "$root/tmp/check2.out")"
chmod 640 "$le/archive/ntp.example.com/privkey1.pem"

# As the unit starts it: user ntsd with ambient CAP_NET_BIND_SERVICE (no
# CAP_SYS_TIME here: measure-only), /run/ntsd made as RuntimeDirectory= does.
install -d -o "$uid" -g "$gid" -m 0750 "$root/run/ntsd"
chroot "$root" env -i PATH=/usr/sbin:/usr/bin setpriv --reuid=ntsd --regid=ntsd --init-groups \
  --bounding-set=-all,+net_bind_service --inh-caps=-all,+net_bind_service --ambient-caps=+net_bind_service \
  /usr/sbin/ntsd -c /etc/ntsd/ntp.conf --no-adjust --port 0 --ke-port 0 --workers 1 >"$root/tmp/ntsd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q '^ntsd: ready' "$root/tmp/ntsd.log" && break
  kill -0 $pid 2>/dev/null || fail "installed ntsd exited: $(cat "$root/tmp/ntsd.log")"
  sleep 0.1
done
grep -q '^ntsd: ready' "$root/tmp/ntsd.log" || { kill $pid; fail "installed ntsd not ready: $(cat "$root/tmp/ntsd.log")"; }
status=0; in_root ntsctl status >"$root/tmp/status.out" 2>&1 || status=$?
kill -TERM $pid; wait $pid || fail "installed ntsd did not stop cleanly: $(cat "$root/tmp/ntsd.log")"
[[ $status -eq 0 ]] || fail "ntsctl status: exit $status: $(cat "$root/tmp/status.out")"
grep -E '^privileges: |^ntsd: privileges: ' "$root/tmp/ntsd.log" || true
cat "$root/tmp/status.out"
[[ -f "$root/var/lib/ntsd/keyseed" && $(stat -c '%u %a' "$root/var/lib/ntsd/keyseed") == "$uid 600" ]] \
  || fail "no keyseed of ntsd's in /var/lib/ntsd: $(ls -la "$root/var/lib/ntsd")"
IN_ROOT
}
run_in_root || fail "in the root"

echo "--- purge"
dpkg_root --purge ntsd || fail "dpkg --purge"
for f in usr/sbin/ntsd etc/ntsd/ntp.conf var/lib/ntsd var/log/ntsd etc/systemd/system/multi-user.target.wants/ntsd.service; do
  [[ ! -e "$root/$f" ]] || fail "/$f left after purge"
done
grep -q '^ntsd:' "$root/etc/passwd" || fail "the ntsd user was removed"
echo "PASS: $(basename "$deb") ($(stat -c %s "$deb") bytes) builds, is lintian-clean, installs, verifies, checks, runs and purges"
