#!/usr/bin/env bats
# Integrity under concurrency (issue 5): 200 tunnels at once through one
# launcher (systemd-socket-activate --accept, one connectd per connection),
# each moving its own random payload of 64-256 KiB each way with half-closes
# at random points, every byte checked by SHA-256 at both ends
# (tools/stress.py).  The connectd log lines must add up to the same bytes.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=120
load helpers

setup() {
	common_setup
}

teardown() { common_teardown; }

# sum KEY : the sum of KEY=<n> over the connectd log lines
sum() { log_lines | sed -n "s/.* $1=\([0-9]*\) .*/\1/p" | awk '{ s += $1 } END { print s + 0 }'; }

@test "200 tunnels at once, 64-256 KiB each way, random half-closes: every byte arrives intact at both ends" {
	local n=200
	bg stress "$PY" "$TOOLS/stress.py" --port-file tport --proxy-port-file pport \
		--tunnels "$n" --min 65536 --max 262144 --deadline 60
	local driver=$BG_PID
	read_port_file tport TPORT || fail "stress.py did not start: $(cat stress.err)"
	start_proxy accept --allow-port "$TPORT"
	echo "$PPORT" >pport.tmp && mv pport.tmp pport
	local rc=0
	wait "$driver" || rc=$?
	cat stress.out
	cat stress.err >&2
	((rc == 0)) || fail "stress.py failed (exit $rc)"
	grep -q "^OK $n\$" stress.out
	echo "# $(grep '^SECONDS' stress.out) s for $n tunnels, $CONNECTD" >&3

	# one log line per tunnel, all 200 and ended by EOF both ways, and
	# their byte counts add up to what the driver moved
	wait_until 20 _log_count_ge "$n" || fail "only $(log_lines | wc -l) log lines"
	(($(log_lines | wc -l) == n))
	(($(log_lines | grep -c ' status=200 .* end=eof ') == n)) ||
		fail "not every tunnel ended with status=200 end=eof:" "$(log_lines | grep -v ' end=eof ')"
	[[ $(sum up) == "$(sed -n 's/^UP_BYTES //p' stress.out)" ]] ||
		fail "log up= total $(sum up) differs from the driver's"
	[[ $(sum down) == "$(sed -n 's/^DOWN_BYTES //p' stress.out)" ]] ||
		fail "log down= total $(sum down) differs from the driver's"
	expect_clean_exits "$n"
}
