#!/usr/bin/env bats
# The shipped systemd units, checked by systemd itself: systemd-analyze
# verify on every unit as installed (so the binary they name exists), and
# systemd-analyze security --offline=yes on every service unit against the
# exposure recorded below, so that no change loosens a unit unnoticed.
# Socket units have no exposure score (systemd-analyze rates services only).
# Under a booted systemd the units are exercised by make check-systemd.

load helpers

BATS_TEST_TIMEOUT=120

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	mkdir -p -m 0700 "$BATS_TEST_TMPDIR/run"
	export XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/run
}

# The highest exposure each service may score, as systemd-analyze prints it
# (0.0 best, 10.0 worst).  connectd@.service keeps only the options that
# cost an activation little ("systemd units" in connectd(8)), and connectd confines
# itself; connectd-fast.service pays for systemd's full sandbox once, at
# start; the user units keep what a user manager can apply.
declare -gA EXPOSURE=(
	[connectd@.service]=6.5
	[connectd-fast.service]=1.1
	[user/connectd@.service]=4.6
	[user/connectd-tcp@.service]=4.6
)

# exposure UNITFILE : the overall exposure systemd-analyze gives the unit
exposure() {
	local f=$1 user=
	[[ $f == */user/* ]] && user=--user
	(cd "$(dirname "$f")" &&
		systemd-analyze $user security --offline=yes --man=no "$(basename "$f")") |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

@test "security: every shipped service unit is at or below its recorded exposure" {
	local f u got n=0
	for f in "$top"/units/*.service "$top"/units/user/*.service; do
		u=${f#"$top/units/"}
		[[ -n ${EXPOSURE[$u]:-} ]] || fail "$u: no exposure recorded in tests/units.bats"
		got=$(exposure "$f")
		[[ -n $got ]] || fail "$u: systemd-analyze security gave no score"
		echo "$u: $got (at most ${EXPOSURE[$u]})"
		awk -v g="$got" -v m="${EXPOSURE[$u]}" 'BEGIN { exit !(g <= m) }' ||
			fail "$u: exposure $got is above ${EXPOSURE[$u]}"
		((++n))
	done
	((n == ${#EXPOSURE[@]})) || fail "recorded ${#EXPOSURE[@]} units, found $n"
}

@test "security: connectd-fast.service pays for the full sandbox, 1.1 or better" {
	local got
	got=$(exposure "$top/units/connectd-fast.service")
	echo "connectd-fast.service: $got"
	awk -v g="$got" 'BEGIN { exit !(g <= 1.1) }'
}

@test "verify: systemd-analyze verify is clean on every unit as installed" {
	local p=$BATS_TEST_TMPDIR/prefix
	# no DESTDIR: the binary really is at the path the units name; and no
	# system user made on this machine
	make -s --no-print-directory -C "$top" install PREFIX="$p" UNITDIR="$p/sys" \
		USERUNITDIR="$p/user" SYSUSERSDIR="$p/sysusers" SYSUSERS= >/dev/null
	cd "$p/sys"
	run systemd-analyze --man=no verify connectd.socket connectd@.service \
		connectd-fast.socket connectd-fast.service
	echo "$output"
	((status == 0))
	[[ -z $output ]]
	cd "$p/user"
	run systemd-analyze --user --man=no verify connectd.socket connectd@.service \
		connectd-tcp.socket connectd-tcp@.service
	echo "$output"
	((status == 0))
	[[ -z $output ]]
	# and it does look at the binary
	rm "$p/bin/connectd"
	cd "$p/sys"
	run systemd-analyze --man=no verify connectd@.service
	[[ $output == *"$p/bin/connectd"* ]]
}
