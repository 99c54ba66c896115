#!/usr/bin/env bats
# Deadlines and caps against hostile clients (issue 5): a head dribbled in
# slower than --request-timeout, a client that never speaks, idle and busy
# tunnels against --idle-timeout and --max-lifetime, and every parser cap
# (request.h REQ_LINE_MAX 8192, REQ_FIELDS_MAX 100, REQ_HEAD_MAX 16384,
# REQ_TARGET_MAX 260) exactly at the limit (works) and one byte past it
# (its status), end to end through a real connectd.  Line lengths exclude the
# line end; the head size counts every line end and the final blank line.
#
# Time is only ever bounded from above, generously (3x the deadline).

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

H='Host: 127.0.0.1:{T}\r\n'
REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

setup() {
	common_setup
}

teardown() { common_teardown; }

rep() { # rep CHAR COUNT : CHAR repeated COUNT times
	local s
	printf -v s '%*s' "$2" ''
	printf '%s' "${s// /$1}"
}

# a field line of exactly N bytes without its line end
field_of() { printf 'X-Pad: %s' "$(rep p $(($1 - 7)))"; }

# the field lines X-F1..X-F<N>, CRLF-terminated
fields_of() {
	local i s=''
	for ((i = 1; i <= $1; i++)); do s+="X-F$i: v\\r\\n"; done
	printf '%s' "$s"
}

# write_head FILE TOTAL REQUEST : REQUEST (escapes and {T} decoded) padded
# with X-Pad fields before its blank line to exactly TOTAL bytes
write_head() {
	"$PY" -B -c 'import sys; sys.path.insert(0, sys.argv[1])
from client import pad_head, unesc
req = pad_head(unesc(sys.argv[4], int(sys.argv[5])), int(sys.argv[3]))
open(sys.argv[2], "wb").write(req)' "$TOOLS" "$1" "$2" "$3" "$TPORT"
}

proxy() { start_proxy accept --allow-port "$TPORT" --request-timeout 5; }

# --- deadlines --------------------------------------------------------------

@test "slow head: one byte every 2 s with --request-timeout 3 -> 408 at the whole-head deadline; connectd exits within 3x" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 3
	local t0
	t0=$(now_ms)
	# a valid head far longer than the deadline allows at this pace
	hostile slowhead --interval 2 --timeout 30 --check-error 408 request_timeout \
		--request "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}User-Agent: slow-loris\r\n\r\n"
	echo "$output"
	((status == 0))
	has_line 'CHECK ok'
	# the deadline covers the whole head, not each read: at most a couple of
	# bytes got through before the answer
	local sent
	sent=$(value SENT)
	((sent >= 1 && sent <= 5)) || fail "sent $sent bytes before the answer"
	ms_at_most T_ANSWER 9000
	wait_exits 1 10
	local took=$(($(now_ms) - t0))
	((took <= 9000)) || fail "connectd ended $took ms after the client connected (deadline 3 s)"
	expect_clean_exits 1
	wait_log 1
	log_lines | grep -q ' status=408 .*reason=request_timeout' || fail "$(cat "$PROXY_LOG")"
}

@test "silent client: closed without one byte at --request-timeout 2; connectd exits within 3x" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 2
	local t0
	t0=$(now_ms)
	hostile silent --timeout 30
	echo "$output"
	((status == 0))
	has_line 'RECV_LEN 0'
	has_line 'END eof'
	ms_at_most T_END 6000
	wait_exits 1 10
	local took=$(($(now_ms) - t0))
	((took <= 6000)) || fail "connectd ended $took ms after the client connected (deadline 2 s)"
	expect_clean_exits 1
	wait_log 1
	(($(log_lines | wc -l) == 1))
}

@test "idle tunnel: traffic one way keeps it past --idle-timeout 2, silence ends it within 3x" {
	start_target silent
	start_proxy accept --allow-port "$TPORT" --idle-timeout 2
	# a byte upstream every 0.25 s for 4 s (twice the idle timeout), then
	# nothing; the silent target never answers
	hostile trickle --interval 0.25 --duration 4 --timeout 30 --request "$REQ"
	echo "$output"
	((status == 0))
	has_line 'ALIVE yes'
	# a deadline cuts the tunnel: a reset, never a FIN
	has_line 'END reset'
	ms_at_most T_QUIET 6000
	wait_log 1
	log_lines | grep -q ' status=200 .*end=idle_timeout' || fail "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}

@test "--max-lifetime 2 ends a tunnel saturated both ways, within 3x" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --max-lifetime 2 --idle-timeout 0
	hostile busy --timeout 20 --request "$REQ"
	echo "$output"
	((status == 0))
	(($(value UP) > 0 && $(value DOWN) > 0)) || fail "no traffic"
	[[ $(value END) =~ ^(eof|reset|error:.*)$ ]] || fail "tunnel not ended: $(value END)"
	ms_at_most T_END 6000
	wait_log 1
	log_lines | grep -q ' status=200 .*end=max_lifetime' || fail "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}

# --- caps: at the limit and one byte past it ---------------------------------

@test "field line: 8192 bytes (CRLF or LF, whole or in 1 KiB pieces) -> tunnel; 8193 -> 431 field_too_long" {
	start_target echo
	proxy
	local ok over
	ok=$(field_of 8192) over=$(field_of 8193)
	((${#ok} == 8192 && ${#over} == 8193))
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$ok\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\n${H//\\r/}$ok\n\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$ok\r\n$H\r\n" --split 1024
	expect_error 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$over\r\n\r\n"
	expect_error 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\n${H//\\r/}$over\n\n"
	expect_error 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$over\r\n$H\r\n" --split 1024
	report_cases
}

@test "field line cut before its line end: 8193 bytes is answered at once, 8192 bytes and a CR waits for more" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 2
	local ok over
	ok=$(field_of 8192) over=$(field_of 8193)
	# nothing more comes: a proxy that waited would answer 408 instead
	expect_error 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$over"
	# at the limit the line may still end well: no verdict before the deadline
	expect_error 408 request_timeout "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$ok\r"
	expect_error 408 request_timeout "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$ok"
	report_cases
}

@test "fields: 100 (Host included, empty values count) -> tunnel; 101 -> 431 too_many_fields" {
	start_target echo
	proxy
	local f99 f100
	f99=$(fields_of 99) f100=$(fields_of 100)
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$f99\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${f99//: v/:}$H\r\n" --split 300
	expect_error 431 too_many_fields "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$f100\r\n"
	expect_error 431 too_many_fields "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${f100//: v/:}$H\r\n" --split 300
	report_cases
}

@test "fields: the 101st complete field is answered at once, before the blank line" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 2
	expect_error 431 too_many_fields "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H$(fields_of 100)"
	report_cases
}

@test "head: 16384 bytes (CRLF or LF, last byte alone) -> tunnel; 16385 -> 431 head_too_large" {
	start_target echo
	proxy
	expect_tunnel "$REQ" --pad-head 16384
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\n${H//\\r/}\n" --pad-head 16384
	# the final LF arrives in a read of its own
	expect_tunnel "$REQ" --pad-head 16384 --split 16383
	expect_error 431 head_too_large "$REQ" --pad-head 16385
	expect_error 431 head_too_large "CONNECT 127.0.0.1:{T} HTTP/1.1\n${H//\\r/}\n" --pad-head 16385
	expect_error 431 head_too_large "$REQ" --pad-head 16385 --split 16384
	report_cases
}

@test "head: 16385 bytes of complete lines without the blank line is answered at once" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 2
	# 16387 bytes with the blank line, less the blank line: nothing more comes,
	# so a proxy that waited would answer 408
	write_head full.req 16387 "$REQ"
	head -c 16385 full.req >cut.req
	[[ $(tail -c 2 cut.req | od -An -c | tr -d ' ') == '\r\n' ]]
	expect_error 431 head_too_large '' --request-file cut.req
	report_cases
}

@test "head of exactly 16384 bytes with 30000 tunnel bytes in the same write: all of them reach the target, in order" {
	start_target echo
	proxy
	local extra
	extra=$(seq 1 7000 | tr '\n' ,)
	extra=${extra:0:30000}
	local want
	want=$(printf '%sping\n' "$extra" | sha256sum | cut -d' ' -f1)
	client --request "$REQ" --pad-head 16384 --extra "$extra" \
		--check-ok --act 'send:ping\n' --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line "RECV_LEN $((30000 + 5))"
	has_line "RECV_SHA256 $want"
	has_line 'END eof'
	expect_clean_exits 1
}

@test "target: 260 bytes passes the parser (403 or 502, never 414) and is logged whole; 261 -> 414" {
	start_target echo
	proxy
	local name
	name="$(rep a 63).$(rep b 63).$(rep c 63).$(rep d 61)" # 253 bytes
	((${#name} == 253))
	local t260="$name.:65535" t261="$name.x:65535"
	((${#t260} == 260 && ${#t261} == 261))
	# port 65535 is not allowed: refused by policy, after parsing
	client --request "CONNECT $t260 HTTP/1.1\r\nHost: h\r\n\r\n"
	echo "$output"
	[[ $(value STATUS) == 403 || $(value STATUS) == 502 ]] ||
		fail "a 260-byte target got $(value STATUS), expected 403 or 502"
	wait_log 1
	log_lines | grep -qF " target=$t260 " || fail "the 260-byte target is not logged whole:" "$(log_lines)"
	expect_error 414 target_too_long "CONNECT $t261 HTTP/1.1\r\nHost: h\r\n\r\n"
	report_cases
}

@test "target: 260 bytes with the port allowed is resolved (502 dns_error), not refused as too long" {
	start_target echo
	start_proxy accept --allow-port 65535 --allow-dest .test --request-timeout 5
	local name
	name="$(rep a 63).$(rep b 63).$(rep c 63).$(rep d 56).test" # 253 bytes
	((${#name} == 253))
	client --request "CONNECT $name.:65535 HTTP/1.1\r\nHost: h\r\n\r\n"
	echo "$output"
	[[ $(value STATUS) != 414 ]] || fail "a 260-byte target was refused as too long"
	has_line 'STATUS 502'
	[[ $(value BODY) == 'dns_error: '* ]]
}

# --- CPU per byte ------------------------------------------------------------

# punct_field N : a field line of N bytes (without its line end) whose name
# is all punctuation, the costliest bytes for the parser to check
punct_field() { printf 'X%s: v' "$(rep - $(($1 - 4)))"; }

@test "a 16 KiB head trickled one byte per read costs connectd little CPU: parsing resumes where it stopped" {
	local pf=$BATS_TEST_TMPDIR/proxy.port ru=$BATS_TEST_TMPDIR/rusage
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=inetd
	# tools/rusage.py between the inetd-style launcher and connectd records
	# the CPU time connectd used
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	bg proxy isolated "$PY" "$TOOLS/activate.py" --inetd --port-file "$pf" -- \
		"$PY" "$TOOLS/rusage.py" --out "$ru" -- "$CONNECTD" ${CONNECTD_EXTRA:-} \
		--request-timeout 60
	read_port_file "$pf" PPORT || fail "the proxy did not start: $(cat "$PROXY_LOG")"
	# 99 fields, 16384 bytes with the blank line; port 1 is refused (403)
	# only once the whole head is in
	local req='CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n' i n
	for ((i = 0; i < 97; i++)); do req+="$(punct_field 164)\r\n"; done
	n=$(printf '%b' "$req" | wc -c)
	req+="$(punct_field $((16384 - n - 4)))\r\n\r\n"
	(($(printf '%b' "$req" | wc -c) == 16384))
	# a pause after each byte, so that each is a read of its own
	hostile slowhead --interval 0.0002 --timeout 50 --check-error 403 port_not_allowed \
		--request "$req"
	echo "$output"
	((status == 0))
	has_line 'CHECK ok'
	has_line 'SENT 16384'
	wait_until 10 _nonempty "$ru" || fail "no CPU time recorded"
	local line
	line=$(cat "$ru")
	[[ $line =~ ^user_ms=([0-9]+)\ sys_ms=([0-9]+)\ status=0$ ]] || fail "rusage: $line"
	echo "connectd used ${BASH_REMATCH[1]} ms user, ${BASH_REMATCH[2]} ms sys"
	# the system time goes to the 16384 reads and polls; parsing the head
	# from its start on each read took 800 ms of user time and more
	((BASH_REMATCH[1] < 200)) || fail "connectd used ${BASH_REMATCH[1]} ms of user CPU"
}
