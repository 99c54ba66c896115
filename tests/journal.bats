#!/usr/bin/env bats
# Journal fields: under systemd (fd 2 the stream $JOURNAL_STREAM names) or
# with --log journal, the record goes to the journal's native socket with
# CONNECTD_* fields and a readable MESSAGE; --log picks a sink; a journal
# that is not there costs the line nothing, it goes to stderr.
# Each test runs in a private mount namespace whose /run is a tmpfs with a
# stand-in journal socket (tools/journal.py) at /run/systemd/journal/socket.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=30
load helpers

setup() {
	common_setup
	JOUT=$BATS_TEST_TMPDIR/journal.jsonl
}
teardown() { common_teardown; }

# in_lab [--no-journal] CMD... : runs CMD in a private mount namespace with
# a tmpfs on /run and (unless --no-journal) the stand-in journal listening
# at /run/systemd/journal/socket; resolv.conf as isolated() sets it
in_lab() {
	local journal=1
	if [[ $1 == --no-journal ]]; then
		journal=0
		shift
	fi
	printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' >"$BATS_TEST_TMPDIR/resolv.conf"
	# shellcheck disable=SC2016
	unshare -m sh -c '
		mount --make-rprivate / && mount -t tmpfs tmpfs /run &&
		mount --bind "$1" /etc/resolv.conf && mkdir -p /run/systemd/journal || exit 99
		jpid=
		if [ "$2" = 1 ]; then
			"$3" "$4" --socket /run/systemd/journal/socket --out "$5" \
				</dev/null >/dev/null 2>&1 &
			jpid=$!
			i=0
			while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do
				sleep 0.05; i=$((i + 1))
			done
		fi
		shift 5
		"$@"; rc=$?
		[ -z "$jpid" ] || kill "$jpid"
		exit $rc' sh "$BATS_TEST_TMPDIR/resolv.conf" "$journal" "$PY" "$TOOLS/journal.py" \
		"$JOUT" "$@"
}

# ucspi_lab [--no-journal] [ucspi.py options] -- CONNECTD ARGS : connectd as
# a UCSPI program in the lab, its stderr in ucspi.err
ucspi_lab() {
	local lab=()
	if [[ $1 == --no-journal ]]; then
		lab=(--no-journal)
		shift
	fi
	run in_lab "${lab[@]}" "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi.err "$@"
	echo "$output"
	echo "--- stderr:"
	cat ucspi.err
}

# jfield N KEY : field KEY of the journal's Nth entry (1-based)
jfield() {
	sed -n "${1}p" "$JOUT" | "$PY" -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], "<none>"))' "$2"
}

@test "--log journal: a tunnel's record carries CONNECTD_* fields and a plain MESSAGE" {
	start_target echo
	ucspi_lab --send 'ping\n' --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT" --log journal
	has_line 'RECV ping\n'
	[[ $(wc -l <"$JOUT") == 1 ]] || fail "entries: $(cat "$JOUT")"
	[[ $(jfield 1 CONNECTD_STATUS) == 200 ]]
	[[ $(jfield 1 CONNECTD_REASON) == ok ]]
	[[ $(jfield 1 CONNECTD_CLIENT) == 127.0.0.1:5555 ]]
	[[ $(jfield 1 CONNECTD_TARGET) == "127.0.0.1:$TPORT" ]]
	[[ $(jfield 1 CONNECTD_ADDR) == "127.0.0.1:$TPORT" ]]
	[[ $(jfield 1 CONNECTD_BYTES_UP) == 5 ]]
	[[ $(jfield 1 CONNECTD_BYTES_DOWN) == 5 ]]
	[[ $(jfield 1 CONNECTD_USER) == - ]]
	[[ $(jfield 1 CONNECTD_END) == eof ]]
	[[ $(jfield 1 CONNECTD_DURATION_MS) =~ ^[0-9]+$ ]]
	# dialled directly: no parent's fields
	[[ $(jfield 1 CONNECTD_VIA) == '<none>' ]]
	[[ $(jfield 1 CONNECTD_VIA_STATUS) == '<none>' ]]
	[[ $(jfield 1 PRIORITY) == 6 ]]
	[[ $(jfield 1 SYSLOG_IDENTIFIER) == connectd ]]
	local msg
	msg=$(jfield 1 MESSAGE)
	[[ $msg == "client=127.0.0.1:5555 "*" status=200 reason=ok "* ]] || fail "MESSAGE: $msg"
	[[ ! -s ucspi.err ]] || fail "the line also went to stderr"
}

@test "--log journal through a parent: CONNECTD_VIA names it, CONNECTD_VIA_STATUS has its answer" {
	start_target echo
	# The parent, a second connectd on loopback, allows the echo's port only.
	start_parent --allow-port "$TPORT"
	local pport=$PARENT_PORT
	ucspi_lab --send 'ping\n' --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT,1" --log journal \
		--upstream "http://127.0.0.1:$pport"
	has_line 'RECV ping\n'
	[[ $(jfield 1 CONNECTD_STATUS) == 200 ]] || fail "entry: $(cat "$JOUT")"
	[[ $(jfield 1 CONNECTD_VIA) == "127.0.0.1:$pport" ]]
	[[ $(jfield 1 CONNECTD_VIA_STATUS) == 200 ]]
	[[ $(jfield 1 CONNECTD_ADDR) == - ]]
	[[ $(jfield 1 MESSAGE) == *" via=127.0.0.1:$pport via_status=200 "* ]] || fail "$(jfield 1 MESSAGE)"
	# The parent refuses port 1: its 403 is in the record.
	ucspi_lab --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT,1" --log journal \
		--upstream "http://127.0.0.1:$pport"
	has_line 'STATUS 403'
	[[ $(jfield 2 CONNECTD_REASON) == upstream_denied ]] || fail "entries: $(cat "$JOUT")"
	[[ $(jfield 2 CONNECTD_VIA) == "127.0.0.1:$pport" ]]
	[[ $(jfield 2 CONNECTD_VIA_STATUS) == 403 ]]
}

@test "--log journal: a refusal's record, with the status and reason to query" {
	start_target echo
	ucspi_lab --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT" --log journal
	has_line 'STATUS 403'
	[[ $(jfield 1 CONNECTD_STATUS) == 403 ]]
	[[ $(jfield 1 CONNECTD_REASON) == port_not_allowed ]]
	[[ $(jfield 1 CONNECTD_TARGET) == 127.0.0.1:1 ]]
}

# listen_lab PORT CONNECTD-ARGS... : in the lab, connectd --listen on
# 127.0.0.1:PORT with --log journal; one tunnel to the echo target and one
# refused request, then SIGTERM once both records are in; the listener's
# pid in listener.pid
listen_lab() {
	# shellcheck disable=SC2016
	in_lab bash -c '
		py=$1 tools=$2 jout=$3 port=$4 tport=$5
		shift 5
		"$@" --listen "127.0.0.1:$port" --log journal 2>listener.err &
		pid=$!
		echo "$pid" >listener.pid
		for _ in $(seq 100); do
			[ -n "$(ss -Hltn "sport = :$port")" ] && break
			sleep 0.05
		done
		"$py" "$tools/client.py" --port "$port" --tport "$tport" \
			--request "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\n\r\n" \
			--act "send:ping\n" --act shut --act readeof
		"$py" "$tools/client.py" --port "$port" --request "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n"
		for _ in $(seq 100); do
			[ "$(grep -c CONNECTD_STATUS "$jout")" -ge 2 ] && break
			sleep 0.05
		done
		kill -TERM "$pid"
		wait "$pid"' bash "$PY" "$TOOLS" "$JOUT" "$@"
}

@test "--log journal, high-rate mode: records reach the journal from the parent, SYSLOG_PID the child's" {
	start_target echo
	local port
	port=$(free_port)
	run listen_lab "$port" "$TPORT" "$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT"
	echo "$output"
	local pid
	pid=$(cat listener.pid)
	[[ $(grep -c CONNECTD_STATUS "$JOUT") == 2 ]] || fail "entries: $(cat "$JOUT")"
	# journald names the unit from the sender's pid when it reads an
	# entry: the parent, alive, not a child that may be gone by then
	local n
	for n in 1 2; do
		[[ $(jfield $n _PID) == "$pid" ]] || fail "entry $n sent by $(jfield $n _PID), not the listener $pid"
		[[ $(jfield $n SYSLOG_PID) =~ ^[0-9]+$ && $(jfield $n SYSLOG_PID) != "$pid" ]] ||
			fail "entry $n: SYSLOG_PID $(jfield $n SYSLOG_PID), the listener is $pid"
	done
	[[ $(jfield 1 CONNECTD_STATUS) == 200 && $(jfield 1 CONNECTD_BYTES_UP) == 5 ]] || fail "$(sed -n 1p "$JOUT")"
	[[ $(jfield 2 CONNECTD_STATUS) == 403 ]] || fail "$(sed -n 2p "$JOUT")"
	[[ ! -s listener.err ]] || fail "stderr: $(cat listener.err)"
}

@test "auto: the journal when fd 2 is the stream JOURNAL_STREAM names, stderr otherwise" {
	start_target echo
	: >ucspi.err
	local js
	js=$(stat -c '%d:%i' ucspi.err)
	ucspi_lab --env JOURNAL_STREAM="$js" --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" --allow-port "$TPORT"
	[[ $(jfield 1 CONNECTD_STATUS) == 403 ]] || fail "no journal entry: $(cat "$JOUT" 2>/dev/null)"
	[[ ! -s ucspi.err ]] || fail "also on stderr"
	# another file's identity: not the journal's stream, so stderr
	: >other
	js=$(stat -c '%d:%i' other)
	ucspi_lab --env JOURNAL_STREAM="$js" --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" --allow-port "$TPORT"
	[[ $(wc -l <"$JOUT") == 1 ]] || fail "a second journal entry"
	grep -aq '^connectd: client=.* status=403 ' ucspi.err || fail "not on stderr"
	# --log stderr wins over the journal stream
	: >ucspi.err
	js=$(stat -c '%d:%i' ucspi.err)
	ucspi_lab --env JOURNAL_STREAM="$js" --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" --allow-port "$TPORT" --log stderr
	[[ $(wc -l <"$JOUT") == 1 ]] || fail "a journal entry despite --log stderr"
	grep -aq '^connectd: client=.* status=403 ' ucspi.err || fail "not on stderr"
}

@test "--log journal without a journal: the line goes to stderr" {
	start_target echo
	ucspi_lab --no-journal --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- \
		"$CONNECTD" --allow-port "$TPORT" --log journal
	has_line 'STATUS 403'
	grep -aq '^connectd: client=.* status=403 ' ucspi.err || fail "lost"
}

@test "--log stderr never writes into the client's stream (inetd, fd 2 the socket)" {
	start_target echo
	start_proxy inetd-fd2 --allow-port "$TPORT" --log stderr
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:1 HTTP/1.0\r\n\r\n'
	report_cases
}

@test "--log: a bad sink is a usage error naming the choices" {
	run --separate-stderr "$CONNECTD" --log file
	((status == 2))
	[[ $stderr == *"--log file: not auto, journal, syslog or stderr"* ]] || fail "$stderr"
}
