#!/usr/bin/env bats
# make install and make uninstall as a package build runs them: DESTDIR,
# PREFIX and the other directories honoured, the installed units and
# examples naming the installed binary, the man page listing every file,
# and uninstall leaving nothing behind.  The repository's own ./connectd is
# installed (make install builds it), whichever build the suite tests.

load helpers

BATS_TEST_TIMEOUT=120

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	dest=$BATS_TEST_TMPDIR/dest
	mkdir -p "$dest"
}

# inst TARGET VAR=VALUE... : make TARGET in the top directory, quietly
inst() {
	make -s --no-print-directory -C "$top" "$@" >"$BATS_TEST_TMPDIR/make.log" 2>&1 ||
		fail "make $* failed:" "$(cat "$BATS_TEST_TMPDIR/make.log")"
}

# installed_files : every file under $dest, relative to it, sorted
installed_files() { (cd "$dest" && find . -type f -o -type l | sed 's|^\.||' | sort); }

sysunitdir() { pkg-config --variable=systemdsystemunitdir systemd; }
userunitdir() { pkg-config --variable=systemduserunitdir systemd; }

# exec_starts DIR... : every ExecStart= value of the units in DIRs
exec_starts() {
	local d
	for d; do sed -n 's/^ExecStart=//p' "$d"/connectd*; done
}

# all_run BINARY DIR... : the four ExecStart= lines in DIRs all run BINARY
all_run() {
	local bin=$1 e n=0
	shift
	while read -r e; do
		[[ $e == "$bin" || $e == "$bin "* ]] || fail "ExecStart names another binary: $e"
		((++n))
	done < <(exec_starts "$@")
	((n == 4)) || fail "expected 4 ExecStart lines, saw $n"
}

@test "install: PREFIX=/usr with DESTDIR puts the binary in /usr/bin and every unit runs it" {
	inst install DESTDIR="$dest" PREFIX=/usr
	[[ -x $dest/usr/bin/connectd ]] || fail "no $dest/usr/bin/connectd"
	local sys=$dest$(sysunitdir) usr=$dest$(userunitdir)
	for u in connectd.socket connectd@.service connectd-fast.socket connectd-fast.service; do
		[[ -f $sys/$u ]] || fail "missing system unit $u"
	done
	for u in connectd.socket connectd@.service connectd-tcp.socket connectd-tcp@.service; do
		[[ -f $usr/$u ]] || fail "missing user unit $u"
	done
	all_run /usr/bin/connectd "$sys" "$usr"
	# no unit or example still points at the default prefix
	run grep -rl /usr/local "$dest/lib" "$dest/usr/lib" "$dest/usr/share/doc"
	[[ -z $output ]] || fail "still naming /usr/local:" "$output"
	[[ -f $dest/usr/share/man/man8/connectd.8 ]]
	grep -q '^	server		= /usr/bin/connectd$' "$dest/usr/share/doc/connectd/examples/xinetd.conf"
	grep -q ' nowait nobody /usr/bin/connectd connectd ' "$dest/usr/share/doc/connectd/examples/inetd.conf"
}

@test "install: the default prefix names /usr/local/bin/connectd" {
	inst install DESTDIR="$dest"
	[[ -x $dest/usr/local/bin/connectd ]]
	all_run /usr/local/bin/connectd "$dest$(sysunitdir)" "$dest$(userunitdir)"
	grep -q '^	server		= /usr/local/bin/connectd$' \
		"$dest/usr/local/share/doc/connectd/examples/xinetd.conf"
}

@test "install: BINDIR, MANDIR, DOCDIR, SYSUSERSDIR and both unit directories are honoured" {
	inst install DESTDIR="$dest" PREFIX=/opt/x BINDIR=/opt/b MANDIR=/opt/m \
		DOCDIR=/opt/d UNITDIR=/opt/u/sys USERUNITDIR=/opt/u/user SYSCONFDIR=/opt/etc \
		SYSUSERSDIR=/opt/s
	[[ -f $dest/opt/s/connectd.conf ]]
	[[ -f $dest/opt/etc/connectd/connectd.conf ]] || fail "no configuration file"
	grep -q -- '--config /opt/etc/connectd/connectd.conf' "$dest/opt/u/sys/connectd@.service"
	[[ -x $dest/opt/b/connectd ]]
	[[ -f $dest/opt/m/man8/connectd.8 ]]
	[[ -f $dest/opt/d/examples/xinetd.conf && -f $dest/opt/d/examples/inetd.conf ]]
	[[ -f $dest/opt/u/sys/connectd@.service && -f $dest/opt/u/user/connectd@.service ]]
	[[ $(exec_starts "$dest/opt/u/sys" "$dest/opt/u/user" | cut -d' ' -f1 | sort -u) == /opt/b/connectd ]]
	# the man page names the installed binary and examples
	grep -q '^\.It Pa /opt/b/connectd$' "$dest/opt/m/man8/connectd.8"
	grep -q '^\.It Pa /opt/d/examples/xinetd.conf$' "$dest/opt/m/man8/connectd.8"
	grep -q '^\.It Pa /opt/m/man8/connectd.8$' "$dest/opt/m/man8/connectd.8"
	# /etc/connectd at the start of a path, not inside /opt/etc/connectd
	run grep -rlE '/usr/local|(^|[[:space:]=])/etc/connectd' "$dest/opt/u" "$dest/opt/d"
	[[ -z $output ]] || fail "default paths left in:" "$output"
}

@test "uninstall: removes everything install put there, and only that" {
	mkdir -p "$dest/usr/bin"
	echo keep >"$dest/usr/bin/other"
	inst install DESTDIR="$dest" PREFIX=/usr
	[[ $(installed_files | wc -l) -gt 10 ]]
	inst uninstall DESTDIR="$dest" PREFIX=/usr
	run installed_files
	[[ $output == /usr/bin/other ]] || fail "left behind:" "$output"
	[[ ! -e $dest/usr/share/doc/connectd ]] || fail "left the doc directory"
}

@test "man page: FILES lists every installed file, EXAMPLES shows both inetd examples" {
	inst install DESTDIR="$dest"
	local man=$top/man/connectd.8 files f
	files=$(sed -n '/^\.Sh FILES/,/^\.Sh /p' "$man")
	while read -r f; do
		grep -qxF ".It Pa $f" <<<"$files" || fail "FILES does not list $f"
	done < <(installed_files)
	# every line of the inetd example and every setting of the xinetd one
	local ex=$(sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$man")
	while IFS= read -r f; do
		grep -qxF "$f" <<<"$ex" || fail "EXAMPLES lacks: $f"
	done < <(grep -v '^#' "$top/examples/inetd.conf"; grep -v '^#' "$top/examples/xinetd.conf" | grep .)
}

@test "install never overwrites the configuration file; uninstall keeps an edited one" {
	inst install DESTDIR="$dest" PREFIX=/usr
	local conf=$dest/etc/connectd/connectd.conf
	cmp "$top/examples/connectd.conf" "$conf"
	echo "allow-port 8443" >>"$conf"
	inst install DESTDIR="$dest" PREFIX=/usr
	grep -qx 'allow-port 8443' "$conf" || fail "install overwrote the edited file"
	inst uninstall DESTDIR="$dest" PREFIX=/usr
	run installed_files
	[[ $output == /etc/connectd/connectd.conf ]] || fail "left behind:" "$output"
}
