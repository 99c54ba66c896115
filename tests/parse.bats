#!/usr/bin/env bats
# Request parsing end to end (spec "Request parsing"): what a real socket
# shows and the parser table cannot.  Every verdict of the parser, one row
# per malformed or accepted request class, is asserted in
# tests/unit/request_test.c, whole and byte by byte.  Here each outcome the
# parser gives is sent once through a real connectd, to prove its status
# line, Proxy-Status, body and log reason, the clean close and the exit
# status; an accepted head gets the tunnel; and the paths that only exist
# on a socket are checked: the head deadline, EOF mid-head, and a refusal
# with unread bytes pending.  The caps at and one byte past their limits
# are proved end to end in limits.bats.
#
# Requests are written with Python escapes (\r \n \x00); {T} is the echo
# target's port.  Each case is one connection through
# systemd-socket-activate --accept; failures are collected and reported
# together.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

H='Host: 127.0.0.1:{T}\r\n'

setup() {
	common_setup
	start_target echo
}

teardown() { common_teardown; }

# the proxy most tests use; --request-timeout keeps a wrongly incomplete
# request from stalling a case for 30 s (it then fails with 408)
default_proxy() {
	start_proxy accept --allow-port "$TPORT" --request-timeout 5
}

rep() { # rep CHAR COUNT : CHAR repeated COUNT times
	local s
	printf -v s '%*s' "$2" ''
	printf '%s' "${s// /$1}"
}

# expect_refusal STATUS REASON REQUEST [client.py options] : expect_error,
# and the connection's log line (the latest: cases run one at a time) holds
# the same status and reason
expect_refusal() {
	expect_error "$@"
	wait_log "$CASES_RUN"
	local l
	l=$(log_lines | tail -n 1)
	[[ $(field status "$l") == "$1" && $(field reason "$l") == "$2" ]] ||
		CASE_FAILS+=("$(_clip "$3")"$'\n'"  want the log line's status=$1 reason=$2, got: $(_clip "$l")")
}

@test "each parser outcome: status line, Proxy-Status, body and log reason on a real socket" {
	default_proxy
	expect_refusal 405 method_not_allowed "GET / HTTP/1.1\r\n$H\r\n"
	expect_refusal 501 method_not_implemented "FOO 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_refusal 400 bad_request_line "CONNECT  127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_refusal 505 version_not_supported "CONNECT 127.0.0.1:{T} HTTP/2.0\r\n$H\r\n"
	expect_refusal 400 bad_target "CONNECT user@127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_refusal 400 bad_port "CONNECT 127.0.0.1:0 HTTP/1.1\r\n$H\r\n"
	# a NUL on the wire, inside a field value
	expect_refusal 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
	expect_refusal 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n\r\n"
	expect_refusal 400 request_content "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello"
	local long
	long="$(rep a 60).$(rep b 60).$(rep c 60).$(rep d 60).$(rep e 30)"
	expect_refusal 414 target_too_long "CONNECT $long:443 HTTP/1.1\r\n$H\r\n"
	# "X-Pad: " is 7 bytes: 7 + 8186 = 8193 bytes without the line end
	expect_refusal 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-Pad: $(rep p 8186)\r\n\r\n"
	local i fields=''
	for ((i = 1; i <= 100; i++)); do fields+="X-F$i: v\r\n"; done
	expect_refusal 431 too_many_fields "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}${fields}\r\n"
	expect_refusal 431 head_too_large "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n" --pad-head 16385
	report_cases
}

@test "an accepted head gets the success head and the tunnel" {
	default_proxy
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	report_cases
}

@test "request deadline: one byte of a request then silence -> 408 request_timeout" {
	start_proxy accept --allow-port "$TPORT" --request-timeout 1
	expect_refusal 408 request_timeout "C"
	report_cases
}

@test "request deadline: a client that sends nothing is closed without a byte" {
	start_proxy accept --allow-port "$TPORT" --request-timeout 1
	client --request ''
	((status == 0))
	has_line 'HEAD'
	has_line 'STATUS none'
	has_line 'BODY'
	has_line 'END eof'
}

@test "client closes mid-head -> 400 incomplete_request" {
	default_proxy
	expect_refusal 400 incomplete_request "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h" --shut-after-request
	report_cases
}

@test "an error response is followed by a clean close even with unread bytes pending" {
	default_proxy
	# answered after 8193 bytes of the line, while the rest still arrives
	expect_refusal 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nX: $(rep x 60000)\r\n\r\n"
	report_cases
}
