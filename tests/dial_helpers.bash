# shellcheck shell=bash
# shellcheck disable=SC2154 # status, output, lines: set by bats' run
# shellcheck disable=SC2034 # variables read by the tests (VIA, PROXY_LAUNCHER, ...)
# shellcheck disable=SC2153 # TOOLS, PY: set by helpers.bash
# The dial lab for tests/dial.bats (load it after `load helpers`).
#
# One private network and mount namespace per test file (unshare -n -m),
# made in setup_file by dial_lab_start and ended in teardown_file by
# dial_lab_stop, which kills every process in that network namespace and
# nothing else.  Inside it:
#   lo      up, with 127.0.0.0/8 and ::1 as usual plus the IPv6 addresses
#           LAB6_ADDRS (fd00::/8 is private to this namespace; nothing
#           leaves it: lo is its only interface, so there is no route out)
#   nft     table inet dial_lab: every TCP packet to the black-holed
#           addresses ($LAB6_DEAD, $LAB4_DEAD, LAB6_DEADS, LAB4_DEADS)
#           dropped, so a connect to them hangs; DNS queries to
#           $LAB4_SILENT_DNS dropped and counted (silentdns); TCP to $LAB6_BLOCKED
#           rejected with ICMPv6 administratively-prohibited (connect(2)
#           fails with EACCES); counters of packets to $LAB4_WITNESS and to
#           10.0.0.0/8
#   routes  a prohibit route to $LAB4_BLOCKED (connect(2) fails with EACCES
#           at once)
#   DNS     tools/stubdns.py on 127.0.0.1:53 (UDP and TCP), answering from
#           the zone below; /etc/resolv.conf (bind-mounted) names only it,
#           with glibc's default schedule (timeout 5 s, 2 attempts), and
#           /etc/hosts holds only localhost and labhost ($LAB4_OK)
#   targets tools/echotarget.py --greet on port $LAB_PORT of $LAB6_OK and
#           $LAB4_OK (and $LAB4_WITNESS and the LAB6_CARRY addresses): each
#           connection first gets "via <address>" then an echo
# Nothing listens on $LAB_PORT at the "refused" addresses, so a connect
# there is refused at once.  Every test starts its own connectd (lab_proxy)
# inside the namespace and talks to it from inside too (lab_connect).

LAB_PORT=4443
LAB6_OK=fd00::1
LAB6_REFUSED=(fd00::2 fd00::3 fd00::4 fd00::5)
LAB6_DEAD=fd00::dead
LAB6_DEADS=(fd00::dead:{1..12})
# IPv6 forms carrying an IPv4 address, on lo with a target behind each:
# DNS64 answers (NAT64 64:ff9b::/96) for 127.0.0.1, 169.254.169.254 and a
# public 11.0.0.8, a 6to4 address of 127.0.0.1, a SIIT one of 10.0.0.5 and a
# Teredo one whose client is 127.0.0.1
LAB6_CARRY_DENIED=(64:ff9b::7f00:1 64:ff9b::a9fe:a9fe 2002:7f00:1::1
	::ffff:0:a00:5 2001:0:b00:8::80ff:fffe)
LAB6_CARRY_PUBLIC=64:ff9b::b00:8
LAB6_BLOCKED=fd00::b10c
# long addresses, many of them: a tried= list longer than the log gives it
LAB6_MANY=(fd00:1111:2222:3333:4444:5555:6666:{7701..7716})
LAB6_ADDRS=("$LAB6_OK" "${LAB6_REFUSED[@]}" "$LAB6_DEAD" "${LAB6_DEADS[@]}"
	"${LAB6_CARRY_DENIED[@]}" "$LAB6_CARRY_PUBLIC" "$LAB6_BLOCKED"
	"${LAB6_MANY[@]}")
LAB4_OK=127.0.0.2
LAB4_REFUSED=(127.0.0.3 127.0.0.5 127.0.0.6 127.0.0.7)
LAB4_DEAD=127.0.0.4
LAB4_DEADS=(127.0.4.{1..12})
LAB4_WITNESS=127.0.0.77
LAB4_SILENT_DNS=127.0.0.99 # every DNS query to it dropped, and counted
LAB4_MANY=(127.0.8.{1..16})
LAB4_BLOCKED=192.0.2.66   # default-denied by connectd; a prohibit route
LAB6_UNROUTED=2001:db8::1 # no route in the namespace: ENETUNREACH
LAB4_PROHIBITED=10.1.2.3  # default-denied by connectd; unrouted as well

# connectd options every lab proxy gets (after LAB_RULES from helpers)
DIAL_RULES=(--allow-dest fd00::/8 --allow-port "$LAB_PORT")

# The stub's table: see tools/stubdns.py for the format.
_dial_zone() {
	cat <<-EOF
		v6only.test      AAAA $LAB6_OK
		v4only.test      A    $LAB4_OK
		both.test        AAAA $LAB6_OK
		both.test        A    $LAB4_OK
		nx.test          *    NXDOMAIN
		servfail.test    *    SERVFAIL
		nodata.test      *    NODATA
		silent.test      *    DROP
		late6.test       A    $LAB4_OK
		late6.test       AAAA $LAB6_OK delay=1
		late4.test       AAAA $LAB6_OK
		late4.test       A    $LAB4_OK delay=1
		drop6.test       A    $LAB4_OK
		drop6.test       AAAA DROP
		servfail6.test   A    $LAB4_OK
		servfail6.test   AAAA SERVFAIL
		blackhole6.test  AAAA $LAB6_DEAD
		blackhole6.test  A    $LAB4_OK
		fallback6.test   AAAA ${LAB6_REFUSED[0]}
		fallback6.test   A    $LAB4_OK
		refused.test     AAAA ${LAB6_REFUSED[0]}
		refused.test     A    ${LAB4_REFUSED[0]}
		$(printf 'many.test AAAA %s\n' "${LAB6_REFUSED[@]}")
		$(printf 'many.test A %s\n' "${LAB4_REFUSED[@]}")
		blackhole.test   AAAA $LAB6_DEAD
		blackhole.test   A    $LAB4_DEAD
		unroutable.test  AAAA $LAB6_UNROUTED
		prohibited.test  A    $LAB4_PROHIBITED
		witness.test     A    $LAB4_WITNESS
		denied6.test     AAAA $LAB6_UNROUTED
		denied6.test     A    $LAB4_OK
		blocked.test     AAAA $LAB6_BLOCKED
		blocked.test     A    $LAB4_BLOCKED
		$(printf 'manyaddrs.test AAAA %s\n' "${LAB6_MANY[@]}")
		$(printf 'manyaddrs.test A %s\n' "${LAB4_MANY[@]}")
		$(printf 'stagger.test AAAA %s\n' "${LAB6_DEADS[@]:0:4}")
		$(printf 'stagger.test A %s\n' "${LAB4_DEADS[@]:0:4}")
		$(printf 'spin6.test AAAA %s\n' "${LAB6_DEADS[@]}")
		spin6.test       A    DROP
		$(printf 'spin4.test A %s\n' "${LAB4_DEADS[@]}")
		spin4.test       AAAA DROP
		$(for i in "${!LAB6_CARRY_DENIED[@]}"; do
			printf 'carry%d.test AAAA %s\n' "$i" "${LAB6_CARRY_DENIED[i]}"
		done)
		carrypub.test    AAAA $LAB6_CARRY_PUBLIC
		alias.test       CNAME both.test
		big.test         AAAA $LAB6_OK tc
		big.test         A    $LAB4_OK tc
		dnsrefused.test  *    REFUSED
		internal.corp    A    $LAB4_WITNESS
		sub.internal.corp A   $LAB4_WITNESS
		labhost.corp     A    $LAB4_WITNESS
	EOF
}

_dial_nft() {
	cat <<-EOF
		table inet dial_lab {
			counter witness { }
			counter ten { }
			counter silentdns { }
			chain out {
				type filter hook output priority 0; policy accept;
				ip daddr $LAB4_SILENT_DNS udp dport 53 counter name silentdns drop
				ip daddr $LAB4_WITNESS counter name witness
				ip daddr 10.0.0.0/8 counter name ten
				ip6 daddr { $LAB6_DEAD, fd00::dead:0/112 } meta l4proto tcp drop
				ip daddr { $LAB4_DEAD, 127.0.4.0/24 } meta l4proto tcp drop
				ip6 daddr $LAB6_BLOCKED meta l4proto tcp reject with icmpv6 admin-prohibited
			}
		}
	EOF
}

# dial_lab_inside DIR TOOLS PY : the namespace's first process (run by
# dial_lab_start under unshare -n -m); sets the lab up, writes DIR/lab.ready,
# then waits for its servers (until dial_lab_stop kills them).
dial_lab_inside() {
	local dir=$1 tools=$2 py=$3 a tries=200
	set -e
	ip link set lo up
	for a in "${LAB6_ADDRS[@]}"; do
		ip -6 addr add "$a/128" dev lo nodad
	done
	nft -f "$dir/lab.nft"
	ip route add prohibit "$LAB4_BLOCKED/32"
	mount --bind "$dir/resolv.conf" /etc/resolv.conf
	mount --bind "$dir/hosts" /etc/hosts
	"$py" "$tools/stubdns.py" --zone "$dir/zone" --log "$dir/dns.log" \
		--ready "$dir/dns.ready" </dev/null >"$dir/dns.out" 2>"$dir/dns.err" &
	local hosts=()
	for a in "$LAB6_OK" "$LAB4_OK" "$LAB4_WITNESS" "$LAB6_CARRY_PUBLIC" \
		"${LAB6_CARRY_DENIED[@]}"; do
		hosts+=(--host "$a")
	done
	"$py" "$tools/echotarget.py" --greet --port "$LAB_PORT" "${hosts[@]}" \
		--log "$dir/target.log" --port-file "$dir/target.ready" \
		</dev/null >"$dir/target.out" 2>"$dir/target.err" &
	while [[ ! -e $dir/dns.ready || ! -e $dir/target.ready ]]; do
		((tries-- > 0)) || exit 1
		sleep 0.05
	done
	echo ok >"$dir/lab.ready"
	wait
}

_lab_ready() { [[ -e $BATS_FILE_TMPDIR/lab.ready ]]; }
_lab_alive() { kill -0 "$(cat "$BATS_FILE_TMPDIR/lab.pid")" 2>/dev/null; }
_lab_ready_or_dead() { _lab_ready || ! _lab_alive; }

# dial_lab_start : (setup_file) make the namespace and everything in it
dial_lab_start() {
	local d=$BATS_FILE_TMPDIR
	printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' >"$d/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n%s labhost\n' \
		"$LAB4_OK" >"$d/hosts"
	_dial_zone >"$d/zone"
	_dial_nft >"$d/lab.nft"
	: >"$d/dns.log"
	: >"$d/target.log"
	# shellcheck disable=SC2016
	unshare -n -m bash -c '. "$0" && dial_lab_inside "$@"' \
		"$BATS_TEST_DIRNAME/dial_helpers.bash" "$d" "$TOOLS" "$PY" \
		</dev/null >"$d/lab.out" 2>"$d/lab.err" 3>&- &
	echo $! >"$d/lab.pid"
	wait_until 10 _lab_ready_or_dead || true
	if ! _lab_ready; then
		dial_lab_stop
		fail "the dial lab did not start:" "$(cat "$d/lab.err" "$d/dns.err" "$d/target.err" 2>/dev/null)"
		return 1
	fi
	readlink "/proc/$(cat "$d/lab.pid")/ns/net" >"$d/lab.netns"
	if [[ $(cat "$d/lab.netns") == "$(readlink /proc/self/ns/net)" ]]; then
		rm -f "$d/lab.netns"
		fail "the lab is not in a network namespace of its own"
		return 1
	fi
}

_lab_pids() {
	local ns p
	ns=$(cat "$BATS_FILE_TMPDIR/lab.netns" 2>/dev/null) || return 0
	[[ -n $ns && $ns != "$(readlink /proc/self/ns/net)" ]] || return 0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/net" 2>/dev/null) == "$ns" ]] && echo "${p#/proc/}"
	done
	return 0
}

_lab_empty() { [[ -z $(_lab_pids) ]]; }

# dial_lab_stop : (teardown_file) kill every process in the lab's network
# namespace (the holder, the stub, the targets, any leftover connectd)
dial_lab_stop() {
	local pid pids
	pid=$(cat "$BATS_FILE_TMPDIR/lab.pid" 2>/dev/null) || return 0
	[[ -s $BATS_FILE_TMPDIR/lab.netns ]] ||
		readlink "/proc/$pid/ns/net" >"$BATS_FILE_TMPDIR/lab.netns" 2>/dev/null
	# shellcheck disable=SC2207
	pids=($(_lab_pids))
	((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if ! wait_until 5 _lab_empty; then
		# shellcheck disable=SC2207
		pids=($(_lab_pids))
		((${#pids[@]} == 0)) || kill -KILL "${pids[@]}" 2>/dev/null
	fi
	return 0
}

# lab CMD... : run CMD inside the lab's network and mount namespaces
lab() {
	nsenter -t "$(cat "$BATS_FILE_TMPDIR/lab.pid")" -n -m "$@"
}

# lab_proxy [connectd args...] : start connectd under systemd-socket-activate
# --accept inside the lab; sets PPORT and PROXY_LOG like start_proxy.  With
# LAB_RESOLV_CONF set to a file, that file is the proxy's /etc/resolv.conf.
lab_proxy() {
	local pf=$BATS_TEST_TMPDIR/proxy.port
	rm -f "$pf"
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=accept
	if [[ -n ${LAB_RESOLV_CONF:-} ]]; then
		# a resolv.conf of this proxy's own, in a mount namespace of its own
		# shellcheck disable=SC2016
		bg proxy lab unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
			"$LAB_RESOLV_CONF" "$PY" "$TOOLS/activate.py" --port-file "$pf" -- \
			"$CONNECTD" "${LAB_RULES[@]}" "${DIAL_RULES[@]}" "$@"
	else
		bg proxy lab "$PY" "$TOOLS/activate.py" --port-file "$pf" -- \
			"$CONNECTD" "${LAB_RULES[@]}" "${DIAL_RULES[@]}" "$@"
	fi
	read_port_file "$pf" PPORT || fail "the lab proxy did not start: $(cat "$PROXY_LOG")"
}

# lab_connect HOST [client.py options] : CONNECT HOST:$LAB_PORT through the
# lab proxy from inside the lab (sets status, output, lines); ELAPSED_MS is
# the client's wall time, for generous upper bounds only
lab_connect() {
	local host=$1 t0
	shift
	t0=$(now_ms)
	run lab "$PY" "$TOOLS/client.py" --port "$PPORT" \
		--request "CONNECT $host:$LAB_PORT HTTP/1.1\r\nHost: $host:$LAB_PORT\r\n\r\n" "$@"
	ELAPSED_MS=$(($(now_ms) - t0))
	echo "$output"
	echo "ELAPSED_MS $ELAPSED_MS"
}

# lab_tunnel HOST : a 200 and the target's echo behind it; sets VIA, the
# address the target says the client reached
lab_tunnel() {
	lab_connect "$1" --check-ok --act 'send:ping\n' --act shut --act readeof
	((status == 0)) || fail "the tunnel to $1 failed"
	has_line 'CHECK ok' || return 1
	local recv
	recv=$(value RECV) || fail "no RECV line"
	[[ $recv =~ ^via\ ([^\\]+)\\nping\\n$ ]] ||
		fail "not the lab target's greeting and echo: $recv"
	VIA=${BASH_REMATCH[1]}
	has_line 'END eof'
}

# lab_error HOST STATUS REASON PROXY_STATUS : exactly one well-formed error
# response with STATUS, body "REASON: ..." and the Proxy-Status field
# PROXY_STATUS, then a clean close
lab_error() {
	local host=$1 st=$2 reason=$3 ps=$4
	lab_connect "$host" --check-error "$st" "$reason"
	has_line 'CHECK ok' || return 1
	has_line "HDR proxy-status: $ps"
	local body
	body=$(value BODY) || fail "no BODY line"
	[[ $body == "$reason: "* ]] || fail "body is not \"$reason: ...\": $body"
}

# dial_log KEY : the value of KEY= in the (one) connectd log line
dial_log() {
	local line tok
	wait_log 1 || return 1
	line=$(log_lines | tail -n1)
	for tok in $line; do
		if [[ $tok == "$1="* ]]; then
			printf '%s\n' "${tok#"$1="}"
			return 0
		fi
	done
	fail "no $1= in the log line: $line"
}

# lab_logged HOST : the log line of the (last) request for HOST:$LAB_PORT,
# for a test that sends several through one proxy
lab_logged() {
	log_lines | grep -aF " target=$1:$LAB_PORT " | tail -n1
}

# expect_log KEY VALUE : the log line has KEY=VALUE
expect_log() {
	local v
	v=$(dial_log "$1") || return 1
	[[ $v == "$2" ]] || fail "log $1=$v, expected $1=$2" "$(log_lines)"
}

# expect_log_ms_below KEY LIMIT : the log's KEY (milliseconds) is below LIMIT
expect_log_ms_below() {
	local v
	v=$(dial_log "$1") || return 1
	[[ $v =~ ^[0-9]+$ ]] || fail "log $1=$v is not a time" "$(log_lines)"
	((v < $2)) || fail "log $1=$v ms, expected under $2 ms" "$(log_lines)"
}

# dns_mark : (setup) later dns_queries calls see only the queries after now
dns_mark() {
	DNS_MARK=$(wc -l <"$BATS_FILE_TMPDIR/dns.log")
}

# dns_queries NAME : the stub's log lines for NAME (since dns_mark)
dns_queries() {
	tail -n "+$((${DNS_MARK:-0} + 1))" "$BATS_FILE_TMPDIR/dns.log" |
		grep -a " $1 " || true
}

# nft_packets COUNTER : packets the lab's named nft counter has seen
nft_packets() {
	lab nft list counter inet dial_lab "$1" |
		sed -n 's/.*packets \([0-9][0-9]*\).*/\1/p'
}

# v6 ADDR : ADDR as connectd writes it with the lab port; v4 the same
v6() { printf '[%s]:%s' "$1" "$LAB_PORT"; }
v4() { printf '%s:%s' "$1" "$LAB_PORT"; }
