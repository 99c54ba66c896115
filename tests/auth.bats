#!/usr/bin/env bats
# Proxy authentication end to end (issue 3): --auth-file with yescrypt,
# bcrypt and sha512-crypt hashes, real curl clients (Basic, and the
# challenge-then-retry of --proxy-anyauth), the exact 407 challenge, 400 for
# malformed credentials, a bad auth file (500, exit status 2) including one
# that its group may write or another user owns (two users are made for
# this file), that credentials are checked before the port and the name,
# and that no credential ever reaches the log.

# shellcheck disable=SC2034 # read by bats
BATS_TEST_TIMEOUT=60
load helpers
load policy_helpers

REALM='connectd test realm'
CHALLENGE="Proxy-Authenticate: Basic realm=\"$REALM\", charset=\"UTF-8\""

# USER:PASSWORD:SCHEME; passwords with a blank, a colon and UTF-8
CREDS=('alice:alice pw:1:yescrypt' 'bob:b0b-Secret:bcrypt' 'carol:pä55wörd:sha512')

# hash_pw SCHEME PASSWORD : a crypt(3) hash; mkpasswd(1) where installed,
# else libxcrypt through tools/hashpw.py
hash_pw() {
	local m
	if command -v mkpasswd >/dev/null; then
		case $1 in
		yescrypt) m=yescrypt ;;
		bcrypt) m=bcrypt ;;
		sha512) m=sha-512 ;;
		esac
		mkpasswd -m "$m" "$2"
	else
		"$PY" "$BATS_TEST_DIRNAME/tools/hashpw.py" "$1" "$2"
	fi
}

setup_file() {
	local d=$BATS_FILE_TMPDIR c user rest pass scheme
	# the user connectd runs as, and another one
	if ((EUID == 0)); then
		export AU_SVC=cdtest_asvc_$$ AU_OTHER=cdtest_aoth_$$
		add_test_users "$AU_SVC" "$AU_OTHER" || return 1
	fi
	make_test_ca "$d"
	# the password file: a comment, a blank line, one user per scheme
	(
		umask 077
		printf '# connectd test users\n\n' >"$d/users"
		for c in "${CREDS[@]}"; do
			user=${c%%:*} rest=${c#*:}
			pass=${rest%:*} scheme=${rest##*:}
			printf '%s:%s\n' "$user" "$(hash_pw "$scheme" "$pass")" >>"$d/users"
		done
	)
}

teardown_file() { del_test_users "${AU_SVC:-}" "${AU_OTHER:-}"; }

setup() {
	common_setup
	CA=$BATS_FILE_TMPDIR/ca.pem
	AUTH=$BATS_TEST_TMPDIR/users
	install -m 0600 "$BATS_FILE_TMPDIR/users" "$AUTH"
	TLS_BODY='hello over tls'
}

teardown() {
	common_teardown
	[[ -z ${AU_DIR:-} ]] || rm -rf "$AU_DIR"
}

start_tls_target() {
	start_target tls --cert "$BATS_FILE_TMPDIR/srv.pem" --key "$BATS_FILE_TMPDIR/srv.key" \
		--data "$TLS_BODY\n"
}

noproxy_env() {
	env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY \
		-u no_proxy -u NO_PROXY "$@"
}

# curl_via_proxy [curl options] : GET https://localhost:$TPORT/ through the
# proxy, the certificate verified
curl_via_proxy() {
	run noproxy_env curl -sS --fail --max-time 20 --noproxy '' --cacert "$CA" \
		-x "http://127.0.0.1:$PPORT" "$@" "https://localhost:$TPORT/"
}

# auth_req TARGET CREDENTIALS : a CONNECT request with Basic CREDENTIALS
# ("user:password", base64-encoded here)
auth_req() {
	printf 'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\nProxy-Authorization: Basic %s\\r\\n\\r\\n' \
		"$1" "$1" "$(printf '%s' "$2" | base64 -w0)"
}

# raw_auth_req TARGET FIELD-VALUE : a CONNECT request with that exact
# Proxy-Authorization value
raw_auth_req() {
	printf 'CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\nProxy-Authorization: %s\\r\\n\\r\\n' \
		"$1" "$1" "$2"
}

# the last client output holds exactly one challenge, exactly $CHALLENGE
expect_challenge() {
	local want="HDR proxy-authenticate: ${CHALLENGE#Proxy-Authenticate: }"
	has_line "$want" || return 1
	[[ $(grep -c '^HDR proxy-authenticate:' <<<"$output") == 1 ]] ||
		fail "more than one Proxy-Authenticate:" "$output"
}

@test "the password file holds one yescrypt, one bcrypt and one sha512-crypt hash" {
	run cut -d: -f2 "$AUTH"
	# shellcheck disable=SC2016 # literal hash prefixes
	[[ $output == *'$y$'* && $output == *'$2b$'* && $output == *'$6$'* ]] ||
		fail "not all three schemes:" "$(cat "$AUTH")"
}

@test "curl --proxy-user: the tunnel for a user of each crypt scheme (user=NAME logged), 407 otherwise" {
	start_tls_target
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH" --realm "$REALM"
	local c user pass n=0
	for c in "${CREDS[@]}"; do
		user=${c%%:*} pass=${c#*:}
		pass=${pass%:*}
		curl_via_proxy --proxy-user "$user:$pass"
		echo "$user: $output"
		((status == 0)) || fail "curl as $user failed ($status): $output" "$(cat "$PROXY_LOG")"
		[[ $output == "$TLS_BODY" ]]
		n=$((n + 1))
		wait_log "$n"
		[[ $(log_lines | tail -n1) =~ " user=$user target=localhost:$TPORT ".*" status=200 " ]] ||
			fail "no status=200 line for $user:" "$(log_lines)"
	done
	# curl with a wrong password, an unknown user, no credentials: 407
	for c in 'alice:alice pw:2' 'mallory:b0b-Secret' ''; do
		curl_via_proxy ${c:+--proxy-user "$c"} -v
		((status != 0)) || fail "curl got through with '$c': $output"
		[[ $output == *'< HTTP/1.1 407 Proxy Authentication Required'* ]] ||
			fail "curl with '$c' did not see a 407:" "$output"
		n=$((n + 1))
	done
	wait_log "$n"
	expect_count_log 3 ' user=- .* status=407 reason=auth_required '
	expect_clean_exits 6
}

@test "no, unknown or wrong credentials -> 407 auth_required with the exact challenge" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH" --realm "$REALM"
	local t=127.0.0.1:$TPORT
	expect_error 407 auth_required "$(connect_req "$t")"
	expect_challenge
	expect_error 407 auth_required "$(auth_req "$t" 'mallory:alice pw:1')"
	expect_challenge
	expect_error 407 auth_required "$(auth_req "$t" 'ALICE:alice pw:1')"
	expect_error 407 auth_required "$(auth_req "$t" 'alice:alice pw:2')"
	expect_challenge
	expect_error 407 auth_required "$(auth_req "$t" 'alice:alice pw:1 ')"
	expect_error 407 auth_required "$(auth_req "$t" 'bob:')"
	expect_error 407 auth_required "$(auth_req "$t" ':b0b-Secret')"
	# another scheme is no credentials at all
	expect_error 407 auth_required "$(raw_auth_req "$t" 'Bearer YWxpY2U6YWxpY2UgcHc6MQ==')"
	expect_challenge
	# and the right ones: the tunnel
	expect_tunnel "$(auth_req "$t" 'alice:alice pw:1')"
	expect_tunnel "$(raw_auth_req "$t" "bAsIc   $(printf 'bob:b0b-Secret' | base64 -w0)")"
	report_cases
	wait_log 10
	[[ $(log_lines | grep -c ' user=- .* status=407 reason=auth_required ') == 8 ]] ||
		fail "expected 8 lines with user=- status=407:" "$(log_lines)"
	[[ $(log_lines | grep -c ' status=407 .* tried=-$') == 8 ]] ||
		fail "a refused request was dialled:" "$(log_lines)"
}

@test "the default realm is connectd" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH"
	expect_error 407 auth_required "$(connect_req "127.0.0.1:$TPORT")"
	report_cases
	has_line 'HDR proxy-authenticate: Basic realm="connectd", charset="UTF-8"'
}

@test "malformed Basic credentials -> 400 bad_credentials" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH"
	local t=127.0.0.1:$TPORT
	expect_error 400 bad_credentials "$(raw_auth_req "$t" 'Basic !!!!')"
	expect_error 400 bad_credentials "$(raw_auth_req "$t" 'Basic YWxpY2U6YWxpY2UgcHc6MQ')"
	expect_error 400 bad_credentials "$(raw_auth_req "$t" 'Basic YWxp Y2U6')"
	expect_error 400 bad_credentials "$(raw_auth_req "$t" 'Basic')"
	# decoded without a colon ("alice", "alicealice pw1")
	expect_error 400 bad_credentials "$(raw_auth_req "$t" "Basic $(printf alice | base64 -w0)")"
	expect_error 400 bad_credentials "$(auth_req "$t" 'alicealice pw1')"
	# a control byte in the decoded text
	expect_error 400 bad_credentials \
		"$(raw_auth_req "$t" "Basic $(printf 'alice:a\001b' | base64 -w0)")"
	report_cases
	wait_log 7
	[[ $(log_lines | grep -c ' user=- .* status=400 reason=bad_credentials .* tried=-$') == 7 ]] ||
		fail "expected 7 bad_credentials lines:" "$(log_lines)"
}

@test "curl --proxy-anyauth: 407 first, then the retry with Basic credentials succeeds" {
	start_tls_target
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH" --realm "$REALM"
	curl_via_proxy --proxy-anyauth --proxy-user 'carol:pä55wörd'
	echo "$output"
	((status == 0)) || fail "curl failed ($status): $output" "$(cat "$PROXY_LOG")"
	[[ $output == "$TLS_BODY" ]]
	# two connections: the challenge (curl sent no credentials), then the
	# tunnel for carol
	wait_log 2
	expect_count_log 2 '.'
	expect_count_log 1 " user=- target=localhost:$TPORT .* status=407 reason=auth_required "
	expect_count_log 1 " user=carol target=localhost:$TPORT .* status=200 "
	expect_clean_exits 2
}

@test "the log carries user=NAME and never the credentials" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH"
	local t=127.0.0.1:$TPORT good bad
	good=$(printf '%s' 'alice:alice pw:1' | base64 -w0)
	bad=$(printf '%s' 'alice:wrong-secret' | base64 -w0)
	expect_tunnel "$(auth_req "$t" 'alice:alice pw:1')"
	expect_error 407 auth_required "$(auth_req "$t" 'alice:wrong-secret')"
	expect_error 400 bad_credentials "$(raw_auth_req "$t" "Basic ${good%=*}")"
	report_cases
	wait_log 3
	log_lines | grep -q " user=alice target=$t .* status=200 " ||
		fail "no user=alice line:" "$(log_lines)"
	local s
	for s in Proxy-Authorization Basic "$good" "$bad" "${good%=*}" 'alice pw' wrong-secret; do
		run grep -aicF -- "$s" "$PROXY_LOG"
		[[ $output == 0 ]] || fail "the launcher's stderr contains '$s':" "$(cat "$PROXY_LOG")"
	done
}

@test "credentials come before the port and the name; after them the port and name checks still apply" {
	hosts_file '127.0.0.1 blocked.test'
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH" --realm "$REALM" \
		--deny-dest blocked.test
	expect_error 407 auth_required "$(connect_req "127.0.0.1:1")"
	expect_challenge
	expect_error 407 auth_required "$(connect_req "blocked.test:$TPORT")"
	expect_error 400 bad_credentials "$(raw_auth_req "127.0.0.1:1" 'Basic !!')"
	expect_error 403 port_not_allowed "$(auth_req "127.0.0.1:1" 'bob:b0b-Secret')"
	expect_error 403 name_not_allowed "$(auth_req "blocked.test:$TPORT" 'bob:b0b-Secret')"
	report_cases
	wait_log 5
	expect_count_log 1 " user=- target=127.0.0.1:1 .* status=407 reason=auth_required "
	expect_count_log 1 " user=- target=blocked.test:$TPORT .* status=407 reason=auth_required "
	expect_count_log 1 " user=bob target=127.0.0.1:1 .* status=403 reason=port_not_allowed "
	expect_count_log 1 " user=bob target=blocked.test:$TPORT .* status=403 reason=name_not_allowed "
	expect_count_log 5 ' tried=-$'
}

@test "the auth file is read per connection: an edit applies to the next one" {
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH"
	local t=127.0.0.1:$TPORT
	expect_tunnel "$(auth_req "$t" 'bob:b0b-Secret')"
	sed -i '/^bob:/d' "$AUTH"
	expect_error 407 auth_required "$(auth_req "$t" 'bob:b0b-Secret')"
	expect_tunnel "$(auth_req "$t" 'alice:alice pw:1')"
	report_cases
}

# cases_ok : the expect_error cases so far passed (report_cases without its
# exit status check, for proxies that must exit 2)
cases_ok() {
	((${#CASE_FAILS[@]} == 0)) && return 0
	printf '%s\n' "${CASE_FAILS[@]}" >&2
	return 1
}

_exit2_seen() { grep -aq ' died with code 2$' "$PROXY_LOG"; }

# expect_config_error FILE WORDS : a request with good credentials gets 500
# config_error, connectd exits 2 and logs a line naming FILE and WORDS
expect_config_error() {
	local f=$1 words=$2
	expect_error 500 config_error "$(auth_req "127.0.0.1:$TPORT" 'alice:alice pw:1')"
	cases_ok
	wait_until 10 _exit2_seen || fail "connectd did not exit 2:" "$(cat "$PROXY_LOG")"
	local l
	l=$(grep -aF "connectd: --auth-file: $f" "$PROXY_LOG") ||
		fail "no log line naming $f:" "$(cat "$PROXY_LOG")"
	[[ ${l,,} =~ $words ]] || fail "the log line does not say /$words/:" "$l"
	log_lines | grep -q ' status=500 reason=config_error ' ||
		fail "no status=500 record:" "$(cat "$PROXY_LOG")"
	run grep -ac ' died with code ' "$PROXY_LOG"
	[[ $output == 1 ]]
	run grep -ac ' died with code 2$' "$PROXY_LOG"
	[[ $output == 1 ]]
}

@test "a world-readable auth file: 500 config_error, connectd exits 2 and names the file" {
	chmod 0644 "$AUTH"
	start_target echo
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH"
	expect_config_error "$AUTH" 'readable|writable|mode|permission|others'
}

@test "a world-writable or a missing auth file: 500 config_error, exit 2" {
	chmod 0602 "$AUTH"
	start_target echo
	start_proxy_p accept --allow-port "$TPORT" --auth-file "$AUTH"
	expect_config_error "$AUTH" 'readable|writable|mode|permission|others'
	stop_proxy
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH.missing"
	expect_config_error "$AUTH.missing" 'no such file|exist|open'
}

@test "a group-writable auth file: 500 config_error, exit 2, the log says so" {
	chmod 0620 "$AUTH"
	start_target echo
	start_proxy_p accept --allow-port "$TPORT" --auth-file "$AUTH"
	expect_config_error "$AUTH" 'writable by its group \(mode 0620\)'
	stop_proxy
	chmod 0660 "$AUTH"
	start_proxy accept --allow-port "$TPORT" --auth-file "$AUTH"
	expect_config_error "$AUTH" 'writable by its group \(mode 0660\)'
}

@test "connectd as root (inetd): a 0600 auth file another user owns is refused, 500 config_error, exit 2" {
	((EUID == 0)) || skip "needs root to give the file away"
	chown "$AU_OTHER:$AU_OTHER" "$AUTH"
	start_target echo
	start_proxy inetd --allow-port "$TPORT" --auth-file "$AUTH"
	expect_config_error "$AUTH" "owned by uid $(id -u "$AU_OTHER"), neither root nor uid 0 "
}

# start_proxy_user USER [connectd args...] : the accept launcher and
# connectd run as USER, its port file in $AU_DIR/run; for stop_proxy
start_proxy_user() {
	local u=$1
	shift
	install -d -o "$u" -m 0700 "$AU_DIR/run"
	rm -f "$AU_DIR/run/proxy.port"
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=accept
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	bg proxy isolated setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups -- \
		"$PY" "$TOOLS/activate.py" --port-file "$AU_DIR/run/proxy.port" -- \
		"$CONNECTD" "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} "$@"
	PROXY_PID=$BG_PID
	read_port_file "$AU_DIR/run/proxy.port" PPORT || fail "launcher: $(cat "$PROXY_LOG")"
}

@test "connectd as a user: its own 0600 file and root's 0640 file of its group work; a third user's file is refused" {
	((EUID == 0)) || skip "needs root to make files for other users"
	AU_DIR=$(mktemp -d /tmp/connectd-auth.XXXXXX)
	chmod 0755 "$AU_DIR"
	install -m 0600 -o "$AU_SVC" -g "$AU_SVC" "$AUTH" "$AU_DIR/own"
	install -m 0640 -o root -g "$AU_SVC" "$AUTH" "$AU_DIR/root"
	install -m 0640 -o "$AU_OTHER" -g "$AU_SVC" "$AUTH" "$AU_DIR/other"
	start_target echo
	local f t=127.0.0.1:$TPORT
	for f in own root; do
		start_proxy_user "$AU_SVC" --allow-port "$TPORT" --auth-file "$AU_DIR/$f"
		expect_tunnel "$(auth_req "$t" 'alice:alice pw:1')"
		expect_error 407 auth_required "$(auth_req "$t" 'alice:alice pw:2')"
		report_cases
		expect_clean_exits 2
		stop_proxy
	done
	start_proxy_user "$AU_SVC" --allow-port "$TPORT" --auth-file "$AU_DIR/other"
	expect_config_error "$AU_DIR/other" \
		"owned by uid $(id -u "$AU_OTHER"), neither root nor uid $(id -u "$AU_SVC") "
}
