# shellcheck shell=bash
# shellcheck disable=SC2154 # status, output, lines: set by bats' run
# Shared helpers for the connectd end-to-end tests (bats-core).
#
# Every test works in $BATS_TEST_TMPDIR.  Targets and launchers are started
# with bg(), which records their PIDs; common_teardown kills exactly those
# processes (and the connectd processes they spawned), nothing else.
# Waiting is always a bounded poll (wait_until), never a bare sleep.

# The countdown starts before setup(), so the timeout is set at load time.
: "${BATS_TEST_TIMEOUT:=30}"

CONNECTD=${CONNECTD:-$BATS_TEST_DIRNAME/../connectd}
TOOLS=$BATS_TEST_DIRNAME/tools
PY=${PYTHON:-/usr/bin/python3}
SUCCESS_HEAD_RE='^HTTP/1\.1 200 Connection established\\r\\nProxy-Agent: connectd/[!-~]+\\r\\n\\r\\n$'

_BG_PIDS=()
_BG_N=0

fail() {
	printf '%s\n' "$@" >&2
	return 1
}

common_setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	unset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES PROTO TCPREMOTEIP TCPREMOTEPORT \
		TCPLOCALIP TCPLOCALPORT REMOTE_ADDR REMOTE_PORT REMOTE_HOST
	[[ -x $CONNECTD ]] || fail "connectd binary not found at $CONNECTD (run make first)"
}

# wait_until SECONDS CMD... : run CMD every 50 ms until it succeeds; fail
# after SECONDS.
wait_until() {
	local tries=$(($1 * 20))
	shift
	while ! "$@"; do
		((tries-- > 0)) || return 1
		sleep 0.05
	done
}

# bg NAME CMD... : start CMD in the background with stdin /dev/null, stdout
# in NAME.out and stderr in NAME.err (in the test dir).  Sets BG_PID.
bg() {
	local name=$1
	shift
	"$@" </dev/null >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
	BG_PID=$!
	_BG_PIDS+=("$BG_PID")
}

# make_test_ca DIR : a test CA (DIR/ca.pem) and a server certificate for
# localhost and 127.0.0.1 signed by it (DIR/srv.pem, DIR/srv.key)
make_test_ca() {
	local d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=connectd-test-ca \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>"$d/openssl.log"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/srv.key" -out "$d/srv.csr" -subj /CN=localhost 2>>"$d/openssl.log"
	printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
		'extendedKeyUsage=serverAuth' >"$d/srv.ext"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/srv.pem" -days 2 -extfile "$d/srv.ext" 2>>"$d/openssl.log"
}

# add_test_users NAME... : system users, each with a group of its own, for
# tests that run connectd or clients as someone else (root only)
add_test_users() {
	local u
	for u in "$@"; do
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --user-group "$u" || return 1
	done
}

# del_test_users NAME... : remove the users and groups add_test_users made;
# names not starting with cdtest_ (or empty) are left alone
del_test_users() {
	local u
	for u in "$@"; do
		[[ $u == cdtest_* ]] || continue
		if id -u "$u" >/dev/null 2>&1; then
			userdel "$u"
		fi
		if getent group "$u" >/dev/null; then
			groupdel "$u"
		fi
	done
	return 0
}

# isolated CMD... : exec CMD in a private mount namespace whose resolv.conf
# names a resolver on loopback where nothing listens, so no name a test
# asks for is ever sent to a real DNS server.
isolated() {
	printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' \
		>"$BATS_TEST_TMPDIR/resolv.conf"
	# shellcheck disable=SC2016
	exec unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
		"$BATS_TEST_TMPDIR/resolv.conf" "$@"
}

_descendants() {
	local p
	for p in $(pgrep -P "$1" 2>/dev/null); do
		_descendants "$p"
		echo "$p"
	done
}

_gone() { ! kill -0 "$1" 2>/dev/null; }

common_teardown() {
	local pid kids=()
	for pid in "${_BG_PIDS[@]}"; do
		# shellcheck disable=SC2207
		kids+=($(_descendants "$pid"))
	done
	# children first (connectd processes spawned by a launcher), then ours
	((${#kids[@]} == 0)) || kill "${kids[@]}" 2>/dev/null
	for pid in "${_BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${_BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for pid in "${kids[@]}"; do
		wait_until 2 _gone "$pid"
	done
	_BG_PIDS=()
	return 0
}

_nonempty() { [[ -s $1 ]]; }

# read_port_file FILE VAR : wait for FILE to hold a port, store it in VAR
read_port_file() {
	wait_until 10 _nonempty "$1" || return 1
	local p
	p=$(head -n1 "$1")
	[[ $p =~ ^[0-9]+$ ]] || return 1
	printf -v "$2" '%s' "$p"
}

# start_target MODE [target.py options] : sets TPORT (and TARGET_ERR)
start_target() {
	local mode=$1
	shift
	_BG_N=$((_BG_N + 1))
	local pf=$BATS_TEST_TMPDIR/target$_BG_N.port
	bg "target$_BG_N" "$PY" "$TOOLS/target.py" --mode "$mode" --port-file "$pf" "$@"
	TARGET_ERR=$BATS_TEST_TMPDIR/target$_BG_N.err
	read_port_file "$pf" TPORT || fail "target $mode did not start: $(cat "$TARGET_ERR")"
}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_listening() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

# start_proxy LAUNCHER [connectd args...] : sets PPORT and PROXY_LOG (the
# launcher's stderr, which carries connectd's log lines where they go to
# stderr).  LAUNCHER is one of
#   accept      systemd-socket-activate --accept (connection on fd 3)
#   accept6     the same, listening on ::1
#   inetd       systemd-socket-activate --accept --inetd (fd 0 and 1)
#   inetd-fd2   inetd with fd 2 pointing at the client socket too
#   tcpserver   tcpserver -HRl0 (fd 0 and 1, PROTO=TCP env)
#   xinetd      a real xinetd (fd 0, 1 and 2 the socket)
# Targets live on loopback, which connectd refuses by default: every proxy
# a test starts opts in to it, unless the test sets LAB_RULES=() first.
LAB_RULES=(--allow-dest 127.0.0.0/8 --allow-dest ::1)

start_proxy() {
	local launcher=$1
	shift
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	set -- "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} "$@"
	local pf=$BATS_TEST_TMPDIR/proxy.port
	rm -f "$pf"
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=$launcher
	case $launcher in
	accept)
		bg proxy isolated "$PY" "$TOOLS/activate.py" --port-file "$pf" -- "$CONNECTD" "$@" ;;
	accept6)
		bg proxy isolated "$PY" "$TOOLS/activate.py" --host ::1 --port-file "$pf" -- "$CONNECTD" "$@" ;;
	inetd)
		bg proxy isolated "$PY" "$TOOLS/activate.py" --inetd --port-file "$pf" -- "$CONNECTD" "$@" ;;
	inetd-fd2)
		# shellcheck disable=SC2016
		bg proxy isolated "$PY" "$TOOLS/activate.py" --inetd --port-file "$pf" -- \
			sh -c 'exec "$0" "$@" 2>&0' "$CONNECTD" "$@" ;;
	tcpserver)
		bg proxy isolated tcpserver -1 -HRl0 127.0.0.1 0 "$CONNECTD" "$@"
		pf=$BATS_TEST_TMPDIR/proxy.out ;;
	xinetd)
		local port
		port=$(free_port)
		cat >"$BATS_TEST_TMPDIR/xinetd.conf" <<-EOF
			defaults
			{
			  log_type = FILE $BATS_TEST_TMPDIR/xinetd.log
			}
			service connectd-test
			{
			  type = UNLISTED
			  port = $port
			  socket_type = stream
			  protocol = tcp
			  wait = no
			  user = root
			  bind = 127.0.0.1
			  flags = IPv4
			  server = $(readlink -f "$CONNECTD")
			  server_args = $*
			}
		EOF
		bg proxy isolated xinetd -dontfork -f "$BATS_TEST_TMPDIR/xinetd.conf" \
			-pidfile "$BATS_TEST_TMPDIR/xinetd.pid"
		wait_until 10 _listening "$port" || fail "xinetd did not listen on $port: $(cat proxy.err)"
		echo "$port" >"$pf" ;;
	*)
		fail "unknown launcher $launcher" ;;
	esac
	read_port_file "$pf" PPORT || fail "$launcher did not start: $(cat "$PROXY_LOG")"
}

# client [client.py options] : run the raw client against the proxy
client() {
	run "$PY" "$TOOLS/client.py" --port "$PPORT" ${TPORT:+--tport "$TPORT"} "$@"
}

# has_line LINE : $output has exactly this line
has_line() {
	local l
	for l in "${lines[@]}"; do
		[[ $l == "$1" ]] && return 0
	done
	fail "expected the line: $1" "--- got:" "$output"
}

# value KEY : the rest of the first output line "KEY rest"
value() {
	local l
	for l in "${lines[@]}"; do
		if [[ $l == "$1 "* ]]; then
			printf '%s\n' "${l#"$1 "}"
			return 0
		fi
	done
	return 1
}

# expect_success_head : the client saw exactly the 200 response head
expect_success_head() {
	local h
	h=$(value HEAD) || fail "no HEAD line" "$output"
	[[ $h =~ $SUCCESS_HEAD_RE ]] || fail "not the exact success head: $h" "--- output:" "$output"
}

# --- connectd log lines ----------------------------------------------------

log_lines() { grep -a '^connectd: ' "$PROXY_LOG" 2>/dev/null; }

_log_count_ge() { (($(log_lines | wc -l) >= $1)); }

# wait_log N : wait until the launcher's stderr holds N connectd log lines
wait_log() {
	wait_until 10 _log_count_ge "$1" ||
		fail "expected $1 connectd log line(s) in $PROXY_LOG, found:" "$(cat "$PROXY_LOG")"
}

# field KEY LINE : the value of KEY=... in the log line
field() {
	local re="(^| )$1=([^ ]*)"
	[[ $2 =~ $re ]] || return 1
	printf '%s\n' "${BASH_REMATCH[2]}"
}

expect_field() { # KEY VALUE LINE
	local v
	v=$(field "$1" "$3") || fail "no $1= in: $3"
	[[ $v == "$2" ]] || fail "$1=$v, expected $1=$2 in: $3"
}

# --- exit status of connectd under systemd-socket-activate ----------------

# systemd-socket-activate logs "Child PID died with code N" for each
# connectd it spawned (N is the signal number after a crash).
_exits_seen_ge() { (($(grep -ac ' died with code ' "$PROXY_LOG") >= $1)); }

# expect_clean_exits N : at least N connectd processes have ended, all with
# exit status 0 (spec: 0 for every protocol outcome).  Only for the launchers
# based on systemd-socket-activate; a no-op for the others.
expect_clean_exits() {
	[[ ${PROXY_LAUNCHER:-} == accept* || ${PROXY_LAUNCHER:-} == inetd* ]] || return 0
	wait_until 10 _exits_seen_ge "$1" ||
		fail "fewer than $1 connectd processes ended:" "$(grep -a ' died with code ' "$PROXY_LOG")"
	local bad
	bad=$(grep -a ' died with code ' "$PROXY_LOG" | grep -v ' died with code 0$' || true)
	[[ -z $bad ]] || fail "connectd did not exit 0:" "$bad" "--- launcher stderr:" "$(cat "$PROXY_LOG")"
}

# --- table-driven request checks -------------------------------------------

CASE_FAILS=()
CASES_RUN=0

_clip() {
	local s=$1
	((${#s} <= 160)) || s="${s:0:120}...(${#s} chars)"
	printf '%s' "$s"
}

# _client_said KEYS : the lines of the last client run that start with one
# of KEYS (a|b|c), indented; when it printed none of them (it failed before
# its first answer), its exit status and its last lines as they are
_client_said() {
	local said
	said=$(grep -E "^($1)" <<<"$output" | sed 's/^/  /')
	if [[ -n $said ]]; then
		printf '%s\n' "$said"
		return
	fi
	printf '  client exit %s, output:\n' "$status"
	tail -n 5 <<<"$output" | sed 's/^/  | /'
}

# expect_error STATUS REASONS REQUEST [client.py options] : REQUEST (escaped,
# {T} = target port) must get exactly one well-formed error response with
# STATUS and body reason in REASONS (comma-separated alternatives where the
# spec allows more than one), followed by a clean close.  Failures are
# collected in CASE_FAILS; call report_cases at the end.
expect_error() {
	local st=$1 reasons=$2 req=$3
	shift 3
	CASES_RUN=$((CASES_RUN + 1))
	client --request "$req" --check-error "$st" "$reasons" "$@"
	if ((status != 0)) || ! has_line 'CHECK ok' 2>/dev/null; then
		CASE_FAILS+=("$(printf '%s\n  want %s %s\n%s' "$(_clip "$req")" "$st" "$reasons" \
			"$(_client_said 'SENDERR|STATUS|BODY|EXTRA|END|CHECK')")")
	fi
}

# expect_tunnel REQUEST [client.py options] : REQUEST must get exactly the
# success head, and an echo target behind it must echo "ping\n".
expect_tunnel() {
	local req=$1
	shift
	CASES_RUN=$((CASES_RUN + 1))
	client --request "$req" --check-ok --act 'send:ping\n' --act shut --act readeof "$@"
	if ((status != 0)) || ! has_line 'CHECK ok' 2>/dev/null ||
		! has_line 'RECV ping\n' 2>/dev/null || ! has_line 'END eof' 2>/dev/null; then
		CASE_FAILS+=("$(printf '%s\n  want 200 and the echo\n%s' "$(_clip "$req")" \
			"$(_client_said 'SENDERR|HEAD|BODY|RECV|END|CHECK')")")
	fi
}

# report_cases : fail with every collected case failure; also checks that
# the connectd processes of the cases exited with status 0
report_cases() {
	local exits
	exits=$(expect_clean_exits "$CASES_RUN" 2>&1) || CASE_FAILS+=("$exits")
	((${#CASE_FAILS[@]} == 0)) && return 0
	printf '%d case(s) failed:\n' "${#CASE_FAILS[@]}" >&2
	printf '%s\n' "${CASE_FAILS[@]}" >&2
	return 1
}

# --- hostile input: limits, faults, stress, log safety, valgrind ----------
# (tests/limits.bats, faults.bats, stress.bats, logsafety.bats,
# valgrind.bats; tools/hostile.py, tools/stress.py)

# now_ms : wall clock in milliseconds, for generous upper bounds only
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# hostile MODE [hostile.py options] : run a misbehaving client against the
# proxy (sets status, output, lines like client)
hostile() {
	run "$PY" "$TOOLS/hostile.py" "$1" --port "$PPORT" ${TPORT:+--tport "$TPORT"} "${@:2}"
}

# ms_at_most KEY LIMIT_MS : the client's "KEY <ms>" line is at most LIMIT_MS
ms_at_most() {
	local v
	v=$(value "$1") || fail "no $1 line" "$output"
	[[ $v =~ ^[0-9]+$ ]] || fail "$1 is not a time: $v" "$output"
	((v <= $2)) || fail "$1 = $v ms, expected at most $2 ms" "$output"
}

# connectd_pids : the PIDs of running connectd processes this test started
# (descendants of its background processes), one a line
connectd_pids() {
	local pid p
	for pid in "${_BG_PIDS[@]}"; do
		for p in $(_descendants "$pid"); do
			[[ $(cat "/proc/$p/comm" 2>/dev/null) == connectd ]] && echo "$p"
		done
	done
	return 0
}

_connectd_count_is() { (($(connectd_pids | wc -l) == $1)); }

# wait_connectd_count N : wait until exactly N connectd processes run
wait_connectd_count() {
	wait_until 10 _connectd_count_is "$1" ||
		fail "expected $1 connectd process(es), found: $(connectd_pids | tr '\n' ' ')"
}

# wait_exits N SECONDS : wait until the launcher saw N connectd processes
# end (systemd-socket-activate launchers only)
wait_exits() {
	wait_until "$2" _exits_seen_ge "$1" ||
		fail "fewer than $1 connectd processes ended within $2 s:" "$(cat "$PROXY_LOG")"
}

# vmrss_kib PID : resident set size of PID in KiB
vmrss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# lowest_free_fd PID : the fd number PID's next open() or socket() gets
lowest_free_fd() {
	local fd=0
	while [[ -e /proc/$1/fd/$fd ]]; do
		fd=$((fd + 1))
	done
	echo "$fd"
}

# is_asan_build : $CONNECTD is built with AddressSanitizer
is_asan_build() {
	[[ $CONNECTD == *build-asan* ]] || nm "$CONNECTD" 2>/dev/null | grep -q __asan_init
}

# --- parent proxies (--upstream) ---------------------------------------------

# start_parent [connectd args...] : a second connectd as the parent, on
# loopback, opted in to the lab's addresses; sets PARENT_PORT, PARENT_LOG
start_parent() {
	local pf=$BATS_TEST_TMPDIR/parent.port
	PARENT_LOG=$BATS_TEST_TMPDIR/parent.err
	rm -f "$pf"
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	bg parent isolated "$PY" "$TOOLS/activate.py" --port-file "$pf" -- \
		"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} "$@"
	read_port_file "$pf" PARENT_PORT || fail "the parent did not start: $(cat "$PARENT_LOG")"
}

# squid_config ADDR PORT : a configuration for Debian's squid as a parent,
# in SQUID_DIR/squid.conf: listening on ADDR:PORT, basic auth with
# basic_ncsa_auth for alice (password "s3cr3t pw"), CONNECT to ports 1024
# and up only.  Its helper runs as squid's user, so its files live in a
# directory of their own that user can read; squid_cleanup removes it.
squid_config() {
	SQUID_DIR=$(mktemp -d /tmp/connectd-squid.XXXXXX)
	chmod 755 "$SQUID_DIR"
	printf 'alice:%s\n' "$(openssl passwd -apr1 's3cr3t pw')" >"$SQUID_DIR/passwd"
	touch "$SQUID_DIR/cache.log"
	chmod 644 "$SQUID_DIR/passwd"
	chmod 666 "$SQUID_DIR/cache.log"
	cat >"$SQUID_DIR/squid.conf" <<-EOF
		http_port $1:$2
		pid_filename none
		access_log none
		cache_log $SQUID_DIR/cache.log
		logfile_rotate 0
		cache deny all
		shutdown_lifetime 0 seconds
		netdb_filename none
		via off
		forwarded_for delete
		auth_param basic program /usr/lib/squid/basic_ncsa_auth $SQUID_DIR/passwd
		auth_param basic realm squid-test
		acl authed proxy_auth REQUIRED
		acl lab_ports port 1024-65535
		acl CONNECT method CONNECT
		http_access deny !lab_ports
		http_access allow CONNECT authed
		http_access deny all
	EOF
}

squid_cleanup() {
	if [[ -n ${SQUID_DIR:-} && $SQUID_DIR == /tmp/connectd-squid.* ]]; then
		rm -rf "$SQUID_DIR"
	fi
	SQUID_DIR=
}
