#!/usr/bin/env bats
# The C unit tests and the fuzz corpus replay, as part of the suite.

BATS_TEST_TIMEOUT=60

setup() {
	top=$BATS_TEST_DIRNAME/..
}

@test "request parser: table of heads and every limit at and past its cap" {
	run "$top/tests/unit/request_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "seccomp: a high-rate child's short filter under the listener's answers every call as the connection filter (both builds)" {
	local t
	for t in sandbox_test sandbox_test_asan; do
		run "$top/tests/unit/$t"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ $output == 1..* ]]
		[[ $output != *"not ok"* ]]
	done
}

@test "--reuse: a child's baseline, and every way it is not back to it (an fd, a limit, no sandbox)" {
	run "$top/tests/unit/reuse_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "outcome table: a filled row for every outcome, statuses and RFC 9209 types that agree" {
	run "$top/tests/unit/outcome_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "PROXY header parser: v1 and v2 fields, every malformed class, the caps, every split" {
	run "$top/tests/unit/proxyproto_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "upstream: URLs, credentials files, our CONNECT, the parent's answers at every split and cap" {
	run "$top/tests/unit/upstream_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "destination policy: rules, precedence and every default-denied range" {
	run "$top/tests/unit/policy_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "proxy authentication: Basic decoding and crypt(3) schemes" {
	run "$top/tests/unit/auth_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "fuzz corpus replays through the credentials decoder without a fault" {
	run "$top/fuzz/replay_auth" "$top/fuzz/corpus/auth"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	[ "${BASH_REMATCH[1]}" -ge 20 ]
}

@test "fuzz corpus replays through the option-value parsers without a fault" {
	run "$top/fuzz/replay_config" "$top/fuzz/corpus/config"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	[ "${BASH_REMATCH[1]}" -ge 20 ]
}

@test "fuzz corpus replays through the request parser without a fault" {
	run "$top/fuzz/replay_request" "$top/fuzz/corpus/request"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	[ "${BASH_REMATCH[1]}" -ge 30 ]
}

@test "fuzz corpus replays through the configuration file parser without a fault" {
	run "$top/fuzz/replay_conffile" "$top/fuzz/corpus/conffile"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	[ "${BASH_REMATCH[1]}" -ge 30 ]
}

@test "fuzz corpus replays through the PROXY header parser without a fault" {
	run "$top/fuzz/replay_proxyproto" "$top/fuzz/corpus/proxyproto"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	[ "${BASH_REMATCH[1]}" -ge 10 ]
}

@test "stub resolver: queries, answers (rcodes, CNAME chains, every malformed class and prefix), hosts and resolv.conf lines" {
	run "$top/tests/unit/dns_test"
	echo "$output" | grep -v '^ok' || true
	[ "$status" -eq 0 ]
	[[ $output == 1..* ]]
	[[ $output != *"not ok"* ]]
}

@test "fuzz corpus replays through the stub resolver's parsers without a fault" {
	run "$top/fuzz/replay_dns" "$top/fuzz/corpus/dns"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	((BASH_REMATCH[1] >= 10))
}

@test "fuzz corpus replays through the upstream parsers without a fault" {
	run "$top/fuzz/replay_upstream" "$top/fuzz/corpus/upstream"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ replayed\ ([0-9]+)\ inputs ]]
	[ "${BASH_REMATCH[1]}" -ge 10 ]
}
