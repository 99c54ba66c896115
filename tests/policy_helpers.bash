# shellcheck shell=bash
# shellcheck disable=SC2154 # status, output, lines: set by bats' run
# shellcheck disable=SC2034 # CASES_RUN, CASE_FAILS: read by helpers.bash
# Helpers for the access tests (issue 3): policy.bats, auth.bats and
# peruser.bats.  Load after helpers.bash:
#   load helpers
#   load policy_helpers
#
# Names: a test that needs a host name to resolve writes a private hosts
# file with hosts_file(); every proxy it then starts (start_proxy, through
# the isolated() below) sees that file as /etc/hosts, bind-mounted inside
# its own mount namespace.  The machine's /etc is never touched.

# isolated CMD... : helpers.bash's isolated() (a private mount namespace
# whose resolv.conf names a resolver on loopback where nothing listens),
# plus, when the test wrote one with hosts_file, $HOSTS_FILE bound over
# /etc/hosts inside that namespace.  Replaces isolated() in the files that
# load this one; without a hosts file it is the original.
eval "_helpers_isolated() $(declare -f isolated | tail -n +2)"
isolated() {
	[[ -n ${HOSTS_FILE:-} ]] || _helpers_isolated "$@"
	# shellcheck disable=SC2016
	_helpers_isolated sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$HOSTS_FILE" "$@"
}

# expect_error STATUS REASONS REQUEST [client.py options] : helpers.bash's
# expect_error, which these files tighten: client.py does not apply
# --check-error to a 200 (it prints "CHECK ok" for a tunnel), so a request
# that should have been refused but got through would pass there.  Here
# the response must also carry STATUS.
eval "_helpers_expect_error() $(declare -f expect_error | tail -n +2)"
expect_error() {
	local before=${#CASE_FAILS[@]}
	_helpers_expect_error "$@"
	if ((${#CASE_FAILS[@]} == before)) && ! grep -qx "STATUS $1" <<<"$output"; then
		CASE_FAILS+=("$(printf '%s\n  want %s %s\n  got: %s' "$(_clip "$3")" "$1" "$2" \
			"$(grep -E '^(STATUS|HEAD)' <<<"$output" | tr '\n' ' ')")")
	fi
}

# hosts_file LINE... : the /etc/hosts of the proxies this test starts from
# now on ("ADDRESS NAME..." lines; localhost is always there)
hosts_file() {
	HOSTS_FILE=$BATS_TEST_TMPDIR/hosts
	printf '%s\n' '127.0.0.1 localhost' '::1 localhost ip6-localhost' "$@" >"$HOSTS_FILE"
}

# start_ptarget [--host H]... : an echo target that logs every connection it
# accepts (tools/echotarget.py), listening on each H (default 127.0.0.1)
# on one port.  Sets TPORT and TLOG (one "accept ADDR:PORT PEER" line per
# connection).
start_ptarget() {
	_BG_N=$((_BG_N + 1))
	local pf=$BATS_TEST_TMPDIR/ptarget$_BG_N.port
	TLOG=$BATS_TEST_TMPDIR/ptarget$_BG_N.log
	bg "ptarget$_BG_N" "$PY" "$TOOLS/echotarget.py" --port-file "$pf" --log "$TLOG" "$@"
	read_port_file "$pf" TPORT ||
		fail "policy target did not start: $(cat "$BATS_TEST_TMPDIR/ptarget$_BG_N.err")"
}

# expect_accepts N [TLOG] : the target has accepted exactly N connections
# (call it after the clients are done: each tunnel is accepted before the
# client sees its 200, each refusal happens before any dial)
expect_accepts() {
	local f=${2:-$TLOG} n
	n=$(grep -c "^accept " "$f" || true)
	((n == $1)) || fail "the target accepted $n connection(s), expected $1:" "$(cat "$f")"
}

# accepts_at ADDR:PORT [TLOG] : how many connections the target accepted at
# that local address (IPv6 in brackets)
accepts_at() {
	grep -cF "accept $1 " "${2:-$TLOG}" || true
}

# --- connectd's log lines ---------------------------------------------------

# logged TARGET : the log line of the (last) request for TARGET
logged() {
	log_lines | grep -aF " target=$1 " | tail -n1
}

# expect_logged TARGET REGEX... : a log line for TARGET exists and matches
# every REGEX (extended, against the line after "connectd: ")
expect_logged() {
	local t=$1 line re
	shift
	line=$(logged "$t")
	[[ -n $line ]] || fail "no log line for target=$t:" "$(cat "$PROXY_LOG")"
	for re in "$@"; do
		[[ $line =~ $re ]] || fail "log line for target=$t does not match /$re/:" "$line"
	done
}

# count_log REGEX : how many log lines match REGEX (extended)
count_log() {
	local n=0 l
	while IFS= read -r l; do
		[[ $l =~ $1 ]] && n=$((n + 1))
	done < <(log_lines)
	echo "$n"
}

# expect_count_log N REGEX : exactly N log lines match REGEX
expect_count_log() {
	local n
	n=$(count_log "$2")
	((n == $1)) || fail "$n log line(s) match /$2/, expected $1:" "$(log_lines)"
}

# connect_req HOST:PORT : a CONNECT request for expect_error/expect_tunnel
connect_req() {
	printf 'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n' "$1" "$1"
}

# --- a network namespace of the test's own ------------------------------------

_ns_ready() { [[ -e $BATS_TEST_TMPDIR/ns.ready ]]; }

# ns_start ADDR... : a private network namespace (unshare -n) whose lo is up
# and holds each ADDR (IPv4 or IPv6, a host each), with no route anywhere
# else, so nothing the test does there leaves it.  Sets NS, the nsenter
# command that runs a command inside.
ns_start() {
	local script='ip link set lo up' a
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			script+=" && ip -6 addr add $a/128 dev lo nodad"
		else
			script+=" && ip addr add $a/32 dev lo"
		fi
	done
	# shellcheck disable=SC2016
	bg netns unshare -n sh -c "$script"' && : >"$0" && exec sleep 120' \
		"$BATS_TEST_TMPDIR/ns.ready"
	wait_until 10 _ns_ready || fail "network namespace not ready: $(cat netns.err)"
	NS=(nsenter -t "$BG_PID" -n)
}

# ns_target ADDR... : start_ptarget inside the namespace, on each ADDR
ns_target() {
	local a args=()
	for a in "$@"; do
		args+=(--host "$a")
	done
	_BG_N=$((_BG_N + 1))
	TLOG=$BATS_TEST_TMPDIR/nstarget$_BG_N.log
	bg "nstarget$_BG_N" "${NS[@]}" "$PY" "$TOOLS/echotarget.py" \
		--port-file "nstarget$_BG_N.port" --log "$TLOG" "${args[@]}"
	read_port_file "nstarget$_BG_N.port" TPORT ||
		fail "target: $(cat "nstarget$_BG_N.err")"
}

# ns_proxy ADDR [connectd args...] : start_proxy_p accept, inside the
# namespace and listening on ADDR, with LAB_RULES; client() then talks to
# it from inside too
ns_proxy() {
	local host=$1
	shift
	_BG_N=$((_BG_N + 1))
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=accept
	bg proxy "${NS[@]}" "$PY" "$TOOLS/activate.py" --host "$host" \
		--port-file "proxy$_BG_N.port" -- "$CONNECTD" "${LAB_RULES[@]}" "$@"
	PROXY_PID=$BG_PID
	read_port_file "proxy$_BG_N.port" PPORT || fail "proxy: $(cat "$PROXY_LOG")"
	NS_PROXY_HOST=$host
	# shellcheck disable=SC2317 # called by expect_error and expect_tunnel
	client() {
		run "${NS[@]}" "$PY" "$TOOLS/client.py" --host "$NS_PROXY_HOST" \
			--port "$PPORT" "$@"
	}
}

# --- users (peruser.bats) ---------------------------------------------------

# as_user NAME|UID CMD... : run CMD as that user (its uid, gid and groups;
# a bare uid without a passwd entry gets gid UID and no groups), in /
as_user() {
	local u=$1 ids
	shift
	if id -u "$u" >/dev/null 2>&1; then
		ids=(--reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups)
	else
		ids=(--reuid="$u" --regid="$u" --clear-groups)
	fi
	(cd / && exec setpriv "${ids[@]}" -- "$@")
}

# --- one test, several proxy configurations ---------------------------------

_STOPPED=0

# start_proxy_p LAUNCHER [connectd args...] : start_proxy, remembering the
# launcher's PID for stop_proxy
start_proxy_p() {
	start_proxy "$@" || return 1
	PROXY_PID=$BG_PID
}

# stop_proxy : end the proxy start_proxy_p started (and its connectd
# processes, if any still run) before the test starts another; its log is
# kept as proxy.stoppedN.err and the expect_error/expect_tunnel counters
# start over (call report_cases first)
stop_proxy() {
	local p
	for p in $(_descendants "$PROXY_PID"); do
		kill "$p" 2>/dev/null
	done
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null || true
	_STOPPED=$((_STOPPED + 1))
	mv "$PROXY_LOG" "$BATS_TEST_TMPDIR/proxy.stopped$_STOPPED.err"
	CASES_RUN=0
	CASE_FAILS=()
	return 0
}
