#!/usr/bin/env bats
# Request parsing (spec "Request parsing"): every malformed-request class
# gets its status and reason key in a well-formed error response followed by a
# clean close; the well-formed variants get the tunnel.
#
# Requests are written with Python escapes (\r \n \x00); {T} is the echo
# target's port.  Each table row is one connection through
# systemd-socket-activate --accept; failures are collected and reported
# together.  Where the spec names no single reason key for a case the row
# lists the keys it allows ("bad_target,bad_port").

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
# request from stalling a row for 30 s (it then fails with 408)
default_proxy() {
	start_proxy accept --allow-port "$TPORT" --request-timeout 5
}

rep() { # rep CHAR COUNT : CHAR repeated COUNT times
	local s
	printf -v s '%*s' "$2" ''
	printf '%s' "${s// /$1}"
}

@test "methods: registered non-CONNECT methods -> 405 with Allow: CONNECT" {
	default_proxy
	local m
	for m in GET HEAD POST PUT DELETE OPTIONS TRACE PATCH; do
		expect_error 405 method_not_allowed "$m 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	done
	expect_error 405 method_not_allowed "GET / HTTP/1.1\r\n$H\r\n"
	expect_error 405 method_not_allowed "GET http://127.0.0.1:{T}/ HTTP/1.0\r\n\r\n"
	report_cases
}

@test "methods: other tokens (lowercase connect, FOO) -> 501" {
	default_proxy
	expect_error 501 method_not_implemented "connect 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 501 method_not_implemented "Connect 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 501 method_not_implemented "FOO 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 501 method_not_implemented "CONNECTX 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	report_cases
}

@test "request line: spacing and missing parts -> 400 bad_request_line" {
	default_proxy
	expect_error 400 bad_request_line "CONNECT  127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T}  HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTP/1.1 \r\n$H\r\n"
	expect_error 400 bad_request_line " CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT\t127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T}\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} \r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT\r\n$H\r\n"
	report_cases
}

@test "request line: version (2.0/0.9 -> 505, malformed -> 400)" {
	default_proxy
	expect_error 505 version_not_supported "CONNECT 127.0.0.1:{T} HTTP/2.0\r\n$H\r\n"
	expect_error 505 version_not_supported "CONNECT 127.0.0.1:{T} HTTP/3.0\r\n$H\r\n"
	expect_error 505 version_not_supported "CONNECT 127.0.0.1:{T} HTTP/0.9\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTP/1\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} http/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTP/1.1x\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTP/1.\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTPS/1.1\r\n$H\r\n"
	report_cases
}

@test "target: port missing, zero, too large or not decimal -> 400" {
	default_proxy
	expect_error 400 bad_target,bad_port "CONNECT 127.0.0.1 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target,bad_port "CONNECT 127.0.0.1: HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port "CONNECT 127.0.0.1:0 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port "CONNECT 127.0.0.1:65536 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port "CONNECT 127.0.0.1:99999 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port "CONNECT 127.0.0.1:000443 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port,bad_target "CONNECT 127.0.0.1:-1 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port,bad_target "CONNECT 127.0.0.1:+443 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port,bad_target "CONNECT 127.0.0.1:0x1bb HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_port,bad_target "CONNECT localhost:https HTTP/1.1\r\n$H\r\n"
	report_cases
}

@test "target: userinfo, path, query, percent-encoding -> 400" {
	default_proxy
	expect_error 400 bad_target "CONNECT user@127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target,bad_port "CONNECT 127.0.0.1:{T}/ HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target,bad_port "CONNECT 127.0.0.1:{T}/index.html HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target,bad_port "CONNECT 127.0.0.1:{T}?q=1 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT 127.0.0.%31:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT %6cocalhost:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT http://127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	report_cases
}

@test "target: host syntax (IPv6 zone, bad brackets, DNS name rules) -> 400 bad_target" {
	default_proxy
	expect_error 400 bad_target "CONNECT [fe80::1%25lo]:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT [fe80::1%lo]:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT ::1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT [::1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT [127.0.0.1]:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT []:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT :{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT exa\$mple.test:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT a..b.test:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_target "CONNECT $(rep a 64).test:{T} HTTP/1.1\r\n$H\r\n"
	# 254-character name (max 253 without the trailing dot): 260-byte target
	local name254
	name254="$(rep a 63).$(rep b 63).$(rep c 63).$(rep d 62)"
	expect_error 400 bad_target "CONNECT $name254:{T} HTTP/1.1\r\n$H\r\n"
	report_cases
}

@test "target: non-dotted-quad IPv4 spellings (127.1, 2130706433, 0x7f.0.0.1, 0177.0.0.1) -> 400 bad_target" {
	default_proxy
	local h
	for h in 127.1 2130706433 0x7f.0.0.1 0177.0.0.1 127.0.1 0x7f000001; do
		expect_error 400 bad_target "CONNECT $h:{T} HTTP/1.1\r\n$H\r\n"
	done
	report_cases
}

@test "target: longer than 260 bytes -> 414; unterminated request line > 8192 -> 414" {
	default_proxy
	local long
	long="$(rep a 60).$(rep b 60).$(rep c 60).$(rep d 60).$(rep e 30)"
	expect_error 414 target_too_long "CONNECT $long:443 HTTP/1.1\r\n$H\r\n"
	expect_error 414 target_too_long "CONNECT $(rep a 8000).test:443 HTTP/1.1\r\n$H\r\n"
	# no line end at all: the proxy must answer without waiting for one
	expect_error 414 target_too_long "CONNECT $(rep a 9000)"
	report_cases
}

@test "header syntax: obs-fold, space before colon, NUL, bare CR, control bytes -> 400" {
	default_proxy
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: b\r\n\tc\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A : b\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A\t: b\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}: b\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X(A): b\r\n\r\n"
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X A: b\r\n\r\n"
	# obs-fold right after the request line
	expect_error 400 bad_header "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n ${H}\r\n"
	report_cases
}

@test "request line: NUL, bare CR and control bytes -> 400" {
	default_proxy
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTP/1.1\rX: y\r\n$H\r\n"
	expect_error 400 bad_request_line "CONNECT 127.0.0.1:{T} HTTP/1.1\x00\r\n$H\r\n"
	expect_error 400 bad_request_line,bad_target "CONNECT 127.0.0.1:{T}\x00 HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line,bad_target "CONNECT 127.0.0\x01.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line,bad_target "CONNECT loc\ralhost:{T} HTTP/1.1\r\n$H\r\n"
	expect_error 400 bad_request_line,bad_target "CONNECT loc\x1b[2Jalhost:{T} HTTP/1.1\r\n$H\r\n"
	report_cases
}

@test "Host: HTTP/1.1 without Host, duplicated or invalid Host -> 400 bad_host" {
	default_proxy
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nUser-Agent: t\r\n\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}${H}\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-A: b\r\nhost: other.test\r\n\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.0\r\n${H}${H}\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: a b\r\n\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: user@h.test\r\n\r\n"
	expect_error 400 bad_host "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h.test/path\r\n\r\n"
	report_cases
}

@test "request content: Content-Length other than 0, any Transfer-Encoding -> 400 request_content" {
	default_proxy
	expect_error 400 request_content "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello"
	expect_error 400 request_content "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	expect_error 400 request_content "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n"
	expect_error 400 request_content "CONNECT 127.0.0.1:{T} HTTP/1.0\r\ncontent-length: 1\r\n\r\nx"
	report_cases
}

@test "limits: field line 8193 bytes, 101 fields, head over 16384 bytes -> 431" {
	default_proxy
	# "X-Pad: " is 7 bytes: 7 + 8186 = 8193 bytes without the line end
	expect_error 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-Pad: $(rep p 8186)\r\n\r\n"
	local i fields=''
	for ((i = 1; i <= 100; i++)); do fields+="X-F$i: v\r\n"; done
	expect_error 431 too_many_fields "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}${fields}\r\n"
	expect_error 431 head_too_large "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n" --pad-head 16385
	expect_error 431 head_too_large "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n" --pad-head 40000
	report_cases
}

@test "well-formed variants get the tunnel (bare LF, Host last, HTTP/1.0 without Host, case, OWS)" {
	default_proxy
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\nHost: 127.0.0.1:{T}\n\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nUser-Agent: t/1\r\nAccept: */*\r\nProxy-Connection: keep-alive\r\n$H\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.0\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.0\r\nUser-Agent: t\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nhost: 127.0.0.1:{T}\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHOST:127.0.0.1\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: \t other.test:8443 \t\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.9\r\n$H\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-Empty:\r\n\r\n"
	expect_tunnel "CONNECT localhost:{T} HTTP/1.1\r\nHost: localhost:{T}\r\n\r\n"
	report_cases
}

@test "limits: field line of exactly 8192 bytes, 100 fields, head of exactly 16384 bytes are accepted" {
	default_proxy
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}X-Pad: $(rep p 8185)\r\n\r\n"
	local i fields=''
	for ((i = 1; i <= 99; i++)); do fields+="X-F$i: v\r\n"; done
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}${fields}\r\n"
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H\r\n" --pad-head 16384
	expect_tunnel "CONNECT 127.0.0.1:{T} HTTP/1.1\n${H//\\r/}\n" --pad-head 16384
	report_cases
}

@test "request deadline: half a request then silence -> 408 request_timeout" {
	start_proxy accept --allow-port "$TPORT" --request-timeout 1
	expect_error 408 request_timeout "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 12"
	expect_error 408 request_timeout "C"
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
	expect_error 400 incomplete_request "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h" --shut-after-request
	expect_error 400 incomplete_request "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n$H" --shut-after-request
	report_cases
}

@test "an error response is followed by a clean close even with unread bytes pending" {
	default_proxy
	expect_error 405 method_not_allowed "GET / HTTP/1.1\r\n$H\r\n$(rep x 30000)"
	expect_error 400 request_content "CONNECT 127.0.0.1:{T} HTTP/1.1\r\n${H}Content-Length: 30000\r\n\r\n$(rep x 30000)"
	expect_error 431 field_too_long "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nX: $(rep x 60000)\r\n\r\n"
	report_cases
}
