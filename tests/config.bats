#!/usr/bin/env bats
# --config FILE: options one per line by their long names, where the option
# stands on the command line; bad lines name the file and the line, exit 2,
# and a client that a launcher handed over gets 500 config_error; files that
# others could have written are refused.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=30
load helpers

setup() {
	common_setup
	REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
}
teardown() { common_teardown; }

# conf NAME LINES... : writes the lines to NAME, mode 0600
conf() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
	chmod 0600 "$f"
}

# usage_error CONFIG_FILE WANT : connectd --config FILE, run with no
# launcher, must exit 2 with WANT in its message and nothing on stdout
usage_error() {
	run --separate-stderr "$CONNECTD" --config "$1"
	echo "exit $status, stderr: $stderr"
	((status == 2)) || fail "exit $status, not 2"
	[[ -z $output ]] || fail "stdout: $output"
	[[ $stderr == *"$2"* ]] || fail "expected '$2' in: $stderr"
}

@test "a configuration file sets options; comments, blank lines, CRLF and spacing are fine" {
	start_target echo
	conf my.conf "# the lab" "" "   allow-port   $TPORT  " "	# indented comment" \
		"request-timeout 5"$'\r' "no-splice"
	start_proxy accept --config my.conf
	expect_tunnel "$REQ"
	report_cases
}

@test "control: without the file, the same proxy refuses that port" {
	start_target echo
	start_proxy accept --request-timeout 5 --no-splice
	expect_error 403 port_not_allowed "$REQ"
	report_cases
}

# realm_of OPTIONS... : a proxy with an auth file and OPTIONS; prints the
# realm of its 407 challenge
realm_of() {
	local users=$BATS_TEST_TMPDIR/users
	printf 'alice:%s\n' "$("$PY" "$TOOLS/hashpw.py" sha512 secret)" >"$users"
	chmod 0600 "$users"
	start_target echo
	conf my.conf "allow-port $TPORT" "auth-file $users" "realm from-file"
	start_proxy accept "$@"
	client --request "$REQ"
	has_line 'STATUS 407'
	REALM=$(value 'HDR proxy-authenticate:')
	echo "$REALM"
}

@test "an option after --config wins over the file" {
	realm_of --config my.conf --realm from-cmdline
	[[ $REALM == *'realm="from-cmdline"'* ]] || fail "the command line did not win"
}

@test "the file wins over an option before --config" {
	realm_of --realm from-cmdline --config my.conf
	[[ $REALM == *'realm="from-file"'* ]] || fail "the file did not win"
}

@test "repeatable options add up across the file and the command line" {
	start_target echo
	local t1=$TPORT
	start_target echo
	conf my.conf "allow-port $t1"
	start_proxy accept --config my.conf --allow-port "$TPORT"
	expect_tunnel "CONNECT 127.0.0.1:$t1 HTTP/1.1\r\nHost: h\r\n\r\n"
	expect_tunnel "CONNECT 127.0.0.1:$TPORT HTTP/1.1\r\nHost: h\r\n\r\n"
	report_cases
}

@test "bad lines: exit 2 with the file, the line and what is wrong" {
	conf a.conf "allow-port 443" "bogus-option 1"
	usage_error a.conf "a.conf:2: bogus-option: no such option"
	conf b.conf "# c" "allow-port"
	usage_error b.conf "b.conf:2: allow-port: needs a value"
	conf c.conf "no-splice yes"
	usage_error c.conf "c.conf:1: no-splice: takes no value"
	conf d.conf "" "" "allow-port 99999"
	usage_error d.conf "d.conf:3: allow-port: a port outside 1-65535"
	conf e.conf "deny-dest 10.0.0.0/33"
	usage_error e.conf "e.conf:1: deny-dest: not a rule"
	conf f.conf "config other.conf"
	usage_error f.conf "f.conf:1: config: not allowed in a configuration file"
	conf g.conf "help"
	usage_error g.conf "g.conf:1: help: not allowed in a configuration file"
	conf h.conf "idle-timeout soon"
	usage_error h.conf "h.conf:1: idle-timeout: not a number of seconds"
	printf 'allow-port 443\nrealm %05000d\n' 0 >i.conf
	chmod 0600 i.conf
	usage_error i.conf "i.conf:2: line longer than 4095 bytes"
	printf 'allow-port 443\0\n' >j.conf
	chmod 0600 j.conf
	usage_error j.conf "j.conf:1: a NUL byte"
	conf k.conf "allow-uid no-such-user-here"
	usage_error k.conf "k.conf:1: allow-uid: 'no-such-user-here' is not a uid"
}

@test "unusable files: missing, too large, a directory, a second --config" {
	usage_error missing.conf "--config missing.conf: No such file or directory"
	head -c 70000 /dev/zero | tr '\0' '#' >big.conf
	chmod 0600 big.conf
	usage_error big.conf "--config big.conf: larger than 65536 bytes"
	mkdir dir.conf
	chmod 0700 dir.conf
	usage_error dir.conf "--config dir.conf: not a regular file"
	conf ok.conf "allow-port 443"
	run --separate-stderr "$CONNECTD" --config ok.conf --config ok.conf
	((status == 2))
	[[ $stderr == *"a second --config"* ]] || fail "$stderr"
}

@test "a file others could have written is refused: group- or world-writable, or another owner" {
	conf g.conf "allow-port 443"
	chmod 0620 g.conf
	usage_error g.conf "--config g.conf: writable by its group or others (mode 0620)"
	chmod 0602 g.conf
	usage_error g.conf "--config g.conf: writable by its group or others (mode 0602)"
	conf n.conf "allow-port 443"
	chown 65534 n.conf
	usage_error n.conf "--config n.conf: owned by uid 65534, neither root nor uid 0"
	# control: the same file, owned by root and mode 0644, is taken
	chown 0 n.conf
	chmod 0644 n.conf
	run "$CONNECTD" --config n.conf --help
	((status == 0))
}

@test "under a launcher a bad file gets the client 500 config_error, the log line and exit 2" {
	start_target echo
	conf bad.conf "allow-port $TPORT" "allow-dest nonsense/99"
	start_proxy accept --config bad.conf
	expect_error 500 config_error "$REQ"
	wait_log 1
	grep -aq 'bad.conf:2: allow-dest: not a rule' "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
	log_lines | grep -q ' status=500 reason=config_error ' || fail "$(log_lines)"
	wait_exits 1 10
	grep -aq ' died with code 2$' "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
}

@test "a bad file's 500 is sent confined: on a kernel without Landlock, under the seccomp filter, and the line says so" {
	local nofeature=$BATS_TEST_DIRNAME/tools/nofeature
	[[ -x $nofeature ]] || fail "not built: $nofeature (make check builds it)"
	start_target echo
	conf bad.conf "allow-port $TPORT" "allow-dest nonsense/99"
	printf '#!/bin/sh\nexec %s landlock %s "$@"\n' "$nofeature" "$CONNECTD" >wrapped
	chmod +x wrapped
	CONNECTD=$PWD/wrapped start_proxy accept --config bad.conf
	expect_error 500 config_error "$REQ"
	wait_log 1
	# the unusable file is not trusted: the default sandbox (auto) applies
	log_lines | grep -q ' status=500 reason=config_error .* landlock=disabled ' || fail "$(log_lines)"
	wait_exits 1 10
	grep -aq ' died with code 2$' "$PROXY_LOG" || fail "$(cat "$PROXY_LOG")"
}

@test "--config -FILE may be missing; when present it is read like any other" {
	start_target echo
	start_proxy accept --config -"$BATS_TEST_TMPDIR/none.conf" --allow-port "$TPORT"
	expect_tunnel "$REQ"
	report_cases
	conf bad.conf "allow-port 0"
	usage_error -bad.conf "bad.conf:1: allow-port: a port outside 1-65535"
}
