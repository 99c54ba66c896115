#!/usr/bin/env bats
# peer_uid() where connectd meets it: the connection handed over by
# systemd-socket-activate (fd 3) or inetd (fd 0), the querying process
# unprivileged (nobody), clients as root and as uid 4242 (no passwd entry
# needed), over IPv4, IPv6, a dual-stack listener and AF_UNIX.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=30
load helpers

PEER_CHECK=$BATS_TEST_DIRNAME/tools/peer_check
AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
AS_4242=(setpriv --reuid=4242 --regid=4242 --clear-groups)

# The ASan+UBSan pass of the suite runs the sanitized unit test.
if [[ ${CONNECTD:-} == */build-asan/connectd ]]; then
	PEER_TEST=${CONNECTD%/connectd}/peer_test
else
	PEER_TEST=$BATS_TEST_DIRNAME/unit/peer_test
fi

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES
	[[ -x $PEER_CHECK && -x $PEER_TEST ]] ||
		fail "not built: $PEER_CHECK or $PEER_TEST"
	((EUID == 0)) || skip "needs root to run clients and server as other users"
}

teardown() { common_teardown; }

# serve [--host H] [--inetd] FD : a launcher on port 0 running peer_check
# as nobody per connection; sets PPORT
serve() {
	local args=() fd
	while (($# > 1)); do
		args+=("$1")
		shift
	done
	fd=$1
	bg launcher "$PY" "$TOOLS/activate.py" --port-file port "${args[@]}" -- \
		"${AS_NOBODY[@]}" "$PEER_CHECK" serve "$fd"
	read_port_file port PPORT || fail "launcher did not start: $(cat launcher.err)"
}

@test "unit: peer_test against the kernel (TCP, dual-stack, AF_UNIX, forged tuples, parsing)" {
	run "$PEER_TEST"
	echo "$PEER_TEST"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

# expect_uid WANT CMD... : CMD (a peer_check ask) prints "uid WANT"
expect_uid() {
	local want=$1
	shift
	run "$@"
	[[ $status -eq 0 && $output == "uid $want" ]] ||
		fail "want uid $want from: $*" "got (status $status): $output" \
			"--- launcher: $(cat launcher.err)"
}

@test "fd 3, 127.0.0.1: the client's uid, looked up by an unprivileged proxy" {
	serve 3
	expect_uid 0 "$PEER_CHECK" ask 127.0.0.1 "$PPORT"
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask 127.0.0.1 "$PPORT"
	expect_uid 65534 "${AS_NOBODY[@]}" "$PEER_CHECK" ask 127.0.0.1 "$PPORT"
}

@test "fd 3, ::1: the client's uid" {
	serve --host ::1 3
	expect_uid 0 "$PEER_CHECK" ask ::1 "$PPORT"
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask ::1 "$PPORT"
}

@test "fd 3, dual-stack [::]: IPv4, v4-mapped and IPv6 clients" {
	[[ $(cat /proc/sys/net/ipv6/bindv6only) == 0 ]] || skip "bindv6only is set"
	serve --host :: 3
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask 127.0.0.1 "$PPORT"
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask ::ffff:127.0.0.1 "$PPORT"
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask ::1 "$PPORT"
}

@test "fd 0 (inetd): the client's uid" {
	serve --inetd 0
	expect_uid 0 "$PEER_CHECK" ask 127.0.0.1 "$PPORT"
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask 127.0.0.1 "$PPORT"
}

_unix_up() { "$PEER_CHECK" ask-unix "$1" >/dev/null 2>&1; }

@test "fd 3, AF_UNIX: SO_PEERCRED" {
	local sock="@connectd-peer-bats.$$.$BATS_TEST_NUMBER"
	bg launcher systemd-socket-activate --accept -l "$sock" -- \
		"${AS_NOBODY[@]}" "$PEER_CHECK" serve 3
	wait_until 10 _unix_up "$sock" || fail "no listener: $(cat launcher.err)"
	expect_uid 0 "$PEER_CHECK" ask-unix "$sock"
	expect_uid 4242 "${AS_4242[@]}" "$PEER_CHECK" ask-unix "$sock"
}
