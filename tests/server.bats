#!/usr/bin/env bats
# The high-rate mode (spec "High-rate mode", "Launchers", --listen, --fork,
# --max-children): connectd accepts on a listening socket of its own
# (--listen) or one handed over by the launcher (--fork with systemd's
# Accept=no, inetd's wait) and forks one child per connection.  Tunnels,
# concurrency and reaping, the --max-children 503, a killed child, SIGTERM,
# sd_notify, and hostile requests beside working tunnels.
#
# Every server is started by this file's helpers (start_listen,
# start_fork); tunnels are held open by tools/tunnels.py (hold / release);
# tools/notify.py plays systemd's notification socket.

# shellcheck disable=SC2034 # read by bats
# shellcheck disable=SC2153 # BG_PID, TPORT: set by helpers.bash
BATS_TEST_TIMEOUT=60
bats_require_minimum_version 1.5.0
load helpers

setup() {
	common_setup
	SERVER_PID=
	PROXY_LAUNCHER=server # not a systemd-socket-activate launcher
	FORK_LAUNCH=() # more tools/activate.py options for start_fork
	FORK_WRAP=()   # a command start_fork runs connectd under (exec'ing it)
}

teardown() { server_teardown; }

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

# --- local helpers -----------------------------------------------------------

# _exited PID : PID has ended (gone, or a zombie not yet waited for)
_exited() {
	[[ ! -e /proc/$1 ]] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# _listening_by PID PORT : PID holds a TCP listener on PORT
_listening_by() {
	ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
}

_up_or_exited() { _listening_by "$1" "$2" || _exited "$1"; }

_comm_is() { [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]]; }

# _in_poll PID : PID sleeps in poll(2) (x86_64 poll, ppoll; arm64 ppoll):
# for the server, its set-up (signalfd, spare fd) is done
_in_poll() {
	local nr
	read -r nr _ <"/proc/$1/syscall" 2>/dev/null || return 1
	[[ $nr == 7 || $nr == 271 || $nr == 73 ]]
}

# the name connectd processes show in /proc/PID/comm (15 characters at most)
COMM=$(basename "$CONNECTD")
COMM=${COMM:0:15}

# free_port_on HOST : a port that was free on HOST a moment ago
free_port_on() {
	"$PY" -c 'import socket, sys
h = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
s.bind((h, 0))
print(s.getsockname()[1])' "$1"
}

# start_listen HOST [connectd args...] : connectd --listen HOST:PORT (IPv6
# bracketed) on a free port, retried when the port was taken in between.
# Sets SERVER_PID, PPORT, PROXY_LOG (connectd's stderr).
start_listen() {
	local host=$1 addr port try
	shift
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	set -- "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} "$@"
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	for try in 1 2 3 4 5; do
		port=$(free_port_on "$host")
		if [[ $host == *:* ]]; then addr="[$host]:$port"; else addr="$host:$port"; fi
		bg server "$CONNECTD" --listen "$addr" "$@"
		SERVER_PID=$BG_PID
		wait_until 10 _up_or_exited "$SERVER_PID" "$port" ||
			fail "connectd --listen $addr neither listens nor exits: $(cat "$PROXY_LOG")"
		if _listening_by "$SERVER_PID" "$port"; then
			PPORT=$port
			wait_until 10 _in_poll "$SERVER_PID" ||
				fail "connectd --listen $addr does not wait in poll: $(cat "/proc/$SERVER_PID/syscall")"
			return 0
		fi
		# the port was taken between the probe and the bind: try another
		grep -q 'Address already in use' "$PROXY_LOG" ||
			fail "connectd --listen $addr exited: $(cat "$PROXY_LOG")"
	done
	fail "no free port on $host in 5 tries"
}

# start_fork [--via-activate|--stdin] [connectd args...] : connectd --fork on
# a port-0 listener from tools/activate.py (fd 3 with LISTEN_FDS=1, through
# the real systemd-socket-activate, or fd 0 as inetd's wait), with the
# activate.py options in FORK_LAUNCH, under the command in FORK_WRAP.  The
# PID stays the same through every exec: SERVER_PID is connectd's.  Sets
# PPORT and PROXY_LOG too.  (With --via-activate, connectd only starts on
# the first connection, as under systemd.)
start_fork() {
	local how=(--direct)
	if [[ ${1:-} == --via-activate || ${1:-} == --stdin ]]; then
		how=("$1")
		shift
	fi
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	set -- "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} "$@"
	local pf=$BATS_TEST_TMPDIR/server.port
	rm -f "$pf"
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	bg server "$PY" "$TOOLS/activate.py" "${how[@]}" "${FORK_LAUNCH[@]}" --port-file "$pf" -- \
		"${FORK_WRAP[@]}" "$CONNECTD" --fork "$@"
	SERVER_PID=$BG_PID
	read_port_file "$pf" PPORT || fail "activate.py did not start: $(cat "$PROXY_LOG")"
	if [[ ${how[0]} != --via-activate ]]; then
		wait_until 10 _comm_is "$SERVER_PID" "$COMM" ||
			fail "connectd did not start: $(cat "$PROXY_LOG")"
		wait_until 10 _in_poll "$SERVER_PID" ||
			fail "connectd --fork does not wait in poll: $(cat "$PROXY_LOG")"
	fi
}

# server_children : PIDs of the server's children (zombies included), one a
# line, without the spares waiting for a connection (their title ends in
# "[spare]"; a spare just forked still shows the parent's "... spare]")
server_children() {
	local k
	for k in $(pgrep -P "$SERVER_PID"); do
		grep -qa 'spare\]' "/proc/$k/cmdline" 2>/dev/null || echo "$k"
	done
}

# server_spares : PIDs of the server's spares waiting in accept(2)
server_spares() {
	local k
	for k in $(pgrep -P "$SERVER_PID"); do
		grep -qa '\[spare\]' "/proc/$k/cmdline" 2>/dev/null && echo "$k"
	done
	true
}

_spares_are() { (($(server_spares | wc -l) == $1)); }

# wait_spares N : wait until exactly N spares wait
wait_spares() {
	wait_until 10 _spares_are "$1" ||
		fail "expected $1 spares of $SERVER_PID, found: $(server_spares | tr '\n' ' ')"
}

_children_are() { (($(server_children | wc -l) == $1)); }

# wait_children N : wait until the server has exactly N children, none of
# them a zombie once N is reached (so "0" means all reaped)
wait_children() {
	wait_until 10 _children_are "$1" ||
		fail "expected $1 children of $SERVER_PID, found: $(server_children | tr '\n' ' ')"
}

# expect_live_children N : exactly N children, each a running connectd
expect_live_children() {
	local kids k
	mapfile -t kids < <(server_children)
	((${#kids[@]} == $1)) || fail "expected $1 children, found ${#kids[@]}: ${kids[*]}"
	for k in "${kids[@]}"; do
		_comm_is "$k" "$COMM" || fail "child $k is $(cat "/proc/$k/comm" 2>/dev/null)"
		! grep -q '^State:[[:space:]]*Z' "/proc/$k/status" 2>/dev/null ||
			fail "child $k is a zombie"
	done
}

fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

server_alive() {
	! _exited "$SERVER_PID" || fail "the server $SERVER_PID is gone: $(cat "$PROXY_LOG")"
}

# hold NAME COUNT [tunnels.py options] : open COUNT tunnels to the echo
# target at once and keep them open until release NAME.  Sets HOLD_PID.
hold() {
	local name=$1 n=$2
	shift 2
	bg "$name" "$PY" "$TOOLS/tunnels.py" --port "$PPORT" --tport "$TPORT" --count "$n" \
		--ready-file "$BATS_TEST_TMPDIR/$name.ready" \
		--release-file "$BATS_TEST_TMPDIR/$name.release" --tag "$name" "$@"
	HOLD_PID=$BG_PID
	wait_until 20 _nonempty "$BATS_TEST_TMPDIR/$name.ready" ||
		fail "$name: tunnels not ready:" "$(cat "$BATS_TEST_TMPDIR/$name".{out,err})"
	[[ $(cat "$BATS_TEST_TMPDIR/$name.ready") == "$n" ]] ||
		fail "$name: not all $n tunnels opened:" "$(cat "$BATS_TEST_TMPDIR/$name".{out,err})"
}

# release NAME PID : let the holder end its tunnels (data each way, FIN,
# EOF) and wait for it; sets status, output and lines as run does
release() {
	touch "$BATS_TEST_TMPDIR/$1.release"
	wait_until 20 _exited "$2" || fail "$1: holder did not finish"
	status=0
	wait "$2" || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/$1.out" "$BATS_TEST_TMPDIR/$1.err")
	mapfile -t lines <<<"$output"
	echo "--- $1 (exit $status):"
	echo "$output"
}

# stop_server : SIGTERM to the server; wait for its end, exit status in status
stop_server() {
	kill -TERM "$SERVER_PID"
	wait_server
}

wait_server() {
	wait_until 20 _exited "$SERVER_PID" || fail "the server did not exit: $(cat "$PROXY_LOG")"
	status=0
	wait "$SERVER_PID" || status=$?
}

# _refused PORT [HOST] : a TCP connection to PORT is refused
_refused() {
	"$PY" -c 'import socket, sys
h = sys.argv[2]
s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
s.settimeout(5)
try:
    s.connect((h, int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(0)
sys.exit(1)' "$1" "${2:-127.0.0.1}"
}

# finish_client NAME PID : wait for a client.py started with bg NAME and show
# its output; it must exit 0 with CHECK ok
finish_client() {
	wait_until 20 _exited "$2" || fail "$1: the client did not finish"
	status=0
	wait "$2" || status=$?
	cat "$1.out"
	((status == 0)) || fail "$1: exit $status:" "$(cat "$1.out" "$1.err")"
	grep -qx 'CHECK ok' "$1.out"
}

# log_count PATTERN : connectd log lines matching the ERE
log_count() { log_lines | grep -cE -- "$1" || true; }

# Every process this test started, the servers' children (connectd) first,
# ends here: SIGTERM, a bounded wait, then SIGKILL for anything left; a
# connectd child that outlived it all fails the test.
server_teardown() {
	local pid kids=() left=()
	for pid in "${_BG_PIDS[@]}"; do
		# shellcheck disable=SC2207
		kids+=($(_descendants "$pid"))
	done
	((${#kids[@]} == 0)) || kill -TERM "${kids[@]}" 2>/dev/null
	for pid in "${_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${kids[@]}" "${_BG_PIDS[@]}"; do
		wait_until 5 _exited "$pid" || left+=("$pid")
	done
	if ((${#left[@]} > 0)); then
		kill -KILL "${left[@]}" 2>/dev/null
		for pid in "${left[@]}"; do
			wait_until 5 _exited "$pid"
		done
	fi
	for pid in "${_BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	_BG_PIDS=()
	local stray=()
	for pid in "${kids[@]}"; do
		_exited "$pid" || stray+=("$pid $(cat "/proc/$pid/comm" 2>/dev/null)")
	done
	((${#stray[@]} == 0)) || fail "outlived the test: ${stray[*]}"
	((${#left[@]} == 0)) || fail "SIGTERM did not end: ${left[*]}"
	no_sanitizer_reports
}

# A child's exit status is seen by nobody but the parent, which does not
# log it: a sanitizer report on the server's stderr is the only trace.
no_sanitizer_reports() {
	[[ -n ${PROXY_LOG:-} && -e $PROXY_LOG ]] || return 0
	! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: ' "$PROXY_LOG" ||
		fail "sanitizer report on connectd's stderr:" "$(cat "$PROXY_LOG")"
}

# one tunnel through the server, checked byte-exactly: head and echo
expect_exact_tunnel() { # [client.py options]
	client --request "$REQ" --check-ok --act 'send:through a child\n' --act shut \
		--act readeof --raw-out raw.bin "$@"
	((status == 0)) || fail "client failed" "$output"
	has_line 'CHECK ok'
	has_line 'RECV through a child\n'
	has_line 'END eof'
	printf 'HTTP/1.1 200 Connection established\r\nProxy-Agent: %s\r\n\r\nthrough a child\n' \
		"$(value 'HDR proxy-agent:')" >expected.bin
	cmp raw.bin expected.bin
}

# --- 1. --listen ---------------------------------------------------------------

@test "--listen 127.0.0.1:PORT: a tunnel through a child, its log line on connectd's stderr" {
	start_target echo
	start_listen 127.0.0.1 --allow-port "$TPORT"
	expect_exact_tunnel
	local me
	me=$(value LOCAL)
	wait_log 1
	log_lines | grep -q "^connectd: client=$me uid=- user=- target=127.0.0.1:$TPORT addr=127.0.0.1:$TPORT status=200 reason=ok up=16 down=16 " ||
		fail "no matching log line:" "$(cat "$PROXY_LOG")"
	wait_children 0
	server_alive
	# nothing but log lines on stderr, nothing on stdout
	[[ $(grep -cv '^connectd: client=' "$PROXY_LOG") == 0 ]] || fail "$(cat "$PROXY_LOG")"
	[[ ! -s server.out ]] || fail "stdout: $(cat server.out)"
}

@test "--listen [::1]:PORT: a tunnel from an IPv6 client, logged with its address" {
	start_target echo
	start_listen ::1 --allow-port "$TPORT"
	expect_exact_tunnel --host ::1
	local me
	me=$(value LOCAL)
	[[ $me == ::1:* ]] || fail "client address $me"
	wait_log 1
	log_lines | grep -qF "connectd: client=[::1]:${me##*:} uid=- user=- target=127.0.0.1:$TPORT addr=127.0.0.1:$TPORT status=200 " ||
		fail "no matching log line:" "$(cat "$PROXY_LOG")"
	# [::1] is IPv6 only: nothing listens on 127.0.0.1 at that port
	_refused "$PPORT" 127.0.0.1 || fail "127.0.0.1:$PPORT answered"
	wait_children 0
	server_alive
}

@test "--listen: a malformed address or a port in use exits 2 naming --listen" {
	start_target echo
	local a rc
	for a in 127.0.0.1 127.0.0.1: 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:x localhost:8080 \
		'[::1]' '[::1:8080' 1.2.3:80 '[127.0.0.1]x:80' ''; do
		rc=0
		timeout 5 "$CONNECTD" --listen "$a" >out.txt 2>err.txt || rc=$?
		echo "--listen '$a': exit $rc: $(cat err.txt)"
		((rc == 2)) || fail "exit $rc for --listen '$a'"
		grep -q -- '--listen' err.txt || fail "no --listen in the message for '$a'"
		[[ ! -s out.txt ]] || fail "stdout for '$a': $(cat out.txt)"
	done
	rc=0
	timeout 5 "$CONNECTD" --listen "127.0.0.1:$TPORT" >out.txt 2>err.txt || rc=$?
	echo "port in use: exit $rc: $(cat err.txt)"
	((rc == 2))
	grep -q -- "--listen 127.0.0.1:$TPORT: Address already in use" err.txt
}

# --- 2. --fork on a socket from the launcher -----------------------------------

@test "--fork, listening socket on fd 3 with LISTEN_FDS=1 (Accept=no): tunnels through children" {
	start_target echo
	start_fork --allow-port "$TPORT"
	expect_exact_tunnel
	expect_exact_tunnel
	wait_log 2
	(($(log_count " target=127.0.0.1:$TPORT .*status=200 ") == 2)) || fail "$(cat "$PROXY_LOG")"
	wait_children 0
	server_alive
	# a child keeps no copy of the listening socket, the signalfd or the
	# spare fd: above 2 only the client and the target sockets (and the
	# relay's splice pipes); activate.py starts connectd with no fd open
	# above 3
	hold h 1
	local kid lsock f l socks=0
	kid=$(server_children)
	lsock=$(readlink "/proc/$SERVER_PID/fd/3")
	[[ $lsock == socket:* ]] || fail "fd 3 of the server is $lsock"
	ls -l "/proc/$kid/fd"
	for f in /proc/"$kid"/fd/*; do
		((${f##*/} > 2)) || continue
		l=$(readlink "$f")
		[[ $l != "$lsock" ]] || fail "child $kid holds the listening socket as $f"
		[[ $l == socket:* || $l == pipe:* ]] || fail "child $kid holds $f -> $l"
		[[ $l != socket:* ]] || socks=$((socks + 1))
	done
	((socks == 2)) || fail "child $kid has $socks sockets, expected the client and the target"
	release h "$HOLD_PID"
	((status == 0))
}

@test "--fork under the real systemd-socket-activate (no --accept): activated by the first client" {
	start_target echo
	start_fork --via-activate --allow-port "$TPORT"
	expect_exact_tunnel
	_comm_is "$SERVER_PID" "$COMM" || fail "not connectd: $(cat "/proc/$SERVER_PID/comm")"
	expect_exact_tunnel
	wait_log 2
	wait_children 0
	server_alive
	stop_server
	((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
}

@test "--fork, listening socket on fd 0 (inetd wait): tunnels through children" {
	start_target echo
	start_fork --stdin --allow-port "$TPORT"
	expect_exact_tunnel
	expect_exact_tunnel
	wait_log 2
	wait_children 0
	server_alive
}

@test "a listening socket without --fork exits 2 naming Accept=yes (or nowait) and --fork" {
	run timeout 10 "$PY" "$TOOLS/activate.py" --direct --port-file l.port -- "$CONNECTD" --allow-port 443
	echo "fd 3: exit $status: $output"
	((status == 2))
	[[ $output == *Accept=yes* ]]
	[[ $output == *--fork* ]]
	run timeout 10 "$PY" "$TOOLS/activate.py" --stdin --port-file l.port -- "$CONNECTD" --allow-port 443
	echo "fd 0: exit $status: $output"
	((status == 2))
	[[ $output == *nowait* ]]
	[[ $output == *--fork* ]]
}

# --- 3. concurrency and reaping ------------------------------------------------

@test "50 tunnels open at once: 50 children, every tunnel works, all reaped after" {
	start_target echo
	start_listen 127.0.0.1 --allow-port "$TPORT"
	local fds0
	fds0=$(fd_count "$SERVER_PID")
	hold many 50
	expect_live_children 50
	server_alive
	# the parent keeps no connection: its fds are what they were
	(($(fd_count "$SERVER_PID") == fds0)) ||
		fail "parent fds: $fds0 before, now:" "$(ls -l "/proc/$SERVER_PID/fd")"
	# each child runs with the signal mask the server started with (the
	# server blocks SIGTERM, SIGINT, SIGCHLD for its signalfd): systemd's
	# SIGTERM and a tunnel's end must reach a child as usual
	local k
	for k in $(server_children); do
		grep -q '^SigBlk:[[:space:]]*0*$' "/proc/$k/status" ||
			fail "child $k blocks signals: $(grep '^Sig' "/proc/$k/status")"
	done
	release many "$HOLD_PID"
	((status == 0))
	has_line 'RESULT ok=50 fail=0'
	wait_children 0
	(($(fd_count "$SERVER_PID") == fds0)) ||
		fail "parent fds: $fds0 before, now:" "$(ls -l "/proc/$SERVER_PID/fd")"
	wait_log 50
	(($(log_count " status=200 reason=ok up=[0-9]+ down=[0-9]+ ") == 50)) ||
		fail "expected 50 status=200 log lines:" "$(cat "$PROXY_LOG")"
	server_alive
	# and it goes on serving
	expect_exact_tunnel
}

# --- 4. --max-children ---------------------------------------------------------

@test "--max-children 2: a third connection gets a complete 503 resources_exhausted; a slot freed is used again" {
	start_target echo
	start_listen 127.0.0.1 --max-children 2 --allow-port "$TPORT"
	hold a 1
	local apid=$HOLD_PID
	hold b 1
	local bpid=$HOLD_PID
	expect_live_children 2
	# a request gets the 503 in full, then a clean EOF (client.py checks
	# Content-Length, the single body line and the close)
	expect_error 503 resources_exhausted "$REQ"
	expect_error 503 resources_exhausted "$REQ"
	# so does a client that sends nothing, and one that sends its request
	# byte by byte, mostly after the answer
	expect_error 503 resources_exhausted ''
	expect_error 503 resources_exhausted "$REQ" --split bytewise
	report_cases
	# and one whose request is already queued when the parent accepts it:
	# the parent reads it before closing, or the close would be a reset
	# that destroys the answer (the parent is stopped meanwhile)
	kill -STOP "$SERVER_PID"
	bg queued "$PY" "$TOOLS/client.py" --port "$PPORT" --tport "$TPORT" --request "$REQ" \
		--check-error 503 resources_exhausted
	local qpid=$BG_PID
	wait_until 10 _queued_request "$PPORT" || {
		kill -CONT "$SERVER_PID"
		fail "the request never queued"
	}
	kill -CONT "$SERVER_PID"
	finish_client queued "$qpid"
	# refusals are logged at most once a second, with a count
	grep -qE '^connectd: --max-children 2 reached: answered 503 to [0-9]+ connection\(s\)$' "$PROXY_LOG" ||
		fail "no warning:" "$(cat "$PROXY_LOG")"
	# no child was forked for them
	expect_live_children 2
	release a "$apid"
	((status == 0))
	has_line 'RESULT ok=1 fail=0'
	wait_children 1
	expect_exact_tunnel
	release b "$bpid"
	((status == 0))
	wait_children 0
	expect_exact_tunnel
	server_alive
}

# _queued_request PORT : a connection to PORT has bytes waiting unread
_queued_request() {
	ss -Htn state established "sport = :$1" | awk '$1 > 0 { f = 1 } END { exit !f }'
}

# ticks PID : CPU time PID has used, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

@test "the parent out of descriptors: a complete 503 through its spare fd, no spinning, SIGTERM still works" {
	start_target echo
	# activate.py starts connectd with nothing open above fd 3: the parent
	# holds its standard fds, the listener, the signalfd and the spare;
	# without spares: this is the parent's own accept(2), taken whenever
	# every spare is busy (a spare has descriptors of its own)
	start_fork --spares 0 --allow-port "$TPORT"
	local fd t0 soft
	fd=$(lowest_free_fd "$SERVER_PID")
	soft=$(prlimit --pid "$SERVER_PID" --nofile --raw --noheadings --output=SOFT)
	ls -l "/proc/$SERVER_PID/fd"
	# the soft limit only: raising it back needs no privilege
	prlimit --pid "$SERVER_PID" --nofile="$fd:"
	expect_error 503 resources_exhausted "$REQ"
	expect_error 503 resources_exhausted "$REQ"
	report_cases
	# refused by the parent itself: no child was forked
	expect_live_children 0
	# with the queue empty the parent goes back to sleep in poll(2)
	t0=$(ticks "$SERVER_PID")
	sleep 1
	(($(ticks "$SERVER_PID") - t0 < 20)) ||
		fail "the parent burnt $(($(ticks "$SERVER_PID") - t0)) ticks of CPU in 1 s with nothing to do" \
			"$(timeout 1 strace -p "$SERVER_PID" 2>&1 | head -n 8)"
	(($(lowest_free_fd "$SERVER_PID") == fd)) ||
		fail "parent fds changed:" "$(ls -l "/proc/$SERVER_PID/fd")"
	# with descriptors back, it serves again
	prlimit --pid "$SERVER_PID" --nofile="$soft:"
	expect_exact_tunnel
	wait_children 0
	# and at the limit again, it still stops on SIGTERM
	prlimit --pid "$SERVER_PID" --nofile="$fd:"
	expect_error 503 resources_exhausted "$REQ"
	report_cases
	kill -TERM "$SERVER_PID"
	wait_until 10 _exited "$SERVER_PID" || fail "SIGTERM ignored at the descriptor limit"
	wait_server
	((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
}

# _queued PORT [N] : the listener on PORT has at least N (1) connections
# waiting in its accept queue (Recv-Q of a listening socket)
_queued() {
	ss -Hltn "sport = :$1" | awk -v n="${2:-1}" '$2 >= n { f = 1 } END { exit !f }'
}

@test "no spare fd (started at its descriptor limit): the parent sleeps, and a waiting client is served once descriptors are back" {
	start_target echo
	# activate.py starts connectd with nothing open above fd 3: fds 0-2,
	# the listener (3) and the signalfd (4) fill a limit of 5, so the spare
	# fd cannot be opened
	FORK_WRAP=(prlimit --nofile=5: --)
	# Landlock needs two descriptors to be set up, and there is one
	start_fork --sandbox=seccomp --allow-port "$TPORT"
	ls -l "/proc/$SERVER_PID/fd"
	(($(lowest_free_fd "$SERVER_PID") == 5)) || fail "the parent holds more than 5 fds"
	bg waiting "$PY" "$TOOLS/client.py" --port "$PPORT" --tport "$TPORT" --request "$REQ" \
		--check-ok --act 'send:served late\n' --act shut --act readeof
	local wpid=$BG_PID t0 used
	wait_until 10 _queued "$PPORT" || fail "the client is not in the accept queue"
	# the listener stays readable and accept(2) says EMFILE: the parent
	# must not go straight back to poll(2) (that spun on a core)
	t0=$(ticks "$SERVER_PID")
	sleep 2
	used=$(($(ticks "$SERVER_PID") - t0))
	echo "the parent used $used ticks of CPU in 2 s"
	((used < 20)) || fail "the parent burnt $used ticks of CPU in 2 s" \
		"$(timeout 1 strace -p "$SERVER_PID" 2>&1 | head -n 8)"
	! _exited "$wpid" || fail "the client ended:" "$(cat waiting.out waiting.err)"
	grep -q '^connectd: accept: Too many open files, no spare fd: paused [0-9]* time(s), now for [0-9]* ms$' \
		"$PROXY_LOG" || fail "the pause is not logged:" "$(cat "$PROXY_LOG")"
	# descriptors back: the waiting client is served, and the parent takes
	# its spare fd again
	prlimit --pid "$SERVER_PID" --nofile=64:
	finish_client waiting "$wpid"
	grep -qxF 'RECV served late\n' waiting.out
	grep -qx 'END eof' waiting.out
	ls -l "/proc/$SERVER_PID/fd"
	[[ $(readlink "/proc/$SERVER_PID/fd/5") == /dev/null ]] || fail "no spare fd taken again"
	wait_children 0
	expect_exact_tunnel
	stop_server
	((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
}

# start_flood : a sustained connect flood (tools/connflood.py) at the
# server, which it throttles so that the accept queue never empties, as on
# a machine too loaded for the server to keep up; sets FLOOD_PID
start_flood() {
	bg flood "$PY" "$TOOLS/connflood.py" --port "$PPORT" --throttle "$SERVER_PID" \
		--stop-file "$BATS_TEST_TMPDIR/flood.stop"
	FLOOD_PID=$BG_PID
	wait_secs 10 _queued "$PPORT" 100 || fail "no flood:" "$(cat flood.out flood.err)"
}

# wait_secs SECONDS CMD... : wait_until by the clock: under a flood each try
# of CMD takes long enough to stretch wait_until's count of tries
wait_secs() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

# _children_seen_ge N : at least N distinct children of the server were
# seen, counting those seen by earlier calls
_children_seen_ge() {
	server_children >>children.seen
	(($(sort -u children.seen | wc -l) >= $1))
}

# _flood_drained : nothing waits in the listener's accept queue and no
# child serves a connection
_flood_drained() {
	[[ $(ss -Hltn "sport = :$PPORT" | awk '{ print $2; exit }') == 0 ]] &&
		_children_are 0
}

@test "a sustained connect flood: each round of accepts is bounded, so exited children are reaped and new ones forked" {
	start_target echo
	FORK_LAUNCH=(--backlog 4096)
	start_fork --max-children 2 --request-timeout 1 --allow-port "$TPORT"
	start_flood
	# each child ends with its client (reset by the flood, or silent until
	# --request-timeout); the parent must reap it to fork another, where a
	# drain until the queue is empty kept two zombies and answered 503
	# forever
	wait_secs 20 _children_seen_ge 6 ||
		fail "children seen: $(sort -u children.seen | tr '\n' ' ')" "$(ps -o pid,stat,comm --ppid "$SERVER_PID")"
	# the parent says so once a round of refusals is over: wait for it
	wait_secs 20 grep -qE '^connectd: --max-children 2 reached: answered 503 to [0-9]+ connection\(s\)$' "$PROXY_LOG" ||
		fail "no refusals under the flood:" "$(cat "$PROXY_LOG")"
	server_alive
	# once the flood is over, a new client is served
	touch flood.stop
	wait_until 20 _exited "$FLOOD_PID" || fail "the flood did not stop"
	cat flood.out
	# the flood's connections still queued are taken, and refused or
	# served, before a new client can count on a free child
	wait_until 20 _flood_drained ||
		fail "children left: $(server_children | tr '\n' ' ')" "$(ss -Hltn "sport = :$PPORT")"
	expect_exact_tunnel
}

@test "a sustained connect flood: SIGTERM is honoured, the parent stops accepting and exits after its children" {
	FORK_LAUNCH=(--backlog 4096)
	start_fork --max-children 2 --request-timeout 1
	start_flood
	wait_secs 10 _children_are 2 || fail "no children under the flood"
	kill -TERM "$SERVER_PID"
	wait_secs 20 _exited_seeing_children "$SERVER_PID" || fail "SIGTERM not honoured under the flood:" \
		"$(ps -o pid,stat,comm --ppid "$SERVER_PID")" "$(tail -n 5 "$PROXY_LOG")"
	# the flood was still on
	! _exited "$FLOOD_PID" || fail "the flood ended first:" "$(cat flood.out flood.err)"
	# the parent waited for its children: every one seen is gone
	local k
	while read -r k; do
		_exited "$k" || fail "child $k outlived the parent"
	done < <(sort -u children.seen)
	wait_server
	((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
}

# _exited_seeing_children PID : _exited, noting the server's children as
# _children_seen_ge does
_exited_seeing_children() {
	server_children >>children.seen
	_exited "$1"
}

# --- 5. isolation -------------------------------------------------------------

@test "kill -9 of one child ends only its tunnel: another keeps working, new ones are accepted" {
	start_target echo
	start_listen 127.0.0.1 --allow-port "$TPORT"
	hold a 1
	local apid=$HOLD_PID akid
	akid=$(server_children)
	[[ $akid =~ ^[0-9]+$ ]] || fail "children: $akid"
	hold b 1
	local bpid=$HOLD_PID
	expect_live_children 2
	kill -KILL "$akid"
	# the parent reaps it
	wait_children 1
	# the parent reports the death the child could not log itself
	wait_until 5 grep -q "^connectd: child $akid killed by signal 9\$" "$PROXY_LOG" ||
		fail "no line for the killed child:" "$(cat "$PROXY_LOG")"
	[[ $(server_children) != "$akid" ]]
	server_alive
	# new connections are still served, with b's tunnel still open
	expect_exact_tunnel
	expect_exact_tunnel
	# a's tunnel is gone, b's still carries data both ways
	release a "$apid"
	((status == 1))
	has_line 'RESULT ok=0 fail=1'
	release b "$bpid"
	((status == 0))
	has_line 'CLOSED 0 ok'
	wait_children 0
	server_alive
	# b's and the two new tunnels are logged; the killed child logged nothing
	wait_log 3
	(($(log_count ' status=200 ') == 3)) || fail "$(cat "$PROXY_LOG")"
	expect_exact_tunnel
}

# --- 6. SIGTERM ----------------------------------------------------------------

@test "SIGTERM: the server stops accepting, an open tunnel runs to its end, then exit 0" {
	start_target echo
	start_fork --allow-port "$TPORT"
	hold a 1
	expect_live_children 1
	local kid
	kid=$(server_children)
	kill -TERM "$SERVER_PID"
	# the listening socket is closed: new connections are refused
	wait_until 10 _refused "$PPORT" || fail "connections to $PPORT are not refused"
	run ! _listening_by "$SERVER_PID" "$PPORT"
	# but the server waits for the tunnel under way, whose child runs on
	sleep 0.3
	server_alive
	! _exited "$kid" || fail "the tunnel's child $kid is gone"
	release a "$HOLD_PID"
	((status == 0)) || fail "the tunnel broke on SIGTERM"
	has_line 'CLOSED 0 ok'
	wait_server
	((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
	wait_log 1
	(($(log_count ' status=200 ') == 1)) || fail "$(cat "$PROXY_LOG")"
}

@test "SIGTERM or SIGINT with no tunnel open: exit 0 at once" {
	local sig t0
	for sig in TERM INT; do
		start_listen 127.0.0.1
		t0=$(now_ms)
		kill -"$sig" "$SERVER_PID"
		wait_server
		echo "SIG$sig: exit $status after $(($(now_ms) - t0)) ms"
		((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
		(($(now_ms) - t0 < 5000)) || fail "took $(($(now_ms) - t0)) ms"
		[[ ! -s $PROXY_LOG ]] || fail "stderr: $(cat "$PROXY_LOG")"
	done
}

# --- 7. sd_notify --------------------------------------------------------------

_notified() { grep -qE "^MSG pid=[0-9]+ (.*\\\\n)?$1(\\\\n|\$)" notify.out; }

@test "sd_notify: READY=1 from the main PID once it accepts, STOPPING=1 on SIGTERM" {
	start_target echo
	local sock=$BATS_TEST_TMPDIR/notify.sock
	((${#sock} < 100)) || skip "socket path too long for AF_UNIX: $sock"
	bg notify "$PY" "$TOOLS/notify.py" --socket "$sock" --timeout 60
	wait_until 10 test -S "$sock" || fail "notify.py did not bind: $(cat notify.err)"
	NOTIFY_SOCKET=$sock start_listen 127.0.0.1 --allow-port "$TPORT"
	wait_until 10 _notified READY=1 || fail "no READY=1:" "$(cat notify.out)"
	# ready means accepting
	expect_exact_tunnel
	expect_exact_tunnel
	wait_children 0
	stop_server
	((status == 0)) || fail "exit $status"
	wait_until 10 _notified STOPPING=1 || fail "no STOPPING=1:" "$(cat notify.out)"
	cat notify.out
	# READY=1 once, then STOPPING=1 once, both from the main process (as
	# NotifyAccess=main requires); the children sent nothing
	mapfile -t msgs <notify.out
	((${#msgs[@]} == 2)) || fail "expected 2 messages"
	[[ ${msgs[0]} == "MSG pid=$SERVER_PID "*READY=1* ]]
	[[ ${msgs[1]} == "MSG pid=$SERVER_PID STOPPING=1" ]]
}

# --- 8. hostile requests -------------------------------------------------------

@test "hostile requests in children do not disturb a tunnel under way or the server" {
	start_target echo
	start_listen 127.0.0.1 --allow-port "$TPORT" --request-timeout 10
	hold a 1
	# a client dribbling half a request holds a child of its own
	local slow
	exec {slow}<>"/dev/tcp/127.0.0.1/$PPORT"
	printf 'CONNECT 127.0.0.1:' >&"$slow"
	wait_children 2
	expect_error 400 bad_request_line 'CONNECT 127.0.0.1:{T}\r\n\r\n'
	expect_error 400 bad_request_line 'CONNECT\x00\xff\xfe\r\n\r\n'
	expect_error 400 bad_request_line,bad_target 'CONNECT exa\x1bmple.test:{T} HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 405 method_not_allowed 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 400 bad_host 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\n\r\n'
	expect_error 431 head_too_large "$REQ" --pad-head 16385
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n'
	report_cases
	# a client that resets the connection right after its request
	client --request "$REQ" --act reset
	# the tunnel under way still carries data both ways
	release a "$HOLD_PID"
	((status == 0)) || fail "the tunnel beside the hostile requests broke"
	has_line 'CLOSED 0 ok'
	# the dribbling client still has its child; once it leaves, all are reaped
	expect_live_children 1
	exec {slow}>&-
	wait_children 0
	server_alive
	expect_exact_tunnel
	# the dribbling client's half request was answered 400 incomplete_request
	wait_log 11
	(($(log_count ' status=400 ') == 5)) || fail "$(cat "$PROXY_LOG")"
	(($(log_count ' status=200 ') >= 2)) || fail "$(cat "$PROXY_LOG")"
}

# _server_title_is PATTERN : the parent's title matches PATTERN
_server_title_is() {
	SERVER_TITLE=$(tr '\0' ' ' <"/proc/$SERVER_PID/cmdline" | sed 's/ *$//')
	[[ $SERVER_TITLE =~ $1 ]]
}

@test "the parent's process title shows its listener and live children; a child shows its client" {
	start_target echo
	start_listen 127.0.0.1 --spares 0 --allow-port "$TPORT"
	wait_until 10 _server_title_is "^connectd: 127\\.0\\.0\\.1:$PPORT \\[0 children\\]\$" ||
		fail "title: $SERVER_TITLE"
	exec 5<>/dev/tcp/127.0.0.1/"$PPORT"
	wait_until 10 _server_title_is "^connectd: 127\\.0\\.0\\.1:$PPORT \\[1 child\\]\$" ||
		fail "title: $SERVER_TITLE"
	local child
	child=$(server_children | head -n 1)
	wait_until 10 grep -qa '\[request\]' "/proc/$child/cmdline" ||
		fail "child title: $(tr '\0' ' ' <"/proc/$child/cmdline")"
	exec 5>&-
	wait_until 10 _server_title_is "^connectd: 127\\.0\\.0\\.1:$PPORT \\[0 children\\]\$" ||
		fail "title: $SERVER_TITLE"
}

@test "--spares 2: two children wait in accept(2) before any client; each serves one connection, exits and is replaced" {
	start_target echo
	start_listen 127.0.0.1 --spares 2 --allow-port "$TPORT"
	wait_spares 2
	wait_until 10 _server_title_is "^connectd: 127\\.0\\.0\\.1:$PPORT \\[2 children, 2 spare\\]\$" ||
		fail "title: $SERVER_TITLE"
	local before k
	before=$(server_spares | sort | tr '\n' ' ')
	# a connection is taken by a spare, not by a child forked for it
	exec 5<>/dev/tcp/127.0.0.1/"$PPORT"
	wait_children 1
	k=$(server_children)
	[[ " $before " == *" $k "* ]] || fail "child $k was not one of the spares $before"
	# the parent forks a spare in its place at once: 3 children, 2 spare
	wait_spares 2
	wait_until 10 _server_title_is "\\[3 children, 2 spare\\]\$" || fail "title: $SERVER_TITLE"
	exec 5>&-
	wait_children 0
	# ten tunnels one after another: each a process of its own, all reaped
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		client --request "$REQ" --check-ok --act "send:spare $i\n" --act shut --act readeof
		((status == 0)) || fail "tunnel $i: $output"
	done
	wait_children 0
	wait_spares 2
	wait_log 10
	(($(log_count ' status=200 ') == 10)) || fail "$(cat "$PROXY_LOG")"
	server_alive
}

@test "--spares 2 --max-children 2: spares count as children; a third connection gets 503, a slot freed is refilled" {
	start_target echo
	start_listen 127.0.0.1 --spares 2 --max-children 2 --allow-port "$TPORT"
	wait_spares 2
	hold a 1
	local apid=$HOLD_PID
	hold b 1
	local bpid=$HOLD_PID
	# both spares are busy and no third is forked past --max-children
	expect_live_children 2
	wait_spares 0
	expect_error 503 resources_exhausted "$REQ"
	report_cases
	release a "$apid"
	((status == 0)) || fail "tunnel a broke"
	# the slot freed becomes a spare again, and serves
	wait_spares 1
	client --request "$REQ" --check-ok --act 'send:after\n' --act shut --act readeof
	((status == 0)) || fail "$output"
	release b "$bpid"
	((status == 0)) || fail "tunnel b broke"
	server_alive
}

@test "SIGTERM with spares waiting and a tunnel under way: the spares exit at once, the tunnel runs to its end, exit 0" {
	start_target echo
	start_listen 127.0.0.1 --spares 3 --allow-port "$TPORT"
	wait_spares 3
	hold a 1
	local apid=$HOLD_PID
	wait_spares 3
	local spares
	spares=$(server_spares)
	kill -TERM "$SERVER_PID"
	# the waiting spares are gone while the tunnel still runs
	local k
	for k in $spares; do
		wait_until 10 _exited "$k" || fail "spare $k did not exit on SIGTERM"
	done
	expect_live_children 1
	! _exited "$SERVER_PID" || fail "the server exited before its tunnel ended"
	release a "$apid"
	((status == 0)) || fail "the tunnel did not run to its end"
	has_line 'CLOSED 0 ok'
	wait_server
	((status == 0)) || fail "exit $status: $(cat "$PROXY_LOG")"
}

# _only_spare_is PID : the server's one waiting spare is PID
_only_spare_is() { [[ $(server_spares) == "$1" ]]; }

# one_tunnel TEXT [TARGET] : one tunnel through the server, checked
one_tunnel() {
	local req=$REQ
	[[ -n ${2:-} ]] && req="CONNECT $2 HTTP/1.1\r\nHost: $2\r\n\r\n"
	client --request "$req" --check-ok --act "send:$1\n" --act shut --act readeof
	((status == 0)) || fail "tunnel $1: $output"
	has_line "RECV $1\n"
}

@test "--reuse 3: one process serves three connections in turn (same PID), then exits and is replaced" {
	start_target echo
	# one child at most, so every connection goes to the same spare
	start_listen 127.0.0.1 --spares 1 --max-children 1 --reuse 3 --allow-port "$TPORT"
	wait_spares 1
	local first i
	first=$(server_spares)
	for i in 1 2; do
		one_tunnel "reused $i"
		# the same process waits again in accept(2)
		wait_until 10 _only_spare_is "$first" ||
			fail "after tunnel $i: spares $(server_spares), not $first"
	done
	one_tunnel "reused 3"
	# its three connections served, it exits and a new spare takes its place
	wait_until 10 _exited "$first" || fail "the child $first outlived its --reuse count"
	wait_spares 1
	[[ $(server_spares) != "$first" ]] || fail "no new spare"
	wait_log 3
	(($(log_count ' status=200 ') == 3)) || fail "$(cat "$PROXY_LOG")"
}

@test "--reuse 3 with --upstream: one process takes three tunnels in turn through the parent, a refusal between, each right" {
	start_target echo
	# The parent, a second connectd on loopback, allows the echo's port only.
	start_parent --allow-port "$TPORT"
	local pport=$PARENT_PORT
	start_listen 127.0.0.1 --spares 1 --max-children 1 --reuse 3 --allow-port "$TPORT,1" \
		--upstream "http://127.0.0.1:$pport"
	wait_spares 1
	local first
	first=$(server_spares)
	one_tunnel "through the parent 1"
	wait_until 10 _only_spare_is "$first" || fail "after tunnel 1: spares $(server_spares), not $first"
	# The parent refuses port 1: nothing of that answer may stay for the next.
	client --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n' \
		--check-error 403 upstream_denied
	has_line 'CHECK ok'
	has_line 'HDR proxy-status: connectd; error=http_request_denied; received-status=403; details="upstream_denied"'
	wait_until 10 _only_spare_is "$first" || fail "after the refusal: spares $(server_spares), not $first"
	one_tunnel "through the parent 3"
	wait_until 10 _exited "$first" || fail "the child $first outlived its --reuse count"
	wait_log 3
	local -a l
	mapfile -t l < <(log_lines)
	local i
	for i in 0 1 2; do
		expect_field via "127.0.0.1:$pport" "${l[i]}"
		expect_field addr - "${l[i]}"
	done
	expect_field status 200 "${l[0]}"
	expect_field via_status 200 "${l[0]}"
	expect_field up 21 "${l[0]}"
	expect_field down 21 "${l[0]}"
	expect_field status 403 "${l[1]}"
	expect_field via_status 403 "${l[1]}"
	expect_field target 127.0.0.1:1 "${l[1]}"
	expect_field status 200 "${l[2]}"
	expect_field via_status 200 "${l[2]}"
	expect_field reason ok "${l[2]}"
	expect_field target "127.0.0.1:$TPORT" "${l[2]}"
	expect_field up 21 "${l[2]}"
	expect_field down 21 "${l[2]}"
	# The parent had the three, in the same order.
	local p
	p=$(grep -a '^connectd: ' "$PARENT_LOG" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^status=/) print $i }' | tr '\n' ' ')
	[[ $p == 'status=200 status=403 status=200 ' ]] || fail "the parent logged: $(cat "$PARENT_LOG")"
}

@test "--reuse: a child is reused after a connection that resolved a name, not after its limits changed" {
	start_target echo
	start_listen 127.0.0.1 --spares 1 --max-children 1 --reuse 10 \
		--allow-dest localhost --allow-port "$TPORT"
	wait_spares 1
	local a b c
	a=$(server_spares)
	# a numeric target leaves nothing behind: the same process again
	one_tunnel "numeric" "127.0.0.1:$TPORT"
	wait_until 10 _only_spare_is "$a" || fail "not reused after a numeric target: $(server_spares)"
	# a name resolved leaves nothing behind either: the same process again
	# (names answered by DNS: tests/dial.bats)
	one_tunnel "named" "localhost:$TPORT"
	wait_until 10 _only_spare_is "$a" || fail "not reused after a named target: $(server_spares)"
	b=$a
	# a limit changed while it served: that process exits
	hold h 1
	local hpid=$HOLD_PID
	expect_live_children 1
	# (lowered: the sandbox caps descriptors at 64)
	prlimit --pid "$b" --nofile=48:
	release h "$hpid"
	((status == 0)) || fail "the held tunnel broke"
	wait_until 10 _exited "$b" || fail "the child $b was reused after its limit changed"
	wait_spares 1
	c=$(server_spares)
	[[ $c != "$b" ]] || fail "no new spare"
	one_tunnel "after" "127.0.0.1:$TPORT"
	wait_until 10 _only_spare_is "$c" || fail "the new spare $c was not reused: $(server_spares)"
}
