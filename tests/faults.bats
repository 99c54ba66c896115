#!/usr/bin/env bats
# Faults mid-tunnel (issue 5): a target that resets or stops reading (the
# client is throttled, connectd's memory stays bounded, a client reset still
# gets through, a timeout does not pass undelivered bytes off as a clean
# end), a client that vanishes (reset, or close() with the target still
# talking) as against one that merely half-closes, file descriptors running
# out (prlimit on a running connectd, tight ulimit -n), and a connectd
# instance killed with SIGKILL next to a healthy one.
# connectd runs under systemd-socket-activate --accept unless said otherwise.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

setup() {
	common_setup
}

teardown() { common_teardown; }

_has_re() { grep -Eq "$2" "$1" 2>/dev/null; }

# wait_re SECONDS FILE REGEX : wait until a line of FILE matches REGEX
wait_re() {
	wait_until "$1" _has_re "$2" "$3" ||
		fail "no line matching '$3' in $2 within $1 s:" "$(cat "$2" 2>/dev/null)"
}

# pour_field KEY : a key=value of the first line the pour target wrote
pour_field() { sed -n "1s/.* $1=\([^ ]*\).*/\1/p" pour.txt; }

# the log line's end= value
log_end() { log_lines | sed -n 's/.* end=\([^ ]*\).*/\1/p' | head -n1; }

@test "target resets mid-transfer, data flowing both ways: the client sees a reset, not a clean EOF" {
	head -c 8388608 /dev/urandom >up.bin
	start_target pour --total 2097152 --reset-after --out pour.txt
	start_proxy accept --allow-port "$TPORT"
	# one thread does both directions, so the reset cannot be taken by a
	# writer thread and leave the reader a plain EOF
	hostile duplex --request "$REQ" --send-file up.bin
	echo "$output"
	((status == 0))
	has_line 'END reset'
	wait_re 10 pour.txt '^rst '
	local got
	got=$(value RECV_LEN)
	((got <= 2097152)) || fail "received $got bytes, the target sent 2097152"
	wait_log 1
	[[ $(log_end) == target_reset || $(log_end) == target_gone ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "target resets mid-download: the client sees a reset after at most what was sent" {
	start_target pour --total 4194304 --reset-after --out pour.txt
	start_proxy accept --allow-port "$TPORT"
	client --request "$REQ" --check-ok --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'END reset'
	(($(value RECV_LEN) <= 4194304))
	wait_log 1
	[[ $(log_end) == target_reset ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "target stops reading: the client is throttled by TCP, connectd's memory stays bounded, --idle-timeout ends it" {
	start_target stall
	start_proxy accept --allow-port "$TPORT" --idle-timeout 4
	bg flood "$PY" "$TOOLS/hostile.py" flood --port "$PPORT" --tport "$TPORT" --request "$REQ" \
		--stuck-after 1 --stuck-file stuck.txt --timeout 40
	wait_until 30 _nonempty stuck.txt || fail "the client was never throttled:" "$(cat flood.out flood.err)"
	local pid rss
	pid=$(connectd_pids)
	[[ $pid =~ ^[0-9]+$ ]] || fail "not one connectd process: $pid"
	rss=$(vmrss_kib "$pid")
	echo "connectd VmRSS ${rss} KiB while the client is stuck; $(cat stuck.txt) bytes sent"
	((rss < 65536)) || fail "connectd VmRSS is $rss KiB"
	local sent
	sent=$(cut -d' ' -f2 stuck.txt)
	((sent < 64 * 1024 * 1024)) || fail "the client sent $sent bytes before it was throttled"
	wait_re 30 flood.out '^T_END '
	cat flood.out
	local tstuck tend
	tstuck=$(sed -n 's/^T_STUCK //p' flood.out)
	tend=$(sed -n 's/^T_END //p' flood.out)
	((tend - tstuck <= 12000)) || fail "the tunnel ended $((tend - tstuck)) ms after the client got stuck (idle timeout 4 s)"
	grep -Eq '^END (eof|reset|error:.*)$' flood.out || fail "tunnel not ended: $(cat flood.out)"
	wait_log 1
	[[ $(log_end) == idle_timeout ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "client resets while the target is not reading: the reset reaches the target at once, connectd exits" {
	# the target reads nothing until the file "go" exists, then reads to the end
	start_target observe --wait-file "$BATS_TEST_TMPDIR/go" --out how.txt
	start_proxy accept --allow-port "$TPORT" --idle-timeout 30
	hostile flood --request "$REQ" --stuck-after 2 --reset-when-stuck --timeout 30
	echo "$output"
	has_line 'STUCK yes'
	has_line 'END reset-sent'
	# connectd's buffer towards the target is full, but the client's reset
	# must still end the tunnel, while the target is still not reading (and
	# long before the 30 s idle timeout)
	wait_exits 1 5
	touch go
	wait_until 15 _nonempty how.txt || fail "the target's connection did not end"
	cat how.txt
	[[ $(cat how.txt) == 'reset '* ]] || fail "the target saw '$(cat how.txt)', not the client's reset"
	wait_log 1
	[[ $(log_end) == client_reset ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "idle timeout with client bytes still undelivered: the target sees a reset, not a clean EOF" {
	# the target reads nothing until connectd is gone, so --idle-timeout 2
	# ends the tunnel while connectd still holds client bytes it never
	# delivered
	start_target observe --wait-file "$BATS_TEST_TMPDIR/go" --out how.txt
	start_proxy accept --allow-port "$TPORT" --idle-timeout 2
	hostile flood --request "$REQ" --stuck-after 1 --timeout 30
	echo "$output"
	has_line 'STUCK yes'
	wait_exits 1 10
	touch go
	wait_log 1
	[[ $(log_end) == idle_timeout ]] || fail "$(log_lines)"
	local up sent
	up=$(log_lines | sed -n 's/.* up=\([0-9]*\) .*/\1/p')
	sent=$(value SENT)
	((up < sent)) || fail "all $sent bytes were delivered, nothing to lose"
	wait_until 20 _nonempty how.txt || fail "the target's connection did not end"
	cat how.txt
	# a clean EOF would pass a truncated upload off as complete
	[[ $(cat how.txt) == 'reset '* ]] ||
		fail "the target saw '$(cat how.txt)' after the client sent $sent bytes: a truncated stream that ends like a complete one"
	expect_clean_exits 1
}

@test "client vanishes with a reset mid-transfer: the target's connection is closed at once, connectd exits" {
	start_target pour --out pour.txt
	start_proxy accept --allow-port "$TPORT"
	client --request "$REQ" --check-ok --act read:1048576 --act reset
	((status == 0))
	has_line 'CHECK ok'
	# an endless pour: only a reset or EPIPE ends it early
	wait_until 5 _nonempty pour.txt || fail "the target's connection is still open"
	cat pour.txt
	grep -Eq '^(reset|pipe) ' pour.txt || fail "target: $(cat pour.txt)"
	wait_exits 1 5
	wait_log 1
	[[ $(log_end) == client_reset || $(log_end) == client_gone ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "client vanishes with close(): the target's next bytes are refused by the client, the target is closed at once, connectd exits" {
	# the target answers only after the client's FIN, in paced chunks
	start_target pour --wait-eof --chunk 16384 --pace 0.02 --out pour.txt
	start_proxy accept --allow-port "$TPORT"
	# check and close at once: nothing unread, so close() sends a FIN
	client --request "$REQ" --check-ok
	((status == 0))
	has_line 'CHECK ok'
	wait_until 10 _nonempty pour.txt || fail "the target's connection is still open"
	cat pour.txt
	grep -Eq '^(reset|pipe) ' pour.txt || fail "target: $(cat pour.txt)"
	[[ $(pour_field rxend) == eof ]] # it got the client's FIN first
	local ms
	ms=$(pour_field ms)
	((ms <= 5000)) || fail "the target kept sending for $ms ms"
	wait_exits 1 5
	wait_log 1
	[[ $(log_end) == client_gone ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "a half-close is no disappearance: after the client's FIN the target keeps sending 1 MiB, all of which arrives" {
	start_target pour --wait-eof --total 1048576 --chunk 16384 --pace 0.002 --out pour.txt
	start_proxy accept --allow-port "$TPORT"
	client --request "$REQ" --check-ok --act 'send:last words\n' --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV_LEN 1048576'
	has_line 'END eof'
	wait_until 10 _nonempty pour.txt
	cat pour.txt
	grep -q '^done sent=1048576 ' pour.txt
	[[ $(pour_field rx) == 11 && $(pour_field rxend) == eof ]]
	has_line "RECV_SHA256 $(pour_field sha)"
	wait_log 1
	[[ $(log_end) == eof ]] || fail "$(log_lines)"
	expect_clean_exits 1
}

# --- file descriptors --------------------------------------------------------

# use_wrapper SCRIPT_BODY : point CONNECTD at a wrapper script that runs
# SCRIPT_BODY and then execs the real connectd (same PID and name)
use_wrapper() {
	local real=$CONNECTD
	printf '#!/bin/sh\n%s\nexec "%s" "$@"\n' "$1" "$real" >wrapper.sh
	chmod +x wrapper.sh
	CONNECTD=$BATS_TEST_TMPDIR/wrapper.sh
}

# _in_poll PID : PID sleeps in poll(2) or ppoll(2) (x86_64 7, 271; arm64 73)
_in_poll() {
	local nr
	read -r nr _ <"/proc/$1/syscall" || return 1
	[[ $nr == 7 || $nr == 271 || $nr == 73 ]]
}

# starve TARGET : a request to TARGET whose blank line is only sent once
# connectd's descriptor limit leaves it no free descriptor
starve() {
	rm -f go
	bg "starve-$1" "$PY" "$TOOLS/hostile.py" staged --port "$PPORT" --tport "$TPORT" \
		--request "CONNECT $1:{T} HTTP/1.1\r\nHost: h\r\n" --rest '\r\n' --go-file go \
		--check-error 503 resources_exhausted --timeout 20
	local out=$BATS_TEST_TMPDIR/starve-$1.out
	wait_connectd_count 1
	local pid fd
	pid=$(connectd_pids)
	# past the dynamic loader (which needs a descriptor of its own) and
	# waiting in poll for the rest of the head
	wait_until 10 _in_poll "$pid" || fail "connectd $pid never waited in poll: $(cat "/proc/$pid/syscall")"
	fd=$(lowest_free_fd "$pid")
	prlimit --pid "$pid" --nofile="$fd:$fd"
	touch go
	wait_re 25 "$out" '^(CHECK|END)'
	wait_re 5 "$out" '^CHECK'
	cat "$out"
	grep -q '^CHECK ok' "$out"
}

@test "descriptors exhausted before the dial, IP literal target: 503 resources_exhausted, exit 0" {
	# LeakSanitizer needs descriptors at exit; the starvation is ours
	use_wrapper 'export ASAN_OPTIONS=detect_leaks=0'
	start_target echo
	start_proxy inetd --allow-port "$TPORT"
	starve 127.0.0.1
	wait_log 1
	log_lines | grep -q ' status=503 .*reason=resources_exhausted' || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "descriptors exhausted before the dial, name target: 503 resources_exhausted, exit 0" {
	use_wrapper 'export ASAN_OPTIONS=detect_leaks=0'
	start_target echo
	start_proxy inetd --allow-port "$TPORT"
	starve localhost
	wait_log 1
	log_lines | grep -q ' status=503 .*reason=resources_exhausted' || fail "$(log_lines)"
	expect_clean_exits 1
}

@test "tight ulimit -n (4, 5, 6) over UCSPI pipes: an address or a name gets its tunnel or 503 resources_exhausted, nothing else; exit 0" {
	# fds 0-2 are taken: 4 leaves one descriptor to spare, the least the
	# dynamic loader itself needs.  LeakSanitizer needs descriptors at exit.
	start_target echo
	local n host fails=()
	for n in 4 5 6; do
		for host in 127.0.0.1 localhost; do
			# shellcheck disable=SC2016,SC2086 # CONNECTD_EXTRA: a list of options
			run "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr "ucspi-$n-$host.err" \
				--request "CONNECT $host:{T} HTTP/1.0\r\n\r\n" --send 'ping\n' -- \
				sh -c 'ulimit -n "$0"; ASAN_OPTIONS=detect_leaks=0 exec "$@"' "$n" \
				"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} --allow-port "$TPORT"
			echo "ulimit -n $n, $host: $(grep -E '^(STATUS|RECV|BODY|EXIT)' <<<"$output" | tr '\n' ' ')"
			if [[ $(value STATUS) == 200 ]]; then
				has_line 'RECV ping\n' 2>/dev/null || fails+=("$n $host: 200 without the echo")
			elif [[ $(value STATUS) == 503 ]]; then
				[[ $(value BODY) == 'resources_exhausted: '* ]] || fails+=("$n $host: 503 $(value BODY)")
			elif [[ $(value STATUS) != none ]]; then
				fails+=("$n $host: $(value STATUS) $(value BODY)")
			fi
			[[ $(value EXIT) == 0 ]] || fails+=("$n $host: exit $(value EXIT): $(cat "ucspi-$n-$host.err")")
		done
	done
	((${#fails[@]} == 0)) || fail "${fails[@]}"
}

# --- SIGKILL ------------------------------------------------------------------

_count_ge() { [[ -s $1 ]] && (($(cat "$1") >= $2)); }

hold() { # NAME : a tunnel that pings through the echo target until NAME.stop
	bg "$1" "$PY" "$TOOLS/hostile.py" hold --port "$PPORT" --tport "$TPORT" --request "$REQ" \
		--interval 0.05 --count-file "$1.count" --stop-file "$1.stop" --timeout 40
}

@test "kill -9 of one connectd takes down only its own tunnel" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	hold a
	wait_until 10 _count_ge a.count 3 || fail "tunnel a does not work:" "$(cat a.out a.err)"
	local pa pb
	pa=$(connectd_pids)
	[[ $pa =~ ^[0-9]+$ ]]
	hold b
	wait_until 10 _count_ge b.count 3 || fail "tunnel b does not work:" "$(cat b.out b.err)"
	pb=$(connectd_pids | grep -vx "$pa")
	[[ $pb =~ ^[0-9]+$ ]]

	kill -9 "$pa"
	wait_re 10 a.out '^END '
	cat a.out
	grep -Eq '^END (eof|reset|error:.*)$' a.out
	# b keeps working after a is gone
	local c
	c=$(cat b.count)
	wait_until 10 _count_ge b.count $((c + 10)) || fail "tunnel b stalled after a was killed:" "$(cat b.out b.err)"
	kill -0 "$pb"
	touch b.stop
	wait_re 10 b.out '^END '
	cat b.out
	grep -q '^END eof' b.out
	# the launcher saw one death by signal 9 and one clean exit; a new
	# connection still gets a tunnel
	wait_exits 2 10
	grep -aq "Child $pa died with code 9" "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
	grep -aq "Child $pb died with code 0" "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
	client --request "$REQ" --check-ok --act 'send:after the kill\n' --act shut --act readeof
	has_line 'CHECK ok'
	has_line 'RECV after the kill\n'
	wait_log 2
	log_lines | grep -q ' status=200 .*end=eof' || fail "$(log_lines)"
}
