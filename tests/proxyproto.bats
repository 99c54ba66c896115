#!/usr/bin/env bats
# The PROXY protocol (man page "PROXY protocol"): headers in, v1 and v2,
# from trusted peers only, read exactly to their end; every refusal closes
# without a byte and is logged with its reason; --send-proxy writes one to
# the target, parsed there by tests/tools/pptarget.py; and a real HAProxy
# in TCP mode in front of connectd on loopback.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=40
load helpers

setup() {
	common_setup
}

teardown() { common_teardown; }

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'
V1='PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n'
SIG='\r\n\r\n\x00\r\nQUIT\n'
# v2 PROXY TCP4 203.0.113.7:5555 -> 192.0.2.1:443
V2="$SIG"'\x21\x11\x00\x0c\xcb\x00\x71\x07\xc0\x00\x02\x01\x15\xb3\x01\xbb'
# v2 PROXY TCP6 [2001:db8::7]:5555 -> [2001:db8::1]:443, then two TLVs
V2_6_TLV="$SIG"'\x21\x21\x00\x30\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x15\xb3\x01\xbb\x01\x00\x02h2\x04\x00\x04abcd'

# pp_proxy [connectd args...] : connectd that requires the header from
# loopback, to the echo target
pp_proxy() {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --proxy-protocol \
		--proxy-protocol-from 127.0.0.0/8 "$@"
}

# pp_server : like pp_proxy, in the high-rate mode (--listen)
pp_server() {
	start_target echo
	PPORT=$(free_port)
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	bg server "$CONNECTD" "${LAB_RULES[@]}" --listen "127.0.0.1:$PPORT" \
		--allow-port "$TPORT" --proxy-protocol --proxy-protocol-from 127.0.0.1
	wait_until 10 _listening "$PPORT" || fail "no listener: $(cat "$PROXY_LOG")"
}

# expect_echo_through HEADER [client.py options] : the header, the request and
# "early" in one write, then "ping": both must come back through the echo
expect_echo_through() {
	local hdr=$1
	shift
	client --request "$hdr$REQ" --extra 'early\n' --check-ok \
		--act 'send:ping\n' --act shut --act readeof "$@"
	((status == 0)) || fail "client failed" "$output"
	has_line 'CHECK ok'
	has_line 'RECV early\nping\n'
	has_line 'END eof'
}

# expect_silent_close : the client got no byte back, then EOF (or a reset,
# when connectd never read what the client sent)
expect_silent_close() {
	has_line 'STATUS none'
	has_line 'BODY'
	has_line 'EXTRA'
	has_line 'END eof' 2>/dev/null || has_line 'END reset'
}

last_log() { wait_log 1 && log_lines | tail -n1; }

@test "v1 TCP4 header: the tunnel works and the log names the carried client" {
	pp_proxy
	expect_echo_through "$V1"
	local l
	l=$(last_log)
	expect_field client 203.0.113.7:5555 "$l"
	expect_field status 200 "$l"
	expect_field reason ok "$l"
	expect_clean_exits 1
}

@test "v1 TCP6 and v2 TCP4: carried client in the log" {
	pp_proxy
	expect_echo_through 'PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n'
	expect_echo_through "$V2"
	wait_log 2
	expect_field client '[2001:db8::7]:5555' "$(log_lines | sed -n 1p)"
	expect_field client 203.0.113.7:5555 "$(log_lines | sed -n 2p)"
}

@test "v2 TCP6 with TLVs: TLVs skipped, request after them intact" {
	pp_proxy
	expect_echo_through "$V2_6_TLV"
	expect_field client '[2001:db8::7]:5555' "$(last_log)"
}

@test "header and request trickled one byte per write" {
	pp_proxy
	expect_echo_through "$V2" --split bytewise
	expect_echo_through "$V1" --split 3
	wait_log 2
	expect_field client 203.0.113.7:5555 "$(log_lines | sed -n 1p)"
	expect_field client 203.0.113.7:5555 "$(log_lines | sed -n 2p)"
}

@test "v2 LOCAL and v1 UNKNOWN keep the socket's address" {
	pp_proxy
	local hdr local
	for hdr in "$SIG"'\x20\x00\x00\x00' 'PROXY UNKNOWN\r\n'; do
		expect_echo_through "$hdr"
		local=$(value LOCAL)
		expect_field client "$local" "$(log_lines | tail -n1)"
	done
}

@test "the high-rate mode (--listen) reads the header as well" {
	pp_server
	expect_echo_through "$V2"
	expect_field client 203.0.113.7:5555 "$(last_log)"
}

@test "required header missing: closed without a byte, proxy_header_missing" {
	pp_proxy
	client --request "$REQ"
	expect_silent_close
	local l
	l=$(last_log)
	expect_field status 0 "$l"
	expect_field reason proxy_header_missing "$l"
	expect_clean_exits 1
}

@test "malformed and oversized headers: closed without a byte, proxy_header_bad" {
	pp_proxy
	local hdr n=0
	for hdr in 'PROXY TCP4 203.0.113.7 192.0.2.1 5555 65536\r\n' \
		'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n' \
		'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n' \
		"PROXY UNKNOWN $(printf 'x%.0s' {1..100})\\r\\n" \
		"$SIG"'\x21\x11\x02\x19' \
		"$SIG"'\x21\x12\x00\x0c\xcb\x00\x71\x07\xc0\x00\x02\x01\x15\xb3\x01\xbb' \
		"$SIG"'\x21\x11\x00\x11\xcb\x00\x71\x07\xc0\x00\x02\x01\x15\xb3\x01\xbb\x01\x00\x03h2'; do
		client --request "$hdr$REQ"
		expect_silent_close
		n=$((n + 1))
		wait_log "$n"
		expect_field status 0 "$(log_lines | tail -n1)"
		expect_field reason proxy_header_bad "$(log_lines | tail -n1)"
	done
	expect_clean_exits "$n"
}

@test "a header cut short by the request deadline: proxy_header_bad, end=timeout" {
	pp_proxy --request-timeout 1
	client --request 'PROXY TCP4 203.0.113.7 192.0'
	expect_silent_close
	local l
	l=$(last_log)
	expect_field reason proxy_header_bad "$l"
	expect_field end timeout "$l"
	expect_field status 0 "$l"
}

# probe_is HEADER REASON END : HEADER, then a FIN and nothing more: closed
# without a byte, logged with REASON and END
probe_is() {
	local n l
	n=$(log_lines | wc -l)
	client --request "$1" --shut-after-request
	expect_silent_close
	wait_log $((n + 1))
	l=$(log_lines | tail -n1)
	expect_field status 0 "$l"
	expect_field reason "$2" "$l"
	expect_field end "$3" "$l"
}

LOCAL2="$SIG"'\x20\x00\x00\x00'

@test "health checks: nothing, or v2 LOCAL / v1 UNKNOWN, then EOF is reason=probe" {
	pp_proxy
	local hdr
	for hdr in '' "$LOCAL2" 'PROXY UNKNOWN\r\n'; do
		probe_is "$hdr" probe eof
	done
	# A header that names a client, then nothing: a client that left.
	probe_is "$V2" no_request eof
	probe_is "$V1" no_request eof
	expect_field client 203.0.113.7:5555 "$(log_lines | tail -n1)"
	expect_clean_exits 5
}

@test "health checks: a LOCAL header, then silence until the deadline, is no probe" {
	pp_proxy --request-timeout 1
	client --request "$LOCAL2"
	expect_silent_close
	expect_field reason no_request "$(last_log)"
	expect_field end timeout "$(last_log)"
}

@test "health checks: without --proxy-protocol an empty connection stays no_request" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	probe_is '' no_request eof
}

@test "health checks: the high-rate mode logs reason=probe as well" {
	pp_server
	probe_is "$LOCAL2" probe eof
	probe_is '' probe eof
}

@test "a peer outside --proxy-protocol-from: closed without a byte, even with a valid header" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --proxy-protocol \
		--proxy-protocol-from 192.0.2.0/24 --proxy-protocol-from 2001:db8::/32
	client --request "$V1$REQ"
	expect_silent_close
	local l
	l=$(last_log)
	expect_field reason proxy_peer_not_allowed "$l"
	expect_field status 0 "$l"
	# The socket's own peer is what the log names: nothing was read.
	expect_field client "$(value LOCAL)" "$l"
}

@test "a header without --proxy-protocol: closed without a byte, proxy_header_unexpected" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	local hdr n=0
	for hdr in "$V1" "$V2"; do
		client --request "$hdr$REQ"
		expect_silent_close
		n=$((n + 1))
		wait_log "$n"
		expect_field reason proxy_header_unexpected "$(log_lines | tail -n1)"
		expect_field status 0 "$(log_lines | tail -n1)"
	done
	# An ordinary bad request is still answered as one.
	client --request 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'
	has_line 'STATUS 405'
}

@test "usage errors: no trusted peers, peers without the option, --allow-uid, bad values" {
	local row args want
	for row in "--proxy-protocol|needs --proxy-protocol-from" \
		"--proxy-protocol-from 127.0.0.1|without --proxy-protocol" \
		"-P -T 127.0.0.1 --allow-uid 0|--allow-uid cannot apply" \
		"-P --proxy-protocol-from localhost|not an address or a CIDR block" \
		"--send-proxy v3|not v1 or v2" "-s 2|not v1 or v2"; do
		args=${row%%|*} want=${row#*|}
		# shellcheck disable=SC2086 # the words are the options
		run "$CONNECTD" $args
		((status == 2)) || fail "exit $status for: $args" "$output"
		[[ $output == *"$want"* ]] || fail "for $args, not \"$want\":" "$output"
	done
}

@test "the combination is checked with the options from a configuration file too" {
	printf 'proxy-protocol\nproxy-protocol-from 127.0.0.1\n' >conf
	chmod 600 conf
	run "$CONNECTD" --config "$PWD/conf" --allow-uid 0
	((status == 2)) || fail "exit $status" "$output"
	[[ $output == *"--allow-uid cannot apply"* ]] || fail "$output"
}

# pp_target : the header-parsing echo target; sets TPORT and PPOUT
pp_target() {
	PPOUT=$BATS_TEST_TMPDIR/pp.out
	bg pptarget "$PY" "$TOOLS/pptarget.py" --port-file pptarget.port --out "$PPOUT"
	read_port_file pptarget.port TPORT || fail "pptarget did not start"
}

@test "--send-proxy v1 and v2: the target gets the client and the proxy's address first" {
	pp_target
	local v cport
	for v in v1 v2; do
		start_proxy accept --allow-port "$TPORT" --send-proxy "$v"
		expect_echo_through ''
		cport=$(value LOCAL)
		cport=${cport##*:}
		wait_until 5 test -s "$PPOUT"
		case $v in
		v1) has_pp "v1 TCP4 127.0.0.1 $cport 127.0.0.1 $PPORT" ;;
		v2) has_pp "v2 PROXY INET 127.0.0.1 $cport 127.0.0.1 $PPORT" ;;
		esac
		rm -f "$PPOUT"
	done
}

# has_pp LINE : the target recorded exactly this header
has_pp() {
	local got
	got=$(cat "$PPOUT")
	[[ $got == "$1" ]] || fail "target saw: $got" "expected: $1"
}

@test "--send-proxy after a header read: the carried client goes on" {
	pp_target
	start_proxy accept --allow-port "$TPORT" --proxy-protocol \
		--proxy-protocol-from 127.0.0.1 --send-proxy v2
	expect_echo_through "$V2_6_TLV"
	wait_until 5 test -s "$PPOUT"
	# IPv6 client, IPv4 proxy: the proxy's address goes IPv4-mapped.
	has_pp "v2 PROXY INET6 2001:db8::7 5555 ::ffff:7f00:1 $PPORT"
	rm -f "$PPOUT"
	expect_echo_through "$V1"
	wait_until 5 test -s "$PPOUT"
	has_pp "v2 PROXY INET 203.0.113.7 5555 127.0.0.1 $PPORT"
}

@test "--send-proxy names the client the launcher names: UCSPI over pipes (v4, v6), a local relay" {
	pp_target
	local got
	# the request, then a line for the echo; the target's echo comes back
	got=$(printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\nping\n' "$TPORT" |
		PROTO=TCP TCPREMOTEIP=198.51.100.9 TCPREMOTEPORT=4242 \
			TCPLOCALIP=192.0.2.1 TCPLOCALPORT=8080 timeout 10 "$CONNECTD" \
			--allow-dest 127.0.0.0/8 --allow-port "$TPORT" --send-proxy v1 2>err.txt)
	cat err.txt
	[[ $got == *$'\r\n\r\nping' ]] || fail "no tunnel: $got"
	wait_until 5 test -s "$PPOUT"
	has_pp "v1 TCP4 198.51.100.9 4242 192.0.2.1 8080"
	rm -f "$PPOUT"
	printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\nHost: x\r\n\r\n' "$TPORT" |
		PROTO=TCP6 TCP6REMOTEIP=2001:db8::9 TCP6REMOTEPORT=4243 \
			TCP6LOCALIP=2001:db8::1 TCP6LOCALPORT=8080 timeout 10 "$CONNECTD" \
			--allow-dest 127.0.0.0/8 --allow-port "$TPORT" --send-proxy v2 >/dev/null 2>err.txt
	cat err.txt
	wait_until 5 test -s "$PPOUT"
	has_pp "v2 PROXY INET6 2001:db8::9 4243 2001:db8::1 8080"
	rm -f "$PPOUT"
	# a local relay (stunnel) on the socket, its variables naming the client
	printf '#!/bin/sh\nREMOTE_HOST=198.51.100.7 REMOTE_PORT=4244 exec %s "$@"\n' \
		"$CONNECTD" >relayed
	chmod +x relayed
	CONNECTD=$PWD/relayed start_proxy accept --allow-port "$TPORT" --send-proxy v1
	expect_echo_through ''
	wait_until 5 test -s "$PPOUT"
	has_pp "v1 TCP4 198.51.100.7 4244 127.0.0.1 $PPORT"
}

_hap_listening() { _listening "$HPORT"; }

@test "a real HAProxy in TCP mode with send-proxy and send-proxy-v2 in front" {
	command -v haproxy >/dev/null || skip "haproxy not installed (scripts/deps.sh check)"
	local mode cport
	start_target echo
	start_proxy accept --allow-port "$TPORT" --proxy-protocol \
		--proxy-protocol-from 127.0.0.1
	for mode in send-proxy send-proxy-v2; do
		HPORT=$(free_port)
		cat >haproxy.cfg <<-EOF
			defaults
			  mode tcp
			  timeout connect 5s
			  timeout client 30s
			  timeout server 30s
			frontend fe
			  bind 127.0.0.1:$HPORT
			  default_backend be
			backend be
			  server c1 127.0.0.1:$PPORT $mode
		EOF
		bg "haproxy-$mode" haproxy -db -f haproxy.cfg
		local hpid=$BG_PID
		wait_until 10 _hap_listening || fail "haproxy did not listen" "$(cat "haproxy-$mode.err")"
		run "$PY" "$TOOLS/client.py" --port "$HPORT" --tport "$TPORT" \
			--request "$REQ" --check-ok --act 'send:ping\n' --act shut --act readeof
		has_line 'CHECK ok'
		has_line 'RECV ping\n'
		cport=$(value LOCAL)
		_log_count_ge 1 || wait_log 1
		wait_until 10 _log_has_client "$cport" ||
			fail "no log line with client=$cport ($mode):" "$(log_lines)"
		kill "$hpid"
		wait "$hpid" 2>/dev/null || true
	done
}

_log_has_client() { log_lines | grep -q " client=$1 .*reason=ok"; }
