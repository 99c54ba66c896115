#!/usr/bin/env bats
# Real clients through connectd (issue 11): curl (HTTP/1.1 and HTTP/2 in
# the tunnel, --proxy-user, --proxy-anyauth after a 407, -p), wget, openssl
# s_client -proxy, socat PROXY:, Python's urllib and http.client, OpenBSD
# nc -X connect, ssh through nc, git clone over HTTPS, Node.js with undici's
# ProxyAgent, Go's net/http, headless Chromium and headless Firefox ESR.
# Each runs under systemd-socket-activate (start_proxy accept); curl and
# Chromium also against the high-rate mode (--listen).  Every TLS client
# verifies the target's certificate against the suite's test CA.  Then the
# decisions clients need (man page STANDARDS), and TLS to the proxy:
# curl --proxy https:// through stunnel4 and examples/stunnel/stunnel.conf.
#
# The targets live on loopback: tools/webtarget.js (Node.js, one TLS port
# speaking HTTP/2 and HTTP/1.1, a page with a script and an image, git
# smart HTTP, a request log), Python's http.server for plain HTTP, an sshd
# the test starts with its own host key and config.  Clients that are not
# Debian packages come from build-clients/ (make build-clients).
#
# The browsers take seconds each: they run once per make check, with the
# plain build (no CONNECTD_EXTRA, not ASan); the other builds skip them
# with that reason.  A client that is missing fails its test.

# shellcheck disable=SC2034 # read by bats
# shellcheck disable=SC2153 # TPORT, BG_PID: set by helpers.bash
BATS_TEST_TIMEOUT=90
bats_require_minimum_version 1.5.0
load helpers

CLIENTS=$BATS_TEST_DIRNAME/../build-clients
# targets on any loopback port
PORTS=(--allow-port 1-65535)

setup_file() {
	local d=$BATS_FILE_TMPDIR
	make_test_ca "$d" || return 1
	# a bare repository with one commit, for git clone
	(
		export GIT_CONFIG_NOSYSTEM=1 HOME=$d
		git init -q --bare "$d/git/repo.git" &&
			git init -q -b main "$d/work" &&
			printf 'cloned through connectd\n' >"$d/work/README" &&
			git -C "$d/work" add README &&
			git -C "$d/work" -c user.name=t -c user.email=t@localhost \
				commit -qm 'the commit the test clones' &&
			git -C "$d/work" push -q "$d/git/repo.git" main &&
			git -C "$d/git/repo.git" symbolic-ref HEAD refs/heads/main
	) >"$d/git.log" 2>&1 || {
		cat "$d/git.log" >&2
		return 1
	}
	# one HTTPS target for the whole file (node starts in ~0.1 s, but the
	# browsers' tests reuse its request log across nothing: each test
	# reads only the lines it caused, by offset)
	node "$BATS_TEST_DIRNAME/tools/webtarget.js" --cert "$d/srv.pem" --key "$d/srv.key" \
		--port-file "$d/web.port" --log "$d/web.log" --git-root "$d/git" \
		</dev/null >"$d/web.out" 2>"$d/web.err" 3>&- &
	echo $! >"$d/web.pid"
	touch "$d/web.log"
	local tries=200
	until [[ -s $d/web.port ]]; do
		((tries-- > 0)) || {
			echo "webtarget did not start: $(cat "$d/web.err")" >&2
			return 1
		}
		sleep 0.05
	done
}

teardown_file() {
	[[ -s $BATS_FILE_TMPDIR/web.pid ]] && kill "$(cat "$BATS_FILE_TMPDIR/web.pid")" 2>/dev/null
	return 0
}

setup() {
	common_setup
	CA=$BATS_FILE_TMPDIR/ca.pem
	WPORT=$(cat "$BATS_FILE_TMPDIR/web.port")
	WEB_LOG=$BATS_FILE_TMPDIR/web.log
	WEB_MARK=$(wc -l <"$WEB_LOG")
	export HOME=$BATS_TEST_TMPDIR/home GIT_CONFIG_NOSYSTEM=1
	mkdir -p "$HOME"
	unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY \
		GIT_SSL_CAINFO GIT_SSL_CAPATH GIT_SSL_NO_VERIFY
}

teardown() { common_teardown; }

# --- local helpers -----------------------------------------------------------

# need CMD... : the commands exist, or the test fails naming them
need() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	((${#missing[@]} == 0)) || fail "not installed: ${missing[*]} (scripts/deps.sh check)"
}

# web_requests : the webtarget's request lines since this test began
web_requests() { tail -n +"$((WEB_MARK + 1))" "$WEB_LOG"; }

# proxy_mode MODE [connectd args...] : connectd under
# systemd-socket-activate (accept) or in the high-rate mode (listen) on
# 127.0.0.1; sets PPORT and PROXY_LOG
proxy_mode() {
	local mode=$1
	shift
	case $mode in
	accept) start_proxy accept "${PORTS[@]}" "$@" ;;
	listen) start_listen "${PORTS[@]}" "$@" ;;
	*) fail "unknown mode $mode" ;;
	esac
}

_listening_by() { ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"; }

# start_listen [connectd args...] : connectd --listen 127.0.0.1:PORT on a
# free port (tests/server.bats has the full version); sets PPORT, PROXY_LOG
start_listen() {
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	set -- "${LAB_RULES[@]}" ${CONNECTD_EXTRA:-} "$@"
	local port try
	PROXY_LOG=$BATS_TEST_TMPDIR/server.err
	PROXY_LAUNCHER=server
	for try in 1 2 3; do
		port=$(free_port)
		bg server isolated "$CONNECTD" --listen "127.0.0.1:$port" "$@"
		if wait_until 10 _listening "$port"; then
			PPORT=$port
			return 0
		fi
	done
	fail "connectd --listen did not listen: $(cat "$PROXY_LOG")"
}

# start_http HOST : Python's http.server on HOST port 0 serving a directory
# with hello.txt; sets HPORT
start_http() {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	printf 'plain hello over %s\n' "$1" >"$BATS_TEST_TMPDIR/www/hello.txt"
	bg http "$PY" -u -m http.server --bind "$1" --directory "$BATS_TEST_TMPDIR/www" 0
	wait_until 10 _http_port_known || fail "http.server did not start: $(cat http.err)"
	HPORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$BATS_TEST_TMPDIR/http.out" | head -n1)
}

_http_port_known() { grep -q ' port [0-9]* ' "$BATS_TEST_TMPDIR/http.out" 2>/dev/null; }

# log_has PATTERN : a connectd log line matches the extended regex
log_has() {
	wait_until 10 _log_match "$1" || fail "no connectd log line matches: $1" "$(cat "$PROXY_LOG")"
}

_log_match() { log_lines | grep -qE "$1"; }

# tunnel_logged PORT : connectd logged a 200 to localhost:PORT, the name
# every client below is given, as users give names
tunnel_logged() { log_has "target=localhost:$1 .*status=200"; }

# curl_https MODE : curl through the proxy in MODE, HTTP/1.1 and HTTP/2
curl_https() {
	proxy_mode "$1"
	run curl -sS --fail --max-time 20 --cacert "$CA" -x "http://127.0.0.1:$PPORT" \
		--http1.1 "https://127.0.0.1:$WPORT/hello"
	((status == 0)) || fail "curl --http1.1: $output"
	[[ $output == 'hello from webtarget 1.1' ]] || fail "curl --http1.1 got: $output"
	run curl -sS --fail --max-time 20 --cacert "$CA" -x "http://127.0.0.1:$PPORT" \
		--http2 "https://localhost:$WPORT/hello"
	((status == 0)) || fail "curl --http2: $output"
	[[ $output == 'hello from webtarget 2.0' ]] || fail "curl --http2 got: $output"
	tunnel_logged "$WPORT"
	log_has "target=localhost:$WPORT .*status=200"
}

# browsers_here : the browsers run with the plain build only (see above)
browsers_here() {
	[[ -z ${CONNECTD_EXTRA:-} ]] && ! is_asan_build
}

# page_loaded_through_proxy : the webtarget served /, /app.js and
# /pixel.png in this test, and connectd logged the tunnel
page_loaded_through_proxy() {
	local reqs p
	reqs=$(web_requests)
	for p in / /app.js /pixel.png; do
		grep -qE "^[12]\.[01] GET $p\$" <<<"$reqs" ||
			fail "the target never served $p; it served:" "$reqs"
	done
	log_has "target=localhost:$WPORT .*status=200"
}

# users file with alice:"alice pw" (yescrypt)
make_users() {
	local h
	if command -v mkpasswd >/dev/null; then
		h=$(mkpasswd -m yescrypt 'alice pw')
	else
		h=$("$PY" "$TOOLS/hashpw.py" yescrypt 'alice pw')
	fi
	(
		umask 077
		printf 'alice:%s\n' "$h" >"$BATS_TEST_TMPDIR/users"
	)
}

# --- curl --------------------------------------------------------------------

@test "curl: HTTPS with HTTP/1.1 and HTTP/2 in the tunnel (socket-activated)" {
	curl_https accept
	expect_clean_exits 2
}

@test "curl: HTTPS with HTTP/1.1 and HTTP/2 in the tunnel (high-rate mode)" {
	curl_https listen
}

@test "curl --proxy-user, and --proxy-anyauth reconnecting after the 407 (which closes)" {
	make_users
	proxy_mode accept --auth-file "$BATS_TEST_TMPDIR/users"
	run curl -sS --fail --max-time 20 --cacert "$CA" -x "http://127.0.0.1:$PPORT" \
		--proxy-user 'alice:alice pw' "https://localhost:$WPORT/hello"
	[[ $status == 0 && $output == 'hello from webtarget 2.0' ]] || fail "--proxy-user: $output"
	log_has 'user=alice .*status=200|status=200.*user=alice'
	# --proxy-anyauth asks without credentials first, gets the 407 with
	# Connection: close, and must ask again on a new connection
	run curl -sS -v --fail --max-time 20 --cacert "$CA" -x "http://127.0.0.1:$PPORT" \
		--proxy-anyauth --proxy-user 'alice:alice pw' "https://localhost:$WPORT/hello"
	[[ $status == 0 && $output == *'hello from webtarget 2.0' ]] || fail "--proxy-anyauth: $output"
	[[ $output == *'HTTP/1.1 407 '* ]] || fail "curl never saw the 407: $output"
	log_has 'status=407'
	expect_clean_exits 3
	(($(log_lines | grep -c 'status=200') == 2)) || fail "two tunnels expected:" "$(log_lines)"
}

@test "curl -p: a tunnel to a plain TCP service (HTTP on loopback)" {
	start_http 127.0.0.1
	proxy_mode accept
	run curl -sS --fail --max-time 20 -p -x "http://127.0.0.1:$PPORT" \
		"http://localhost:$HPORT/hello.txt"
	[[ $status == 0 && $output == 'plain hello over 127.0.0.1' ]] || fail "curl -p: $output"
	tunnel_logged "$HPORT"
}

# --- wget, openssl, socat -------------------------------------------------------

@test "wget with https_proxy" {
	need wget
	proxy_mode accept
	run env https_proxy="http://127.0.0.1:$PPORT" wget -q -O - --tries=1 --timeout=20 \
		--ca-certificate="$CA" "https://localhost:$WPORT/hello"
	[[ $status == 0 && $output == 'hello from webtarget 1.1' ]] || fail "wget: $output"
	tunnel_logged "$WPORT"
}

@test "openssl s_client -proxy, the certificate verified" {
	proxy_mode accept
	run bash -c 'printf "GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" |
		timeout 20 openssl s_client -quiet -proxy "127.0.0.1:$1" -connect "localhost:$2" \
			-servername localhost -verify_hostname localhost -CAfile "$3" \
			-verify_return_error -alpn http/1.1 2>&1' _ "$PPORT" "$WPORT" "$CA"
	[[ $output == *'verify return:1'* ]] || fail "no verification: $output"
	[[ $output == *'hello from webtarget 1.1'* ]] || fail "s_client: $output"
	log_has "target=localhost:$WPORT .*status=200"
}

@test "socat PROXY: to an echo target" {
	need socat
	start_target echo
	proxy_mode accept
	run bash -c 'printf "ping over socat\n" |
		timeout 20 socat - "PROXY:127.0.0.1:localhost:$2,proxyport=$1"' _ "$PPORT" "$TPORT"
	[[ $status == 0 && $output == 'ping over socat' ]] || fail "socat: $status $output"
	tunnel_logged "$TPORT"
}

# --- Python ---------------------------------------------------------------------

@test "Python urllib.request with https_proxy" {
	proxy_mode accept
	run env https_proxy="http://127.0.0.1:$PPORT" "$PY" -c '
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
op = urllib.request.build_opener(urllib.request.ProxyHandler(),
                                  urllib.request.HTTPSHandler(context=ctx))
sys.stdout.write(op.open(sys.argv[1], timeout=20).read().decode())' \
		"https://localhost:$WPORT/hello" "$CA"
	[[ $status == 0 && $output == 'hello from webtarget 1.1' ]] || fail "urllib: $output"
	tunnel_logged "$WPORT"
}

@test "Python http.client set_tunnel" {
	proxy_mode accept
	run "$PY" -c '
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=20)
c.set_tunnel("localhost", int(sys.argv[2]))
c.request("GET", "/hello")
r = c.getresponse()
sys.stdout.write("%d %s" % (r.status, r.read().decode()))' "$PPORT" "$WPORT" "$CA"
	[[ $status == 0 && $output == '200 hello from webtarget 1.1' ]] || fail "http.client: $output"
	log_has "target=localhost:$WPORT .*status=200"
}

# CPython 3.12 and later send "CONNECT [::1]:PORT HTTP/1.1" with
# "Host: ::1:PORT", the address unbracketed.  CPython 3.11 (Debian 12)
# writes the tunnel host unbracketed in the request line instead and sends
# no Host; the test makes 3.11's http.client send 3.12's request (a
# bracketed tunnel host, the unbracketed Host given as a header) and then
# do its HTTP over the tunnel.
@test "Python http.client: an IPv6 target (::1) with an unbracketed Host, as CPython 3.12+ sends" {
	start_http ::1
	proxy_mode accept
	run "$PY" -c '
import http.client, sys
p = int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
c.set_tunnel("::1", p, headers={"Host": "::1:%d" % p})
c._tunnel_host = "[::1]"
c.request("GET", "/hello.txt")
r = c.getresponse()
sys.stdout.write("%d %s" % (r.status, r.read().decode()))' "$PPORT" "$HPORT"
	[[ $status == 0 && $output == '200 plain hello over ::1' ]] || fail "http.client: $output"
	log_has "target=\[::1\]:$HPORT .*status=200"
}

@test "Python 3.11 http.client: an unbracketed IPv6 request target gets 400 bad_target" {
	start_http ::1
	proxy_mode accept
	run "$PY" -c '
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
c.set_tunnel("::1", int(sys.argv[2]))
try:
    c.request("GET", "/hello.txt")
except OSError as e:
    print(e)' "$PPORT" "$HPORT"
	if [[ $output != *'Tunnel connection failed: 400 '* ]]; then
		# a CPython that brackets the host (3.12+) must get its tunnel
		[[ $output == *'hello'* ]] || fail "neither a 400 nor a tunnel: $output"
		return 0
	fi
	log_has 'status=400 reason=bad_target'
}

# --- nc, ssh ----------------------------------------------------------------------

@test "OpenBSD nc -X connect -x (HTTP/1.0, no Host)" {
	need nc
	start_target echo
	proxy_mode accept
	run bash -c 'printf "ping over nc\n" |
		timeout 20 nc -N -X connect -x "127.0.0.1:$1" localhost "$2"' _ "$PPORT" "$TPORT"
	[[ $status == 0 && $output == 'ping over nc' ]] || fail "nc: $status $output"
	tunnel_logged "$TPORT"
}

# start_sshd : an sshd on 127.0.0.1 with its own host key and config,
# accepting only the key it makes (ssh_key); sets SPORT and SSH (the ssh
# command line up to the destination, through ProxyCommand nc)
start_sshd() {
	need sshd ssh ssh-keygen nc
	local d=$BATS_TEST_TMPDIR/ssh me
	me=$(id -un)
	mkdir -p "$d"
	# sshd's privilege separation directory (Debian's package makes it at boot)
	[[ -d /run/sshd ]] || mkdir -m 0755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" -C sshd-host
	ssh-keygen -q -t ed25519 -N '' -f "$d/client_key" -C ssh-client
	cp "$d/client_key.pub" "$d/authorized_keys"
	SPORT=$(free_port)
	cat >"$d/sshd_config" <<-EOF
		ListenAddress 127.0.0.1:$SPORT
		HostKey $d/host_key
		PidFile none
		AuthorizedKeysFile $d/authorized_keys
		StrictModes no
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PermitRootLogin prohibit-password
		UsePAM no
		AllowUsers $me
		LogLevel VERBOSE
	EOF
	printf '[localhost]:%s %s\n' "$SPORT" "$(cat "$d/host_key.pub")" >"$d/known_hosts"
	bg sshd "$(command -v sshd)" -D -e -f "$d/sshd_config"
	wait_until 10 _listening "$SPORT" || fail "sshd did not start: $(cat sshd.err)"
	SSH=(ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$d/client_key"
		-o UserKnownHostsFile="$d/known_hosts" -o GlobalKnownHostsFile=/dev/null
		-o StrictHostKeyChecking=yes -o ConnectTimeout=20
		-o ProxyCommand="nc -X connect -x 127.0.0.1:$PPORT %h %p"
		-p "$SPORT" "$me@localhost")
}

@test "ssh through ProxyCommand nc -X connect: key login, a command and its output" {
	proxy_mode accept
	start_sshd
	# shellcheck disable=SC2016 # expanded by the remote shell
	run timeout 30 "${SSH[@]}" 'echo "ran on $(hostname) as $(id -un): $((6 * 7))"'
	[[ $status == 0 && $output == "ran on $(hostname) as $(id -un): 42" ]] ||
		fail "ssh: $status $output" "--- sshd:" "$(cat sshd.err)"
	tunnel_logged "$SPORT"
}

@test "ssh: an interactive session idle longer than --request-timeout keeps working" {
	proxy_mode accept --request-timeout 1
	start_sshd
	# a terminal session: one command, 3 s of silence (three request
	# deadlines), another command, exit
	run bash -c '{ echo "echo before-\$((40 + 2))"; sleep 3
		echo "echo after-\$((50 + 5))"; echo exit; } |
		timeout 30 "$@" -tt' _ "${SSH[@]}"
	[[ $output == *before-42* ]] || fail "no output before the pause: $output"
	[[ $output == *after-55* ]] || fail "no output after the pause: $output"
	((status == 0)) || fail "ssh ended with $status: $output"
	tunnel_logged "$SPORT"
}

# --- git --------------------------------------------------------------------------

@test "git clone over HTTPS through http.proxy (smart HTTP)" {
	need git
	proxy_mode accept
	run timeout 60 git -c http.proxy="http://127.0.0.1:$PPORT" -c http.sslCAInfo="$CA" \
		-c http.sslVerify=true clone -q "https://localhost:$WPORT/git/repo.git" clone
	((status == 0)) || fail "git clone: $output" "--- target:" "$(cat "$BATS_FILE_TMPDIR/web.err")"
	[[ $(cat clone/README) == 'cloned through connectd' ]] || fail "wrong clone: $(ls -la clone)"
	web_requests | grep -q 'POST /git/repo.git/git-upload-pack$' ||
		fail "no upload-pack request:" "$(web_requests)"
	tunnel_logged "$WPORT"
}

# --- Node.js, Go ------------------------------------------------------------------

@test "Node.js with undici's ProxyAgent" {
	need node
	[[ -f $CLIENTS/node_modules/undici/package.json ]] ||
		fail "undici is not in $CLIENTS (make build-clients)"
	proxy_mode accept
	run env NODE_PATH="$CLIENTS/node_modules" node "$TOOLS/undici_get.js" \
		"https://localhost:$WPORT/hello" "http://127.0.0.1:$PPORT" "$CA"
	[[ $status == 0 && $output == $'200\nhello from webtarget 1.1' ]] || fail "undici: $output"
	tunnel_logged "$WPORT"
}

@test "Go net/http with HTTPS_PROXY (HTTP/2 in the tunnel)" {
	[[ -x $CLIENTS/goget ]] || fail "$CLIENTS/goget is missing (make build-clients)"
	proxy_mode accept
	run env HTTPS_PROXY="http://127.0.0.1:$PPORT" "$CLIENTS/goget" \
		"https://localhost:$WPORT/hello" "$CA"
	[[ $status == 0 && $output == $'200 HTTP/2.0\nhello from webtarget 2.0' ]] || fail "go: $output"
	tunnel_logged "$WPORT"
}

# --- browsers ---------------------------------------------------------------------

# chromium_page MODE : headless Chromium loads the page through the proxy
# in MODE; the test CA is in the NSS database Chromium reads
# ($HOME/.pki/nssdb), so verification is on; no certificate error is
# ignored
chromium_page() {
	browsers_here || skip "browsers run with the plain build only"
	need chromium certutil
	mkdir -p "$HOME/.pki/nssdb"
	certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password
	certutil -A -d "sql:$HOME/.pki/nssdb" -n connectd-test-ca -t C,, -i "$CA"
	proxy_mode "$1"
	run isolated timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-quic \
		--disable-dev-shm-usage --user-data-dir="$BATS_TEST_TMPDIR/chromium" \
		--proxy-server="http://127.0.0.1:$PPORT" --proxy-bypass-list='<-loopback>' \
		--dump-dom "https://localhost:$WPORT/"
	[[ $output == *'<title>connectd-ok</title>'* ]] ||
		fail "the page did not run its script and load its image:" "$output"
	[[ $output == *'<p id="status">script and image loaded</p>'* ]] || fail "DOM: $output"
	page_loaded_through_proxy
}

@test "Chromium headless: an HTTPS page, its script and image (socket-activated)" {
	chromium_page accept
}

@test "Chromium headless: an HTTPS page, its script and image (high-rate mode)" {
	chromium_page listen
}

@test "Firefox ESR headless: the same page through the profile's proxy, screenshot and server log" {
	browsers_here || skip "browsers run with the plain build only"
	need firefox-esr certutil
	local prof=$BATS_TEST_TMPDIR/ffprofile
	mkdir -p "$prof"
	certutil -N -d "sql:$prof" --empty-password
	certutil -A -d "sql:$prof" -n connectd-test-ca -t C,, -i "$CA"
	proxy_mode accept
	# every protocol goes to the proxy (plain HTTP gets connectd's 405),
	# nothing runs in the background, no DNS over HTTPS
	cat >"$prof/user.js" <<-EOF
		user_pref("network.proxy.type", 1);
		user_pref("network.proxy.ssl", "127.0.0.1");
		user_pref("network.proxy.ssl_port", $PPORT);
		user_pref("network.proxy.http", "127.0.0.1");
		user_pref("network.proxy.http_port", $PPORT);
		user_pref("network.proxy.share_proxy_settings", false);
		user_pref("network.proxy.no_proxies_on", "");
		user_pref("network.proxy.allow_hijacking_localhost", true);
		user_pref("network.trr.mode", 5);
		user_pref("network.captive-portal-service.enabled", false);
		user_pref("network.connectivity-service.enabled", false);
		user_pref("network.dns.disablePrefetch", true);
		user_pref("network.prefetch-next", false);
		user_pref("app.update.enabled", false);
		user_pref("app.normandy.enabled", false);
		user_pref("browser.safebrowsing.malware.enabled", false);
		user_pref("browser.safebrowsing.phishing.enabled", false);
		user_pref("browser.safebrowsing.downloads.enabled", false);
		user_pref("browser.shell.checkDefaultBrowser", false);
		user_pref("datareporting.policy.dataSubmissionEnabled", false);
		user_pref("datareporting.healthreport.uploadEnabled", false);
		user_pref("toolkit.telemetry.enabled", false);
		user_pref("extensions.update.enabled", false);
		user_pref("extensions.getAddons.cache.enabled", false);
		user_pref("services.settings.server", "https://127.0.0.1:1/");
		user_pref("browser.region.network.url", "");
		user_pref("media.gmp-manager.url", "");
		user_pref("security.OCSP.enabled", 0);
	EOF
	run isolated timeout 60 firefox-esr --headless --no-remote --profile "$prof" \
		--window-size 400,300 --screenshot "$BATS_TEST_TMPDIR/shot.png" "https://localhost:$WPORT/"
	[[ -s $BATS_TEST_TMPDIR/shot.png ]] || fail "no screenshot ($status):" "$output"
	# a rendered 400x300 PNG with text and the image is some KiB; an
	# error page screenshot has no request in the target's log
	(($(stat -c %s "$BATS_TEST_TMPDIR/shot.png") > 1000)) || fail "screenshot too small"
	page_loaded_through_proxy
}

# --- decisions where a client needs one (man page STANDARDS, CAVEATS) --------------

@test "decision: an unbracketed IPv6 Host is accepted (CPython 3.12+), the target stays bracketed" {
	start_target echo --host ::1
	proxy_mode accept
	expect_tunnel 'CONNECT [::1]:{T} HTTP/1.1\r\nHost: ::1:{T}\r\n\r\n'
	expect_tunnel 'CONNECT [::1]:{T} HTTP/1.1\r\nHost: ::1\r\n\r\n'
	expect_error 400 bad_target 'CONNECT ::1:{T} HTTP/1.1\r\nHost: [::1]:{T}\r\n\r\n'
	expect_error 400 bad_host 'CONNECT [::1]:{T} HTTP/1.1\r\nHost: ::g:{T}\r\n\r\n'
	report_cases
}

@test "decision: Proxy-Connection: keep-alive is ignored; an error still closes" {
	start_target echo
	proxy_mode accept
	expect_tunnel 'CONNECT 127.0.0.1:{T} HTTP/1.1\r\nHost: 127.0.0.1:{T}\r\nProxy-Connection: keep-alive\r\n\r\n'
	expect_error 400 bad_port 'CONNECT 127.0.0.1:0 HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Connection: keep-alive\r\n\r\n'
	report_cases
}

@test "decision: a second request after a refusal on the same connection is never answered" {
	make_users
	start_target observe --out "$BATS_TEST_TMPDIR/observed"
	proxy_mode accept --auth-file "$BATS_TEST_TMPDIR/users"
	local cred
	cred=$(printf 'alice:alice pw' | base64 -w0)
	# the 407, then the retry a client might send on the same connection
	expect_error 407 auth_required "CONNECT 127.0.0.1:{T} HTTP/1.1\\r\\nHost: 127.0.0.1:{T}\\r\\n\\r\\nCONNECT 127.0.0.1:{T} HTTP/1.1\\r\\nHost: 127.0.0.1:{T}\\r\\nProxy-Authorization: Basic $cred\\r\\n\\r\\n"
	report_cases
	(($(log_lines | wc -l) == 1)) || fail "one log line expected:" "$(log_lines)"
	[[ ! -e $BATS_TEST_TMPDIR/observed ]] || fail "the target was dialed: $(cat observed)"
}

# --- TLS to the proxy: stunnel4 in front of connectd (examples/stunnel) -----

# start_stunnel [connectd args...] : examples/stunnel/stunnel.conf with the
# test certificate, $CONNECTD and these arguments, served per connection in
# inetd mode as connectd-tls.socket and connectd-tls@.service do
# (tools/activate.py --inetd: the connection on fds 0 and 1); sets PPORT and
# PROXY_LOG (stunnel's and connectd's stderr)
start_stunnel() {
	need stunnel4
	# shellcheck disable=SC2086 # CONNECTD_EXTRA is a list of options
	set -- "${LAB_RULES[@]}" "${PORTS[@]}" ${CONNECTD_EXTRA:-} "$@"
	local conf=$BATS_TEST_TMPDIR/stunnel.conf pf=$BATS_TEST_TMPDIR/proxy.port
	sed -e "s|^cert = .*|cert = $BATS_FILE_TMPDIR/srv.pem|" \
		-e "s|^key = .*|key = $BATS_FILE_TMPDIR/srv.key|" \
		-e "s|^exec = .*|exec = $CONNECTD|" \
		-e "s|^execArgs = .*|execArgs = connectd $*|" \
		"$BATS_TEST_DIRNAME/../examples/stunnel/stunnel.conf" >"$conf"
	grep -q "^exec = $CONNECTD\$" "$conf" || fail "examples/stunnel/stunnel.conf has no exec line"
	PROXY_LOG=$BATS_TEST_TMPDIR/proxy.err
	PROXY_LAUNCHER=stunnel
	bg proxy isolated "$PY" "$TOOLS/activate.py" --inetd --port-file "$pf" -- \
		"$(command -v stunnel4)" "$conf"
	read_port_file "$pf" PPORT || fail "stunnel did not start: $(cat "$PROXY_LOG")"
}

# curl_tls_proxy [curl options] : GET /hello from the webtarget through
# the proxy over TLS, both certificates verified against the test CA;
# prints curl's local port on a last line of its own
curl_tls_proxy() {
	run curl -sS --fail --max-time 20 --proxy "https://localhost:$PPORT" --proxy-cacert "$CA" \
		--cacert "$CA" -w '\n%{local_port}' "$@" "https://localhost:$WPORT/hello"
}

@test "stunnel: curl --proxy https:// through the example config, both certificates verified" {
	start_stunnel
	curl_tls_proxy
	[[ $status == 0 && ${lines[0]} == 'hello from webtarget 2.0' ]] || fail "curl: $output"
	tunnel_logged "$WPORT"
	# a proxy certificate the client does not trust: no tunnel
	run curl -sS --max-time 20 --proxy "https://localhost:$PPORT" --cacert "$CA" \
		"https://127.0.0.1:$WPORT/hello"
	((status != 0)) || fail "curl trusted an unknown proxy certificate: $output"
}

@test "stunnel: Basic credentials inside the TLS to the proxy" {
	make_users
	start_stunnel --auth-file "$BATS_TEST_TMPDIR/users"
	curl_tls_proxy --proxy-user 'alice:alice pw'
	[[ $status == 0 && ${lines[0]} == 'hello from webtarget 2.0' ]] || fail "curl: $output"
	log_has 'user=alice .*status=200|status=200.*user=alice'
	curl_tls_proxy
	[[ $output == *' 407'* ]] || fail "no 407 without credentials: $output"
}

@test "stunnel: the client's own address (REMOTE_HOST, REMOTE_PORT) reaches connectd's log" {
	start_stunnel
	curl_tls_proxy
	[[ $status == 0 && ${lines[0]} == 'hello from webtarget 2.0' ]] || fail "curl: $output"
	log_has "^connectd: client=127\.0\.0\.1:${lines[1]} .*target=localhost:$WPORT "
}
