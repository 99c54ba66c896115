#!/usr/bin/env bats
# Launchers and the command line (spec "Command line", "Launchers"): real
# systemd-socket-activate (fd 3 and --inetd), inetd with fd 2 on the socket,
# UCSPI over pipes, real tcpserver and xinetd, no launcher at all, and
# --help / --version / bad option values.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=30
load helpers

setup() {
	common_setup
}

teardown() { common_teardown; }

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'

# a tunnel to an echo target through the running proxy, checked byte-exactly
expect_echo_tunnel() {
	client --request "$REQ" --check-ok --act 'send:through the launcher\n' --act shut \
		--act readeof --raw-out raw.bin
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV through the launcher\n'
	has_line 'END eof'
	printf 'HTTP/1.1 200 Connection established\r\nProxy-Agent: %s\r\n\r\nthrough the launcher\n' \
		"$(value 'HDR proxy-agent:')" >expected.bin
	cmp raw.bin expected.bin
	expect_clean_exits 1
}

ucspi() {
	run "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi.err "$@"
	echo "$output"
	echo "--- stderr:"
	cat ucspi.err
}

@test "systemd-socket-activate --accept: connection on fd 3" {
	start_target echo
	start_proxy accept --allow-port "$TPORT"
	expect_echo_tunnel
	wait_log 1
	log_lines | grep -q " status=200 " || fail "$(cat "$PROXY_LOG")"
}

@test "systemd-socket-activate --accept --inetd: connection on fd 0" {
	start_target echo
	start_proxy inetd --allow-port "$TPORT"
	expect_echo_tunnel
	wait_log 1
	log_lines | grep -q " status=200 " || fail "$(cat "$PROXY_LOG")"
}

@test "inetd with fd 2 on the client socket: a 200 tunnel carries only tunnel bytes" {
	start_target echo
	start_proxy inetd-fd2 --allow-port "$TPORT"
	expect_echo_tunnel
}

@test "inetd with fd 2 on the client socket: 403 and 400 responses carry nothing else" {
	start_target echo
	start_proxy inetd-fd2 --allow-port "$TPORT"
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 400 bad_request_line,bad_target 'CONNECT exa\x1bmple.test:{T} HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 400 bad_host 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\n\r\n'
	expect_error 405 method_not_allowed 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'
	report_cases
}

@test "inetd with fd 2 on the client socket: tunnels ended by idle timeout or reset carry only tunnel bytes" {
	start_target silent
	local silent=$TPORT
	start_target reset
	local reset=$TPORT
	start_proxy inetd-fd2 --allow-port "$silent,$reset" --idle-timeout 1
	client --request "CONNECT 127.0.0.1:$silent HTTP/1.0\r\n\r\n" --check-ok --act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV'
	has_line 'END reset'
	client --request "CONNECT 127.0.0.1:$reset HTTP/1.0\r\n\r\n" --check-ok --act 'send:x' \
		--act readeof
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV'
	has_line 'END reset'
	client --request "CONNECT 127.0.0.1:$silent HTTP/1.0\r\n\r\n" --check-ok --act 'send:x' \
		--act reset
	((status == 0))
	has_line 'CHECK ok'
	has_line 'RECV'
}

@test "inetd with fd 2 on the client socket: 408 and a silent close carry nothing else" {
	start_target echo
	start_proxy inetd-fd2 --allow-port "$TPORT" --request-timeout 1
	expect_error 408 request_timeout 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\n'
	report_cases
	client --request ''
	((status == 0))
	has_line 'HEAD'
	has_line 'BODY'
	has_line 'END eof'
}

@test "UCSPI over pipes: 200, tunnel, half-close by closing the write pipe" {
	start_target halfclose-echo --data '+ after the pipe closed\n'
	ucspi --request "$REQ" --send 'over pipes\n' -- "$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT"
	((status == 0))
	[[ $(value HEAD) =~ $SUCCESS_HEAD_RE ]]
	has_line 'RECV over pipes\n+ after the pipe closed\n'
	has_line 'END eof'
	has_line 'EXIT 0'
	grep -aq '^connectd: client=127.0.0.1:5555 .*status=200' ucspi.err
}

@test "UCSPI over pipes: the target's FIN closes fd 1 while fd 0 keeps flowing" {
	start_target send-then-read --data 'target done\n' --out got.bin
	ucspi --read-first --request "$REQ" --send 'late client bytes\n' -- "$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT"
	((status == 0))
	[[ $(value HEAD) =~ $SUCCESS_HEAD_RE ]]
	has_line 'RECV target done\n'
	has_line 'END eof'
	has_line 'EXIT 0'
	wait_until 10 _nonempty got.bin || fail "target got nothing"
	[[ $(cat got.bin) == 'late client bytes' ]]
}

@test "UCSPI over pipes: an error response, exit status 0" {
	start_target echo
	ucspi --request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- "$CONNECTD" "${LAB_RULES[@]}" --allow-port "$TPORT"
	((status == 0))
	has_line 'STATUS 403'
	[[ $(value BODY) == 'port_not_allowed: '* ]]
	has_line 'END eof'
	has_line 'EXIT 0'
	grep -aq '^connectd: client=127.0.0.1:5555 .*status=403' ucspi.err
}

# ucspi_pair STDERR : runs connectd as a UCSPI program whose fd 0 is a pipe
# carrying a request refused with 403 and whose fd 1 is one end of a
# socketpair; STDERR is "same" (fd 2 the same socketpair end, as with 2>&1)
# or "pipe" (fd 2 a pipe of its own).  Prints what came out of fd 1 and
# fd 2, escaped.
ucspi_pair() {
	run "$PY" - "$1" "$CONNECTD" <<-'EOF'
		import os, socket, subprocess, sys
		a, b = socket.socketpair()
		r, w = os.pipe()
		os.write(w, b"CONNECT a.example:444 HTTP/1.0\r\n\r\n")
		os.close(w)
		er, ew = os.pipe()
		err = b.fileno() if sys.argv[1] == "same" else ew
		env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
		env["PROTO"] = "TCP"
		p = subprocess.Popen([sys.argv[2]], stdin=r, stdout=b.fileno(), stderr=err, env=env)
		os.close(r)
		os.close(ew)
		b.close()
		a.settimeout(10)
		got = b""
		while True:
		    d = a.recv(65536)
		    if not d:
		        break
		    got += d
		p.wait(10)
		print("FD1", repr(got))
		print("FD2", repr(os.read(er, 65536)))
		print("EXIT", p.returncode)
	EOF
	echo "$output"
}

@test "UCSPI with 2>&1 (fd 2 the client's pipe): the client gets the response and nothing else" {
	local rc=0
	printf 'CONNECT a.example:444 HTTP/1.0\r\n\r\n' |
		PROTO=TCP "$CONNECTD" 2>&1 >/dev/null | cat >err-only.txt
	# control: with fd 2 a pipe of its own, the log line is written there
	grep -aq '^connectd: .*reason=port_not_allowed' err-only.txt || fail "no log line: $(cat err-only.txt)"
	printf 'CONNECT a.example:444 HTTP/1.0\r\n\r\n' | PROTO=TCP "$CONNECTD" 2>&1 | cat >both.txt || rc=$?
	cat -A both.txt
	printf 'HTTP/1.1 403 Forbidden\r\n' >want.txt
	cmp -n "$(wc -c <want.txt)" both.txt want.txt || fail "not a 403 first"
	! grep -aq 'connectd:' both.txt || fail "the log line reached the client's pipe"
	[[ $(tail -c 1 both.txt | od -An -c | tr -d ' ') == '\n' ]]
	[[ $(tail -n 1 both.txt) == 'port_not_allowed: '* ]] || fail "more after the body"
}

@test "UCSPI with fd 1 and fd 2 one socket of a socketpair: nothing but the response" {
	ucspi_pair pipe
	has_line 'EXIT 0'
	[[ $(value FD2) == *'connectd: '*'reason=port_not_allowed'* ]] || fail "control: no log line on fd 2"
	ucspi_pair same
	has_line 'EXIT 0'
	[[ $(value FD1) == "b'HTTP/1.1 403 Forbidden\\r\\n"*"port_not_allowed: the destination port is not allowed\\n'" ]] ||
		fail "fd 1 carried more than the response"
	[[ $(value FD1) != *connectd:* ]] || fail "the log line reached the client"
}

@test "UCSPI with PROTO=TCP6: the client address comes from TCP6REMOTEIP" {
	start_target echo
	ucspi --env PROTO=TCP6 --env TCP6REMOTEIP=::1 --env TCP6REMOTEPORT=6666 \
		--request 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n' -- "$CONNECTD" --allow-port "$TPORT"
	has_line 'STATUS 403'
	grep -aq '^connectd: client=\[::1\]:6666 .*status=403' ucspi.err || fail "$(cat ucspi.err)"
}

ns_up() { nsenter -t "$NSPID" -n ip -4 -br addr show dev lo | grep -q '11\.0\.0\.2/'; }

@test "UCSPI: the launcher's TCPLOCALIP is the proxy's own address, refused as a destination" {
	# 11.0.0.1 and 11.0.0.2 lie outside every default range, on the
	# loopback interface of a private network namespace
	bg netns unshare -n sh -c 'ip link set lo up && ip addr add 11.0.0.1/32 dev lo &&
		ip addr add 11.0.0.2/32 dev lo && exec sleep 120'
	NSPID=$BG_PID
	wait_until 10 ns_up || fail "network namespace not ready: $(cat netns.err)"
	local ns=(nsenter -t "$NSPID" -n)
	bg nstarget "${ns[@]}" "$PY" "$TOOLS/target.py" --mode echo --host 11.0.0.1 \
		--port-file nstarget.port
	read_port_file nstarget.port TPORT || fail "target: $(cat nstarget.err)"
	# the proxy was reached at 11.0.0.1: that address is refused
	run "${ns[@]}" "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi.err \
		--env TCPLOCALIP=11.0.0.1 --env TCPLOCALPORT=8080 \
		--request 'CONNECT 11.0.0.1:{T} HTTP/1.1\r\nHost: h\r\n\r\n' -- "$CONNECTD" --allow-port "$TPORT"
	echo "$output"
	has_line 'STATUS 403'
	grep -aq 'reason=destination_ip_prohibited .*tried=11\.0\.0\.1:[0-9]*=denied' ucspi.err ||
		fail "$(cat ucspi.err)"
	# control: reached at 11.0.0.2, the same destination is served
	run "${ns[@]}" "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi.err \
		--env TCPLOCALIP=11.0.0.2 --env TCPLOCALPORT=8080 --send 'hi\n' \
		--request 'CONNECT 11.0.0.1:{T} HTTP/1.1\r\nHost: h\r\n\r\n' -- "$CONNECTD" --allow-port "$TPORT"
	echo "$output"
	[[ $(value HEAD) =~ $SUCCESS_HEAD_RE ]] || fail "no tunnel"
	has_line 'RECV hi\n'
}

@test "real tcpserver -HRl0: tunnel, log line on tcpserver's stderr" {
	start_target echo
	start_proxy tcpserver --allow-port "$TPORT"
	expect_echo_tunnel
	local me
	me=$(value LOCAL)
	wait_log 1
	log_lines | grep -q "^connectd: client=$me .*status=200" || fail "$(cat "$PROXY_LOG")"
}

@test "real xinetd (fd 0, 1 and 2 on the socket): tunnel and error response" {
	start_target echo
	start_proxy xinetd --allow-port "$TPORT"
	expect_echo_tunnel
	expect_error 403 port_not_allowed 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: h\r\n\r\n'
	expect_error 400 bad_request_line 'CONNECT 127.0.0.1:{T}\r\n\r\n'
	report_cases
}

@test "no launcher (stdin /dev/null, a file, a pipe, a tty) -> exit 2 with a message" {
	local how rc
	for how in devnull file pipe; do
		rc=0
		case $how in
		devnull) "$CONNECTD" --allow-port 443 </dev/null >out.txt 2>err.txt || rc=$? ;;
		file)
			printf 'CONNECT 127.0.0.1:443 HTTP/1.0\r\n\r\n' >req.txt
			"$CONNECTD" --allow-port 443 <req.txt >out.txt 2>err.txt || rc=$? ;;
		pipe)
			printf 'CONNECT 127.0.0.1:443 HTTP/1.0\r\n\r\n' |
				"$CONNECTD" --allow-port 443 >out.txt 2>err.txt || rc=$? ;;
		esac
		echo "$how: exit $rc, stderr: $(cat err.txt)"
		((rc == 2))
		[[ -s err.txt ]]
		[[ ! -s out.txt ]]
	done
	# a terminal on stdin (script(1) gives it a pty)
	run script -qec "$CONNECTD --allow-port 443" /dev/null
	echo "tty: exit $status, output: $output"
	((status == 2))
	[[ -n $output ]]
}

@test "fd 3 a listening socket with LISTEN_FDS=1 (Accept=no) -> exit 2 naming Accept=yes" {
	run timeout 10 "$PY" "$TOOLS/activate.py" --direct --port-file l.port -- \
		"$CONNECTD" --allow-port 443
	echo "$output"
	((status == 2))
	[[ $output == *Accept=yes* ]]
}

@test "--help: exit 0, usage on stdout naming every option" {
	local rc=0
	"$CONNECTD" --help >out.txt 2>err.txt || rc=$?
	cat out.txt
	((rc == 0))
	local o
	for o in --allow-port --request-timeout --connect-timeout --idle-timeout --max-lifetime \
		--help --version -p -r -c -i -l -h -V; do
		grep -qe "$o\\b" out.txt || fail "--help does not mention $o"
	done
	rc=0
	"$CONNECTD" -h >out2.txt 2>/dev/null || rc=$?
	((rc == 0))
	cmp out.txt out2.txt
}

@test "--version / -V: 'connectd 0.1.0' on stdout, exit 0" {
	run "$CONNECTD" --version
	((status == 0))
	[[ $output == "connectd 0.1.0" ]]
	run "$CONNECTD" -V
	((status == 0))
	[[ $output == "connectd 0.1.0" ]]
}

# With PROTO set and a request on a pipe, a valid command line answers the
# request (exit 0); an invalid one must exit 2 before answering.
ucspi_run() { # ARGS... : sets rc, out.txt, err.txt
	rc=0
	printf 'CONNECT 127.0.0.1:1 HTTP/1.0\r\n\r\n' |
		PROTO=TCP TCPREMOTEIP=127.0.0.1 TCPREMOTEPORT=5555 \
			timeout 10 "$CONNECTD" "$@" >out.txt 2>err.txt || rc=$?
}

@test "valid option values are accepted (control for the bad-value test)" {
	local args
	for args in "--allow-port 2" "-p 2" "--allow-port 443,8443,1000-2000" \
		"--allow-port 2 --allow-port 3" "--request-timeout 0.5" "-r 2" "--request-timeout 1.25" \
		"--connect-timeout 0.25" "-c 3" "--idle-timeout 0" "-i 1.5" "--max-lifetime 0" \
		"-l 3600" "--allow-port=2" "--request-timeout=2"; do
		# shellcheck disable=SC2086
		ucspi_run $args
		echo "$args: exit $rc: $(head -c 200 out.txt | head -n1)"
		((rc == 0)) || fail "exit $rc for $args: $(cat err.txt)"
		grep -q '^HTTP/1.1 403 ' out.txt || fail "no 403 for $args"
	done
}

@test "bad option values exit 2 with a message naming the option, nothing on stdout" {
	local spec opt args
	for spec in "allow-port|--allow-port 0" "allow-port|--allow-port 65536" \
		"allow-port|--allow-port abc" "allow-port|--allow-port 2000-1000" \
		"allow-port|--allow-port 443,,8443" "allow-port|--allow-port -5" \
		"request-timeout|--request-timeout abc" "request-timeout|--request-timeout -1" \
		"request-timeout|--request-timeout 1s" "connect-timeout|--connect-timeout x" \
		"idle-timeout|--idle-timeout -2" "max-lifetime|--max-lifetime 1e3" \
		"bogus|--bogus" "allow-port|--allow-port"; do
		opt=${spec%%|*}
		args=${spec#*|}
		# shellcheck disable=SC2086
		ucspi_run $args
		echo "$args: exit $rc: $(cat err.txt)"
		((rc == 2)) || fail "exit $rc for $args"
		grep -q -- "$opt" err.txt || fail "message for '$args' does not name $opt"
		[[ ! -s out.txt ]] || fail "stdout not empty for $args: $(cat out.txt)"
	done
}
