# tests/systemd/sweep.sh: the per-activation cost of each sandbox option,
# under the booted systemd of make check-systemd (not part of CI):
#   CHECK_SWEEP=tests/systemd/sweep.sh CHECK_TIMEOUT=3600 scripts/check-systemd
# Sourced by inside.sh after its checks.  Each variant is the bare
# Accept=yes unit (connectd-bare@.service, no sandbox) plus the options
# named, measured with loadgen at 4 clients for 2 s, paired with a run of
# the bare unit itself.  Writes "sweep:VARIANT ROUND conn_s p50_ms" and the
# paired "base:VARIANT ..." lines to /results/rates; scripts/check-systemd
# prints each variant's median ratio to its bare runs.
SWEEP_ROUNDS=$(cat /check/sweep_rounds 2>/dev/null || echo 3)
# Each setting alone, as a drop-in's lines.
declare -A V=(
	[bare]=""
	[NoNewPrivileges]="NoNewPrivileges=yes"
	[CapabilityBoundingSet]="CapabilityBoundingSet=
AmbientCapabilities="
	[UMask]="UMask=0077"
	[User-static]="User=connectd"
	[DynamicUser]="DynamicUser=yes
User=connectd"
	[RestrictAddressFamilies]="RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK"
	[SystemCallFilter]="SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM"
	[SystemCallArchitectures]="SystemCallArchitectures=native"
	[LockPersonality]="LockPersonality=yes"
	[MemoryDenyWriteExecute]="MemoryDenyWriteExecute=yes"
	[RestrictRealtime]="RestrictRealtime=yes"
	[RestrictSUIDSGID]="RestrictSUIDSGID=yes"
	[RestrictNamespaces]="RestrictNamespaces=yes"
	[ProtectSystem]="ProtectSystem=strict"
	[ProtectHome]="ProtectHome=yes"
	[PrivateTmp]="PrivateTmp=yes"
	[PrivateDevices]="PrivateDevices=yes"
	[ProtectKernelTunables]="ProtectKernelTunables=yes"
	[ProtectKernelModules]="ProtectKernelModules=yes"
	[ProtectKernelLogs]="ProtectKernelLogs=yes"
	[ProtectControlGroups]="ProtectControlGroups=yes"
	[ProtectClock]="ProtectClock=yes"
	[ProtectHostname]="ProtectHostname=yes"
	[ProtectProc]="ProtectProc=invisible"
)
# opts NAME... : the lines of these variants together
opts() { local n; for n; do printf '%s\n' "${V[$n]}"; done; }
# What connectd@.service keeps, the small seccomp-based settings, all of
# them, and every namespace setting.
CHEAP=$(opts User-static UMask NoNewPrivileges CapabilityBoundingSet)
SMALL=$(opts RestrictAddressFamilies SystemCallArchitectures LockPersonality \
	MemoryDenyWriteExecute RestrictRealtime RestrictSUIDSGID RestrictNamespaces)
SECCOMP="$SMALL
${V[SystemCallFilter]}"
NS=$(opts ProtectSystem ProtectHome PrivateTmp PrivateDevices ProtectKernelTunables \
	ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock \
	ProtectHostname ProtectProc)
V[seccomp-set]=$SECCOMP
V[cheap-set]=$CHEAP
V[cheap+small-seccomp]="$CHEAP
$SMALL"
V[cheap+DynamicUser]="$CHEAP
DynamicUser=yes"
V[cheap+RestrictAddressFamilies]="$CHEAP
${V[RestrictAddressFamilies]}"
V[cheap+seccomp-set]="$CHEAP
$SECCOMP"
V[shipped-before]="$CHEAP
DynamicUser=yes
$NS
$SECCOMP"
[ -n "${SWEEP_ONLY:-}" ] || SWEEP_ONLY=$(printf '%s\n' "${!V[@]}" | grep -vx bare | sort)
[ -f /check/sweep_only ] && SWEEP_ONLY=$(cat /check/sweep_only)
SWEEP_SECS=$(cat /check/sweep_secs 2>/dev/null || echo 2)
systemctl start connectd-bare.socket
# sweep_rate base|sweep VARIANT : the rate of the bare unit, alone (base)
# or with VARIANT's options (sweep)
sweep_rate() {
	local line opts=
	[ "$1" = sweep ] && opts=${V[$2]}
	dropin connectd-bare@.service "$opts"
	line=$("$LG" rate -x 127.0.0.1:8081 -t $ECHO -c 4 -s "$SWEEP_SECS" -w 0.3 2>&1)
	echo "$1 $2: $line"
	echo "$1:$2 $ROUND $(sed -n 's/.*conn_s=\([0-9.]*\) p50_ms=\([0-9.]*\).*/\1 \2/p' <<<"$line")" >&4
	poll 60 no_active 'connectd-bare@*'
}
# Each variant right after (odd rounds) or before (even rounds) a bare
# run, so that the ratio of the two is taken under the same load.
for ROUND in $(seq 1 "$SWEEP_ROUNDS"); do
	for v in $SWEEP_ONLY; do
		if [ $((ROUND % 2)) -eq 1 ]; then
			sweep_rate base "$v"
			sweep_rate sweep "$v"
		else
			sweep_rate sweep "$v"
			sweep_rate base "$v"
		fi
	done
done
rm -rf /etc/systemd/system/connectd-bare@.service.d
systemctl daemon-reload
systemctl stop connectd-bare.socket
