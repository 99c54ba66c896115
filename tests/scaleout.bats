#!/usr/bin/env bats
# Beyond one host (docs/scaling.md): hosts on one machine, each a network
# namespace of its own joined by veth pairs, with addresses that exist only
# inside them (nothing outside is dialled):
#
#   client 10.89.1.2 --- 10.89.1.1 balancer (HAProxy, TCP mode, send-proxy-v2,
#                                  |         health checks, routes between)
#                        10.89.2.1 br0 ---+--- c1 10.89.2.11  connectd under
#                                         |                   systemd-socket-activate --accept
#                                         +--- c2 10.89.2.12  connectd --listen
#                                         +--- target 10.89.2.20 (echo)
#
# Every test builds the hosts afresh and its teardown removes every
# namespace (with its veths) and every process in them, pass or fail.
# Names start with cdso<pid>- so that runs side by side do not meet.
#
# The tests of --upstream (issue 12 item 3) add a parent host on the same
# bridge, parent 10.89.2.30, running a connectd with --auth-file on port
# 8080 or Debian's squid on port 3128 (so_parent, so_squid), and start the
# balancer's hosts again with --upstream to it (so_restart_hosts).

# SC2154: SO_PID_<role> is set by so_launch with printf -v; SC2016: the
# conditions given to wait_until eval are expanded at each try, on purpose.
# shellcheck disable=SC2154,SC2016
# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=90
load helpers

SO_LAN=10.89.2 # the hosts' network, behind the balancer
SO_LB=$SO_LAN.1
SO_CLIENT=10.89.1.2
SO_FRONT=10.89.1.1 # the balancer's address the client reaches
SO_TARGET=$SO_LAN.20
SO_PORT=8080 # connectd on every host
SO_HPORT=3128 # the balancer's frontend
SO_BACKEND=connectd

setup_file() {
	[[ $(id -u) == 0 ]] || skip "needs root for network namespaces"
	command -v haproxy >/dev/null || skip "haproxy not installed (scripts/deps.sh check)"
	export SO_PREFIX=cdso$$-
}

setup() {
	common_setup
	SO_LIST=$BATS_TEST_TMPDIR/netns.list
	: >"$SO_LIST"
	so_build
}

teardown() {
	so_destroy "$SO_LIST"
	common_teardown
	squid_cleanup
}

# Whatever a test left behind that its teardown missed (an interrupted run).
teardown_file() {
	[[ ! -f $BATS_FILE_TMPDIR/netns.all ]] || so_destroy "$BATS_FILE_TMPDIR/netns.all"
}

# --- the hosts ---------------------------------------------------------------

so_ns() { printf '%s%s\n' "$SO_PREFIX" "$1"; }

# so_in ROLE CMD... : run CMD on that host
so_in() {
	local ns
	ns=$(so_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# so_netns ROLE : a new namespace, recorded for so_destroy first
so_netns() {
	local ns
	ns=$(so_ns "$1")
	echo "$ns" | tee -a "$BATS_FILE_TMPDIR/netns.all" >>"$SO_LIST"
	ip netns add "$ns" && ip -n "$ns" link set lo up
}

# so_host ROLE ADDR : a host on the balancer's bridge, routed through it
so_host() {
	local ns lb
	ns=$(so_ns "$1") lb=$(so_ns lb)
	so_netns "$1" &&
		ip -n "$lb" link add "h-$1" type veth peer name eth0 netns "$ns" &&
		ip -n "$lb" link set "h-$1" master br0 up &&
		ip -n "$ns" addr add "$2/24" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" route add default via "$SO_LB"
}

# so_connectd ROLE accept|listen [connectd args...] : a host behind the
# balancer: so_launch with PROXY headers required, from the balancer only
so_connectd() {
	local role=$1 how=$2
	shift 2
	so_launch "$role" "$how" --proxy-protocol --proxy-protocol-from "$SO_LB" "$@"
}

# so_launch ROLE accept|listen [connectd args...] : connectd on port
# $SO_PORT of that host, under systemd-socket-activate --accept or in the
# high-rate mode, allowed to the hosts' network and the target's port; its
# log (stderr) in ROLE.err, the launcher's PID in SO_PID_<ROLE>
so_launch() {
	local role=$1 how=$2 addr
	shift 2
	addr=$(so_addr "$role")
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	set -- "$CONNECTD" --allow-dest "$SO_LAN.0/24" --allow-port "$TPORT" \
		${CONNECTD_EXTRA:-} "$@"
	case $how in
	# ip execs the launcher: BG_PID is its PID, for the tests to stop it
	accept) bg "$role" ip netns exec "$(so_ns "$role")" \
		systemd-socket-activate --accept -l "$addr:$SO_PORT" "$@" ;;
	listen) bg "$role" ip netns exec "$(so_ns "$role")" \
		"$@" --listen "$addr:$SO_PORT" ;;
	esac
	printf -v "SO_PID_$role" '%s' "$BG_PID"
	wait_until 10 so_listening "$role" ||
		fail "connectd on $role did not listen:" "$(cat "$role.err")"
}

so_addr() {
	case $1 in
	c1) echo "$SO_LAN.11" ;;
	c2) echo "$SO_LAN.12" ;;
	parent) echo "$SO_LAN.30" ;; # for --upstream (see the top of the file)
	esac
}

so_listening() { [[ -n $(so_in "$1" ss -Hltn "sport = :$SO_PORT") ]]; }

# so_haproxy : the balancer, round robin over c1 and c2 with PROXY v2 and a
# plain TCP health check (man page "Health checks and draining")
so_haproxy() {
	HAP_SOCK=$BATS_TEST_TMPDIR/haproxy.sock
	cat >haproxy.cfg <<-EOF
		global
		  stats socket $HAP_SOCK mode 600 level admin
		defaults
		  mode tcp
		  timeout connect 2s
		  timeout client 60s
		  timeout server 60s
		frontend proxy
		  bind $SO_FRONT:$SO_HPORT
		  default_backend $SO_BACKEND
		backend $SO_BACKEND
		  balance roundrobin
		  default-server send-proxy-v2 check inter 200ms fall 2 rise 2
		  server c1 $(so_addr c1):$SO_PORT
		  server c2 $(so_addr c2):$SO_PORT
	EOF
	bg haproxy ip netns exec "$(so_ns lb)" haproxy -db -f haproxy.cfg
	wait_until 10 so_state_is c1 UP && wait_until 10 so_state_is c2 UP ||
		fail "haproxy did not see both hosts up:" "$(cat haproxy.err)" "$(so_stat)"
}

# so_stat : HAProxy's "show stat" from its runtime socket
so_stat() { echo 'show stat' | socat - "UNIX-CONNECT:$HAP_SOCK" 2>/dev/null; }

# so_state_is SERVER STATE : HAProxy's status of that server (field 18)
so_state_is() {
	[[ $(so_stat | awk -F, -v b="$SO_BACKEND" -v s="$1" \
		'$1 == b && $2 == s { print $18 }') == "$2" ]]
}

# so_build : the client, the balancer, both connectd hosts and the target
so_build() {
	so_netns lb || fail "ip netns add failed"
	so_netns client
	local lb cl
	lb=$(so_ns lb) cl=$(so_ns client)
	ip -n "$lb" link add br0 type bridge &&
		ip -n "$lb" addr add "$SO_LB/24" dev br0 &&
		ip -n "$lb" link set br0 up &&
		ip -n "$lb" link add front type veth peer name eth0 netns "$cl" &&
		ip -n "$lb" addr add "$SO_FRONT/24" dev front &&
		ip -n "$lb" link set front up &&
		ip -n "$cl" addr add "$SO_CLIENT/24" dev eth0 &&
		ip -n "$cl" link set eth0 up &&
		ip -n "$cl" route add default via "$SO_FRONT" &&
		ip netns exec "$lb" sysctl -qw net.ipv4.ip_forward=1 ||
		fail "could not build the balancer and client hosts"
	so_host c1 "$(so_addr c1)" && so_host c2 "$(so_addr c2)" &&
		so_host target "$SO_TARGET" || fail "could not build the hosts"
	bg target ip netns exec "$(so_ns target)" "$PY" "$TOOLS/target.py" --mode echo \
		--host "$SO_TARGET" --port-file "$BATS_TEST_TMPDIR/target.port"
	read_port_file "$BATS_TEST_TMPDIR/target.port" TPORT ||
		fail "target did not start: $(cat target.err)"
	so_connectd c1 accept
	so_connectd c2 listen
	so_haproxy
}

# so_destroy LIST : kill every process in the namespaces LIST names, then
# delete them (their veths and the bridge go with them)
so_destroy() {
	local ns pids
	while read -r ns; do
		[[ -n $ns ]] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # a list of PIDs
		[[ -z $pids ]] || kill $pids 2>/dev/null
	done <"$1"
	wait_until 5 so_all_gone "$1" || so_kill_all "$1"
	while read -r ns; do
		[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
	done <"$1"
	return 0
}

so_all_gone() {
	local ns
	while read -r ns; do
		[[ -z $ns || -z $(ip netns pids "$ns" 2>/dev/null) ]] || return 1
	done <"$1"
}

so_kill_all() {
	local ns pids
	while read -r ns; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086 # a list of PIDs
		[[ -z $pids ]] || kill -KILL $pids 2>/dev/null
	done <"$1"
	wait_until 5 so_all_gone "$1"
}

# --- clients -------------------------------------------------------------------

SO_REQ="CONNECT $SO_TARGET:{T} HTTP/1.1\\r\\nHost: $SO_TARGET:{T}\\r\\n\\r\\n"

# so_client [client.py options] : tests/tools/client.py on the client host,
# through the balancer (sets status, output, lines)
so_client() {
	run so_in client "$PY" "$TOOLS/client.py" --host "$SO_FRONT" \
		--port "$SO_HPORT" --tport "$TPORT" "$@"
}

# so_tunnel FILE : from the client host through the balancer, FILE both
# ways through the echo target
so_tunnel() { so_client --request "$SO_REQ" --check-ok --act "duplex:$1"; }

# expect_echoed FILE : the tunnel gave FILE back, byte for byte
expect_echoed() {
	((status == 0)) || fail "client failed" "$output"
	has_line 'CHECK ok'
	has_line "RECV_LEN $(stat -c %s "$1")"
	has_line "RECV_SHA256 $(sha256sum <"$1" | cut -d' ' -f1)"
	has_line 'END eof'
}

so_lines() { grep -a '^connectd: ' "$BATS_TEST_TMPDIR/$1.err" 2>/dev/null; }
# so_count ROLE : tunnels that host has logged (health checks are not)
so_count() { so_lines "$1" | grep -c ' status=200 ' || true; }

# so_line_for ROLE CLIENT : that host's log line for the client address
so_line_for() { so_lines "$1" | grep -F " client=$2 " | grep -v 'client=-'; }
_so_logged() { [[ -n $(so_line_for "$1" "$2") ]]; }

# so_served_by CLIENT : the host whose log names the client (waits for it)
so_served_by() {
	local r
	for _ in $(seq 100); do
		for r in c1 c2; do
			if _so_logged "$r" "$1"; then
				echo "$r"
				return 0
			fi
		done
		sleep 0.05
	done
	return 1
}

# so_established ROLE : tunnels open on that host now: its connectd
# processes whose title says so (a health check never gets that far)
so_established() {
	local p n=0
	for p in $(ip netns pids "$(so_ns "$1")"); do
		[[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == *" -> "*"[tunnel]"* ]] &&
			n=$((n + 1))
	done
	echo "$n"
}

# so_alive PID : running, not a zombie waiting for wait(1)
so_alive() {
	local st
	st=$(ps -o stat= -p "$1") && [[ $st != Z* ]]
}

# so_hold N : N tunnels through the balancer, held open in the background
# until hold.release exists (tests/tools/tunnels.py, output in hold.out)
so_hold() {
	bg hold ip netns exec "$(so_ns client)" "$PY" "$TOOLS/tunnels.py" --host "$SO_FRONT" \
		--port "$SO_HPORT" --target "$SO_TARGET" --tport "$TPORT" \
		--count "$1" --ready-file hold.ready --release-file hold.release \
		--hold 60 --tag across
	SO_HOLD_PID=$BG_PID
	wait_until 20 test -e hold.ready || fail "tunnels did not open:" "$(cat hold.out hold.err)"
	[[ $(cat hold.ready) == "$1" ]] || fail "not all tunnels opened:" "$(cat hold.out)"
}

# so_release : end the held tunnels; sets HOLD_RESULT to "ok=N fail=N"
so_release() {
	touch hold.release
	wait "$SO_HOLD_PID" || true
	HOLD_RESULT=$(sed -n 's/^RESULT //p' hold.out)
}

# so_new_tunnels N FILE : N tunnels, one after another, each must echo FILE
so_new_tunnels() {
	local i
	for ((i = 0; i < $1; i++)); do
		so_tunnel "$2"
		expect_echoed "$2" || return 1
	done
}

payload() {
	head -c "$1" /dev/urandom >"$2"
}

# --- the tests -----------------------------------------------------------------

@test "tunnels through the balancer: exact bytes both ways, both hosts serve, each logs the client host" {
	payload 200000 data
	local n cport l served=() r
	for n in 1 2 3 4; do
		so_tunnel data
		expect_echoed data
		cport=$(value LOCAL)
		[[ $cport == "$SO_CLIENT:"* ]] || fail "client not on its host: $cport"
		r=$(so_served_by "$cport") || fail "no host logged $cport:" "$(so_lines c1)" "$(so_lines c2)"
		served+=("$r")
		l=$(so_line_for "$r" "$cport")
		expect_field status 200 "$l"
		expect_field reason ok "$l"
		expect_field target "$SO_TARGET:$TPORT" "$l"
		expect_field up 200000 "$l"
		expect_field down 200000 "$l"
	done
	# Round robin: each host served some of the four.
	[[ " ${served[*]} " == *" c1 "* && " ${served[*]} " == *" c2 "* ]] ||
		fail "not both hosts served: ${served[*]}"
	# HAProxy's health checks that got as far as a log line say so.
	local other
	other=$(so_lines c1; so_lines c2)
	other=$(grep -v -e ' reason=ok ' -e ' reason=probe ' <<<"$other" || true)
	[[ -z $other ]] || fail "lines that are neither a tunnel nor a probe:" "$other"
}

@test "a client that reaches a connectd host directly with a forged header is refused" {
	local forged r cport l
	# PROXY v2, TCP4 203.0.113.7:5555 -> 192.0.2.1:443, as if from the balancer
	forged='\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x07\xc0\x00\x02\x01\x15\xb3\x01\xbb'
	for r in c1 c2; do
		run so_in client "$PY" "$TOOLS/client.py" --host "$(so_addr "$r")" \
			--port "$SO_PORT" --tport "$TPORT" --request "$forged$SO_REQ"
		has_line 'STATUS none'
		has_line 'BODY'
		cport=$(value LOCAL)
		wait_until 10 _so_logged "$r" "$cport" || fail "$r did not log $cport:" "$(so_lines "$r")"
		l=$(so_line_for "$r" "$cport")
		expect_field status 0 "$l"
		expect_field reason proxy_peer_not_allowed "$l"
	done
	# Nothing was logged under the forged address.
	if grep -a 'client=203.0.113.7' c1.err c2.err; then
		fail "the forged client was believed"
	fi
}

@test "a host that stops: new tunnels go to the other once HAProxy marks it down, the other's tunnels untouched" {
	payload 50000 data
	local on1 on2
	so_hold 6
	on1=$(so_established c1) on2=$(so_established c2)
	((on1 > 0 && on2 > 0 && on1 + on2 == 6)) || fail "held tunnels: c1 $on1, c2 $on2"
	# c1 goes away whole (its launcher and its tunnels: a host that fails).
	kill "$SO_PID_c1"
	wait_until 20 so_state_is c1 DOWN || fail "haproxy did not mark c1 down:" "$(so_stat)"
	local before2
	before2=$(so_count c2)
	so_new_tunnels 6 data
	wait_until 10 eval '(($(so_count c2) >= before2 + 6))' ||
		fail "c2 did not serve the new tunnels:" "$(so_lines c2)"
	# The tunnels on c2 carried on across the failover; those on c1 ended.
	so_release
	[[ $HOLD_RESULT == "ok=$on2 fail=$on1" ]] ||
		fail "held tunnels: $HOLD_RESULT, expected ok=$on2 fail=$on1" "$(cat hold.out)"
}

@test "draining the high-rate host: listener closed at once, open tunnels run to their end" {
	payload 50000 data
	local on1 on2
	so_hold 4
	on1=$(so_established c1) on2=$(so_established c2)
	((on2 > 0)) || fail "no held tunnel on c2 (c1 $on1)"
	# SIGTERM: connectd --listen closes its socket and waits for its tunnels.
	kill -TERM "$SO_PID_c2"
	wait_until 10 eval '! so_listening c2' || fail "c2 still listens"
	wait_until 20 so_state_is c2 DOWN || fail "haproxy did not mark c2 down:" "$(so_stat)"
	so_new_tunnels 4 data
	so_alive "$SO_PID_c2" || fail "c2 exited with tunnels open"
	((on2 == $(so_established c2))) || fail "c2's tunnels: $on2 before, $(so_established c2) now"
	so_release
	[[ $HOLD_RESULT == "ok=4 fail=0" ]] || fail "held tunnels: $HOLD_RESULT" "$(cat hold.out)"
	# With its tunnels done, the drained host exits 0.
	wait_until 10 eval '! so_alive "$SO_PID_c2"' || fail "c2 did not exit after its tunnels"
	wait "$SO_PID_c2" || fail "c2 exited $?"
}

@test "draining at the balancer (set server state drain): new tunnels to the other host, open ones finish" {
	payload 50000 data
	local on1 before1
	so_hold 4
	on1=$(so_established c1)
	((on1 > 0)) || fail "no held tunnel on c1"
	echo "set server $SO_BACKEND/c1 state drain" | socat - "UNIX-CONNECT:$HAP_SOCK"
	wait_until 10 so_state_is c1 DRAIN || fail "c1 not draining:" "$(so_stat)"
	before1=$(so_count c1)
	so_new_tunnels 4 data
	(($(so_count c1) == before1)) || fail "c1 took a new tunnel while draining:" "$(so_lines c1)"
	((on1 == $(so_established c1))) || fail "c1's tunnels: $on1 before, $(so_established c1) now"
	so_release
	[[ $HOLD_RESULT == "ok=4 fail=0" ]] || fail "held tunnels: $HOLD_RESULT" "$(cat hold.out)"
	# Back in: HAProxy sends it tunnels again.
	echo "set server $SO_BACKEND/c1 state ready" | socat - "UNIX-CONNECT:$HAP_SOCK"
	wait_until 10 so_state_is c1 UP || fail "c1 not up again:" "$(so_stat)"
	so_new_tunnels 2 data
	wait_until 10 eval '(($(so_count c1) > before1))' || fail "c1 got no tunnel after ready"
}

# --- through a parent proxy (--upstream) -------------------------------------

SO_PPORT=$SO_PORT    # the parent's connectd
SO_SQUID_PORT=3128   # the parent's squid
SO_CLOSED=9          # a port nothing listens on, on the target host
SO_PW='open sesame'

# so_parent : the parent host and a connectd on it that wants alice's
# password (--auth-file), allowed to the target's port and SO_CLOSED
so_parent() {
	so_host parent "$(so_addr parent)" || fail "could not build the parent host"
	printf 'alice:%s\n' "$("$PY" "$TOOLS/hashpw.py" sha512 "$SO_PW")" >users
	chmod 600 users
	so_launch parent accept --allow-port "$SO_CLOSED" --auth-file "$BATS_TEST_TMPDIR/users"
}

# so_squid : the parent host with Debian's squid on it (squid_config: alice,
# "s3cr3t pw")
so_squid() {
	command -v squid >/dev/null || fail "squid is not installed (scripts/deps.sh check)"
	so_host parent "$(so_addr parent)" || fail "could not build the parent host"
	squid_config "$(so_addr parent)" "$SO_SQUID_PORT"
	bg squid ip netns exec "$(so_ns parent)" squid -N -f "$SQUID_DIR/squid.conf"
	wait_until 20 eval '[[ -n $(so_in parent ss -Hltn "sport = :$SO_SQUID_PORT") ]]' ||
		fail "squid did not listen:" "$(cat squid.err "$SQUID_DIR/cache.log")"
}

# so_restart_hosts [connectd args...] : both hosts behind the balancer
# stopped, and started again with these extra arguments once HAProxy has
# seen them go (so that it sees them come back, not a blip)
so_restart_hosts() {
	kill "$SO_PID_c1" "$SO_PID_c2"
	wait "$SO_PID_c1" "$SO_PID_c2" 2>/dev/null || true
	wait_until 20 so_state_is c1 DOWN && wait_until 20 so_state_is c2 DOWN ||
		fail "haproxy did not see the hosts stop:" "$(so_stat)"
	so_connectd c1 accept --allow-port "$SO_CLOSED" "$@"
	so_connectd c2 listen --allow-port "$SO_CLOSED" "$@"
	wait_until 20 so_state_is c1 UP && wait_until 20 so_state_is c2 UP ||
		fail "haproxy did not see the hosts back:" "$(so_stat)"
}

# so_refused PORT STATUS REASON : CONNECT to the target host's PORT through
# the balancer got exactly that error, and no Proxy-Authenticate
so_refused() {
	so_client --request "CONNECT $SO_TARGET:$1 HTTP/1.1\\r\\nHost: $SO_TARGET:$1\\r\\n\\r\\n" \
		--check-error "$2" "$3"
	((status == 0)) || fail "the client saw something else:" "$output"
	has_line 'CHECK ok'
	[[ $output != *'HDR proxy-authenticate'* ]] || fail "a prompt reached the client" "$output"
}

# so_refusal_line : the log line of the host that served the client of the
# last so_client (waits for it)
so_refusal_line() {
	local cport r
	cport=$(value LOCAL)
	r=$(so_served_by "$cport") || fail "no host logged $cport:" "$(so_lines c1)" "$(so_lines c2)"
	so_line_for "$r" "$cport"
}

_so_count_ge() { (($(so_lines "$1" | wc -l) >= $2)); }

@test "--upstream through a connectd parent: exact bytes; the parent logs the hosts, the hosts the client; its 502 and 407 mapped" {
	payload 200000 data
	local pa url n cport r l served=()
	pa=$(so_addr parent)
	url="http://alice:open%20sesame@$pa:$SO_PPORT"
	so_parent
	so_restart_hosts --upstream "$url"
	for n in 1 2 3 4; do
		so_tunnel data
		expect_echoed data
		cport=$(value LOCAL)
		r=$(so_served_by "$cport") || fail "no host logged $cport:" "$(so_lines c1)" "$(so_lines c2)"
		served+=("$r")
		l=$(so_line_for "$r" "$cport")
		[[ $cport == "$SO_CLIENT:"* ]] || fail "client not on its host: $cport"
		expect_field status 200 "$l"
		expect_field via "$pa:$SO_PPORT" "$l"
		expect_field via_status 200 "$l"
		expect_field target "$SO_TARGET:$TPORT" "$l"
		expect_field addr - "$l"
		expect_field up 200000 "$l"
		expect_field down 200000 "$l"
	done
	[[ " ${served[*]} " == *" c1 "* && " ${served[*]} " == *" c2 "* ]] ||
		fail "not both hosts served: ${served[*]}"
	# The parent saw the hosts, never the client, and alice's password.
	wait_until 10 _so_count_ge parent 4 || fail "the parent logged:" "$(so_lines parent)"
	local seen=
	while read -r l; do
		expect_field status 200 "$l"
		expect_field user alice "$l"
		expect_field target "$SO_TARGET:$TPORT" "$l"
		expect_field addr "$SO_TARGET:$TPORT" "$l"
		expect_field up 200000 "$l"
		r=$(field client "$l")
		case ${r%:*} in
		"$(so_addr c1)") seen+=" c1" ;;
		"$(so_addr c2)") seen+=" c2" ;;
		*) fail "the parent's client is not a host: $l" ;;
		esac
	done < <(so_lines parent)
	[[ $seen == *c1* && $seen == *c2* ]] || fail "the parent did not see both hosts:$seen"
	! grep -aF "$SO_CLIENT" parent.err || fail "the parent saw the client's address"
	# (the launcher shows the command line; connectd's own lines never)
	! { so_lines c1; so_lines c2; so_lines parent; } | grep -a sesame ||
		fail "the password was logged"

	# A target the parent cannot reach: its 502, with the status it sent.
	so_refused "$SO_CLOSED" 502 upstream_bad_gateway
	has_line 'HDR proxy-status: connectd; error=destination_unavailable; received-status=502; details="upstream_bad_gateway"'
	l=$(so_refusal_line)
	expect_field status 502 "$l"
	expect_field via_status 502 "$l"
	expect_field client "$(value LOCAL)" "$l"
	wait_until 10 _so_count_ge parent 5 || fail "the parent logged:" "$(so_lines parent)"
	expect_field reason connection_refused "$(so_lines parent | tail -n1)"

	# The wrong password: the parent's 407 is 502 here, and no prompt.
	so_restart_hosts --upstream "http://alice:wrong@$pa:$SO_PPORT"
	so_refused "$TPORT" 502 upstream_auth_failed
	has_line 'HDR proxy-status: connectd; error=proxy_configuration_error; received-status=407; details="upstream_auth_failed"'
	l=$(so_refusal_line)
	expect_field status 502 "$l"
	expect_field via_status 407 "$l"
	wait_until 10 _so_count_ge parent 6 || fail "the parent logged:" "$(so_lines parent)"
	expect_field reason auth_required "$(so_lines parent | tail -n1)"
}

@test "--upstream through squid as the parent: exact bytes from both hosts; squid's 407 is 502 upstream_auth_failed" {
	payload 50000 data
	local pa n cport r l served=()
	pa=$(so_addr parent)
	so_squid
	printf 'alice:s3cr3t pw\n' >upcred
	chmod 600 upcred
	so_restart_hosts --upstream "http://$pa:$SO_SQUID_PORT" \
		--upstream-auth-file "$BATS_TEST_TMPDIR/upcred"
	for n in 1 2 3 4; do
		# squid ends both ways of a tunnel at the first FIN: the echo is
		# read whole before ours.
		so_client --request "$SO_REQ" --check-ok --act sendfile:data --act read:50000 \
			--act shut --act readeof
		((status == 0)) || fail "client failed" "$output"
		has_line 'CHECK ok'
		has_line 'RECV_LEN 50000'
		has_line "RECV_SHA256 $(sha256sum <data | cut -d' ' -f1)"
		cport=$(value LOCAL)
		r=$(so_served_by "$cport") || fail "no host logged $cport:" "$(so_lines c1)" "$(so_lines c2)"
		served+=("$r")
		l=$(so_line_for "$r" "$cport")
		expect_field status 200 "$l"
		expect_field via "$pa:$SO_SQUID_PORT" "$l"
		expect_field via_status 200 "$l"
		expect_field up 50000 "$l"
		expect_field down 50000 "$l"
	done
	[[ " ${served[*]} " == *" c1 "* && " ${served[*]} " == *" c2 "* ]] ||
		fail "not both hosts served: ${served[*]}"
	# A wrong password (the file is read per connection): squid's 407.
	printf 'alice:wrong\n' >upcred
	so_refused "$TPORT" 502 upstream_auth_failed
	has_line 'HDR proxy-status: connectd; error=proxy_configuration_error; received-status=407; details="upstream_auth_failed"'
	l=$(so_refusal_line)
	expect_field status 502 "$l"
	expect_field via_status 407 "$l"
}
