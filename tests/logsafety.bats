#!/usr/bin/env bats
# Log safety (issue 5): whatever a client sends, each connection is logged
# on exactly one line, untrusted text in it is escaped (no raw control byte,
# no raw quote, no raw backslash, no byte outside printable ASCII) and
# clipped, and no input forges a second line or a second key.
# (tests/log.bats covers the fields of ordinary log lines.)
# connectd runs under systemd-socket-activate --accept, whose stderr is
# $PROXY_LOG.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers

setup() {
	common_setup
	start_target echo
	start_proxy accept --allow-port "$TPORT" --request-timeout 3
}

teardown() { common_teardown; }

# target_of LINE : the raw value of target= in a log line
target_of() {
	local re='(^| )target=([^ ]*)'
	[[ $1 =~ $re ]] || return 1
	printf '%s\n' "${BASH_REMATCH[2]}"
}

# well_formed LINE : one record: "connectd: " then space-separated
# key=value tokens, keys lowercase and none twice, only printable ASCII
well_formed() {
	local line=$1 tok key seen=' '
	if LC_ALL=C grep -aq '[^ -~]' <<<"$line"; then
		fail "a byte outside printable ASCII in: $(cat -A <<<"$line")"
	fi
	[[ $line == 'connectd: client='* ]] || fail "not a record: $line"
	for tok in ${line#connectd: }; do
		[[ $tok =~ ^([a-z_]+)=(.*)$ ]] || fail "token '$tok' is not key=value in: $line"
		key=${BASH_REMATCH[1]}
		[[ $seen != *" $key "* ]] || fail "key $key twice in: $line"
		seen+="$key "
	done
}

# expect_records N : the launcher's stderr holds exactly N connectd records,
# every one well formed, and no other line looks like part of one
expect_records() {
	wait_log "$1"
	local l
	(($(log_lines | wc -l) == $1)) || fail "expected $1 log lines:" "$(log_lines)"
	while IFS= read -r l; do
		well_formed "$l"
	done < <(log_lines)
	if grep -av '^connectd: client=' "$PROXY_LOG" | grep -aEq '^connectd|forged|status=|target='; then
		fail "a line outside the records:" "$(grep -av '^connectd: client=' "$PROXY_LOG" | cat -A)"
	fi
}

@test "ESC, quotes and backslashes in a target: refused, one line each, escaped as \\xHH or left out" {
	local reqs=(
		'CONNECT a\x1b[31m"b:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT a"b\\c:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT "quoted":443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT \\\\host\\share:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT x\x1b]0;title\x07.test:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT x\x9b31m\x85\xe2\x80\xa8.test:443 HTTP/1.1\r\nHost: h\r\n\r\n'
	)
	# what each target must read as in the log when it is logged at all
	local want=(
		'a\x1b[31m\x22b:443'
		'a\x22b\x5cc:443'
		'\x22quoted\x22:443'
		'\x5c\x5chost\x5cshare:443'
		'x\x1b]0;title\x07.test:443'
		'x\x9b31m\x85\xe2\x80\xa8.test:443'
	)
	local i n=0
	for i in "${!reqs[@]}"; do
		client --request "${reqs[$i]}"
		[[ $(value STATUS) == 400 ]] || fail "request $i got $(value STATUS)" "$output"
		n=$((n + 1))
		wait_log "$n"
	done
	expect_records "$n"
	log_lines | cut -c1-120
	local t
	for i in "${!reqs[@]}"; do
		t=$(target_of "$(log_lines | sed -n "$((i + 1))p")")
		[[ $t == - || $t == "${want[$i]}" ]] ||
			fail "request $i: target=$t, expected - or ${want[$i]}"
		[[ $t != *'"'* ]]
	done
	# the quote-and-backslash targets are well-formed request lines: their
	# target is known and must be logged, escaped
	[[ $(target_of "$(log_lines | sed -n 2p)") == 'a\x22b\x5cc:443' ]]
	[[ $(target_of "$(log_lines | sed -n 3p)") == '\x22quoted\x22:443' ]]
}

@test "an 8000-byte target of quotes is clipped to a few hundred bytes, and the keys after it survive" {
	local q
	printf -v q '%*s' 8000 ''
	q=${q// /\\x22}
	client --request "CONNECT $q:443 HTTP/1.1\r\nHost: h\r\n\r\n"
	has_line 'STATUS 414'
	local b
	printf -v b '%*s' 7000 ''
	b=${b// /\\\\}
	client --request "CONNECT $b:443 HTTP/1.1\r\nHost: h\r\n\r\n"
	has_line 'STATUS 414'
	expect_records 2
	local l t
	while IFS= read -r l; do
		t=$(target_of "$l")
		echo "target: ${#t} bytes: ${t:0:80}..."
		((${#t} <= 400)) || fail "target of ${#t} bytes in the log"
		[[ $t == - || $t =~ ^(\\x22|\\x5c)+(\.\.\.)?$ ]] || fail "target=$t"
		[[ $l == *' status=414 '* && $l == *' reason=target_too_long '* && $l == *' end='* ]] ||
			fail "keys after the target are missing: ${l:0:200}...${l: -200}"
		((${#l} < 1024)) || fail "log line of ${#l} bytes"
	done < <(log_lines)
}

@test "CR and LF inside the request line or header values cannot forge a log line" {
	local reqs=(
		'CONNECT evil\r\nconnectd: client=6.6.6.6:1 target=forged status=200 reason=ok:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT evil\nconnectd: forged=1:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT evil\rconnectd: forged=1:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT evil.test:443\r\nconnectd: forged=1 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\rconnectd: forged=1\r\n\r\n'
		'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\nX-Forge: a\rconnectd: forged=1\r\n\r\n'
		'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\nX-Forge: a\x0bconnectd: forged=1\x0c\r\n\r\n'
		'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\nX-Forge: a\x00\nconnectd: forged=1\r\n\r\n'
		'CONNECT evil\x85connectd: forged=1:443 HTTP/1.1\r\nHost: h\r\n\r\n'
		'CONNECT evil\xe2\x80\xa8connectd: forged=1:443 HTTP/1.1\r\nHost: h\r\n\r\n'
	)
	local i
	for i in "${!reqs[@]}"; do
		client --request "${reqs[$i]}"
		[[ $(value STATUS) =~ ^(400|501|505)$ ]] || fail "request $i got $(value STATUS)" "$output"
		wait_log $((i + 1))
	done
	# a header named like the log is only a header: the tunnel works and the
	# header shows up nowhere
	client --request 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: h\r\nconnectd: client=6.6.6.6:1 forged=1\r\n\r\n' \
		--check-ok --act 'send:x\n' --act shut --act readeof
	has_line 'CHECK ok'
	has_line 'RECV x\n'
	expect_records $((${#reqs[@]} + 1))
	if grep -aq '6\.6\.6\.6' "$PROXY_LOG"; then
		fail "a client-supplied address reached the log:" "$(grep -a 6.6.6.6 "$PROXY_LOG")"
	fi
	local l
	while IFS= read -r l; do
		[[ $l != *forged=* ]] || fail "a forged key in: $l"
	done < <(log_lines)
}
