#!/usr/bin/env bats
# Dialling like a modern client (issue 4): Happy Eyeballs v2 (RFC 8305),
# the DNS deadline, and a precise status, Proxy-Status and log record for
# every way a dial fails.  Everything runs in a private network namespace
# with a stub DNS server and targets on lo (see dial_helpers.bash): names,
# answers and black holes are the lab's own, nothing leaves the machine.
# Times are generous upper bounds (and lower bounds only where connectd
# must wait), never exact.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
bats_require_minimum_version 1.5.0
load helpers
load dial_helpers

setup_file() { dial_lab_start; }
teardown_file() { dial_lab_stop; }

setup() {
	common_setup
	dns_mark
}
teardown() { common_teardown; }

# a lone A answer waited DIAL_RESOLUTION_DELAY_MS (50) for its AAAA: a
# lower bound, so never flaky
expect_resolution_delay() {
	local ms
	ms=$(dial_log connect_ms) || return 1
	((ms >= 45)) || fail "IPv4 dialled after $ms ms, without the 50 ms resolution delay"
}

# spin_check NAME : CONNECT NAME (twelve black-holed addresses of one
# family, the other family's query never answered) with --connect-timeout
# 3, which ends in 504 connection_timeout after twelve attempts 250 ms
# apart; sets SPIN_CPU_MS, the CPU time connectd used in all
# (tools/rusage.py between an inetd-style launcher and connectd measures it)
spin_check() {
	local pf=$BATS_TEST_TMPDIR/proxy.port ru=$BATS_TEST_TMPDIR/rusage
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=inetd
	bg proxy lab "$PY" "$TOOLS/activate.py" --inetd --port-file "$pf" -- \
		"$PY" "$TOOLS/rusage.py" --out "$ru" -- \
		"$CONNECTD" "${LAB_RULES[@]}" "${DIAL_RULES[@]}" --connect-timeout 3
	read_port_file "$pf" PPORT || fail "the lab proxy did not start: $(cat "$PROXY_LOG")"
	lab_error "$1" 504 connection_timeout \
		'connectd; error=connection_timeout; details="connection_timeout"'
	local tried
	tried=$(dial_log tried)
	IFS=, read -ra entries <<<"$tried"
	((${#entries[@]} == 12)) || fail "expected 12 attempts: $tried"
	wait_until 10 _nonempty "$ru" || fail "no CPU time recorded"
	local line
	line=$(cat "$ru")
	[[ $line =~ ^user_ms=([0-9]+)\ sys_ms=([0-9]+)\ status=0$ ]] || fail "rusage: $line"
	SPIN_CPU_MS=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
	echo "connectd used $SPIN_CPU_MS ms of CPU in its 3 s"
}

# --- which family carries the tunnel ----------------------------------------

@test "AAAA only: the tunnel goes over IPv6" {
	lab_proxy
	lab_tunnel v6only.test
	[[ $VIA == "$(v6 "$LAB6_OK")" ]] || fail "target reached at $VIA"
	expect_log status 200
	expect_log reason ok
	expect_log addr "$(v6 "$LAB6_OK")"
	expect_log tried "$(v6 "$LAB6_OK")=ok"
	expect_clean_exits 1
	# both families were asked
	dns_queries v6only.test | grep -q ' AAAA ANSWER:1' || fail "no AAAA query" "$(dns_queries v6only.test)"
	dns_queries v6only.test | grep -q ' A NODATA' || fail "no A query" "$(dns_queries v6only.test)"
}

@test "A only: the tunnel goes over IPv4" {
	lab_proxy
	lab_tunnel v4only.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v4 "$LAB4_OK")"
	expect_log tried "$(v4 "$LAB4_OK")=ok"
	expect_clean_exits 1
}

@test "AAAA and A both work: IPv6 is tried first and carries the tunnel" {
	lab_proxy
	lab_tunnel both.test
	[[ $VIA == "$(v6 "$LAB6_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v6 "$LAB6_OK")"
	# the first (and only) attempt is the IPv6 one
	expect_log tried "$(v6 "$LAB6_OK")=ok"
	grep -qF "accept $(v6 "$LAB6_OK") " "$BATS_FILE_TMPDIR/target.log" ||
		fail "the IPv6 target saw no connection" "$(cat "$BATS_FILE_TMPDIR/target.log")"
	dns_queries both.test | grep -q ' AAAA ANSWER:1' || fail "no AAAA query"
	dns_queries both.test | grep -q ' A ANSWER:1' || fail "no A query"
	expect_clean_exits 1
}

@test "IPv6 refused: IPv4 is tried next at once, not after the attempt delay" {
	lab_proxy
	lab_tunnel fallback6.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v4 "$LAB4_OK")"
	expect_log tried "$(v6 "${LAB6_REFUSED[0]}")=refused,$(v4 "$LAB4_OK")=ok"
	expect_clean_exits 1
}

@test "eight refused addresses: each failure starts the next attempt at once" {
	lab_proxy
	lab_error many.test 502 connection_refused \
		'connectd; error=connection_refused; details="connection_refused"'
	local tried a
	tried=$(dial_log tried)
	IFS=, read -ra entries <<<"$tried"
	((${#entries[@]} == 8)) || fail "expected 8 attempts: $tried"
	for a in "${LAB6_REFUSED[@]}"; do
		[[ ,$tried, == *",$(v6 "$a")=refused,"* ]] || fail "$a is not refused in $tried"
	done
	for a in "${LAB4_REFUSED[@]}"; do
		[[ ,$tried, == *",$(v4 "$a")=refused,"* ]] || fail "$a is not refused in $tried"
	done
	# seven attempt delays would be 1750 ms; at once it takes a few ms
	expect_log_ms_below connect_ms 1250
	expect_clean_exits 1
}

@test "black-holed addresses of both families: an attempt every 250 ms, interleaved, IPv6 first" {
	lab_proxy --connect-timeout 1
	lab_error stagger.test 504 connection_timeout \
		'connectd; error=connection_timeout; details="connection_timeout"'
	((ELAPSED_MS < 4000)) || fail "answered after $ELAPSED_MS ms, expected about 1 s"
	# every attempt hangs, so tried= lists them in the order they started
	local tried fams=() entry
	tried=$(dial_log tried)
	IFS=, read -ra entries <<<"$tried"
	for entry in "${entries[@]}"; do
		[[ $entry == *=timeout ]] || fail "not a timeout: $entry in $tried"
		if [[ $entry == \[* ]]; then fams+=(6); else fams+=(4); fi
	done
	# within 1 s at one attempt per 250 ms: at 0, 250, 500 and 750 ms
	((${#entries[@]} >= 2 && ${#entries[@]} <= 5)) ||
		fail "${#entries[@]} attempts in 1 s, expected about 4: $tried"
	local i want=()
	for ((i = 0; i < ${#fams[@]}; i++)); do
		want+=($((i % 2 ? 4 : 6)))
	done
	[[ ${fams[*]} == "${want[*]}" ]] ||
		fail "family order ${fams[*]}, expected ${want[*]}: $tried"
	expect_clean_exits 1
}

# --- DNS failures -------------------------------------------------------------

@test "NXDOMAIN: 502 dns_error, rcode NXDOMAIN" {
	lab_proxy
	lab_error nx.test 502 dns_error \
		'connectd; error=dns_error; rcode="NXDOMAIN"; details="dns_error"'
	[[ $(value BODY) == *'(NXDOMAIN)\n' ]] || fail "body does not name the rcode"
	expect_log status 502
	expect_log reason dns_error
	expect_log rcode NXDOMAIN
	expect_log addr -
	expect_log tried -
	expect_clean_exits 1
}

@test "SERVFAIL: 502 dns_error, rcode SERVFAIL" {
	lab_proxy
	lab_error servfail.test 502 dns_error \
		'connectd; error=dns_error; rcode="SERVFAIL"; details="dns_error"'
	[[ $(value BODY) == 'dns_error: the resolver failed (SERVFAIL)\n' ]] ||
		fail "body $(value BODY)"
	expect_log reason dns_error
	expect_log rcode SERVFAIL
	expect_log tried -
	# one question of each type: a SERVFAIL is an answer, not a loss
	(($(dns_queries servfail.test | grep -c ' AAAA SERVFAIL') == 1)) ||
		fail "AAAA asked other than once:" "$(dns_queries servfail.test)"
	(($(dns_queries servfail.test | grep -c ' A SERVFAIL') == 1)) ||
		fail "A asked other than once:" "$(dns_queries servfail.test)"
	expect_clean_exits 1
}

@test "the name exists without an address (NODATA for AAAA and A): 502 dns_error, rcode NOERROR" {
	lab_proxy
	lab_error nodata.test 502 dns_error \
		'connectd; error=dns_error; rcode="NOERROR"; details="dns_error"'
	[[ $(value BODY) == *'(NOERROR)\n' ]] || fail "body does not name the rcode"
	expect_log reason dns_error
	expect_log rcode NOERROR
	expect_log tried -
	dns_queries nodata.test | grep -q ' AAAA NODATA' || fail "no AAAA query"
	dns_queries nodata.test | grep -q ' A NODATA' || fail "no A query"
	expect_clean_exits 1
}

@test "no DNS answer at all: 504 dns_timeout at --dns-timeout, not glibc's retry schedule" {
	lab_proxy --dns-timeout 1
	lab_error silent.test 504 dns_timeout \
		'connectd; error=dns_timeout; details="dns_timeout"'
	# glibc alone would wait 2 x 5 s (resolv.conf: timeout:5 attempts:2)
	((ELAPSED_MS < 4000)) || fail "answered after $ELAPSED_MS ms, expected about 1 s"
	((ELAPSED_MS >= 900)) || fail "gave up after $ELAPSED_MS ms, before the 1 s DNS deadline"
	expect_log reason dns_timeout
	expect_log dns_ms -1
	expect_log tried -
	dns_queries silent.test | grep -q ' AAAA DROP' || fail "no AAAA query"
	dns_queries silent.test | grep -q ' A DROP' || fail "no A query"
	expect_clean_exits 1
}

# --- answers that come late or never ------------------------------------------

@test "AAAA 1 s late, A at once: IPv4 carries the tunnel after the 50 ms resolution delay" {
	lab_proxy
	lab_tunnel late6.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v4 "$LAB4_OK")"
	# the AAAA answer (1000 ms) was not waited for, so never dialled
	expect_log tried "$(v4 "$LAB4_OK")=ok"
	expect_log_ms_below connect_ms 900
	expect_log_ms_below dns_ms 900
	expect_resolution_delay
	((ELAPSED_MS < 3000)) || fail "took $ELAPSED_MS ms"
	dns_queries late6.test | grep -q ' AAAA ANSWER:1 delay=1' || fail "no AAAA query"
	expect_clean_exits 1
}

@test "A 1 s late, AAAA at once: IPv6 carries the tunnel without waiting for A" {
	lab_proxy
	lab_tunnel late4.test
	[[ $VIA == "$(v6 "$LAB6_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v6 "$LAB6_OK")"
	expect_log tried "$(v6 "$LAB6_OK")=ok"
	expect_log_ms_below connect_ms 900
	expect_clean_exits 1
}

@test "AAAA never answered, A at once: IPv4 tunnel well before the DNS deadline" {
	lab_proxy --dns-timeout 5
	lab_tunnel drop6.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v4 "$LAB4_OK")"
	expect_log tried "$(v4 "$LAB4_OK")=ok"
	expect_log_ms_below connect_ms 1000
	expect_resolution_delay
	expect_clean_exits 1
}

@test "AAAA SERVFAIL, A works: IPv4 carries the tunnel" {
	lab_proxy
	lab_tunnel servfail6.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v4 "$LAB4_OK")"
	expect_log tried "$(v4 "$LAB4_OK")=ok"
	expect_clean_exits 1
}

# --- connection failures ------------------------------------------------------

@test "black-holed AAAA, working A: IPv4 wins after the attempt delay, not the connect timeout" {
	lab_proxy --connect-timeout 10
	lab_tunnel blackhole6.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	((ELAPSED_MS < 3000)) || fail "tunnel after $ELAPSED_MS ms, expected about 250 ms"
	expect_log addr "$(v4 "$LAB4_OK")"
	local tried ms
	tried=$(dial_log tried)
	[[ ,$tried, == *",$(v4 "$LAB4_OK")=ok,"* ]] || fail "IPv4 not ok in tried=$tried"
	[[ ,$tried, =~ ,\[$LAB6_DEAD\]:$LAB_PORT=(cancelled|timeout), ]] ||
		fail "the IPv6 attempt is not cancelled in tried=$tried"
	[[ $tried =~ ^[^,]*,[^,]*$ ]] || fail "expected exactly two attempts: $tried"
	ms=$(dial_log connect_ms)
	# IPv6 first: IPv4 only after the 250 ms attempt delay
	((ms >= 200 && ms < 3000)) || fail "connect_ms=$ms, expected about 250"
	expect_clean_exits 1
}

@test "every address refused: 502 connection_refused, both attempts listed" {
	lab_proxy
	lab_error refused.test 502 connection_refused \
		'connectd; error=connection_refused; details="connection_refused"'
	expect_log status 502
	expect_log reason connection_refused
	expect_log addr -
	expect_log tried "$(v6 "${LAB6_REFUSED[0]}")=refused,$(v4 "${LAB4_REFUSED[0]}")=refused"
	expect_clean_exits 1
}

@test "every address black-holed: 504 connection_timeout at --connect-timeout" {
	lab_proxy --connect-timeout 1
	lab_error blackhole.test 504 connection_timeout \
		'connectd; error=connection_timeout; details="connection_timeout"'
	((ELAPSED_MS < 4000)) || fail "answered after $ELAPSED_MS ms, expected about 1 s"
	expect_log reason connection_timeout
	local tried ms
	tried=$(dial_log tried)
	[[ ,$tried, == *",$(v6 "$LAB6_DEAD")=timeout,"* ]] || fail "IPv6 not timeout in tried=$tried"
	[[ ,$tried, == *",$(v4 "$LAB4_DEAD")=timeout,"* ]] || fail "IPv4 not timeout in tried=$tried"
	ms=$(dial_log connect_ms)
	((ms >= 900)) || fail "gave up after $ms ms, before the 1 s connect deadline"
	expect_clean_exits 1
}

@test "an address with no route: 502 destination_ip_unroutable" {
	lab_proxy --allow-dest 2001:db8::/32
	lab_error unroutable.test 502 destination_ip_unroutable \
		'connectd; error=destination_ip_unroutable; details="destination_ip_unroutable"'
	expect_log reason destination_ip_unroutable
	expect_log tried "$(v6 "$LAB6_UNROUTED")=unreachable"
	expect_clean_exits 1
}

@test "an address literal with no route: 502 destination_ip_unroutable" {
	lab_proxy --allow-dest 2001:db8::/32
	lab_error "[$LAB6_UNROUTED]" 502 destination_ip_unroutable \
		'connectd; error=destination_ip_unroutable; details="destination_ip_unroutable"'
	expect_log tried "$(v6 "$LAB6_UNROUTED")=unreachable"
	expect_log dns_ms -1
	expect_clean_exits 1
}

@test "a firewall reject (ICMPv6 admin-prohibited) and a prohibit route: 502 connection_blocked, tried=...=blocked" {
	lab_proxy --allow-dest "$LAB4_BLOCKED"
	# the IPv6 attempt fails when the reject arrives (EACCES from SO_ERROR),
	# the IPv4 one in connect(2) itself (EACCES from the route lookup)
	lab_error blocked.test 502 connection_blocked \
		'connectd; error=destination_ip_prohibited; details="connection_blocked"'
	expect_log status 502
	expect_log reason connection_blocked
	expect_log tried "$(v6 "$LAB6_BLOCKED")=blocked,$(v4 "$LAB4_BLOCKED")=blocked"
	expect_clean_exits 1
	# a literal too, and a host's refusal is not connectd's: no "denied"
	lab_error "[$LAB6_BLOCKED]" 502 connection_blocked \
		'connectd; error=destination_ip_prohibited; details="connection_blocked"'
	wait_log 2
	[[ $(log_lines | tail -n 1) == *" reason=connection_blocked "*" tried=$(v6 "$LAB6_BLOCKED")=blocked" ]] ||
		fail "literal: $(log_lines | tail -n 1)"
	! log_lines | grep -q '=denied' || fail "a firewall's refusal logged as the policy's"
}

@test "32 addresses tried: tried= keeps whole attempts and ends in +Nmore; every key is still there" {
	lab_proxy
	lab_error manyaddrs.test 502 connection_refused \
		'connectd; error=connection_refused; details="connection_refused"'
	wait_log 1
	local line tried keys=() tok n=0 more
	line=$(log_lines)
	echo "${#line} bytes: $line"
	for tok in $line; do
		keys+=("${tok%%=*}")
	done
	[[ ${keys[*]} == "connectd: client uid user target addr status reason up down urgent_up urgent_down dns_ms connect_ms duration_ms end closed_by tried" ]] ||
		fail "keys: ${keys[*]}"
	tried=$(dial_log tried)
	[[ $tried =~ ,\+([0-9]+)more$ ]] || fail "no +Nmore marker at the end: $tried"
	more=${BASH_REMATCH[1]}
	IFS=, read -ra entries <<<"${tried%,+*}"
	for tok in "${entries[@]}"; do
		[[ $tok =~ ^(\[fd00:1111:2222:3333:4444:5555:6666:77(0[1-9]|1[0-6])\]|127\.0\.8\.([1-9]|1[0-6])):$LAB_PORT=refused$ ]] ||
			fail "not a whole attempt: '$tok' in $tried"
		n=$((n + 1))
	done
	echo "$n attempts listed, $more more"
	((n + more == 32)) || fail "$n listed + $more more is not the 32 attempts"
	((n >= 8)) || fail "only $n attempts listed"
	((${#tried} <= 640)) || fail "tried= of ${#tried} bytes"
	expect_clean_exits 1
}

# --- policy on resolved addresses ---------------------------------------------

@test "the only address is default-denied (10.1.2.3): 403 destination_ip_prohibited, no packet" {
	local before
	before=$(nft_packets ten)
	lab_proxy
	lab_error prohibited.test 403 destination_ip_prohibited \
		'connectd; error=destination_ip_prohibited; details="destination_ip_prohibited"'
	expect_log reason destination_ip_prohibited
	expect_log tried "$(v4 "$LAB4_PROHIBITED")=denied"
	[[ $(nft_packets ten) == "$before" ]] || fail "packets were sent to 10.0.0.0/8"
	expect_clean_exits 1
}

@test "an address denied by --deny-dest: 403, and not one packet reaches it" {
	# the counter does count connections to the witness target
	local before after
	before=$(nft_packets witness)
	run lab "$PY" -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5).close()' \
		"$LAB4_WITNESS" "$LAB_PORT"
	((status == 0)) || fail "the witness target is not there: $output"
	after=$(nft_packets witness)
	((after > before)) || fail "the witness counter did not count ($before -> $after)"
	grep -cF "accept $(v4 "$LAB4_WITNESS") " "$BATS_FILE_TMPDIR/target.log" >"$BATS_TEST_TMPDIR/accepts"

	lab_proxy --deny-dest "$LAB4_WITNESS"
	lab_error witness.test 403 destination_ip_prohibited \
		'connectd; error=destination_ip_prohibited; details="destination_ip_prohibited"'
	expect_log tried "$(v4 "$LAB4_WITNESS")=denied"
	expect_clean_exits 1
	[[ $(nft_packets witness) == "$after" ]] || fail "packets were sent to the denied address"
	[[ $(grep -cF "accept $(v4 "$LAB4_WITNESS") " "$BATS_FILE_TMPDIR/target.log") == \
		"$(cat "$BATS_TEST_TMPDIR/accepts")" ]] || fail "the denied target saw a connection"
}

@test "a default-denied AAAA is skipped and the allowed A carries the tunnel" {
	lab_proxy
	lab_tunnel denied6.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log addr "$(v4 "$LAB4_OK")"
	expect_log tried "$(v6 "$LAB6_UNROUTED")=denied,$(v4 "$LAB4_OK")=ok"
	expect_clean_exits 1
}

@test "names whose AAAA carries a denied IPv4 address (DNS64, 6to4, SIIT, Teredo): 403, nothing dialled" {
	LAB_RULES=()
	lab_proxy
	local i a n=${#LAB6_CARRY_DENIED[@]} line
	for ((i = 0; i < n; i++)); do
		lab_connect "carry$i.test" --check-error 403 destination_ip_prohibited
		has_line 'CHECK ok' || fail "carry$i.test (${LAB6_CARRY_DENIED[i]}) was not refused"
	done
	# a DNS64 answer for a public address goes through, so the lab reaches
	# these addresses and the refusals above are the policy's
	lab_tunnel carrypub.test
	[[ $VIA == "$(v6 "$LAB6_CARRY_PUBLIC")" ]] || fail "target reached at $VIA"
	wait_log $((n + 1))
	for ((i = 0; i < n; i++)); do
		a=$(v6 "${LAB6_CARRY_DENIED[i]}")
		line=$(lab_logged "carry$i.test")
		[[ $line == *" status=403 "*" tried=$a=denied" ]] || fail "carry$i.test: $line"
		! grep -qF "accept $a " "$BATS_FILE_TMPDIR/target.log" || fail "$a was dialled"
	done
	expect_clean_exits $((n + 1))
}

@test "a DNS64 answer for loopback: an IPv4 allow rule on loopback admits it" {
	# LAB_RULES: --allow-dest 127.0.0.0/8
	lab_proxy
	lab_tunnel carry0.test
	[[ $VIA == "$(v6 "${LAB6_CARRY_DENIED[0]}")" ]] || fail "target reached at $VIA"
	expect_log tried "$(v6 "${LAB6_CARRY_DENIED[0]}")=ok"
	expect_clean_exits 1
}

@test "the resolver's search list is not applied: CONNECT internal does not reach internal.corp" {
	printf 'nameserver 127.0.0.1\nsearch corp\noptions timeout:1 attempts:1\n' \
		>"$BATS_TEST_TMPDIR/resolv.conf"
	local before
	before=$(nft_packets witness)
	# (LAB_RULES opt in to loopback, where internal.corp's address lies)
	LAB_RESOLV_CONF=$BATS_TEST_TMPDIR/resolv.conf lab_proxy \
		--deny-dest internal.corp --deny-dest .internal.corp
	# a name without a dot, and one with a dot that does not exist as written
	lab_connect internal --check-error 502 dns_error
	has_line 'CHECK ok' || fail "internal was not NXDOMAIN"
	lab_connect sub.internal --check-error 502 dns_error
	has_line 'CHECK ok' || fail "sub.internal was not NXDOMAIN"
	# a name of the hosts file still resolves, dot or no dot
	lab_tunnel labhost
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	wait_log 3
	[[ $(lab_logged internal) == *" rcode=NXDOMAIN "* && $(lab_logged internal) == *" tried=-" ]] ||
		fail "$(lab_logged internal)"
	[[ $(lab_logged sub.internal) == *" tried=-" ]] || fail "$(lab_logged sub.internal)"
	[[ $(nft_packets witness) == "$before" ]] || fail "packets were sent to internal.corp's address"
	[[ -z $(dns_queries internal.corp) ]] || fail "internal.corp was asked:" "$(dns_queries internal.corp)"
	[[ -z $(dns_queries sub.internal.corp) ]] || fail "sub.internal.corp was asked"
	dns_queries internal | grep -q ' A NXDOMAIN' || fail "internal was not asked as written"
	expect_clean_exits 3
}

# --- waiting costs nothing ----------------------------------------------------
# While a query is still pending and queued attempts wait for their 250 ms
# turn, connectd must sleep in poll(2).  (Found failing: dial_wake() offers
# v4_wait_until as the wake-up time whenever anything is queued and a query
# is pending, also when it is 0, before any A answer, or already past, so
# poll gets a timeout of 0 and the race busy-loops until the queue drains.)

@test "attempts waiting their turn while the A query is pending: connectd sleeps, no busy loop" {
	spin_check spin6.test
	# 2750 ms of that is waiting for the next attempt: asleep, not spinning
	((SPIN_CPU_MS < 100)) || fail "connectd used $SPIN_CPU_MS ms of CPU in 3 s of waiting"
	expect_clean_exits 1
}

@test "attempts waiting their turn while the AAAA query is pending: connectd sleeps, no busy loop" {
	spin_check spin4.test
	# 2750 ms of that is waiting for the next attempt: asleep, not spinning
	((SPIN_CPU_MS < 100)) || fail "connectd used $SPIN_CPU_MS ms of CPU in 3 s of waiting"
	expect_clean_exits 1
}

@test "a late AAAA answer arriving during an IPv4 tunnel does not disturb it" {
	lab_proxy
	# the client waits 1.5 s inside the tunnel, past the AAAA answer at 1 s
	# shellcheck disable=SC2016
	run lab "$PY" -c '
import socket, sys, time
port, name = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), 10)
s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (name.encode(), name.encode()))
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
head, _, rest = buf.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
time.sleep(1.5)
s.sendall(b"ping\n")
s.shutdown(socket.SHUT_WR)
while True:
    d = s.recv(4096)
    if not d:
        break
    rest += d
print(repr(rest))
' "$PPORT" "late6.test:$LAB_PORT"
	echo "$output"
	((status == 0))
	[[ ${lines[0]} == "HTTP/1.1 200 Connection established" ]]
	[[ ${lines[1]} == "b'via $(v4 "$LAB4_OK")\\nping\\n'" ]]
	expect_log addr "$(v4 "$LAB4_OK")"
	expect_log end eof
	dns_queries late6.test | grep -q ' AAAA ANSWER:1 delay=1' || fail "no late AAAA"
	expect_clean_exits 1
}

# --- resolver failures that are not an rcode ------------------------------------

@test "resolv.conf's own schedule (timeout:1 attempts:1) ends a silent resolver before --dns-timeout: 504, no rcode" {
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$BATS_TEST_TMPDIR/resolv.conf"
	LAB_RESOLV_CONF=$BATS_TEST_TMPDIR/resolv.conf lab_proxy --dns-timeout 5
	lab_error silent.test 504 dns_timeout \
		'connectd; error=dns_timeout; details="dns_timeout"'
	((ELAPSED_MS < 4000)) || fail "answered after $ELAPSED_MS ms, expected about 1 s"
	expect_log reason dns_timeout
	run ! grep -q ' rcode=' <<<"$(log_lines)"
	(($(dns_queries silent.test | grep -c ' A DROP') == 1)) || fail "A asked other than once"
	expect_clean_exits 1
}

# --- connectd's own stub resolver (issue 22) -----------------------------------

@test "REFUSED: 502 dns_error, rcode REFUSED" {
	lab_proxy
	lab_error dnsrefused.test 502 dns_error \
		'connectd; error=dns_error; rcode="REFUSED"; details="dns_error"'
	expect_log rcode REFUSED
	expect_log tried -
	expect_clean_exits 1
}

@test "a CNAME: the alias's addresses carry the tunnel, IPv6 first" {
	lab_proxy
	lab_tunnel alias.test
	[[ $VIA == "$(v6 "$LAB6_OK")" ]] || fail "target reached at $VIA"
	expect_log tried "$(v6 "$LAB6_OK")=ok"
	# the alias was asked, never its target: the answer carried both
	[[ -n $(dns_queries alias.test) && -z $(dns_queries both.test) ]] ||
		fail "$(dns_queries alias.test; dns_queries both.test)"
	expect_clean_exits 1
}

@test "a truncated UDP answer: the same question again over TCP, whose answer carries the tunnel" {
	lab_proxy
	lab_tunnel big.test
	[[ $VIA == "$(v6 "$LAB6_OK")" ]] || fail "target reached at $VIA"
	dns_queries big.test | grep -q ' udp big.test AAAA ANSWER:1 TC' || fail "no truncated UDP answer"
	dns_queries big.test | grep -q ' tcp big.test AAAA ANSWER:1$' || fail "no AAAA over TCP"
	expect_clean_exits 1
}

@test "options use-vc: every question over TCP" {
	printf 'nameserver 127.0.0.1\noptions use-vc\n' >"$BATS_TEST_TMPDIR/resolv.conf"
	LAB_RESOLV_CONF=$BATS_TEST_TMPDIR/resolv.conf lab_proxy
	lab_tunnel v4only.test
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	[[ -z $(dns_queries v4only.test | grep ' udp ') ]] || fail "asked over UDP: $(dns_queries v4only.test)"
	dns_queries v4only.test | grep -q ' tcp v4only.test A ANSWER:1' || fail "A not asked over TCP"
	expect_clean_exits 1
}

@test "a silent first nameserver: the second one is asked after options timeout" {
	printf 'nameserver %s\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
		"$LAB4_SILENT_DNS" >"$BATS_TEST_TMPDIR/resolv.conf"
	local before
	before=$(nft_packets silentdns)
	LAB_RESOLV_CONF=$BATS_TEST_TMPDIR/resolv.conf lab_proxy --dns-timeout 5
	lab_tunnel v6only.test
	[[ $VIA == "$(v6 "$LAB6_OK")" ]] || fail "target reached at $VIA"
	(($(nft_packets silentdns) >= before + 2)) || fail "the first nameserver was not asked"
	dns_queries v6only.test | grep -q ' AAAA ANSWER:1' || fail "the second nameserver was not asked"
	expect_clean_exits 1
}

@test "a name of the hosts file: answered from it alone, both families, no DNS question, even to a silent server" {
	printf 'nameserver %s\n' "$LAB4_SILENT_DNS" >"$BATS_TEST_TMPDIR/resolv.conf"
	local before
	before=$(nft_packets silentdns)
	LAB_RESOLV_CONF=$BATS_TEST_TMPDIR/resolv.conf lab_proxy
	# labhost has an IPv4 line only: no AAAA is asked of DNS either
	lab_tunnel labhost
	[[ $VIA == "$(v4 "$LAB4_OK")" ]] || fail "target reached at $VIA"
	expect_log tried "$(v4 "$LAB4_OK")=ok"
	# (and without the resolution delay: no AAAA can come)
	expect_log dns_ms 0
	[[ $(nft_packets silentdns) == "$before" ]] || fail "a DNS question was sent for a hosts-file name"
	[[ -z $(dns_queries labhost) ]] || fail "labhost was asked of DNS"
	expect_clean_exits 1
}

_lab_children() { pgrep -P "$1" 2>/dev/null; }
_lab_one_child() { [[ $(_lab_children "$1" | wc -l) == 1 ]]; }

@test "--reuse: a child serves again after names answered by DNS, NXDOMAIN and the hosts file" {
	local port=4490 server child i
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	bg proxy lab "$CONNECTD" --listen "127.0.0.1:$port" "${LAB_RULES[@]}" "${DIAL_RULES[@]}" \
		--spares 1 --max-children 1 --reuse 10
	PPORT=$port
	# (bg runs lab in a subshell, where nsenter execs connectd)
	wait_until 10 _lab_one_child "$BG_PID" || fail "no server: $(cat "$PROXY_LOG")"
	server=$(_lab_children "$BG_PID")
	[[ $(cat "/proc/$server/comm") == connectd ]] || fail "$server is not connectd"
	wait_until 10 _lab_one_child "$server" || fail "no spare: $(cat "$PROXY_LOG")"
	child=$(_lab_children "$server")
	local sockets
	sockets=$(find "/proc/$child/fd" -lname 'socket:*' | wc -l)
	for i in both.test v4only.test alias.test; do
		lab_tunnel "$i"
		wait_until 10 _lab_one_child "$server" || fail "no spare after $i"
		[[ $(_lab_children "$server") == "$child" ]] ||
			fail "after $i: child $child replaced by $(_lab_children "$server")"
	done
	lab_connect nx.test --check-error 502 dns_error
	has_line 'CHECK ok'
	lab_tunnel labhost
	wait_log 5
	wait_until 10 _lab_one_child "$server" || fail "no spare after five connections"
	[[ $(_lab_children "$server") == "$child" ]] ||
		fail "child $child not reused: $(_lab_children "$server")"
	# nothing of the lookups is left in it: the sockets it had before
	(($(find "/proc/$child/fd" -lname 'socket:*' | wc -l) == sockets)) ||
		fail "sockets left: $(ls -l "/proc/$child/fd")"
}
