#!/usr/bin/env bats
# The tunnel (spec "Responses", "Relay"): real clients through connectd to
# loopback targets, the exact success response, half-close in both
# directions, bulk transfers, dial errors and tunnel timeouts.
# connectd runs under systemd-socket-activate --accept unless said otherwise.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

setup_file() {
	local d=$BATS_FILE_TMPDIR
	make_test_ca "$d"
	# 16 MiB of random data each way
	head -c 16777216 /dev/urandom >"$d/up.bin"
	head -c 16777216 /dev/urandom >"$d/down.bin"
}

setup() {
	common_setup
	CA=$BATS_FILE_TMPDIR/ca.pem
	TLS_BODY='hello over tls'
}

teardown() { common_teardown; }

start_tls_target() {
	start_target tls --cert "$BATS_FILE_TMPDIR/srv.pem" --key "$BATS_FILE_TMPDIR/srv.key" \
		--data "$TLS_BODY\n"
}

# the launcher's log must show the tunnel (proves the client used the proxy)
expect_logged_tunnel() { # TARGET
	wait_log 1
	log_lines | grep -q " target=$1 .*status=200" ||
		fail "no status=200 log line for target=$1:" "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}

noproxy_env() {
	env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		-u no_proxy -u NO_PROXY "$@"
}

@test "curl https via the proxy to localhost, certificate verified" {
	start_tls_target
	start_proxy accept --allow-port "$TPORT"
	run noproxy_env curl -sS --fail --max-time 20 --noproxy '' --cacert "$CA" \
		-x "http://127.0.0.1:$PPORT" "https://localhost:$TPORT/"
	echo "$output"
	((status == 0))
	[[ $output == "$TLS_BODY" ]]
	expect_logged_tunnel "localhost:$TPORT"
}

@test "curl https via the proxy to 127.0.0.1 (IP SAN), proxytunnel forced" {
	start_tls_target
	start_proxy accept --allow-port "$TPORT"
	run noproxy_env curl -sS --fail --max-time 20 --noproxy '' --proxytunnel --cacert "$CA" \
		-x "http://127.0.0.1:$PPORT" "https://127.0.0.1:$TPORT/"
	echo "$output"
	((status == 0))
	[[ $output == "$TLS_BODY" ]]
	expect_logged_tunnel "127.0.0.1:$TPORT"
}

@test "openssl s_client -proxy through the tunnel, verify_return_error" {
	start_tls_target
	start_proxy accept --allow-port "$TPORT"
	run bash -c 'printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" |
		timeout 20 openssl s_client -quiet -proxy "127.0.0.1:$1" -connect "localhost:$2" \
			-servername localhost -verify_hostname localhost -CAfile "$3" \
			-verify_return_error 2>&1' _ "$PPORT" "$TPORT" "$CA"
	echo "$output"
	((status == 0))
	[[ $output == *"HTTP/1.1 200"* ]]
	[[ ${lines[-1]} == "$TLS_BODY" ]]
	expect_logged_tunnel "localhost:$TPORT"
}

@test "OpenBSD nc -X connect (HTTP/1.0, no Host) to an echo target" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	run bash -c 'printf "hello through nc\n" |
		timeout 20 nc -N -X connect -x "127.0.0.1:$1" 127.0.0.1 "$2"' _ "$PPORT" "$TPORT"
	echo "$output"
	((status == 0))
	[[ $output == "hello through nc" ]]
	expect_logged_tunnel "127.0.0.1:$TPORT"
}

@test "Python http.client set_tunnel to the TLS target" {
	start_tls_target
	start_proxy accept --allow-port "$TPORT"
	# shellcheck disable=SC2016
	run "$PY" -c '
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
c.set_tunnel("localhost", int(sys.argv[2]))
c.request("GET", "/")
r = c.getresponse()
print(r.status, r.read().decode(), end="")
' "$PPORT" "$TPORT" "$CA"
	echo "$output"
	((status == 0))
	[[ $output == "200 $TLS_BODY" ]]
	expect_logged_tunnel "localhost:$TPORT"
}

@test "a request sent byte by byte gets the tunnel" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	client --split bytewise --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\nUser-Agent: bytewise\r\n\r\n' \
		--check-ok --act 'send:one byte at a time\n' --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV one byte at a time\n'
	has_line 'END eof'
	expect_clean_exits 1
}

@test "tunnel bytes in the same write as the request reach the target first" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--extra 'early bytes\r\n\r\nstill early\n' \
		--check-ok --act 'send:later\n' --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV early bytes\r\n\r\nstill early\nlater\n'
	has_line 'END eof'
	expect_clean_exits 1
}

@test "bare-LF request with early tunnel bytes: the bytes after the blank line are tunnel data" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.0\n\n' --extra '\nX: y\n\n' \
		--check-ok --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV \nX: y\n\n'
	has_line 'END eof'
	expect_clean_exits 1
}

@test "exact success response: nothing but the 200 head precedes a speaking-first target's bytes" {
	start_target banner --data '220 banner from target\r\n'
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act 'read:24' --act 'send:ping\n' --act shut --act readeof \
		--raw-out raw.bin
	((status == 0))
	has_line 'CHECK ok'
	expect_success_head
	has_line 'RECV 220 banner from target\r\nping\n'
	has_line 'END eof'
	# byte-exact: the success head (with its Proxy-Agent), then the target's bytes
	printf 'HTTP/1.1 200 Connection established\r\nProxy-Agent: %s\r\n\r\n220 banner from target\r\nping\n' \
		"$(value 'HDR proxy-agent:')" >expected.bin
	cmp raw.bin expected.bin
	expect_clean_exits 1
}

@test "half-close client->target: the target still answers after the client's FIN" {
	start_target halfclose-echo --data '+ answer after your FIN\n'
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act 'send:question\n' --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV question\n+ answer after your FIN\n'
	has_line 'END eof'
	expect_clean_exits 1
}

@test "half-close target->client: the client's bytes after the target's FIN still arrive" {
	start_target send-then-read --data 'target says bye\n' --out got.bin
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act readeof --act 'send:client after target FIN\n' --act shut
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV target says bye\n'
	has_line 'END eof'
	wait_until 10 _nonempty got.bin || fail "the target got nothing after its FIN"
	[[ $(cat got.bin) == 'client after target FIN' ]]
	expect_clean_exits 1
}

@test "16 MiB each way at once: sha256 through the proxy equals the direct transfer" {
	local d=$BATS_FILE_TMPDIR
	start_target sink-source --send-file "$d/down.bin" --out sums.txt
	start_proxy accept --allow-port "$TPORT"
	local up down
	up=$(sha256sum <"$d/up.bin" | cut -d' ' -f1)
	down=$(sha256sum <"$d/down.bin" | cut -d' ' -f1)

	# the same transfer directly, without the proxy
	run "$PY" "$TOOLS/client.py" --direct --port "$TPORT" --act "duplex:$d/up.bin"
	((status == 0))
	has_line 'RECV_LEN 16777216'
	has_line "RECV_SHA256 $down"
	has_line 'END eof'
	wait_until 20 _nonempty sums.txt
	local direct_line
	direct_line=$(head -n1 sums.txt)
	[[ $direct_line == "$up 16777216" ]]

	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act "duplex:$d/up.bin" --timeout 20
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV_LEN 16777216'
	has_line "RECV_SHA256 $down"
	has_line 'END eof'
	_two_lines() { (($(wc -l <sums.txt) >= 2)); }
	wait_until 20 _two_lines || fail "target did not finish reading the proxied upload"
	[[ $(sed -n 2p sums.txt) == "$direct_line" ]]
	expect_clean_exits 1
}

@test "a reset from the target is passed on as a reset" {
	start_target reset
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act 'send:provoke\n' --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'END reset'
	wait_log 1
	log_lines | grep -q ' end=target_reset' || fail "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}

@test "a reset from the client is passed on as a reset" {
	start_target observe --out how.txt
	start_proxy accept --allow-port "$TPORT"
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act 'send:12345' --act reset
	((status == 0))
	has_line 'CHECK ok'
	wait_until 10 _nonempty how.txt || fail "the target's connection did not end"
	[[ $(cat how.txt) == 'reset '* ]] || fail "target saw: $(cat how.txt)"
	wait_log 1
	log_lines | grep -q ' end=client_reset' || fail "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}

@test "an IPv6 literal target [::1]:PORT through a proxy listening on ::1" {
	start_target echo --host ::1
	start_proxy accept6 --allow-port "$TPORT"
	client --host ::1 --request 'CONNECT [::1]:{T} HTTP/1.1\r\nHost: [::1]:{T}\r\n\r\n' \
		--check-ok --act 'send:v6\n' --act shut --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV v6\n'
	has_line 'END eof'
	expect_clean_exits 1
}

@test "a port not in --allow-port -> 403 port_not_allowed (also for names, without resolving)" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 403 port_not_allowed 'CONNECT nonexistent.invalid:1 HTTP/1.1\r\nHost: h\r\n\r\n'
	report_cases
	wait_log 3
	[[ $(log_lines | grep -c ' status=403 .*reason=port_not_allowed') == 3 ]]
}

@test "a name that does not resolve -> 502 dns_error" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	expect_error 502 dns_error 'CONNECT nonexistent.invalid:{T} HTTP/1.1\r\nHost: nonexistent.invalid\r\n\r\n'
	report_cases
}

@test "a closed port on 127.0.0.1 -> 502 connection_refused" {
	start_target bound
	start_proxy accept --allow-port "$TPORT"
	expect_error 502 connection_refused 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
	expect_error 502 connection_refused 'CONNECT localhost:{T} HTTP/1.0\r\n\r\n'
	report_cases
}

@test "--idle-timeout 1: a tunnel without traffic is cut (client sees a reset)" {
	# A deadline cuts a tunnel whose directions are still open: a FIN would
	# tell the client the stream was complete.
	start_target silent
	start_proxy accept --allow-port "$TPORT" --idle-timeout 1
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n' \
		--check-ok --act readeof --timeout 30
	((status == 0))
	has_line 'CHECK ok'
	has_line 'END reset'
	wait_log 1
	log_lines | grep -q ' status=200 .*end=idle_timeout' || fail "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}

# cut_by_deadline OPTIONS... : a target streams without pause and a client
# reads without pause until connectd ends the tunnel; prints how each end
# saw it end ("CLIENT reset", "TARGET reset", ...), ten times over
cut_by_deadline() {
	start_proxy accept --allow-port 1-65535 "$@"
	run "$PY" - "$PPORT" <<-'EOF'
		import socket, sys, threading, time

		def stream(conn, how):
		    chunk = b"x" * 65536
		    try:
		        while True:
		            conn.sendall(chunk)
		    except ConnectionResetError:
		        how.append("reset")
		    except BrokenPipeError:
		        how.append("reset")  # EPIPE follows a reset already taken
		    except OSError as e:
		        how.append("error " + e.strerror)

		def read_to_end(s):
		    try:
		        while s.recv(1 << 20):
		            pass
		        return "eof"
		    except ConnectionResetError:
		        return "reset"
		    except socket.timeout:
		        return "timeout"

		for _ in range(10):
		    ls = socket.socket()
		    ls.bind(("127.0.0.1", 0))
		    ls.listen(1)
		    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
		    c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.0\r\n\r\n" % ls.getsockname()[1])
		    t, _ = ls.accept()
		    ls.close()
		    how = []
		    th = threading.Thread(target=stream, args=(t, how))
		    th.start()
		    print("CLIENT", read_to_end(c))
		    th.join(20)
		    print("TARGET", how[0] if how else "still sending")
		    c.close()
		    t.close()
	EOF
	echo "$output"
	((status == 0)) || fail "the client failed"
}

@test "--max-lifetime cuts a streaming tunnel with a reset on both sides, every time" {
	cut_by_deadline --max-lifetime 0.3 --idle-timeout 0
	(($(grep -c '^CLIENT reset$' <<<"$output") == 10)) || fail "a client saw a clean end"
	(($(grep -c '^TARGET reset$' <<<"$output") == 10)) || fail "a target saw a clean end"
	wait_log 10
	(($(log_lines | grep -c ' end=max_lifetime ') == 10)) || fail "$(log_lines)"
}

@test "--max-lifetime 1 ends a tunnel that still has traffic" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --max-lifetime 1 --idle-timeout 0
	# sends a line every 100 ms (for at most 20 s) until the proxy ends the tunnel
	run "$PY" - "$PPORT" "$TPORT" <<-'EOF'
		import socket, sys, time
		s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
		s.sendall(b"CONNECT 127.0.0.1:%s HTTP/1.0\r\n\r\n" % sys.argv[2].encode())
		s.settimeout(0.1)
		got, end = b"", "still open after 20 s"
		stop = time.monotonic() + 20
		while time.monotonic() < stop:
		    try:
		        s.sendall(b"tick\n")
		        time.sleep(0.1)
		        d = s.recv(65536)
		    except socket.timeout:
		        continue
		    except OSError as e:
		        end = "error " + e.strerror
		        break
		    if not d:
		        end = "eof"
		        break
		    got += d
		print("HEAD_OK", got.startswith(b"HTTP/1.1 200 Connection established\r\n"))
		print("TICKS", got.count(b"tick\n") > 0)
		print("END", end)
	EOF
	echo "$output"
	has_line 'HEAD_OK True'
	has_line 'TICKS True'
	[[ $(value END) == eof || $(value END) == "error "* ]]
	wait_log 1
	log_lines | grep -q ' status=200 .*end=max_lifetime' || fail "$(cat "$PROXY_LOG")"
	expect_clean_exits 1
}
