#!/usr/bin/env bats
# The per-connection log line (spec "Log"): one key=value line on stderr at
# the end of each connection, with the client, target, status, reason, byte
# counts and end; untrusted text escaped and clipped.
# connectd runs under systemd-socket-activate --accept, whose stderr (the
# launcher's, shared with connectd) is $PROXY_LOG.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=30
load helpers

setup() {
	common_setup
}

teardown() { common_teardown; }

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

expect_field_re() { # KEY REGEX LINE
	local v
	v=$(field "$1" "$3") || fail "no $1= in: $3"
	[[ $v =~ $2 ]] || fail "$1=$v does not match $2 in: $3"
}

@test "tunnel log line: client, target, addr, status, reason, up/down byte counts, end" {
	start_target halfclose-echo --data '+7bytes'
	start_proxy accept --allow-port "$TPORT"
	local data
	printf -v data '%*s' 3000 ''
	data=${data// /u}
	client --request "$REQ" --check-ok --act "send:$data" --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV_LEN 3007'
	local me
	me=$(value LOCAL)
	wait_log 1
	local lines_
	lines_=$(log_lines)
	echo "$lines_"
	(($(wc -l <<<"$lines_") == 1))
	expect_field client "$me" "$lines_"
	expect_field target "127.0.0.1:$TPORT" "$lines_"
	expect_field addr "127.0.0.1:$TPORT" "$lines_"
	expect_field status 200 "$lines_"
	expect_field reason ok "$lines_"
	expect_field up 3000 "$lines_"
	expect_field down 3007 "$lines_"
	expect_field_re connect_ms '^[0-9]+$' "$lines_"
	expect_field_re duration_ms '^[0-9]+$' "$lines_"
	expect_field end eof "$lines_"
}

@test "tunnel log line: bytes sent with the request count as up; a name target is logged as given" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT localhost:{T} HTTP/1.0\r\n\r\n' --extra 'early\n' \
		--check-ok --act 'send:later\n' --act shut --act readeof
	((status == 0))
	has_line 'RECV early\nlater\n'
	wait_log 1
	local l
	l=$(log_lines)
	echo "$l"
	expect_field target "localhost:$TPORT" "$l"
	expect_field addr "127.0.0.1:$TPORT" "$l"
	expect_field up 12 "$l"
	expect_field down 12 "$l"
	expect_field end eof "$l"
}

@test "error log lines: status and reason key, one line per connection" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n'
	wait_log 1
	expect_error 405 method_not_allowed 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'
	wait_log 2
	expect_error 400 bad_host 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\n\r\n'
	wait_log 3
	report_cases
	local l
	log_lines
	l=$(log_lines | sed -n 1p)
	expect_field status 403 "$l"
	expect_field reason port_not_allowed "$l"
	expect_field target 127.0.0.1:1 "$l"
	l=$(log_lines | sed -n 2p)
	expect_field status 405 "$l"
	expect_field reason method_not_allowed "$l"
	l=$(log_lines | sed -n 3p)
	expect_field status 400 "$l"
	expect_field reason bad_host "$l"
	(($(log_lines | wc -l) == 3))
}

@test "control bytes in a rejected target: 400, and its log line stays one line without them" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	local n=0 req
	for req in 'CONNECT evil\x1b[31mred\x1b[0m.test:{T} HTTP/1.1\r\nHost: h\r\n\r\n' \
		'CONNECT evil\rstatus=200 reason=ok:{T} HTTP/1.1\r\nHost: h\r\n\r\n' \
		'CONNECT a\x7f\x08\x07.test:{T} HTTP/1.1\r\nHost: h\r\n\r\n' \
		'CONNECT a\x00b.test:{T} HTTP/1.1\r\nHost: h\r\n\r\n'; do
		client --request "$req"
		has_line 'STATUS 400'
		n=$((n + 1))
		wait_log "$n"
	done
	log_lines | cat -A
	(($(log_lines | wc -l) == 4))
	# no control bytes in connectd's lines, and no line elsewhere in the
	# launcher's stderr looks like part of a log line (nothing was split)
	if log_lines | LC_ALL=C grep -aq '[[:cntrl:]]'; then
		fail "control bytes in a log line"
	fi
	if grep -av '^connectd: ' "$PROXY_LOG" | grep -aq 'status='; then
		fail "a log line was split"
	fi
	local l
	while IFS= read -r l; do
		expect_field status 400 "$l"
	done < <(log_lines)
}

@test "untrusted bytes in a logged target are hex-escaped" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT caf\xc3\xa9\xff.test:{T} HTTP/1.1\r\nHost: h\r\n\r\n'
	has_line 'STATUS 400'
	wait_log 1
	local l
	l=$(log_lines)
	printf '%s\n' "$l" | cat -A
	if LC_ALL=C grep -aq '[^ -~]' <<<"$l"; then
		fail "raw non-printable bytes in the log line"
	fi
	expect_field status 400 "$l"
	local t
	t=$(field target "$l")
	[[ $t == - || $t == "caf\\xc3\\xa9\\xff.test:$TPORT" ]] ||
		fail "target=$t is not the escaped target"
}

@test "an over-long target is clipped in the log line" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	local long
	printf -v long '%*s' 8000 ''
	long=${long// /a}
	client --request "CONNECT $long.test:443 HTTP/1.1\r\nHost: h\r\n\r\n"
	has_line 'STATUS 414'
	wait_log 1
	local l
	l=$(log_lines)
	echo "${#l} bytes: ${l:0:300}..."
	(($(wc -l <<<"$l") == 1))
	((${#l} < 2048)) || fail "log line of ${#l} bytes is not clipped"
	expect_field status 414 "$l"
	expect_field reason target_too_long "$l"
}

@test "request timeout is logged as 408 request_timeout" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 1
	expect_error 408 request_timeout 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\n'
	report_cases
	wait_log 1
	local l
	l=$(log_lines)
	expect_field status 408 "$l"
	expect_field reason request_timeout "$l"
}

@test "dial failures are logged with their reason" {
	start_target bound
	start_proxy accept --allow-port "$TPORT"
	expect_error 502 connection_refused "$REQ"
	report_cases
	wait_log 1
	local l
	l=$(log_lines)
	echo "$l"
	expect_field status 502 "$l"
	expect_field reason connection_refused "$l"
	expect_field target "127.0.0.1:$TPORT" "$l"
}
