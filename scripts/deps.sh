#!/bin/sh
# Installs the Debian packages a profile needs, only those missing, and only
# as root; otherwise prints the exact apt-get line and fails.
#   scripts/deps.sh build   compiler, libsystemd, systemd-socket-activate
#   scripts/deps.sh check   build + everything the test suite talks to,
#                           the clients of tests/clients.bats included
#   scripts/deps.sh bench   build + the peers and tools of make bench
#   scripts/deps.sh systemd build + systemd-nspawn and debootstrap for
#                           make check-systemd
set -eu

# check: libnss-myhostname and libnss-mymachines give this machine the hosts
# line of any Debian host with systemd-container installed the usual way
# (mymachines is its Recommends): "files myhostname mymachines dns".  The
# suite runs under it, and tests/nss-pass adds resolve.  dnsmasq-base:
# make bench's DNS server for names.
build="gcc make pkg-config libc6-dev libsystemd-dev libcrypt-dev systemd"
check="$build bats curl openssl netcat-openbsd python3 xinetd ucspi-tcp
	mandoc clang valgrind iproute2 procps util-linux passwd nftables
	socat wget openssh-server openssh-client git nodejs golang-go chromium
	firefox-esr libnss3-tools stunnel4 haproxy squid
	systemd-container libnss-mymachines libnss-myhostname"
bench="$build tinyproxy squid apache2 gnuplot-nox procps util-linux
	dnsmasq-base"
systemd="$build systemd-container debootstrap"

case "${1:-}" in
build) want=$build ;;
check) want=$check ;;
bench) want=$bench ;;
systemd) want=$systemd ;;
*) echo "usage: scripts/deps.sh build|check|bench|systemd" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
# npm comes with nodejs from NodeSource, a package of its own in Debian
# (which conflicts with NodeSource's nodejs): only wanted when missing.
case " $want " in
*" nodejs "*) command -v npm >/dev/null || missing="$missing npm" ;;
esac
[ -z "$missing" ] && exit 0

line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "connectd needs these Debian packages; as root run:" >&2
	echo "  $line" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once.
apt-get update -qq </dev/null
$line -qq </dev/null
# bench/run starts its own tinyproxy, squid and apache2 on loopback,
# tests/clients.bats its own sshd, tests/proxyproto.bats and
# tests/scaleout.bats their own haproxy (scaleout.bats also needs iproute2's
# ip netns, veth and bridge links, and socat for HAProxy's runtime socket),
# tests/upstream.bats its own squid (with basic_ncsa_auth, in the package),
# in the foreground: the services that
# installing them just started are not wanted.
for ps in tinyproxy:tinyproxy squid:squid apache2:apache2 apache2:apache-htcacheclean openssh-server:ssh haproxy:haproxy; do
	p=${ps%%:*} s=${ps#*:}
	case " $missing " in *" $p "*) ;; *) continue ;; esac
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		systemctl disable --now "$s" >/dev/null 2>&1 || true
	fi
done
