#!/usr/bin/env bats
# Destination policy end to end (issue 3): --allow-dest and --deny-dest
# rules of every kind, the ranges denied by default, the order of the
# checks (port, name, then each resolved address right before it is
# dialled) and what the log line says about it.
#
# Most tests set LAB_RULES=() so that the proxy runs with exactly the rules
# the test names (helpers.bash otherwise opts in to all of loopback).  Names
# resolve through a private hosts file (hosts_file), bound over /etc/hosts
# in the proxy's own mount namespace.  Targets are echotarget.py echo
# servers that log every connection they accept: a refused request must
# leave no "accept" line behind.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers
load policy_helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "CIDR, IPv4: an allowed block admits, outside it the default denies, a denied block inside wins" {
	LAB_RULES=()
	start_ptarget --host 127.0.0.1 --host 127.0.0.200
	start_proxy accept --allow-port "$TPORT" --allow-dest 127.0.0.0/24 \
		--deny-dest 127.0.0.128/25
	expect_tunnel "$(connect_req "127.0.0.1:$TPORT")"
	# a target listens there: the deny rule, not the network, refuses it
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.200:$TPORT")"
	# loopback outside the allowed block stays denied by default
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.1.1:$TPORT")"
	report_cases
	wait_log 3
	expect_logged "127.0.0.1:$TPORT" 'status=200 ' "addr=127.0.0.1:$TPORT " \
		"tried=127.0.0.1:$TPORT=ok\$"
	expect_logged "127.0.0.200:$TPORT" 'status=403 ' 'addr=- ' \
		"tried=127.0.0.200:$TPORT=denied\$"
	expect_logged "127.0.1.1:$TPORT" "tried=127.0.1.1:$TPORT=denied\$"
	expect_accepts 1
	(($(accepts_at "127.0.0.1:$TPORT") == 1))
}

@test "CIDR, IPv6: an allowed block admits ::1, a denied block beats an allow of ::1" {
	LAB_RULES=()
	start_ptarget --host ::1 --host 127.0.0.2
	# ::ffff:127.0.0.2/128 is a rule on the IPv4 host it carries
	start_proxy_p accept --allow-port "$TPORT" --allow-dest ::/120 \
		--allow-dest ::ffff:127.0.0.2/128
	expect_tunnel "$(connect_req "[::1]:$TPORT")"
	expect_tunnel "$(connect_req "127.0.0.2:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.1:$TPORT")"
	report_cases
	wait_log 3
	expect_logged "[::1]:$TPORT" 'status=200 ' "addr=\\[::1\\]:$TPORT "
	expect_accepts 2
	stop_proxy

	start_proxy accept --allow-port "$TPORT" --allow-dest ::1 --deny-dest ::/64
	expect_error 403 destination_ip_prohibited "$(connect_req "[::1]:$TPORT")"
	report_cases
	wait_log 1
	expect_logged "[::1]:$TPORT" 'status=403 ' "tried=\\[::1\\]:$TPORT=denied\$"
	expect_accepts 2
}

@test "single addresses: IPv4 and bracketed IPv6 admit exactly that host" {
	LAB_RULES=()
	start_ptarget --host 127.0.0.1 --host 127.0.0.2 --host ::1
	start_proxy accept --allow-port "$TPORT" --allow-dest 127.0.0.2 --allow-dest '[::1]'
	expect_tunnel "$(connect_req "127.0.0.2:$TPORT")"
	expect_tunnel "$(connect_req "[::1]:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.1:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.3:$TPORT")"
	report_cases
	expect_accepts 2
	run grep -c "^accept 127.0.0.1:" "$TLOG"
	[[ $output == 0 ]]
}

@test "deny beats allow for the same address (IPv4, IPv6, v4-mapped, and a name's opt-in)" {
	LAB_RULES=()
	hosts_file '127.0.0.1 loop.test'
	start_ptarget --host 127.0.0.1 --host 127.0.0.2 --host ::1
	start_proxy accept --allow-port "$TPORT" --allow-dest 127.0.0.0/8 \
		--allow-dest 127.0.0.1 --deny-dest 127.0.0.1 --allow-dest ::1 --deny-dest ::1 \
		--allow-dest loop.test
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.1:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[::1]:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[::ffff:127.0.0.1]:$TPORT")"
	# the name is allowed, the address it resolves to is denied
	expect_error 403 destination_ip_prohibited "$(connect_req "loop.test:$TPORT")"
	expect_tunnel "$(connect_req "127.0.0.2:$TPORT")"
	report_cases
	wait_log 5
	expect_logged "loop.test:$TPORT" "tried=127.0.0.1:$TPORT=denied\$"
	expect_accepts 1
	(($(accepts_at "127.0.0.2:$TPORT") == 1))
}

@test "host name: an allow rule opts in that name only, a deny rule refuses it unresolved" {
	LAB_RULES=()
	hosts_file '127.0.0.1 named.test other.test sub.named.test blocked.test'
	start_ptarget
	start_proxy accept --allow-port "$TPORT" --allow-dest named.test --deny-dest blocked.test
	expect_tunnel "$(connect_req "named.test:$TPORT")"
	# same address, other names: no opt-in (not even for a subdomain)
	expect_error 403 destination_ip_prohibited "$(connect_req "other.test:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "sub.named.test:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.1:$TPORT")"
	expect_error 403 name_not_allowed "$(connect_req "blocked.test:$TPORT")"
	report_cases
	wait_log 5
	expect_logged "named.test:$TPORT" 'status=200 ' "addr=127.0.0.1:$TPORT "
	expect_logged "other.test:$TPORT" 'reason=destination_ip_prohibited ' \
		"tried=127.0.0.1:$TPORT=denied\$"
	expect_logged "blocked.test:$TPORT" 'status=403 reason=name_not_allowed ' \
		'dns_ms=-1 ' 'tried=-$'
	expect_accepts 1
}

@test "domain suffix .example.test: the domain and every subdomain, not badexample.test" {
	LAB_RULES=()
	hosts_file '127.0.0.1 example.test a.example.test deep.b.example.test' \
		'127.0.0.1 badexample.test example.test.other xexample.test'
	start_ptarget
	start_proxy_p accept --allow-port "$TPORT" --allow-dest .example.test
	expect_tunnel "$(connect_req "example.test:$TPORT")"
	expect_tunnel "$(connect_req "a.example.test:$TPORT")"
	expect_tunnel "$(connect_req "deep.b.example.test:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "badexample.test:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "xexample.test:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "example.test.other:$TPORT")"
	report_cases
	expect_accepts 3
	stop_proxy

	# the same suffix as a deny rule (loopback opted in by LAB rules)
	LAB_RULES=(--allow-dest 127.0.0.0/8)
	start_proxy accept --allow-port "$TPORT" --deny-dest .example.test
	expect_error 403 name_not_allowed "$(connect_req "example.test:$TPORT")"
	expect_error 403 name_not_allowed "$(connect_req "a.example.test:$TPORT")"
	expect_error 403 name_not_allowed "$(connect_req "deep.b.example.test:$TPORT")"
	expect_tunnel "$(connect_req "badexample.test:$TPORT")"
	report_cases
	wait_log 4
	expect_logged "a.example.test:$TPORT" 'reason=name_not_allowed ' 'dns_ms=-1 ' 'tried=-$'
	expect_accepts 4
}

@test "name rules ignore case and a trailing dot, in the rule and in the request" {
	LAB_RULES=()
	# glibc's files backend does not strip a trailing dot: list both
	hosts_file '127.0.0.1 mixed.test dotted.test dotted.test.'
	start_ptarget
	start_proxy accept --allow-port "$TPORT" --allow-dest MiXeD.TeSt. \
		--allow-dest dotted.test --deny-dest Blocked.Test. --deny-dest .Suffix.Test.
	expect_tunnel "$(connect_req "mixed.test:$TPORT")"
	expect_tunnel "$(connect_req "MIXED.Test:$TPORT")"
	expect_tunnel "$(connect_req "DOTTED.Test.:$TPORT")"
	expect_error 403 name_not_allowed "$(connect_req "blocked.test:$TPORT")"
	expect_error 403 name_not_allowed "$(connect_req "BLOCKED.TEST.:$TPORT")"
	expect_error 403 name_not_allowed "$(connect_req "A.sUfFiX.test.:$TPORT")"
	report_cases
	expect_accepts 3
}

@test "refused early (port, then name): nothing is resolved or dialled, the log says tried=-" {
	hosts_file '127.0.0.1 named.test blocked.test'
	start_ptarget
	local closed=$TPORT closed_log=$TLOG
	start_ptarget
	# $closed has a listener but is not an allowed port
	start_proxy accept --allow-port "$TPORT" --deny-dest blocked.test
	expect_error 403 port_not_allowed "$(connect_req "127.0.0.1:$closed")"
	expect_error 403 port_not_allowed "$(connect_req "named.test:$closed")"
	# a denied name on an allowed port: the port check passed, the name did not
	expect_error 403 name_not_allowed "$(connect_req "blocked.test:$TPORT")"
	# port before name: a denied name on a refused port is a port refusal
	expect_error 403 port_not_allowed "$(connect_req "blocked.test:$closed")"
	expect_tunnel "$(connect_req "named.test:$TPORT")"
	report_cases
	wait_log 5
	local t
	for t in "127.0.0.1:$closed" "named.test:$closed" "blocked.test:$TPORT" "blocked.test:$closed"; do
		expect_logged "$t" 'status=403 ' 'addr=- ' 'dns_ms=-1 ' 'connect_ms=-1 ' 'tried=-$'
	done
	expect_accepts 0 "$closed_log"
	expect_accepts 1
}

@test "a name resolving to a default-denied address: 403, no packet; a name rule opts in" {
	LAB_RULES=()
	hosts_file '127.0.0.1 loop.test' '::1 loop6.test'
	start_ptarget --host 127.0.0.1 --host ::1
	start_proxy_p accept --allow-port "$TPORT"
	expect_error 403 destination_ip_prohibited "$(connect_req "loop.test:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "loop6.test:$TPORT")"
	report_cases
	wait_log 2
	expect_logged "loop.test:$TPORT" 'status=403 ' "tried=127.0.0.1:$TPORT=denied\$"
	# (glibc also answers 127.0.0.1 for a ::1 line when asked for IPv4)
	expect_logged "loop6.test:$TPORT" 'status=403 ' "tried=\\[::1\\]:$TPORT=denied(,|\$)"
	expect_accepts 0
	stop_proxy

	start_proxy accept --allow-port "$TPORT" --allow-dest loop.test --allow-dest loop6.test
	expect_tunnel "$(connect_req "loop.test:$TPORT")"
	expect_tunnel "$(connect_req "loop6.test:$TPORT")"
	# the opt-in is the name's, not its address's
	expect_error 403 destination_ip_prohibited "$(connect_req "127.0.0.1:$TPORT")"
	report_cases
	expect_accepts 2
}

@test "a name with a denied and an allowed address: the allowed one carries the tunnel" {
	LAB_RULES=()
	hosts_file '127.0.0.1 two.test' '127.0.0.2 two.test' '::1 mixed.test' '127.0.0.2 mixed.test'
	start_ptarget --host 127.0.0.1 --host 127.0.0.2 --host ::1
	start_proxy accept --allow-port "$TPORT" --allow-dest 127.0.0.2
	expect_tunnel "$(connect_req "two.test:$TPORT")"
	# ::1 (and the 127.0.0.1 glibc derives from it for IPv4) are skipped
	expect_tunnel "$(connect_req "mixed.test:$TPORT")"
	report_cases
	wait_log 2
	local line t
	for t in two.test mixed.test; do
		expect_logged "$t:$TPORT" 'status=200 ' "addr=127.0.0.2:$TPORT "
		line=$(logged "$t:$TPORT")
		[[ $(field tried "$line") == *"127.0.0.2:$TPORT=ok"* ]] || fail "$line"
	done
	[[ $(field tried "$(logged "two.test:$TPORT")") == *"127.0.0.1:$TPORT=denied"* ]] ||
		fail "two.test: 127.0.0.1 not tried as denied:" "$(logged "two.test:$TPORT")"
	# (whether ::1 comes up before 127.0.0.2 connects depends on which
	# answer arrives first: only require that nothing else was dialled)
	line=$(logged "mixed.test:$TPORT")
	[[ ,$(field tried "$line"), =~ ^,(([^,]+=denied,)*)127\.0\.0\.2:$TPORT=ok,$ ]] ||
		fail "mixed.test: an attempt other than a denied one or 127.0.0.2:" "$line"
	expect_accepts 2
	(($(accepts_at "127.0.0.2:$TPORT") == 2))
}

@test "every range denied by default is refused before any packet (no rules)" {
	LAB_RULES=()
	start_proxy accept
	local a n=0
	for a in 127.0.0.1 10.0.0.1 100.64.0.1 169.254.169.254 172.16.0.1 192.168.0.1 \
		192.0.0.1 192.0.2.1 198.18.0.1 198.51.100.1 203.0.113.1 224.0.0.1 240.0.0.1 \
		255.255.255.255 0.0.0.0 '[::1]' '[::]' '[fe80::1]' '[fc00::1]' '[fd12::1]' \
		'[ff02::1]' '[2001:db8::1]' '[::ffff:127.0.0.1]' '[::ffff:10.0.0.1]' \
		'[::127.0.0.1]' '[::ffff:169.254.169.254]'; do
		expect_error 403 destination_ip_prohibited "$(connect_req "$a:443")"
		n=$((n + 1))
	done
	report_cases
	wait_log "$n"
	local bad
	bad=$(log_lines | grep -v ' status=403 reason=destination_ip_prohibited .* tried=[^ ]*=denied$' || true)
	[[ -z $bad ]] || fail "log lines without a denied attempt:" "$bad"
}

@test "odd IPv4 spellings are not addresses: 400 bad_target" {
	LAB_RULES=()
	start_proxy accept
	local a
	for a in 2130706433 0x7f.1 127.1 0x7f000001 017700000001 127.0.1 0177.0.0.1; do
		expect_error 400 bad_target "$(connect_req "$a:443")"
	done
	report_cases
	wait_log 7
	[[ $(log_lines | grep -c ' status=400 reason=bad_target .* tried=-$') == 7 ]]
}

# --- the proxy's own address, in a network namespace of the test's own ------

# An address the proxy listens on is denied ("self"), but only as the last
# resort: loopback addresses are denied anyway, so this needs an address
# outside every default range.  11.0.0.1 and 11.0.0.2 live on the loopback
# interface of a private network namespace, with no route anywhere else.

@test "the proxy's own local address is refused unless an allow rule covers it" {
	LAB_RULES=()
	ns_start 11.0.0.1 11.0.0.2 64:ff9b::b00:1
	ns_target 11.0.0.1 11.0.0.2 64:ff9b::b00:1
	ns_proxy 11.0.0.1 --allow-port "$TPORT"
	# a global address that is not ours: allowed without any rule
	expect_tunnel "$(connect_req "11.0.0.2:$TPORT")"
	# our own address: refused, though a target listens there, also
	# through the NAT64 form that leads back to it
	expect_error 403 destination_ip_prohibited "$(connect_req "11.0.0.1:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[64:ff9b::b00:1]:$TPORT")"
	report_cases
	wait_log 3
	expect_logged "11.0.0.1:$TPORT" "tried=11.0.0.1:$TPORT=denied\$"
	expect_accepts 1
	(($(accepts_at "11.0.0.2:$TPORT") == 1))
	stop_proxy

	ns_proxy 11.0.0.1 --allow-port "$TPORT" --allow-dest 11.0.0.1
	expect_tunnel "$(connect_req "11.0.0.1:$TPORT")"
	expect_tunnel "$(connect_req "[64:ff9b::b00:1]:$TPORT")"
	report_cases
	expect_accepts 3
	(($(accepts_at "11.0.0.1:$TPORT") == 1))
}

# --- IPv6 forms that carry an IPv4 address -----------------------------------

# Each form lives on lo of a private network namespace with a target behind
# it, so an address the policy lets through is really reached (and logged
# by the target): a refusal is the policy's, not the network's.  The IPv4
# addresses carried are loopback (7f00:1), link-local (a9fe:a9fe), private
# (a00:5) and, as the public one, 8.8.8.8 (808:808), itself on lo there.
EMBED_DENIED=(::127.0.0.1 ::ffff:0:7f00:1 64:ff9b::7f00:1 64:ff9b::a9fe:a9fe
	64:ff9b::a00:5 64:ff9b:1::a00:5 64:ff9b:1::808:808 2002:7f00:1::1
	2002:a9fe:a9fe::1 2001:0:7f00:1::f7f7:f7f7 2001:0:808:808::80ff:fffe)
EMBED_PUBLIC=(::8.8.8.8 ::ffff:0:808:808 64:ff9b::808:808 2002:808:808::1
	2001:0:808:808::f7f7:f7f7)

embed_lab() {
	LAB_RULES=()
	ns_start 11.0.0.1 8.8.8.8 "${EMBED_DENIED[@]}" "${EMBED_PUBLIC[@]}"
	ns_target 8.8.8.8 "${EMBED_DENIED[@]}" "${EMBED_PUBLIC[@]}"
}

@test "IPv4 in IPv6 (compatible, SIIT, NAT64, 6to4, Teredo): judged by the IPv4 address carried" {
	embed_lab
	ns_proxy 11.0.0.1 --allow-port "$TPORT"
	local a n=0
	for a in "${EMBED_DENIED[@]}"; do
		expect_error 403 destination_ip_prohibited "$(connect_req "[$a]:$TPORT")"
	done
	for a in "${EMBED_PUBLIC[@]}"; do
		expect_tunnel "$(connect_req "[$a]:$TPORT")"
	done
	report_cases
	wait_log $((${#EMBED_DENIED[@]} + ${#EMBED_PUBLIC[@]}))
	for a in "${EMBED_DENIED[@]}"; do
		expect_logged "[$a]:$TPORT" 'status=403 ' "tried=\\[$a\\]:$TPORT=denied\$"
	done
	for a in "${EMBED_PUBLIC[@]}"; do
		(($(accepts_at "[$a]:$TPORT") == 1)) || fail "[$a] was not reached:" "$(cat "$TLOG")"
	done
	expect_accepts ${#EMBED_PUBLIC[@]}
}

@test "IPv4 in IPv6: IPv4 deny and allow rules apply to every form that carries the address" {
	embed_lab
	ns_proxy 11.0.0.1 --allow-port "$TPORT" --deny-dest 8.8.8.8 --allow-dest 127.0.0.0/8
	local a
	# the deny rule on 8.8.8.8 reaches it in every form
	for a in "${EMBED_PUBLIC[@]}" ::ffff:8.8.8.8; do
		expect_error 403 destination_ip_prohibited "$(connect_req "[$a]:$TPORT")"
	done
	# the allow rule on loopback admits the forms carrying 127.0.0.1 ...
	for a in ::127.0.0.1 ::ffff:0:7f00:1 64:ff9b::7f00:1 2002:7f00:1::1; do
		expect_tunnel "$(connect_req "[$a]:$TPORT")"
	done
	# ... but not a Teredo address whose client is the denied 8.8.8.8, nor
	# the local-use NAT64 prefix, denied by default as written
	expect_error 403 destination_ip_prohibited "$(connect_req "[2001:0:7f00:1::f7f7:f7f7]:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[64:ff9b:1::a00:5]:$TPORT")"
	report_cases
	expect_accepts 4
	(($(accepts_at "[64:ff9b::7f00:1]:$TPORT") == 1))
}

@test "IPv4 in IPv6: IPv6 rules on the prefixes match the address as written (::/96, 2002::/16, 64:ff9b::/96, ::ffff:0:0/96)" {
	embed_lab
	start_proxy_ns() { ns_proxy 11.0.0.1 --allow-port "$TPORT" "$@"; }
	start_proxy_ns --deny-dest ::/96 --deny-dest 2002::/16 --deny-dest 2001::/32 \
		--allow-dest 64:ff9b::/96 --allow-dest 64:ff9b:1::/48
	expect_error 403 destination_ip_prohibited "$(connect_req "[::8.8.8.8]:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[2002:808:808::1]:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[2001:0:808:808::f7f7:f7f7]:$TPORT")"
	# an allow rule on a NAT64 prefix admits what it carries
	expect_tunnel "$(connect_req "[64:ff9b::7f00:1]:$TPORT")"
	expect_tunnel "$(connect_req "[64:ff9b::a9fe:a9fe]:$TPORT")"
	expect_tunnel "$(connect_req "[64:ff9b:1::808:808]:$TPORT")"
	# a form no rule names is still judged by what it carries
	expect_error 403 destination_ip_prohibited "$(connect_req "[::ffff:0:7f00:1]:$TPORT")"
	expect_tunnel "$(connect_req "[::ffff:0:808:808]:$TPORT")"
	report_cases
	expect_accepts 4
	stop_proxy

	# ::ffff:0:0/96 is every IPv4-mapped address, that is every IPv4 host,
	# plain or carried in IPv6; IPv6 hosts stay allowed
	start_proxy_ns --deny-dest ::ffff:0:0/96
	expect_error 403 destination_ip_prohibited "$(connect_req "[::ffff:8.8.8.8]:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "8.8.8.8:$TPORT")"
	expect_error 403 destination_ip_prohibited "$(connect_req "[64:ff9b::808:808]:$TPORT")"
	report_cases
	expect_accepts 4
}
