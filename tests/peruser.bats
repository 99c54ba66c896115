#!/usr/bin/env bats
# Per-user proxies (issue 3): --allow-uid end to end.  Two users made for
# this file (an owner and an other), clients run as each of them (and as
# root) against connectd over loopback TCP (IPv4, IPv6, dual-stack; fd 3,
# inetd and tcpserver), over a unix socket, as the owner's own proxy
# (--allow-uid self), in a user namespace like the one PrivateUsers=yes
# gives the shipped user units, and over UCSPI pipes (no uid to be had).
# Then the shipped user units themselves.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers
load policy_helpers

UNITS=$BATS_TEST_DIRNAME/../units/user

setup_file() {
	((EUID == 0)) || return 0
	export PU_OWNER=cdtest_owner_$$ PU_OTHER=cdtest_other_$$
	add_test_users "$PU_OWNER" "$PU_OTHER"
}

teardown_file() { del_test_users "${PU_OWNER:-}" "${PU_OTHER:-}"; }

setup() {
	common_setup
	# tests that need no users (the unit files) run without root
	if [[ $BATS_TEST_DESCRIPTION != *"user units"* ]]; then
		((EUID == 0)) || skip "needs root to create users and run clients as them"
		id -u "$PU_OWNER" >/dev/null || fail "user $PU_OWNER was not created"
		OWNER_UID=$(id -u "$PU_OWNER")
		OTHER_UID=$(id -u "$PU_OTHER")
	fi
	# a directory every user can reach (the bats one is root's alone)
	PU_DIR=$(mktemp -d /tmp/connectd-peruser.XXXXXX)
	chmod 0755 "$PU_DIR"
	AS=
	CHOST=
	CUNIX=
}

teardown() {
	common_teardown
	[[ -z ${PU_DIR:-} ]] || rm -rf "$PU_DIR"
}

# client [client.py options] (replaces helpers.bash's) : as the user $AS
# (root when empty), to the proxy at $CHOST (default 127.0.0.1):$PPORT, or
# over the unix socket $CUNIX
client() {
	local cmd=("$PY" "$TOOLS/client.py" --host "${CHOST:-127.0.0.1}" --port "$PPORT")
	[[ -z $CUNIX ]] || cmd=("$PY" "$TOOLS/unix_client.py" --unix "$CUNIX")
	[[ -z $AS ]] || cmd=(as_user "$AS" "${cmd[@]}")
	run "${cmd[@]}" ${TPORT:+--tport "$TPORT"} "$@"
}

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'

# owner_only [ROOT_UID] : the owner gets the tunnel; the other user and root
# get 403 uid_not_allowed; the log names each uid (root's as ROOT_UID,
# default 0; the other user's as OTHER_SEEN_AS, default its uid) and the
# target saw only the owner's connection
owner_only() {
	local root_uid=${1:-0} other_uid=${OTHER_SEEN_AS:-$OTHER_UID}
	AS=$PU_OWNER expect_tunnel "$REQ"
	AS=$PU_OTHER expect_error 403 uid_not_allowed "$REQ"
	AS='' expect_error 403 uid_not_allowed "$REQ"
	report_cases
	wait_log 3
	local refused=" user=- target=127.0.0.1:$TPORT addr=- status=403 reason=uid_not_allowed .* tried=-\$"
	expect_count_log 1 ' status=200 '
	expect_count_log 1 " uid=$OWNER_UID user=- target=127.0.0.1:$TPORT .* status=200 "
	if [[ $other_uid == "$root_uid" ]]; then
		expect_count_log 2 " uid=$other_uid$refused"
	else
		expect_count_log 1 " uid=$other_uid$refused"
		expect_count_log 1 " uid=$root_uid$refused"
	fi
	expect_accepts 1
}

@test "--allow-uid OWNER over 127.0.0.1: the owner's tunnel; another user and root get 403" {
	start_ptarget
	start_proxy accept --allow-port "$TPORT" --allow-uid "$PU_OWNER"
	owner_only
}

@test "--allow-uid OWNER over ::1" {
	start_ptarget
	start_proxy accept6 --allow-port "$TPORT" --allow-uid "$PU_OWNER"
	CHOST=::1
	owner_only
}

@test "--allow-uid OWNER on a dual-stack listener: IPv4, v4-mapped and IPv6 clients" {
	[[ $(cat /proc/sys/net/ipv6/bindv6only) == 0 ]] || skip "bindv6only is set"
	start_ptarget
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=accept
	bg proxy isolated "$PY" "$TOOLS/activate.py" --host :: --port-file proxy.port -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT" --allow-uid "$PU_OWNER"
	read_port_file proxy.port PPORT || fail "launcher: $(cat "$PROXY_LOG")"
	local h
	for h in 127.0.0.1 ::ffff:127.0.0.1 ::1; do
		CHOST=$h
		AS=$PU_OWNER expect_tunnel "$REQ"
		AS=$PU_OTHER expect_error 403 uid_not_allowed "$REQ"
	done
	report_cases
	wait_log 6
	expect_count_log 3 " uid=$OWNER_UID .* status=200 "
	expect_count_log 3 " uid=$OTHER_UID .* status=403 reason=uid_not_allowed "
	expect_accepts 3
}

@test "--allow-uid by uid and in lists, under inetd (fd 0) and tcpserver" {
	start_ptarget
	start_proxy_p inetd --allow-port "$TPORT" --allow-uid "4242,$OWNER_UID"
	AS=$PU_OWNER expect_tunnel "$REQ"
	AS=4242 expect_tunnel "$REQ"
	AS=$PU_OTHER expect_error 403 uid_not_allowed "$REQ"
	report_cases
	wait_log 3
	expect_count_log 2 ' status=200 '
	expect_count_log 1 " uid=4242 .* status=200 "
	expect_count_log 1 " uid=$OTHER_UID .* status=403 reason=uid_not_allowed "
	stop_proxy

	start_proxy tcpserver --allow-port "$TPORT" --allow-uid "$PU_OTHER" --allow-uid "$PU_OWNER"
	AS=$PU_OWNER expect_tunnel "$REQ"
	AS=$PU_OTHER expect_tunnel "$REQ"
	AS=4242 expect_error 403 uid_not_allowed "$REQ"
	report_cases
	wait_log 3
	expect_count_log 2 ' status=200 '
	expect_count_log 1 " uid=4242 .* status=403 reason=uid_not_allowed "
	expect_accepts 4
}

_is_socket() { [[ -S $1 ]]; }

@test "--allow-uid OWNER over a unix socket (mode 0666): SO_PEERCRED tells the users apart" {
	start_ptarget
	local sock=$PU_DIR/proxy.sock
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=accept
	bg proxy isolated systemd-socket-activate --accept -l "$sock" -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT" --allow-uid "$PU_OWNER"
	wait_until 10 _is_socket "$sock" || fail "no socket: $(cat "$PROXY_LOG")"
	chmod 0666 "$sock"
	CUNIX=$sock
	owner_only
}

# start_proxy_as USER [connectd args...] : the accept launcher, run as USER
# (the isolation set up as root first); with PU_USERNS=1, inside a user
# namespace that maps only USER's uid, as PrivateUsers=yes does in a user
# unit.  Sets PPORT and PROXY_LOG.
start_proxy_as() {
	local u=$1 ns=()
	shift
	install -d -o "$u" -m 0700 "$PU_DIR/$u"
	((${PU_USERNS:-0} == 0)) || ns=(unshare --user --map-current-user)
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=accept
	bg proxy isolated setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups -- \
		"${ns[@]}" "$PY" "$TOOLS/activate.py" --port-file "$PU_DIR/$u/proxy.port" -- \
		"$CONNECTD" "${LAB_RULES[@]}" "$@"
	read_port_file "$PU_DIR/$u/proxy.port" PPORT || fail "launcher: $(cat "$PROXY_LOG")"
}

@test "--allow-uid self: the uid connectd runs as (the owner's own proxy)" {
	start_ptarget
	start_proxy_as "$PU_OWNER" --allow-port "$TPORT" --allow-uid self
	owner_only
}

@test "--allow-uid self in a user namespace like PrivateUsers=yes: others look like 65534, refused" {
	start_ptarget
	PU_USERNS=1 start_proxy_as "$PU_OWNER" --allow-port "$TPORT" --allow-uid self
	# An unmappable uid is no user: logged as unknown (-), like a pipe.
	OTHER_SEEN_AS=- owner_only -
}

@test "in such a user namespace, an unmappable client is refused even with nobody (65534) allowed" {
	# The kernel reports every uid the namespace cannot map as the overflow
	# uid: it names no user, so it must not match an --allow-uid entry.
	[[ $(cat /proc/sys/kernel/overflowuid) == 65534 ]] || skip "overflowuid is not 65534"
	start_ptarget
	PU_USERNS=1 start_proxy_as "$PU_OWNER" --allow-port "$TPORT" --allow-uid "self,65534"
	OTHER_SEEN_AS=- owner_only -
}

@test "UCSPI pipes with --allow-uid: no uid can be established -> 403 uid_not_allowed" {
	start_ptarget
	run "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi.err --request "$REQ" -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT" --allow-uid 0
	echo "$output"
	cat ucspi.err
	((status == 0))
	has_line 'STATUS 403'
	[[ $(value BODY) == 'uid_not_allowed: '* ]]
	has_line 'EXIT 0'
	grep -aq '^connectd: client=127.0.0.1:5555 uid=- .* status=403 reason=uid_not_allowed .* tried=-$' ucspi.err
	expect_accepts 0
}

@test "--allow-uid: an unknown user name or an empty item is a usage error (exit 2)" {
	run "$CONNECTD" --allow-uid "cdtest_nosuch_$$" </dev/null
	((status == 2))
	[[ $output == *"cdtest_nosuch_$$"* ]]
	run "$CONNECTD" --allow-uid "$PU_OWNER," </dev/null
	((status == 2))
}

# --- the shipped user units ------------------------------------------------

# unit_value FILE KEY : every value of KEY= in FILE, one a line
unit_value() { sed -n "s/^$2=//p" "$1"; }

@test "user units: the unix socket is private, every connection gets its own connectd" {
	local s=$UNITS/connectd.socket
	[[ -f $s && -f $UNITS/connectd@.service ]] || fail "missing user units in $UNITS"
	[[ $(unit_value "$s" ListenStream) == '%t/connectd/proxy.sock' ]]
	[[ $(unit_value "$s" SocketMode) == 0600 ]]
	[[ $(unit_value "$s" DirectoryMode) == 0700 ]]
	[[ $(unit_value "$s" Accept) == yes ]]
	[[ $(unit_value "$s" WantedBy) == sockets.target ]]
	s=$UNITS/connectd-tcp.socket
	[[ $(unit_value "$s" Accept) == yes ]]
	[[ $(unit_value "$s" ListenStream) =~ ^127\.0\.0\.1:[0-9]+$ ]]
}

@test "user units: both services run connectd --allow-uid self, log to the journal, sandboxed" {
	local f exec
	for f in "$UNITS/connectd@.service" "$UNITS/connectd-tcp@.service"; do
		[[ -f $f ]] || fail "missing $f"
		exec=$(unit_value "$f" ExecStart)
		[[ $(wc -l <<<"$exec") == 1 ]] || fail "$f: more than one ExecStart"
		[[ $exec =~ ^/[^\ ]*/connectd\ (.*\ )?--allow-uid\ self(\ |$) ]] ||
			fail "$f: ExecStart without --allow-uid self: $exec"
		[[ $(unit_value "$f" StandardError) == journal ]] || fail "$f: StandardError"
		[[ -z $(unit_value "$f" StandardInput) ]] || fail "$f: StandardInput is set"
		[[ $(unit_value "$f" NoNewPrivileges) == yes ]] || fail "$f: NoNewPrivileges"
		# netlink for the uid of TCP clients, unix for SO_PEERCRED
		[[ $(unit_value "$f" RestrictAddressFamilies) == *AF_NETLINK* ]] || fail "$f: AF_NETLINK"
		[[ $(unit_value "$f" RestrictAddressFamilies) == *AF_UNIX* ]] || fail "$f: AF_UNIX"
		# settings a user manager cannot apply (systemd.exec(5))
		run grep -E '^(DynamicUser|User|Group|CapabilityBoundingSet|AmbientCapabilities|ProtectProc|ProtectControlGroups|RemoveIPC|SecureBits|IPAddressDeny|IPAddressAllow)=' "$f"
		[[ -z $output ]] || fail "$f: not for a user manager:" "$output"
		# file-system namespacing in a user unit needs PrivateUsers=yes
		if grep -qE '^(PrivateTmp|ProtectSystem|ProtectHome|PrivateDevices)=' "$f"; then
			[[ $(unit_value "$f" PrivateUsers) == yes ]] || fail "$f: namespacing without PrivateUsers=yes"
		fi
	done
}

@test "user units: systemd-analyze --user verify is clean" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	local d=$BATS_TEST_TMPDIR/units
	mkdir -p "$d/run"
	chmod 0700 "$d/run"
	cp "$UNITS"/connectd.socket "$UNITS"/connectd@.service "$UNITS"/connectd-tcp.socket \
		"$UNITS"/connectd-tcp@.service "$d/"
	# the binary is not installed here: check the units, not the path
	sed -i 's|^ExecStart=/usr/local/bin/connectd|ExecStart=/bin/true|' "$d"/*.service
	cd "$d"
	run env XDG_RUNTIME_DIR="$d/run" systemd-analyze --user --man=no verify \
		connectd.socket connectd@.service connectd-tcp.socket connectd-tcp@.service
	echo "$output"
	((status == 0))
	[[ -z $output ]]
}
