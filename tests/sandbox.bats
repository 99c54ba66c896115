#!/usr/bin/env bats
# The in-process sandbox (issue 10): every connectd confines itself before
# it reads a request, under every launcher; the high-rate parent and each
# child have their own filters; a forbidden call is logged and kills the
# process; Landlock leaves only the files connectd reads; a kernel without
# a feature --sandbox requires gets a refusal, never an unconfined proxy.
#
# What the filter refuses is shown with tools/sandbox_check, which links
# connectd's own sandbox.c and makes one call after confining itself: no
# test-only way into connectd.  tools/nofeature plays a kernel without
# Landlock or without seccomp filters.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=120
bats_require_minimum_version 1.5.0
load helpers

CHECK=$BATS_TEST_DIRNAME/tools/sandbox_check
NOFEATURE=$BATS_TEST_DIRNAME/tools/nofeature
VIOLATE=$BATS_TEST_DIRNAME/tools/violate.so
REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

setup() {
	common_setup
	[[ -x $CHECK && -x $NOFEATURE && -e $VIOLATE ]] ||
		fail "not built: $CHECK, $NOFEATURE or $VIOLATE (make check builds them)"
}

teardown() { common_teardown; }

# idle_client : a client that connects to the proxy and sends nothing, so
# its connectd waits for the request, already confined
idle_client() {
	bg idle "$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' "$PPORT"
}

# status_field PID FIELD : a field of /proc/PID/status
status_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# expect_confined PID FILTERS : PID has no_new_privs, FILTERS seccomp
# filters, 64 descriptors at most and no core file
expect_confined() {
	local pid=$1
	grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters):' "/proc/$pid/status"
	grep -E '^Max (open files|core file size)' "/proc/$pid/limits"
	[[ $(status_field "$pid" NoNewPrivs) == 1 ]] || fail "$pid: no no_new_privs"
	[[ $(status_field "$pid" Seccomp) == 2 ]] || fail "$pid: no seccomp filter"
	[[ $(status_field "$pid" Seccomp_filters) == "$2" ]] ||
		fail "$pid: $(status_field "$pid" Seccomp_filters) filters, want $2"
	grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits" || fail "$pid: core files allowed"
}

_has_child() { [[ -n $(pgrep -P "$1") ]]; }

# expect_killed_for NR : the last run was killed by SIGSYS and logged NR
expect_killed_for() {
	echo "status $status: $output"
	((status == 128 + 31)) || fail "not killed by SIGSYS"
	[[ ${lines[0]} == applied ]] || fail "the sandbox was not applied"
	grep -q "^connectd: sandbox: forbidden system call $1: killed$" <<<"$output" ||
		fail "no log line for system call $1"
	((${#lines[@]} == 2)) || fail "the forbidden call came back"
}

# wrap_connectd BODY : point CONNECTD at a script that execs BODY "$@"
# with the real connectd as its last word (the PID stays the same)
wrap_connectd() {
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$1" "$CONNECTD" >"$BATS_TEST_TMPDIR/wrapped"
	chmod +x "$BATS_TEST_TMPDIR/wrapped"
	CONNECTD=$BATS_TEST_TMPDIR/wrapped
}

# refused_without FEATURE LAUNCHER MODE LOG_RE : on a kernel without
# FEATURE, connectd under LAUNCHER answers 500, logs LOG_RE and exits 1;
# with --sandbox=MODE it serves
refused_without() {
	start_target echo
	wrap_connectd "$NOFEATURE $1"
	start_proxy "$2" --allow-port "$TPORT"
	expect_error 500 internal_error "$REQ"
	CASES_RUN=0
	wait_log 1
	log_lines | grep -q "$4" || fail "$(cat "$PROXY_LOG")"
	grep -q ' died with code 1$' "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
	common_teardown || true
	start_target echo
	start_proxy "$2" --allow-port "$TPORT" "--sandbox=$3"
	expect_tunnel "$REQ"
	report_cases
}

@test "every launcher: connectd waits for the request already confined (no_new_privs, one filter, 64 fds, no core)" {
	local launcher pid
	start_target echo
	for launcher in accept inetd inetd-fd2 tcpserver xinetd; do
		echo "# $launcher"
		start_proxy "$launcher" --allow-port "$TPORT"
		idle_client
		wait_connectd_count 1
		pid=$(connectd_pids)
		# the launcher's own limit was higher: 64 is ours
		grep -Eq '^Max open files +64 +64 ' "/proc/$pid/limits" || fail "$launcher: not 64 fds"
		expect_confined "$pid" 1
		common_teardown || true
		start_target echo
	done
}

@test "a tunnel through the confined connectd works, with a name to resolve and --allow-uid and --auth-file to read" {
	start_target echo
	printf 'alice:%s\n' "$("$PY" "$TOOLS/hashpw.py" yescrypt secret)" >users
	chmod 600 users
	start_proxy accept --sandbox=full --allow-port "$TPORT" --allow-uid 0 \
		--auth-file "$BATS_TEST_TMPDIR/users"
	expect_tunnel "CONNECT localhost:{T} HTTP/1.1\r\nHost: localhost:{T}\r\nProxy-Authorization: Basic $(printf alice:secret | base64)\r\n\r\n"
	report_cases
	wait_log 1
	log_lines | grep -q ' uid=0 user=alice .*status=200 ' || fail "$(cat "$PROXY_LOG")"
}

# _children_titled PID ERE : children of PID whose title matches ERE
_children_titled() {
	local k
	for k in $(pgrep -P "$1"); do
		grep -Eqa -- "$2" "/proc/$k/cmdline" 2>/dev/null && echo "$k"
	done
	true
}

# _serving_child PID : PID has a child serving a client; sets SERVING
_serving_child() {
	SERVING=$(_children_titled "$1" '\[(request|dialing|tunnel)\]' | head -n 1)
	[[ -n $SERVING ]]
}

@test "high-rate mode: the parent has the listener's filter, each child adds the connection's" {
	start_target echo
	local pf=$BATS_TEST_TMPDIR/server.port parent child
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	# activate.py --direct execs connectd: the PID stays the same
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	bg server "$PY" "$TOOLS/activate.py" --direct --port-file "$pf" -- \
		"$CONNECTD" --fork "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} --allow-port "$TPORT"
	parent=$BG_PID
	read_port_file "$pf" PPORT || fail "no listener: $(cat "$PROXY_LOG")"
	idle_client
	wait_until 10 _serving_child "$parent" || fail "no child: $(cat "$PROXY_LOG")"
	child=$SERVING
	expect_confined "$parent" 1
	expect_confined "$child" 2
	# a spare waiting in accept(2) has read nothing: the listener's alone
	local spare
	spare=$(_children_titled "$parent" '\[spare\]' | head -n 1)
	[[ -n $spare ]] || fail "no spare waits"
	expect_confined "$spare" 1
	grep -Eq '^Max open files +64 +64 ' "/proc/$child/limits" || fail "child: not 64 fds"
	expect_tunnel "$REQ"
	report_cases
}

@test "a forbidden call is logged and kills: execve, a packet socket, fork, a write open, an x32 call" {
	run "$CHECK" execve
	expect_killed_for 59
	run "$CHECK" packet-socket
	expect_killed_for 41
	run "$CHECK" fork
	expect_killed_for 56
	run "$CHECK" write "$BATS_TEST_TMPDIR/new"
	expect_killed_for 257
	[[ ! -e $BATS_TEST_TMPDIR/new ]] || fail "the file was made"
	run "$CHECK" x32
	expect_killed_for $((0x40000000 + 39))
}

@test "signals: to itself allowed, to another process killed and the other process untouched" {
	run "$CHECK" raise
	echo "$output"
	((status == 0)) && [[ ${lines[1]} == 'raise ok' ]]
	bg victim sleep 30
	local victim=$BG_PID
	kill -STOP "$victim"
	run "$CHECK" kill "$victim"
	expect_killed_for 234
	grep -q '^State:.*stopped' "/proc/$victim/status" || fail "the victim got the signal"
	kill -CONT "$victim"
}

@test "roles: the listener may fork, a connection may not; an inet socket is fine in both" {
	run "$CHECK" -l fork
	echo "$output"
	((status == 0)) && [[ ${lines[1]} == 'fork ok' ]]
	run "$CHECK" inet-socket
	((status == 0)) && [[ ${lines[1]} == 'socket ok' ]]
	run "$CHECK" -l inet-socket
	((status == 0)) && [[ ${lines[1]} == 'socket ok' ]]
}

@test "Landlock: the resolver's files and --auth-file read, nothing else (/etc/shadow, a file beside it)" {
	echo secret >allowed
	echo other >beside
	run "$CHECK" read /etc/hosts
	echo "$output"
	[[ ${lines[1]} == 'open ok' ]]
	run "$CHECK" read /etc/shadow
	echo "$output"
	[[ ${lines[1]} == 'open Permission denied' ]]
	run "$CHECK" -A "$BATS_TEST_TMPDIR/allowed" read "$BATS_TEST_TMPDIR/allowed"
	echo "$output"
	[[ ${lines[1]} == 'open ok' ]]
	run "$CHECK" -A "$BATS_TEST_TMPDIR/allowed" read "$BATS_TEST_TMPDIR/beside"
	echo "$output"
	[[ ${lines[1]} == 'open Permission denied' ]]
	# the listener reads the directory, so that its children see a file
	# replaced by rename(2)
	run "$CHECK" -l -A "$BATS_TEST_TMPDIR/allowed" read "$BATS_TEST_TMPDIR/beside"
	echo "$output"
	[[ ${lines[1]} == 'open ok' ]]
	# /proc only with --allow-uid
	run "$CHECK" read /proc/self/uid_map
	[[ ${lines[1]} == 'open Permission denied' ]]
	run "$CHECK" -u read /proc/self/uid_map
	[[ ${lines[1]} == 'open ok' ]]
}

@test "the violation goes to syslog when fd 2 is no place for it" {
	printf 'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind("/dev/log")\nopen(sys.argv[1], "w").close()\nopen(sys.argv[2], "wb").write(s.recv(1024))\n' >syslogd.py
	# a private /dev with a syslog socket of our own
	run unshare -m sh -c 'mount -t tmpfs tmpfs /dev &&
		"$0" syslogd.py ready got & i=0
		while [ ! -e ready ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
		"$1" -s execve 2>stderr; echo "exit $?"; wait' "$PY" "$CHECK"
	echo "$output"
	cat got
	has_line 'exit 159'
	grep -Eq '^<27>connectd\[[0-9]+\]: sandbox: forbidden system call 59: killed$' got
	! grep -a connectd stderr || fail "wrote to fd 2"
}

# full_refused_without KIND LOG_RE : where Landlock is KIND (a nofeature
# mode), --sandbox=full answers 500, logs LOG_RE and exits 1
full_refused_without() {
	start_target echo
	wrap_connectd "$NOFEATURE $1"
	start_proxy accept --sandbox=full --allow-port "$TPORT"
	expect_error 500 internal_error "$REQ"
	CASES_RUN=0 # (report_cases would want exit 0)
	wait_log 1
	log_lines | grep -q "$2" || fail "$(cat "$PROXY_LOG")"
	grep -q ' died with code 1$' "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
}

@test "--sandbox=full where Landlock is disabled at boot: 500, and the log says add it to lsm=" {
	full_refused_without landlock \
		'^connectd: sandbox: the kernel has Landlock, disabled at boot: add landlock to lsm=, or run with --sandbox=auto; not serving$'
}

@test "--sandbox=full on a kernel without Landlock: 500, and the log says the kernel lacks it" {
	full_refused_without landlock-absent \
		'^connectd: sandbox: the kernel has no Landlock (Function not implemented): it needs Linux 5.13 .*--sandbox=auto; not serving$'
}

@test "--sandbox=full where a container refuses Landlock's calls (EPERM): 500, and the log tells a refusal from a missing kernel" {
	full_refused_without landlock-refused \
		"^connectd: sandbox: Landlock's calls were refused (Operation not permitted): a seccomp filter of the container .*--sandbox=auto; not serving\$"
}

@test "by default (auto), wherever Landlock is missing: tunnels served under the seccomp filter, and each log line says why" {
	local kind pid why real=$CONNECTD
	for kind in landlock landlock-absent landlock-refused; do
		echo "# $kind"
		start_target echo
		CONNECTD=$real
		wrap_connectd "$NOFEATURE $kind"
		start_proxy accept --allow-port "$TPORT"
		expect_tunnel "$REQ"
		report_cases
		wait_log 1
		case $kind in
		landlock) why=disabled ;;
		landlock-absent) why=absent ;;
		landlock-refused) why=refused ;;
		esac
		log_lines | grep -q " status=200 .* landlock=$why " || fail "$kind: $(log_lines)"
		# confined all the same: no_new_privs and our filter over nofeature's
		idle_client
		wait_connectd_count 1
		pid=$(connectd_pids)
		expect_confined "$pid" 2
		# and no warning line per connection: the field says it
		! grep -a 'sandbox:' "$PROXY_LOG" || fail "a warning per connection"
		common_teardown || true
	done
}

@test "where Landlock works, the log line has no landlock= field" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	expect_tunnel "$REQ"
	report_cases
	wait_log 1
	! log_lines | grep -q ' landlock=' || fail "$(log_lines)"
}

@test "a kernel without seccomp filters: 500 and a log line; --sandbox=off serves" {
	refused_without seccomp inetd off \
		'^connectd: sandbox: seccomp filter: Invalid argument (a kernel without CONFIG_SECCOMP_FILTER); run with --sandbox=off to serve unconfined; not serving$'
}

@test "high-rate mode, --sandbox=full, where a container refuses Landlock: the parent does not start, exit 1" {
	local port
	port=$(free_port)
	wrap_connectd "$NOFEATURE landlock-refused"
	run timeout 10 "$CONNECTD" --listen "127.0.0.1:$port" --sandbox=full
	echo "$output"
	((status == 1))
	[[ $output == *"sandbox: Landlock's calls were refused (Operation not permitted)"* ]]
}

@test "high-rate mode by default where a container refuses Landlock: says so once at start, then serves confined" {
	start_target echo
	wrap_connectd "$NOFEATURE landlock-refused"
	PPORT=$(free_port)
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	bg server "$CONNECTD" --listen "127.0.0.1:$PPORT" "${LAB_RULES[@]}" --allow-port "$TPORT"
	wait_until 10 _has_child "$BG_PID" || fail "no spare: $(cat "$PROXY_LOG")"
	local i
	for i in 1 2 3; do
		expect_tunnel "$REQ"
	done
	report_cases
	wait_log 3
	(($(grep -ac 'sandbox: no Landlock (refused); serving under the seccomp filter alone' "$PROXY_LOG") == 1)) ||
		fail "not said exactly once: $(cat "$PROXY_LOG")"
	(($(log_lines | grep -c ' status=200 .* landlock=refused ') == 3)) || fail "$(log_lines)"
	# the parent under nofeature's filter and its own
	expect_confined "$BG_PID" 2
}

@test "--sandbox takes auto, full, seccomp or off; anything else is a usage error" {
	run "$CONNECTD" --sandbox=strict
	echo "$output"
	((status == 2))
	[[ $output == *'--sandbox strict: not auto, full, seccomp or off'* ]]
}

# listen_violable [connectd args...] : connectd --listen on a free port with
# tools/violate.so preloaded (ASan allows a library before its runtime);
# sets SERVER_PID, PPORT, PROXY_LOG
listen_violable() {
	PPORT=$(free_port)
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	bg server env LD_PRELOAD="$VIOLATE" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$CONNECTD" --listen "127.0.0.1:$PPORT" "${LAB_RULES[@]}" \
		${CONNECTD_EXTRA:-} "$@"
	SERVER_PID=$BG_PID
	wait_until 10 _listening "$PPORT" || fail "no listener: $(cat "$PROXY_LOG")"
}

# violation_logged NR COUNT : the server's log has COUNT lines for NR
violation_logged() {
	(($(grep -c "^connectd: sandbox: forbidden system call $1: killed$" "$PROXY_LOG") >= $2))
}

_spares_wait() { (($(_children_titled "$SERVER_PID" '\[spare\]' | wc -l) == $1)); }

# ask_violation CALL : a request whose reader makes CALL (tools/violate.c);
# prints what came back, nothing when the connection was cut
ask_violation() {
	"$PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\nX-Connectd-Test-Violate: %s\r\n\r\n" % (sys.argv[2], sys.argv[3])).encode())
try:
    print(s.recv(100).decode(errors="replace").split("\r\n")[0])
except OSError as e:
    print("error", e.errno)' "$PPORT" "$TPORT" "$1"
}

# expect_children_refuse SPARES : under connectd --listen --spares SPARES,
# each call the listener's filter allows and a connection's refuses kills
# the child that makes it, with its log line; with spares, a spare's
expect_children_refuse() {
	# x86_64 numbers; the ASan build lets both roles fork, wait and prctl
	local -A nrs=([signal]=234 [epoll]=291 [seccomp]=317 [landlock]=444)
	is_asan_build || nrs+=([fork]=56 [wait4]=61 [prctl]=157)
	local call n=0 spares victim
	start_target echo
	listen_violable --spares "$1" --allow-port "$TPORT"
	for call in "${!nrs[@]}"; do
		echo "# $call: system call ${nrs[$call]}"
		n=$((n + 1))
		if (($1 > 0)); then
			wait_until 10 _spares_wait "$1" || fail "no $1 spares"
			spares=$(_children_titled "$SERVER_PID" '\[spare\]')
		fi
		run ask_violation "$call"
		echo "$output"
		[[ $output != *' 200 '* ]] || fail "$call: the child served"
		wait_until 10 violation_logged "${nrs[$call]}" 1 ||
			fail "$call: not killed: $(cat "$PROXY_LOG")"
		wait_until 10 _log_has "killed by signal 31" "$n" ||
			fail "$call: the parent saw no SIGSYS: $(cat "$PROXY_LOG")"
		victim=$(grep -o 'child [0-9]* killed by signal 31' "$PROXY_LOG" | tail -n 1 | cut -d' ' -f2)
		if (($1 > 0)); then
			grep -qx "$victim" <<<"$spares" || fail "$call: $victim was no spare ($spares)"
		fi
	done
	# the parent kept the calls: it still serves
	expect_tunnel "$REQ"
	report_cases
}

_log_has() { (($(grep -c "$1" "$PROXY_LOG") >= $2)); }

@test "high-rate mode: a child cannot make the calls only its parent may (fork, wait4, prctl, a signal to another process, epoll set-up, seccomp, Landlock)" {
	expect_children_refuse 0
}

@test "high-rate mode: nor can a spare (--spares 2)" {
	expect_children_refuse 2
}

# _not_dumpable PID : PID runs as nobody, its /proc files are root's (as
# for every process that is not dumpable), and another process of nobody
# cannot open its memory
_not_dumpable() {
	local pid=$1
	[[ $(status_field "$pid" Uid) == 65534 ]] || fail "$pid does not run as nobody"
	[[ $(stat -c %u "/proc/$pid/mem") == 0 ]] ||
		fail "$pid is dumpable: /proc/$pid/mem belongs to $(stat -c %U "/proc/$pid/mem")"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c \
		'import sys; open("/proc/%s/mem" % sys.argv[1], "rb").close()' "$pid"
	((status != 0)) || fail "another process of nobody opened $pid's memory"
}

@test "not dumpable in every mode: another process of the same user cannot read a connection's or a parent's memory" {
	local mode pid real=$CONNECTD
	for mode in auto off; do
		echo "# --sandbox=$mode"
		start_target echo
		CONNECTD=$real
		wrap_connectd "setpriv --reuid=65534 --regid=65534 --clear-groups"
		start_proxy accept --allow-port "$TPORT" "--sandbox=$mode"
		idle_client
		wait_connectd_count 1
		pid=$(connectd_pids)
		_not_dumpable "$pid"
		common_teardown || true
	done
	# the high-rate parent, and a spare it forked
	CONNECTD=$real
	PPORT=$(free_port)
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	bg server setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$CONNECTD" --listen "127.0.0.1:$PPORT" --allow-port 443
	wait_until 10 _has_child "$BG_PID" || fail "no spare: $(cat "$PROXY_LOG")"
	_not_dumpable "$BG_PID"
	_not_dumpable "$(pgrep -P "$BG_PID" | head -n 1)"
}
