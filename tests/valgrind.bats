#!/usr/bin/env bats
# connectd under valgrind memcheck (issue 5): complete tunnels with data
# both ways and half-closes, over UCSPI pipes and over an inetd socket, and
# an error response, each with no memcheck error and no definite leak.
# Skipped for an AddressSanitizer build (valgrind and ASan do not mix).

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=90
load helpers

REQ='CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\n\r\n'
VALGRIND=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)

setup() {
	common_setup
	if is_asan_build; then
		skip "valgrind and AddressSanitizer do not mix ($CONNECTD)"
	fi
	command -v valgrind >/dev/null || fail "valgrind not installed"
	# valgrind runs translated code from anonymous executable memory and
	# keeps descriptors of its own: the in-process sandbox forbids both
	LAB_RULES+=(--sandbox=off)
}

teardown() { common_teardown; }

# expect_clean_valgrind FILE... : every memcheck log reports no error and
# nothing definitely lost
expect_clean_valgrind() {
	local f
	(($# > 0)) || fail "no valgrind log"
	for f in "$@"; do
		cat "$f"
		grep -q 'ERROR SUMMARY: 0 errors' "$f" || fail "memcheck errors in $f"
		grep -Eq 'definitely lost: 0 bytes|All heap blocks were freed' "$f" ||
			fail "a definite leak in $f"
	done
}

@test "valgrind, UCSPI pipes: a tunnel with data both ways and a half-close each way" {
	start_target halfclose-echo --data '+ the answer after your FIN\n'
	# shellcheck disable=SC2086 # CONNECTD_EXTRA: a list of options
	run "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi.err --timeout 60 \
		--request "$REQ" --send 'question over pipes\n' -- \
		"${VALGRIND[@]}" --log-file="$BATS_TEST_TMPDIR/vg.log" \
		"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} --allow-port "$TPORT"
	echo "$output"
	cat ucspi.err
	has_line 'STATUS 200'
	has_line 'RECV question over pipes\n+ the answer after your FIN\n'
	has_line 'END eof'
	has_line 'EXIT 0'
	grep -aq '^connectd: .*status=200 .*end=eof' ucspi.err
	expect_clean_valgrind vg.log
}

@test "valgrind, inetd socket: 1 MiB each way at once, half-closes, sha256 intact" {
	head -c 1048576 /dev/urandom >up.bin
	head -c 1048576 /dev/urandom >down.bin
	start_target sink-source --send-file down.bin --out sums.txt
	printf '#!/bin/sh\nexec %s --log-file=%s "%s" "$@"\n' "${VALGRIND[*]}" \
		"$BATS_TEST_TMPDIR/vg.%p.log" "$CONNECTD" >vg-connectd
	chmod +x vg-connectd
	CONNECTD=$BATS_TEST_TMPDIR/vg-connectd start_proxy inetd --allow-port "$TPORT"
	client --request "$REQ" --check-ok --act duplex:up.bin --timeout 60
	has_line 'CHECK ok'
	has_line 'RECV_LEN 1048576'
	has_line "RECV_SHA256 $(sha256sum <down.bin | cut -d' ' -f1)"
	has_line 'END eof'
	wait_until 20 _nonempty sums.txt
	[[ $(cat sums.txt) == "$(sha256sum <up.bin | cut -d' ' -f1) 1048576" ]]
	# valgrind's exit status (99 on an error) is the launcher's "code"
	wait_exits 1 30
	expect_clean_exits 1
	expect_clean_valgrind vg.*.log
}

@test "valgrind, UCSPI pipes: error responses (431 with unread bytes, 502 refused) are clean too" {
	start_target bound
	local big
	printf -v big '%*s' 20000 ''
	# shellcheck disable=SC2086 # CONNECTD_EXTRA: a list of options
	run "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi1.err --timeout 60 \
		--request "CONNECT 127.0.0.1:{T} HTTP/1.1\r\nX: ${big// /x}\r\n\r\n" -- \
		"${VALGRIND[@]}" --log-file="$BATS_TEST_TMPDIR/vg1.log" \
		"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} --allow-port "$TPORT"
	echo "$output"
	has_line 'STATUS 431'
	has_line 'EXIT 0'
	# shellcheck disable=SC2086 # CONNECTD_EXTRA: a list of options
	run "$PY" "$TOOLS/ucspi.py" --tport "$TPORT" --stderr ucspi2.err --timeout 60 \
		--request "$REQ" -- \
		"${VALGRIND[@]}" --log-file="$BATS_TEST_TMPDIR/vg2.log" \
		"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} --allow-port "$TPORT"
	echo "$output"
	has_line 'STATUS 502'
	has_line 'EXIT 0'
	expect_clean_valgrind vg1.log vg2.log
}
