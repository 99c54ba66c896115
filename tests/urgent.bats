#!/usr/bin/env bats
# TCP urgent data (MSG_OOB) in a tunnel.  splice(2) stops at an urgent mark,
# so a relay that only splices spins there and loses what follows.  connectd
# reads sockets with SO_OOBINLINE: every byte, the urgent ones included,
# arrives in order and nothing is held out of band; the log counts the marks
# crossed.  Both directions, on every relay path the suite's builds run
# (splice, --no-splice, ASan).  connectd runs under an inetd-style launcher
# with tools/rusage.py in between, which records the CPU time it used.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

setup() { common_setup; }
teardown() { common_teardown; }

# start_measured_proxy : connectd behind tools/rusage.py; sets PPORT,
# PROXY_LOG and RUSAGE
start_measured_proxy() {
	local pf=$BATS_TEST_TMPDIR/proxy.port
	RUSAGE=$BATS_TEST_TMPDIR/rusage
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=inetd
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	bg proxy isolated "$PY" "$TOOLS/activate.py" --inetd --port-file "$pf" -- \
		"$PY" "$TOOLS/rusage.py" --out "$RUSAGE" -- \
		"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} --allow-port 1-65535
	read_port_file "$pf" PPORT || fail "the proxy did not start: $(cat "$PROXY_LOG")"
}

# urgent DIRECTION SCENARIO : run tools/urgent.py through the proxy
urgent() {
	run "$PY" "$TOOLS/urgent.py" --port "$PPORT" --direction "$1" --scenario "$2"
	echo "$output"
}

# expect_intact : every byte arrived in order and both ends saw clean EOFs
expect_intact() {
	((status == 0)) || fail "urgent.py failed"
	[[ $(value HEAD) == 'HTTP/1.1 200 Connection established' ]] || fail "no tunnel"
	[[ $(value SENT) -gt 0 ]] || fail "nothing sent"
	has_line 'MATCH yes'
	has_line 'END eof'
	has_line 'BACK eof'
}

# log_count KEY : the value of KEY in the one log line
log_count() {
	wait_log 1
	log_lines | sed -n "s/.* $1=\([0-9]*\) .*/\1/p"
}

# cpu_at_most MS : connectd used at most MS ms of CPU (user + system)
cpu_at_most() {
	wait_until 10 _nonempty "$RUSAGE" || fail "no CPU time recorded"
	local line
	line=$(cat "$RUSAGE")
	[[ $line =~ ^user_ms=([0-9]+)\ sys_ms=([0-9]+)\ status=0$ ]] || fail "rusage: $line"
	local ms=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
	echo "connectd used $ms ms of CPU"
	((ms <= $1)) || fail "connectd used $ms ms of CPU (at most $1): a busy loop"
}

@test "urgent byte from the target: every byte after the mark arrives, no busy loop" {
	start_measured_proxy
	urgent down one
	cpu_at_most 100
	expect_intact
	[[ $(log_count urgent_down) == 1 ]] || fail "$(log_lines)"
	[[ $(log_count urgent_up) == 0 ]] || fail "$(log_lines)"
	log_lines | grep -q ' status=200 .* end=eof ' || fail "$(log_lines)"
}

@test "urgent byte from the client: every byte after the mark arrives, no busy loop" {
	start_measured_proxy
	urgent up one
	cpu_at_most 100
	expect_intact
	[[ $(log_count urgent_up) == 1 ]] || fail "$(log_lines)"
	[[ $(log_count urgent_down) == 0 ]] || fail "$(log_lines)"
	log_lines | grep -q ' status=200 .* end=eof ' || fail "$(log_lines)"
}

@test "several urgent bytes from the target arrive in-line, in order" {
	start_measured_proxy
	urgent down several
	cpu_at_most 100
	expect_intact
	local n
	n=$(log_count urgent_down)
	# TCP keeps one urgent pointer: a mark overtaken by the next before the
	# reader reached it is only a byte, so at most five marks are seen.
	((n >= 1 && n <= 5)) || fail "urgent_down=$n: $(log_lines)"
}

@test "several urgent bytes from the client arrive in-line, in order" {
	start_measured_proxy
	urgent up several
	cpu_at_most 100
	expect_intact
	local n
	n=$(log_count urgent_up)
	((n >= 1 && n <= 5)) || fail "urgent_up=$n: $(log_lines)"
}

@test "urgent byte from the target while 4 MiB already wait in the proxy" {
	start_measured_proxy
	urgent down backlog
	expect_intact
	[[ $(value SENT) == $((8 * 1048576 + 1)) ]] || fail "short send"
	log_lines | grep -q ' status=200 .* end=eof ' || fail "$(log_lines)"
}

@test "urgent byte from the client while 4 MiB already wait in the proxy" {
	start_measured_proxy
	urgent up backlog
	expect_intact
	[[ $(value SENT) == $((8 * 1048576 + 1)) ]] || fail "short send"
	log_lines | grep -q ' status=200 .* end=eof ' || fail "$(log_lines)"
}
