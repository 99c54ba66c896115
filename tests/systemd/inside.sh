#!/bin/bash
# tests/systemd/inside.sh: the booted-systemd checks, run as root by
# connectd-check.service inside the Debian 12 container that
# scripts/check-systemd boots (systemd 252 as PID 1).  connectd is installed
# from /stage (make install DESTDIR=/stage PREFIX=/usr on the host), the
# helpers are in /check.  Writes TAP to /results/tap, the measured rates to
# /results/rates ("NAME ROUND conn_s p50_ms"), and a log of every command to
# /results/log; the host reads and asserts them.
#
# Targets: loadgen's echo server on 127.0.0.1:7000.  connectd refuses
# loopback destinations by default, so drop-ins add --allow-dest
# 127.0.0.0/8 and -p 7000 to the services; 127.0.0.1:7003 then gets 403.
set -u
exec 3>/results/tap 4>/results/rates >/results/log 2>&1
PATH=/usr/sbin:/usr/bin:/sbin:/bin
CLIENT=/check/client.py
LG=/check/loadgen
ROUNDS=$(cat /check/rounds 2>/dev/null || echo 2)
ECHO=127.0.0.1:7000
DENIED=127.0.0.1:7003
N=0
FAILED=0

# ok DESCRIPTION CMD... : one TAP line for CMD, its output in the log
ok() {
	local desc=$1 out rc
	shift
	N=$((N + 1))
	echo "### $N $desc: $*"
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	if [ $rc -eq 0 ]; then
		echo "ok $N - $desc" >&3
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $desc" >&3
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /' >&3
	fi
	return $rc
}

# poll SECONDS CMD... : CMD every 0.1 s until it succeeds, for SECONDS
poll() {
	local i=$(($1 * 10))
	shift
	until "$@" >/dev/null 2>&1; do
		i=$((i - 1))
		[ $i -gt 0 ] || { echo "timed out: $*"; "$@"; return 1; }
		sleep 0.1
	done
}

no_failed_units() {
	local f
	f=$(systemctl list-units --failed --no-legend --plain)
	[ -z "$f" ] || { echo "failed units: $f"; systemctl status --no-pager --lines=20 $f; return 1; }
}

# expect WANT CMD... : CMD prints WANT as the start of its output
expect() {
	local want=$1 got
	shift
	got=$("$@" 2>&1)
	echo "got: $got"
	[[ $got == "$want"* ]]
}

# journal_has UNITPATTERN TARGET STATUS : a record of a connection to TARGET
# answered STATUS, as text (target=... status=...) or as journal fields
journal_has() {
	journalctl --no-pager -o cat -u "$1" | grep -q "target=$2 .*status=$3 " && return 0
	journalctl --no-pager -o verbose -u "$1" | grep -q "CONNECTD_STATUS=$3$"
}

# no_active PATTERN : no unit matching PATTERN is still running
no_active() {
	[ -z "$(systemctl list-units --no-legend --plain --state=active,activating,deactivating "$1")" ]
}

# dropin UNIT TEXT : a drop-in for UNIT (system), then daemon-reload
dropin() {
	mkdir -p "/etc/systemd/system/$1.d"
	printf '%s\n' "[Service]" "$2" >"/etc/systemd/system/$1.d/check.conf"
	systemctl daemon-reload
}

# rate NAME PROXY : loadgen's tunnels per second at 4 clients for 3 s
rate() {
	local line
	line=$("$LG" rate -x "$2" -t $ECHO -c 4 -s 3 -w 0.3 2>&1)
	echo "$1: $line"
	echo "$1 $ROUND $(sed -n 's/.*conn_s=\([0-9.]*\) p50_ms=\([0-9.]*\).*/\1 \2/p' <<<"$line")" >&4
}

# ------------------------------------------------------------------ setup
echo "# $(systemctl --version | head -n 1)" >&3
ok "install: connectd from make install DESTDIR PREFIX=/usr" \
	sh -c 'tar -C /stage -cf - . | tar -C / -xf - --keep-directory-symlink &&
		test -x /usr/bin/connectd && systemctl daemon-reload'
[ -f /usr/lib/sysusers.d/connectd.conf ] && systemd-sysusers
systemd-run --quiet --unit=echo-target "$LG" target 7000
poll 5 "$LG" hold -D -t $ECHO -n 1 -s 0 || echo "echo target did not start"

EXEC="--allow-dest 127.0.0.0/8 -p 7000"

# ------------------------------------- a default nspawn: Landlock refused
# The second boot of scripts/check-systemd: nspawn's own seccomp filter
# answers Landlock's calls with EPERM.  The shipped units serve all the
# same, under connectd's seccomp filter, and say what is missing.
if [ "$(cat /check/mode 2>/dev/null)" = nolandlock ]; then
	ok "nolandlock: this container refuses Landlock's calls (EPERM)" \
		python3 -c 'import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset, version
print(rc, ctypes.get_errno())
sys.exit(0 if rc == -1 and ctypes.get_errno() == 1 else 1)'
	dropin connectd@.service "ExecStart=
ExecStart=/usr/bin/connectd $EXEC"
	dropin connectd-fast.service "ExecStart=
ExecStart=/usr/bin/connectd --fork --max-children 4096 $EXEC"
	ok "nolandlock: connectd.socket: systemctl enable --now" systemctl enable --now connectd.socket
	ok "nolandlock: connectd.socket: a tunnel to the echo target" \
		expect "200 echo" $CLIENT tunnel 127.0.0.1:8080 $ECHO
	ok "nolandlock: connectd.socket: the record says landlock=refused (CONNECTD_LANDLOCK)" \
		poll 10 sh -c "journalctl --no-pager -o cat -u 'connectd@*' | grep -q 'target=$ECHO .*status=200 .*landlock=refused ' &&
			journalctl --no-pager -o verbose CONNECTD_LANDLOCK=refused | grep -q CONNECTD_STATUS=200"
	ok "nolandlock: connectd.socket: no warning line per connection" \
		sh -c "! journalctl --no-pager -o cat -u 'connectd@*' | grep -q 'sandbox:'"
	systemctl disable --now connectd.socket
	ok "nolandlock: connectd-fast.socket: systemctl enable --now" systemctl enable --now connectd-fast.socket
	ok "nolandlock: connectd-fast.socket: two tunnels to the echo target" \
		sh -c "$CLIENT tunnel 127.0.0.1:8080 $ECHO | grep -q '^200 echo' &&
			$CLIENT tunnel 127.0.0.1:8080 $ECHO | grep -q '^200 echo'"
	ok "nolandlock: connectd-fast.service says once, at its start, that it serves without Landlock" \
		poll 10 sh -c "[ \$(journalctl --no-pager -o cat -u connectd-fast.service | grep -c 'sandbox: no Landlock (refused); serving under the seccomp filter alone') -eq 1 ]"
	ok "nolandlock: connectd-fast.service: the records say landlock=refused" \
		poll 10 sh -c "[ \$(journalctl --no-pager -o cat -u connectd-fast.service | grep -c 'status=200 .*landlock=refused ') -ge 2 ]"
	systemctl stop connectd-fast.socket connectd-fast.service
	ok "nolandlock: no failed units" no_failed_units
	echo "1..$N" >&3
	exec 3>&- 4>&-
	sync
	exit 0
fi

# The units exactly as installed, before any drop-in.
ok "verify: systemd-analyze verify on the installed units" \
	systemd-analyze --man=no verify connectd.socket connectd@.service \
	connectd-fast.socket connectd-fast.service
installed_exec() {
	local f e n=0
	for f in /lib/systemd/system/connectd* /usr/lib/systemd/user/connectd*; do
		for e in $(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$f"); do
			echo "$f: $e"
			[ "$e" = /usr/bin/connectd ] && [ -x "$e" ] || return 1
			n=$((n + 1))
		done
	done
	[ $n -eq 4 ]
}
ok "install: every installed unit runs /usr/bin/connectd" installed_exec
ok "connectd.socket: systemctl enable --now" systemctl enable --now connectd.socket
# connectd as shipped refuses loopback destinations: an answer at all shows
# the shipped service runs
ok "connectd.socket: as shipped, a loopback target gets 403" \
	expect 403 $CLIENT status 127.0.0.1:8080 $ECHO

dropin connectd@.service "ExecStart=
ExecStart=/usr/bin/connectd $EXEC"
dropin connectd-fast.service "ExecStart=
ExecStart=/usr/bin/connectd --fork --max-children 4096 $EXEC"

# ------------------------------------------------- connectd.socket (Accept=yes)
ok "connectd.socket: a tunnel to the echo target" expect "200 echo" $CLIENT tunnel 127.0.0.1:8080 $ECHO
ok "connectd.socket: a port not allowed gets 403" expect 403 $CLIENT status 127.0.0.1:8080 $DENIED
ok "connectd.socket: both records in journalctl -u 'connectd@*'" \
	poll 10 sh -c "$(declare -f journal_has); journal_has 'connectd@*' $ECHO 200 && journal_has 'connectd@*' $DENIED 403"
ok "connectd.socket: the records are fields: journalctl CONNECTD_STATUS=403 CONNECTD_TARGET=..." \
	poll 10 sh -c "journalctl --no-pager -o cat CONNECTD_STATUS=403 CONNECTD_TARGET=$DENIED | grep -q '^client=.* status=403 reason=port_not_allowed '"
ok "connectd.socket: CONNECTD_BYTES_UP and CONNECTD_DURATION_MS on the tunnel's record" \
	poll 10 sh -c "journalctl --no-pager -o verbose CONNECTD_STATUS=200 CONNECTD_TARGET=$ECHO | grep -q '^ *CONNECTD_BYTES_UP=[0-9]' &&
		journalctl --no-pager -o verbose CONNECTD_STATUS=200 CONNECTD_TARGET=$ECHO | grep -q '^ *CONNECTD_DURATION_MS=[0-9]'"
ok "connectd.socket: no failed units" no_failed_units

# A connection that breaks the in-process sandbox: tools/violate.so, loaded
# with a drop-in, calls execve(2) when the request carries its header.
mkdir -p /etc/systemd/system/connectd@.service.d
printf '%s\n' "[Service]" "Environment=LD_PRELOAD=/check/violate.so" \
	>/etc/systemd/system/connectd@.service.d/violate.conf
systemctl daemon-reload
ok "sandbox: a control request through the shim still gets its tunnel" \
	expect "200 echo" $CLIENT tunnel 127.0.0.1:8080 $ECHO
ok "sandbox: a connection that calls execve gets no answer (killed)" \
	expect 0 $CLIENT violate 127.0.0.1:8080 $ECHO
ok "sandbox: the kill is logged: forbidden system call 59" \
	poll 10 sh -c "journalctl --no-pager -o cat -u 'connectd@*' | grep -q 'sandbox: forbidden system call 59: killed'"
ok "sandbox: systemd saw the instance die of SIGSYS" \
	poll 10 sh -c "journalctl --no-pager -o cat | grep -q 'connectd@.*status=31/SYS'"
rm /etc/systemd/system/connectd@.service.d/violate.conf
systemctl daemon-reload
systemctl reset-failed 'connectd@*' 2>/dev/null

# socket_counts : connections connectd.socket accepted plus those it turned
# away (MaxConnectionsPerSource=), and those still open
socket_counts() {
	systemctl show -p NAccepted -p NRefused -p NConnections connectd.socket |
		awk -F= '{ v[$1] = $2 } END { print v["NAccepted"] + v["NRefused"], v["NConnections"] }'
}
# burst_done BEFORE : systemd has taken all 500 off the queue, and every
# instance has ended (until then a new client from the same address may be
# turned away by MaxConnectionsPerSource=)
burst_done() {
	local n open
	read -r n open < <(socket_counts)
	[ $((n - $1)) -ge 500 ] && [ "$open" -eq 0 ]
}
read -r before _ < <(socket_counts)
ok "connectd.socket: a burst of 500 connections in one second" \
	$CLIENT burst 127.0.0.1:8080 500 1
poll 60 burst_done "$before"
socket_counts
ok "connectd.socket: still active after the burst" expect active systemctl is-active connectd.socket
ok "connectd.socket: serves after the burst" expect "200 echo" $CLIENT tunnel 127.0.0.1:8080 $ECHO
ok "connectd.socket: no failed units after the burst" no_failed_units

# Draining (docs/scaling.md): stopping connectd.socket alone closes the
# listener and leaves a running connectd@ instance to finish its tunnel
rm -f /tmp/hold /tmp/hold.stop
$CLIENT hold 127.0.0.1:8080 $ECHO /tmp/hold &
HOLD=$!
poll 10 grep -q '^open [2-9]' /tmp/hold
ok "connectd.socket: systemctl stop connectd.socket alone with a tunnel open" \
	timeout 30 systemctl stop connectd.socket
ok "connectd.socket: stopped, nothing listens" \
	sh -c "[ \"\$(systemctl is-active connectd.socket)\" = inactive ] && ! $CLIENT status 127.0.0.1:8080 $ECHO"
ok "connectd.socket: the instance serves its tunnel on after the stop" \
	sh -c 'a=$(cut -d" " -f2 /tmp/hold); sleep 0.5; b=$(cut -d" " -f2 /tmp/hold);
		grep -q "^open" /tmp/hold && [ "$b" -gt "$a" ] &&
		systemctl list-units --no-legend --plain --state=active "connectd@*" | grep -q .'
touch /tmp/hold.stop
wait $HOLD 2>/dev/null
ok "connectd.socket: the instance ends with its tunnel" poll 10 no_active 'connectd@*'
ok "connectd.socket: started again" systemctl start connectd.socket

# systemctl stop with a tunnel open: the instance is stopped, not failed
rm -f /tmp/hold /tmp/hold.stop
$CLIENT hold 127.0.0.1:8080 $ECHO /tmp/hold &
HOLD=$!
poll 10 grep -q '^open [2-9]' /tmp/hold
ok "connectd.socket: systemctl stop with a tunnel open" \
	timeout 30 systemctl stop connectd.socket 'connectd@*.service'
ok "connectd.socket: the open tunnel ended" poll 10 grep -q '^end' /tmp/hold
kill $HOLD 2>/dev/null
wait $HOLD 2>/dev/null
ok "connectd.socket: nothing failed after the stop" no_failed_units
ok "connectd.socket: disable" systemctl disable --now connectd.socket

# ------------------------------------------- connectd-fast.socket (Accept=no)
systemd-analyze log-level debug
ok "connectd-fast.socket: systemctl enable --now" systemctl enable --now connectd-fast.socket
ok "connectd-fast.socket: a tunnel to the echo target" expect "200 echo" $CLIENT tunnel 127.0.0.1:8080 $ECHO
ok "connectd-fast.socket: a port not allowed gets 403" expect 403 $CLIENT status 127.0.0.1:8080 $DENIED
ok "connectd-fast.service: active" expect active systemctl is-active connectd-fast.service
ok "connectd-fast.service: READY=1 seen" \
	poll 10 sh -c "journalctl --no-pager -u connectd-fast.service | grep -q 'READY=1'"
systemd-analyze log-level info
ok "connectd-fast.socket: both records in journalctl -u connectd-fast.service" \
	poll 10 sh -c "$(declare -f journal_has); journal_has connectd-fast.service $ECHO 200 && journal_has connectd-fast.service $DENIED 403"
ok "connectd-fast.service: the records are fields: journalctl _SYSTEMD_UNIT=connectd-fast.service CONNECTD_STATUS=403" \
	poll 10 sh -c "journalctl --no-pager -o cat _SYSTEMD_UNIT=connectd-fast.service CONNECTD_STATUS=403 | grep -q '^client=.* status=403 '"
ok "connectd-fast.socket: no failed units" no_failed_units
ok "connectd-fast.socket: a burst of 500 connections in one second" \
	$CLIENT burst 127.0.0.1:8080 500 1
ok "connectd-fast.socket: still active after the burst" expect active systemctl is-active connectd-fast.socket

# stop with a tunnel open: connectd stops accepting, the tunnel runs on
# until its client ends it, then the service is inactive, not failed
rm -f /tmp/hold /tmp/hold.stop
$CLIENT hold 127.0.0.1:8080 $ECHO /tmp/hold &
HOLD=$!
poll 10 grep -q '^open [2-9]' /tmp/hold
systemctl stop --no-block connectd-fast.socket connectd-fast.service
sleep 1
ok "connectd-fast.service: stopping with a tunnel open, it keeps serving" \
	sh -c 'a=$(cut -d" " -f2 /tmp/hold); sleep 0.5; b=$(cut -d" " -f2 /tmp/hold);
		grep -q "^open" /tmp/hold && [ "$b" -gt "$a" ] &&
		[ "$(systemctl is-active connectd-fast.service)" = deactivating ]'
touch /tmp/hold.stop
wait $HOLD 2>/dev/null
ok "connectd-fast.service: ends cleanly once the tunnel closes" \
	poll 10 sh -c '[ "$(systemctl is-active connectd-fast.service)" = inactive ]'
ok "connectd-fast.socket: nothing failed after the stop" no_failed_units

# ------------------------------------------------------------ per-user units
useradd -m alice
useradd -m bob
AUID=$(id -u alice)
ok "user units: loginctl enable-linger alice" loginctl enable-linger alice
poll 20 test -S /run/user/$AUID/systemd/private
as_alice() { runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/$AUID "$@"; }
SOCK=unix:/run/user/$AUID/connectd/proxy.sock
ok "user units: systemctl --user enable --now both sockets" \
	as_alice systemctl --user enable --now connectd.socket connectd-tcp.socket
ok "user units: as shipped, the owner gets an answer (403 for loopback)" \
	expect 403 runuser -u alice -- $CLIENT status $SOCK $ECHO
for u in connectd@.service connectd-tcp@.service; do
	d=/home/alice/.config/systemd/user/$u.d
	as_alice mkdir -p "$d"
	printf '%s\n' "[Service]" "ExecStart=" \
		"ExecStart=/usr/bin/connectd --allow-uid self $EXEC" |
		as_alice tee "$d/check.conf" >/dev/null
done
as_alice systemctl --user daemon-reload
ok "user units: the owner gets a tunnel over the unix socket" \
	expect "200 echo" runuser -u alice -- $CLIENT tunnel $SOCK $ECHO
ok "user units: the owner gets a tunnel over loopback TCP" \
	expect "200 echo" runuser -u alice -- $CLIENT tunnel 127.0.0.1:3128 $ECHO
ok "user units: another user gets 403 over loopback TCP" \
	expect 403 runuser -u bob -- $CLIENT status 127.0.0.1:3128 $ECHO
ok "user units: another user cannot open the unix socket" \
	expect "error 13" runuser -u bob -- $CLIENT status $SOCK $ECHO
ok "user units: root gets 403 over the unix socket" expect 403 $CLIENT status $SOCK $ECHO
ok "user units: the records in the user's journal" \
	poll 10 sh -c "journalctl --no-pager -o cat _UID=$AUID | grep -q 'status=200'"
ok "user units: no failed user units" \
	sh -c "[ -z \"\$(runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/$AUID systemctl --user list-units --failed --no-legend --plain)\" ]"
as_alice systemctl --user list-units --failed --no-pager
as_alice systemctl --user disable --now connectd.socket connectd-tcp.socket

# ------------------------------------------------------------------ rates
# The same connectd, the same ExecStart, under a unit with no sandbox.
cat >/etc/systemd/system/connectd-bare.socket <<UNIT
[Socket]
ListenStream=127.0.0.1:8081
Accept=yes
MaxConnections=512
MaxConnectionsPerSource=64
TriggerLimitIntervalSec=0
UNIT
cat >/etc/systemd/system/connectd-bare@.service <<UNIT
[Unit]
CollectMode=inactive-or-failed
[Service]
Type=exec
ExecStart=/usr/bin/connectd $EXEC
StandardOutput=null
StandardError=journal
SyslogIdentifier=connectd
UNIT
systemctl daemon-reload
systemctl start connectd.socket connectd-bare.socket
for ROUND in $(seq 1 "$ROUNDS"); do
	rate connectd.socket 127.0.0.1:8080
	poll 60 no_active 'connectd@*'
	rate bare 127.0.0.1:8081
	poll 60 no_active 'connectd-bare@*'
done
systemctl stop connectd.socket connectd-bare.socket
systemctl start connectd-fast.socket
for ROUND in $(seq 1 "$ROUNDS"); do
	rate connectd-fast.socket 127.0.0.1:8080
done
systemctl stop connectd-fast.socket connectd-fast.service
ok "rates: every rate measured" sh -c "[ \$(awk 'NF == 4' /results/rates | wc -l) -eq $((3 * ROUNDS)) ]"

# relayed_records : of the records connectd-fast's parent sent on for its
# children (SYSLOG_PID, the child, is not _PID), how many name no unit; at
# least 1,000 after the rate rounds, and none without a unit
relayed_records() {
	journalctl --no-pager -o json SYSLOG_IDENTIFIER=connectd | python3 -c '
import json, sys
relayed = lost = 0
for line in sys.stdin:
    e = json.loads(line)
    if "CONNECTD_STATUS" not in e or e.get("SYSLOG_PID", e["_PID"]) == e["_PID"]:
        continue
    relayed += 1
    if e.get("_SYSTEMD_UNIT") != "connectd-fast.service":
        lost += 1
print(relayed, "records relayed,", lost, "without _SYSTEMD_UNIT=connectd-fast.service")
sys.exit(relayed < 1000 or lost > 0)'
}
ok "connectd-fast.service: every record of the rate rounds in journalctl -u" relayed_records
[ -x /check/sweep.sh ] && . /check/sweep.sh
ok "end: no failed units" no_failed_units

echo "1..$N" >&3
exec 3>&- 4>&-
sync
