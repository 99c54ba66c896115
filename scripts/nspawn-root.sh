#!/bin/sh
# scripts/nspawn-root.sh: prints the path of a minimal Debian 12 root that
# boots with systemd-nspawn -b, building it with debootstrap when it is
# missing.  The root is cached outside the clone, under $NSPAWN_CACHE
# (/var/cache/connectd-nspawn), in a directory named after a hash of the
# package list and suite, so CI reuses it and a changed list builds a new
# one.  Never modified after it is built: each boot copies it (see
# scripts/check-systemd).  Root only.
set -eu

NSPAWN_CACHE=${NSPAWN_CACHE:-/var/cache/connectd-nspawn}
SUITE=bookworm
# systemd as PID 1, logind for lingering users, python3 for the test
# clients and targets, passwd for useradd.
PACKAGES="systemd,systemd-sysv,dbus,libpam-systemd,python3,passwd,procps"

# The Debian mirror this machine already uses: the first URIs: line (deb822)
# or deb line naming the main archive, never another host.
mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$f"
	done
	[ -f /etc/apt/sources.list ] &&
		sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
			/etc/apt/sources.list
}
MIRROR=${NSPAWN_MIRROR:-$(mirror | grep -v -- '-security' | head -n 1)}
[ -n "$MIRROR" ] || { echo "nspawn-root: no Debian mirror in /etc/apt" >&2; exit 1; }

key=$(printf '%s %s\n' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)
root=$NSPAWN_CACHE/$SUITE-$key
if [ -x "$root/lib/systemd/systemd" ] && [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi

mkdir -p "$NSPAWN_CACHE"
tmp=$(mktemp -d "$NSPAWN_CACHE/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "nspawn-root: debootstrap $SUITE from $MIRROR into $root" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp/root" \
	"$MIRROR" >"$tmp/debootstrap.log" 2>&1 || {
	tail -n 20 "$tmp/debootstrap.log" >&2
	exit 1
}
# Nothing that waits for a network or a console the container lacks.
rm -f "$tmp/root/etc/systemd/system/getty.target.wants/"* \
	"$tmp/root/etc/systemd/system/multi-user.target.wants/apt-"* 2>/dev/null || true
rm -rf "$tmp/root/var/cache/apt/archives/"*.deb
touch "$tmp/root/.complete"
rm -rf "$root"
mv "$tmp/root" "$root"
echo "$root"
