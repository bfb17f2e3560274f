#!/usr/bin/env bash
# Builds the Debian package: ntsd_VERSION_amd64.deb in OUTDIR (default deploy/deb/dist/).
#
#   deploy/deb/build-deb.sh [OUTDIR]
#
# ntsd and ntsctl are built with `bazel build -c opt` and stripped as
# dh_strip does; dependencies come from dpkg-shlibdeps and the control file
# (with Installed-Size) from dpkg-gencontrol, out of deploy/deb/debian/;
# dpkg-deb builds the archive with root-owned files. The version is the
# changelog's, and must be what `ntsd --version` says. Prints the .deb's path.
# NTSD_BIN_DIR=DIR packages DIR/ntsd and DIR/ntsctl instead of building them.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out="${1:-$repo/deploy/deb/dist}"
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog strip gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool not found: run deploy/setup-dev.sh" >&2; exit 1; }
done

if [[ -n "${NTSD_BIN_DIR:-}" ]]; then
  bin="$NTSD_BIN_DIR"  # ntsd and ntsctl built elsewhere (-c opt)
else
  bazel build -c opt --show_progress_rate_limit=30 //daemon:ntsd //daemon:ntsctl >&2
  bin="$(bazel info -c opt bazel-bin 2>/dev/null)/daemon"
fi

deb_dir="$repo/deploy/deb"
version=$(dpkg-parsechangelog -l "$deb_dir/debian/changelog" -S Version)
built=$("$bin/ntsd" --version | sed -n '1s/^ntsd //p')
[[ "$built" == "$version" ]] || {
  echo "build-deb: ntsd --version says '$built', deploy/deb/debian/changelog '$version': update the changelog" >&2
  exit 1
}
# Reproducible: every timestamp is the changelog's.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$deb_dir/debian/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022
pkg="$work/ntsd"
mkdir -p "$work/debian"
cp "$deb_dir/debian/control" "$deb_dir/debian/changelog" "$work/debian/"

install -d "$pkg/DEBIAN" "$pkg/usr/sbin" "$pkg/etc/ntsd" "$pkg/lib/systemd/system" \
  "$pkg/usr/libexec/ntsd" "$pkg/usr/share/man/man5" "$pkg/usr/share/man/man8" "$pkg/usr/share/doc/ntsd"
for b in ntsd ntsctl; do
  install -m 0755 "$bin/$b" "$pkg/usr/sbin/$b"
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$pkg/usr/sbin/$b"
done
install -m 0644 "$deb_dir/ntp.conf" "$pkg/etc/ntsd/ntp.conf"
install -m 0644 "$repo/deploy/systemd/ntsd.service" "$pkg/lib/systemd/system/ntsd.service"
install -m 0755 "$repo/deploy/certbot/ntsd-deploy-hook" "$pkg/usr/libexec/ntsd/certbot-deploy-hook"
install -m 0644 "$repo/deploy/man/ntsd.conf.5" "$pkg/usr/share/man/man5/"
install -m 0644 "$repo/deploy/man/ntsd.8" "$repo/deploy/man/ntsctl.8" "$pkg/usr/share/man/man8/"
gzip -9n "$pkg"/usr/share/man/man*/*
install -m 0644 "$deb_dir/debian/copyright" "$deb_dir/debian/README.Debian" "$pkg/usr/share/doc/ntsd/"
install -m 0644 "$deb_dir/debian/changelog" "$pkg/usr/share/doc/ntsd/changelog"
gzip -9n "$pkg/usr/share/doc/ntsd/changelog"

install -m 0755 "$deb_dir/debian/postinst" "$deb_dir/debian/prerm" "$deb_dir/debian/postrm" "$pkg/DEBIAN/"
install -m 0644 "$deb_dir/debian/conffiles" "$pkg/DEBIAN/"
(cd "$work" && dpkg-shlibdeps -Tdebian/ntsd.substvars ntsd/usr/sbin/ntsd ntsd/usr/sbin/ntsctl)
(cd "$work" && dpkg-gencontrol -pntsd -Pntsd -Tdebian/ntsd.substvars -fdebian/files)
(cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' \
  | LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$pkg/DEBIAN/md5sums"
find "$pkg" -depth -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

deb="$out/ntsd_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >&2
echo "$deb"
