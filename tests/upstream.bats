#!/usr/bin/env bats
# Upstream chaining (man page "Upstream proxy"): with --upstream every
# tunnel goes through a parent CONNECT proxy on loopback, a second connectd
# or Debian's squid with basic auth.  The bytes both ways, the half-close,
# how each answer of the parent is mapped (a 407 never reaches the client
# as a prompt), the credentials from the URL and from a file,
# --upstream-except going direct, --send-proxy to the parent, and the bad
# values refused.  Fake parents (tests/tools/target.py's banner, silent,
# reset and bound modes) show the bytes connectd sends and its deadlines.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
	squid_cleanup
}

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

parent_lines() { grep -a '^connectd: ' "$PARENT_LOG" 2>/dev/null; }
_parent_count_ge() { (($(parent_lines | wc -l) >= $1)); }

# parent_line : the parent's first log line, once it is there
parent_line() {
	wait_until 10 _parent_count_ge 1 || fail "no log line from the parent:" "$(cat "$PARENT_LOG")"
	parent_lines | head -n1
}

last_log() { wait_log 1 && log_lines | tail -n1; }

# start_fake_parent MODE [target.py options] : a target.py server as the
# parent; sets FAKE_PORT
start_fake_parent() {
	local tp=${TPORT:-}
	start_target "$@"
	FAKE_PORT=$TPORT
	TPORT=$tp
}

# tunnel_ok REQUEST : expect_tunnel, failing at once (the proxies of these
# tests are restarted, so report_cases' count of exits does not apply)
tunnel_ok() {
	expect_tunnel "$1"
	((${#CASE_FAILS[@]} == 0)) || fail "${CASE_FAILS[@]}" "--- parent:" \
		"$(cat "${PARENT_LOG:-/dev/null}" 2>/dev/null)"
}

# hash_pw PASSWORD : a sha512-crypt hash, as --auth-file takes
hash_pw() { "$PY" "$TOOLS/hashpw.py" sha512 "$1"; }

# expect_refusal STATUS REASON [client.py options] : the client got exactly
# that error, with no Proxy-Authenticate
expect_refusal() {
	local st=$1 reason=$2
	shift 2
	client --request "$REQ" --check-error "$st" "$reason" "$@"
	((status == 0)) || fail "the client saw something else:" "$output"
	has_line 'CHECK ok'
	[[ $output != *'HDR proxy-authenticate'* ]] || fail "a prompt reached the client" "$output"
}

@test "through a connectd parent: exact bytes both ways and half-close each way; the log names the parent" {
	start_target halfclose-echo --data '+ answer after your FIN\n'
	start_parent --allow-port "$TPORT"
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT"
	client --request "$REQ" --extra 'early\n' --check-ok --act 'send:question\n' \
		--act shut --act readeof
	((status == 0)) || fail "$output"
	has_line 'CHECK ok'
	has_line 'RECV early\nquestion\n+ answer after your FIN\n'
	has_line 'END eof'
	local line
	line=$(last_log)
	expect_field via "127.0.0.1:$PARENT_PORT" "$line"
	expect_field via_status 200 "$line"
	expect_field status 200 "$line"
	expect_field addr - "$line"
	expect_field up 15 "$line"
	expect_field down 39 "$line"
	expect_field tried "127.0.0.1:$PARENT_PORT=ok" "$line"
	line=$(parent_line)
	expect_field target "127.0.0.1:$TPORT" "$line"
	expect_field addr "127.0.0.1:$TPORT" "$line"

	# The other way: the target's FIN first, the client's bytes after it.
	start_target send-then-read --data 'target says bye\n' --out got.bin
	start_parent --allow-port "$TPORT"
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT/"
	client --request "$REQ" --check-ok --act readeof \
		--act 'send:client after target FIN\n' --act shut
	((status == 0)) || fail "$output"
	has_line 'RECV target says bye\n'
	wait_until 10 _nonempty got.bin || fail "the target got nothing after its FIN"
	[[ $(cat got.bin) == 'client after target FIN' ]]
	expect_clean_exits 1
}

@test "1 MiB each way at once through the parent: sha256 both ways equal the files" {
	head -c 1048576 /dev/urandom >up.bin
	head -c 1048576 /dev/urandom >down.bin
	start_target sink-source --send-file down.bin --out sums.txt
	start_parent --allow-port "$TPORT"
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT"
	client --request "$REQ" --check-ok --act duplex:up.bin
	((status == 0)) || fail "$output"
	has_line 'RECV_LEN 1048576'
	has_line "RECV_SHA256 $(sha256sum <down.bin | cut -d' ' -f1)"
	has_line 'END eof'
	wait_until 10 _nonempty sums.txt
	[[ $(cat sums.txt) == "$(sha256sum <up.bin | cut -d' ' -f1) 1048576" ]]
}

@test "a parent's 407 becomes 502 upstream_auth_failed, never a prompt; the client's own credentials stay with us" {
	echo "alice:$(hash_pw 'open sesame')" >users
	chmod 600 users
	start_target echo
	start_parent --allow-port "$TPORT" --auth-file "$BATS_TEST_TMPDIR/users"
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT"
	# Valid for the parent, but the client's: never passed on.
	REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\nProxy-Authorization: Basic YWxpY2U6b3BlbiBzZXNhbWU=\r\n\r\n'
	expect_refusal 502 upstream_auth_failed
	has_line 'HDR proxy-status: connectd; error=proxy_configuration_error; received-status=407; details="upstream_auth_failed"'
	local line
	line=$(last_log)
	expect_field status 502 "$line"
	expect_field reason upstream_auth_failed "$line"
	expect_field via_status 407 "$line"
	expect_field reason auth_required "$(parent_line)"
}

@test "credentials from the URL (percent-encoded) and from --upstream-auth-file open the tunnel; wrong ones get 502" {
	echo "alice:$(hash_pw 'p@ss:w rd')" >users
	chmod 600 users
	start_target echo
	start_parent --allow-port "$TPORT" --auth-file "$BATS_TEST_TMPDIR/users"
	start_proxy accept --allow-port "$TPORT" \
		--upstream "http://alice:p%40ss%3Aw%20rd@127.0.0.1:$PARENT_PORT"
	tunnel_ok "$REQ"
	expect_field user alice "$(parent_line)"
	# The password is in no log line.
	! grep -a 'p@ss' "$PROXY_LOG" "$PARENT_LOG"

	printf 'alice:p@ss:w rd\n' >upcred
	chmod 600 upcred
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT" \
		--upstream-auth-file "$BATS_TEST_TMPDIR/upcred"
	tunnel_ok "$REQ"
	# Read per connection: an edit applies to the next one.
	printf 'alice:wrong\n' >upcred
	expect_refusal 502 upstream_auth_failed
	# A file that cannot be used is the admin's error: 500, and why.
	printf 'no colon here\n' >upcred
	expect_refusal 500 config_error
	grep -aq 'upstream-auth-file .*/upcred: not user:password' "$PROXY_LOG"
	# A password others can read is refused, as --auth-file's hashes are.
	printf 'alice:p@ss:w rd\n' >upcred
	chmod 644 upcred
	expect_refusal 500 config_error
	grep -aq 'upstream-auth-file .*/upcred: readable or writable by others' "$PROXY_LOG"
	! grep -a 'wrong\|no colon here\|p@ss' "$PROXY_LOG"
}

@test "the parent's 403 and 502 come back as 403 upstream_denied and 502 upstream_bad_gateway, with received-status" {
	start_target bound
	local closed=$TPORT
	start_target echo
	# The parent opts in to loopback for no port but the echo's.
	start_parent --allow-port "$TPORT,$closed" --deny-dest localhost
	start_proxy accept --allow-port "1-65535" --upstream "http://127.0.0.1:$PARENT_PORT"
	REQ='CONNECT localhost:{T} HTTP/1.1\r\nHost: localhost:{T}\r\n\r\n'
	expect_refusal 403 upstream_denied
	has_line 'HDR proxy-status: connectd; error=http_request_denied; received-status=403; details="upstream_denied"'
	expect_field via_status 403 "$(last_log)"
	REQ="CONNECT 127.0.0.1:$closed HTTP/1.1\\r\\nHost: 127.0.0.1:$closed\\r\\n\\r\\n"
	expect_refusal 502 upstream_bad_gateway
	has_line 'HDR proxy-status: connectd; error=destination_unavailable; received-status=502; details="upstream_bad_gateway"'
	wait_log 2
	expect_field via_status 502 "$(log_lines | tail -n1)"
	[[ $(parent_lines | tail -n1) == *' reason=connection_refused '* ]]
}

@test "a parent unreachable, silent, closing or speaking no HTTP: 502, 504, 502, 502" {
	start_target echo
	start_fake_parent bound
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$FAKE_PORT"
	expect_refusal 502 upstream_unreachable
	expect_field tried "127.0.0.1:$FAKE_PORT=refused" "$(last_log)"

	start_fake_parent silent
	start_proxy accept --allow-port "$TPORT" --connect-timeout 1 \
		--upstream "http://127.0.0.1:$FAKE_PORT"
	expect_refusal 504 upstream_timeout

	start_fake_parent reset
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$FAKE_PORT"
	expect_refusal 502 upstream_closed

	start_fake_parent banner --data 'SSH-2.0-OpenSSH_9.2\r\n'
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$FAKE_PORT"
	expect_refusal 502 upstream_bad_response

	start_fake_parent banner --data 'HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n'
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$FAKE_PORT"
	expect_refusal 504 upstream_gateway_timeout
	has_line 'HDR proxy-status: connectd; error=connection_timeout; received-status=504; details="upstream_gateway_timeout"'
}

@test "bytes the parent sends behind its head reach the client; the parent gets our CONNECT alone" {
	# An echo that answers 200 and a few tunnel bytes first: what it
	# echoes after them is exactly what connectd sent it.
	start_fake_parent banner --data 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nVia: fake\r\n\r\nEARLY'
	start_proxy accept --allow-port 443 --upstream "http://u:p@127.0.0.1:$FAKE_PORT"
	client --request 'CONNECT Example.ORG.:443 HTTP/1.1\r\nHost: Example.ORG.:443\r\nProxy-Authorization: Basic Y2xpZW50OnNlY3JldA==\r\nX-Client: 1\r\n\r\n' \
		--check-ok --act 'send:ping\n' --act shut --act readeof
	((status == 0)) || fail "$output"
	expect_success_head
	has_line 'RECV EARLYCONNECT Example.ORG.:443 HTTP/1.1\r\nHost: Example.ORG.:443\r\nProxy-Authorization: Basic dTpw\r\n\r\nping\n'
	has_line 'END eof'
	local line
	line=$(last_log)
	expect_field via_status 200 "$line"
	expect_field dns_ms -1 "$line"
}

@test "--send-proxy writes the PROXY header to the parent, before the CONNECT" {
	start_fake_parent banner --data 'HTTP/1.1 200 OK\r\n\r\n'
	start_proxy accept --allow-port 443 --send-proxy v1 \
		--upstream "http://127.0.0.1:$FAKE_PORT"
	client --request 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n' \
		--check-ok --act shut --act readeof
	((status == 0)) || fail "$output"
	local me port
	me=$(value LOCAL)
	port=${me##*:}
	has_line "RECV PROXY TCP4 127.0.0.1 127.0.0.1 $port $PPORT\\r\\nCONNECT a.example:443 HTTP/1.1\\r\\nHost: a.example:443\\r\\n\\r\\n"

	# A connectd parent that requires the header logs the real client.
	start_target echo
	start_parent --allow-port "$TPORT" --proxy-protocol --proxy-protocol-from 127.0.0.1
	start_proxy accept --allow-port "$TPORT" --send-proxy v2 \
		--upstream "http://127.0.0.1:$PARENT_PORT"
	tunnel_ok "$REQ"
	me=$(value LOCAL)
	expect_field client "$me" "$(parent_line)"
}

@test "an address literal is judged here as if dialled; a name is left to the parent" {
	start_target echo
	start_parent --allow-port "$TPORT"
	LAB_RULES=()
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT"
	expect_refusal 403 destination_ip_prohibited
	# The name resolves to loopback at the parent, which allows it.
	tunnel_ok 'CONNECT localhost:{T} HTTP/1.1\r\nHost: localhost:{T}\r\n\r\n'
	wait_log 2
	expect_field target "localhost:$TPORT" "$(parent_line)"
	(($(parent_lines | wc -l) == 1)) || fail "the refused literal reached the parent:" "$(parent_lines)"
}

@test "--upstream-except: matching destinations are dialled directly, and the parent sees no tunnel" {
	start_target echo
	start_parent --allow-port "$TPORT"
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT" \
		--upstream-except 127.0.0.0/8 --upstream-except localhost
	tunnel_ok "$REQ"
	tunnel_ok 'CONNECT LOCALHOST:{T} HTTP/1.1\r\nHost: localhost:{T}\r\n\r\n'
	wait_log 2
	local line
	for line in "$(log_lines | head -n1)" "$(log_lines | tail -n1)"; do
		[[ $line != *' via='* ]] || fail "went through the parent: $line"
		expect_field addr "127.0.0.1:$TPORT" "$line"
	done
	# The parent never had a connection, let alone a tunnel.
	! grep -a 'Connection from' "$PARENT_LOG"
	[[ -z $(parent_lines) ]]
	# Rules that do not match: through the parent.
	start_proxy accept --allow-port "$TPORT" --upstream "http://127.0.0.1:$PARENT_PORT" \
		--upstream-except 10.0.0.0/8 --upstream-except .localhost
	tunnel_ok "$REQ"
	expect_field via "127.0.0.1:$PARENT_PORT" "$(last_log)"
	expect_field target "127.0.0.1:$TPORT" "$(parent_line)"
}

@test "bad --upstream values and combinations are refused with an error naming the fault" {
	local -a rows=(
		'https://h:3128|https is not supported'
		'h:3128|no scheme'
		'socks5://h:1080|not an http:// URL'
		'http://h|no port'
		'http://h:0|the port is not 1-65535'
		'http://h:3128/proxy|a path, query or fragment'
		'http://2001:db8::1:3128|not host:port with a host name, an IPv4 address or a bracketed IPv6'
		'http://:s3cr3t@h:3128|an empty user name'
		"http://u:s3cr3t%zz@h:3128|a '%' in the credentials is not followed by two hex digits"
	)
	local row url want
	for row in "${rows[@]}"; do
		url=${row%%|*} want=${row#*|}
		run "$CONNECTD" --upstream "$url"
		((status == 2)) || fail "$url: exit $status" "$output"
		[[ $output == *"--upstream "*": $want"* ]] || fail "$url: $output"
		[[ $output != *s3cr3t* ]] || fail "$url: the password was shown: $output"
	done
	run "$CONNECTD" --upstream-except 10.0.0.0/8
	((status == 2))
	[[ $output == *'--upstream-except without --upstream'* ]]
	run "$CONNECTD" --upstream-auth-file /dev/null
	((status == 2))
	[[ $output == *'--upstream-auth-file without --upstream'* ]]
	run "$CONNECTD" --upstream http://u:p@h:1 --upstream-auth-file /dev/null
	((status == 2))
	[[ $output == *'give them once'* ]]
	run "$CONNECTD" --upstream http://h:1 --upstream-except not..a.rule
	((status == 2))
	[[ $output == *'--upstream-except not..a.rule: not a rule'* ]]
	# In a configuration file too: named with its line.
	printf 'upstream http://h:1/x\n' >bad.conf
	run "$CONNECTD" --config "$BATS_TEST_TMPDIR/bad.conf"
	((status == 2))
	[[ $output == *'bad.conf:1: upstream: a path, query or fragment'* ]]
}

# start_squid : Debian's squid on loopback as the parent (squid_config);
# sets SQUID_PORT
start_squid() {
	command -v squid >/dev/null || fail "squid is not installed (scripts/deps.sh check)"
	SQUID_PORT=$(free_port)
	squid_config 127.0.0.1 "$SQUID_PORT"
	bg squid squid -N -f "$SQUID_DIR/squid.conf"
	wait_until 20 _listening "$SQUID_PORT" ||
		fail "squid did not listen:" "$(cat "$BATS_TEST_TMPDIR/squid.err" "$SQUID_DIR/cache.log")"
}

@test "squid as the parent: basic auth from the URL and a file, its 407 as 502, its 403, its 503, exact bytes" {
	start_squid
	start_target echo
	start_proxy accept --allow-port 1-65535 \
		--upstream "http://alice:s3cr3t%20pw@127.0.0.1:$SQUID_PORT"
	# squid ends both ways of a tunnel at the first FIN (no half-close
	# in its tunnels): the echo is read whole before ours.
	client --request "$REQ" --extra 'early\n' --check-ok --act 'send:question\n' \
		--act read:15 --act shut --act readeof
	((status == 0)) || fail "$output"
	has_line 'RECV early\nquestion\n'
	has_line 'END eof'
	expect_field via_status 200 "$(last_log)"

	printf 'alice:s3cr3t pw\n' >upcred
	chmod 600 upcred
	start_proxy accept --allow-port 1-65535 --upstream "http://127.0.0.1:$SQUID_PORT" \
		--upstream-auth-file "$BATS_TEST_TMPDIR/upcred"
	client --request "$REQ" --check-ok --act 'send:ping\n' --act read:5 --act shut \
		--act readeof
	((status == 0)) || fail "$output"
	has_line 'RECV ping\n'
	# squid's 403: a port its rules deny.
	REQ='CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n'
	expect_refusal 403 upstream_denied
	# squid's 503: the target refused it.
	start_target bound
	REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'
	expect_refusal 503 upstream_unavailable
	has_line 'HDR proxy-status: connectd; error=destination_unavailable; received-status=503; details="upstream_unavailable"'
	# A wrong password: squid's 407, never a prompt to our client.
	printf 'alice:wrong\n' >upcred
	expect_refusal 502 upstream_auth_failed
	wait_log 4
	expect_field via_status 407 "$(log_lines | tail -n1)"
}
