#!/usr/bin/env bats
# Process titles: ps(1) shows each connectd process's client, target and
# phase, as sshd and postgres do.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=30
load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# title_is PATTERN : the one connectd process's title matches PATTERN (a
# bash regex), read from /proc/PID/cmdline as ps(1) reads it
_title_matches() {
	local pid
	pid=$(connectd_pids | head -n 1)
	[[ -n $pid ]] || return 1
	TITLE=$(tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's/ *$//')
	[[ $TITLE =~ $1 ]]
}
title_is() {
	wait_until 10 _title_matches "$1" || fail "title '${TITLE:-}' does not match $1"
	echo "title: $TITLE"
}

@test "the title shows the client while the request is read, then client, target and [tunnel]" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	exec 5<>/dev/tcp/127.0.0.1/"$PPORT"
	title_is '^connectd: 127\.0\.0\.1:[0-9]+ \[request\]$'
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$TPORT" >&5
	title_is "^connectd: 127\\.0\\.0\\.1:[0-9]+ -> 127\\.0\\.0\\.1:$TPORT \\[tunnel\\]\$"
	exec 5>&-
}

@test "a long title is clipped to the room the command line and environment gave" {
	start_target echo
	local label name pf=$BATS_TEST_TMPDIR/proxy.port
	label=$(printf 'h%.0s' {1..60})
	name=$label.$label.$label.example
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	# a short command line and a small environment leave the title about
	# a hundred bytes
	printf 'allow-dest %s\n' "$name" >p.conf
	chmod 0600 p.conf
	bg proxy isolated env -i PATH=/usr/bin:/bin "$PY" "$TOOLS/activate.py" \
		--port-file "$pf" -- "$CONNECTD" --config p.conf --allow-port "$TPORT"
	read_port_file "$pf" PPORT || fail "proxy: $(cat "$PROXY_LOG")"
	exec 5<>/dev/tcp/127.0.0.1/"$PPORT"
	printf 'CONNECT %s:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$name" "$TPORT" >&5
	# the name does not resolve (no DNS server in the test's namespace);
	# the whole title would be "... -> NAME:PORT [dialing]" or [refusing]
	title_is "^connectd: 127\\.0\\.0\\.1:[0-9]+ -> $label\\."
	local full="connectd: 127.0.0.1:00000 -> $name:$TPORT [dialing]"
	((${#TITLE} < ${#full})) || fail "not clipped: $TITLE"
	[[ $TITLE != *'['* ]] || fail "not clipped: $TITLE"
	exec 5>&-
}

@test "a launcher's client address is escaped in the title, as in the log" {
	"$PY" "$TOOLS/ucspi.py" --stderr ucspi.err --env $'TCPREMOTEIP=10.0.0.1\e[31m' \
		--request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\n' -- "$CONNECTD" --request-timeout 3 \
		>ucspi.out 2>&1 &
	_BG_PIDS+=("$!")
	title_is '^connectd: 10\.0\.0\.1\\x1b\[31m:5555 \[request\]$'
	wait_until 10 grep -aq 'connectd: client=10\.0\.0\.1\\x1b\[31m:5555 ' ucspi.err ||
		fail "log: $(cat ucspi.err)"
}
