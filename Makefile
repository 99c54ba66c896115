# connectd: an HTTP CONNECT proxy for one connection at a time.
# `make run` and `make check` work on a fresh Debian 12 machine as root:
# scripts/deps.sh installs the Debian packages they need, only when missing.

# Where `make install` puts things; a package build sets DESTDIR and PREFIX=/usr.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/connectd
# connectd's own configuration lives in $(SYSCONFDIR)/connectd whatever the
# prefix, as systemd's units expect it there.
SYSCONFDIR ?= /etc
CONFFILE = $(SYSCONFDIR)/connectd/connectd.conf
PORT ?= 8080

CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

WARNINGS = -Wall -Wextra -Wpedantic -Wshadow -Wpointer-arith -Wcast-qual \
	-Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings -Wformat=2 \
	-Wvla -Wimplicit-fallthrough
HARDENING = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
# Packagers' CFLAGS and LDFLAGS come first and survive; ours are added.
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARNINGS) $(HARDENING) \
	$(shell $(PKG_CONFIG) --cflags libsystemd 2>/dev/null)
LDFLAGS += -pie -Wl,-z,relro,-z,now
# libsystemd (sd_notify, high-rate mode only) and libcrypt (--auth-file
# only) are loaded with dlopen(3) where they are used: a connection pays
# for neither.  Their headers come from libsystemd-dev and libcrypt-dev.
ifeq ($(CI),true)
CFLAGS += -Werror
endif

# The modules in the order a connection meets them: main and its steps
# (connectd, session), launch; 1 read the head (head, proxyproto,
# request); 2 check it (check: peer, auth, policy); 3 dial (route:
# upstream, resolve and dns, dial); 4 answer (answer: outcome, reply); 5 relay;
# 6 log (record, log); then the high-rate server, --reuse, confinement
# and the plumbing.  The relay comes last all the same: the linker lays
# out .bss in this order, and with the relay's two 64 KiB buffers at its
# end the small statics of the others share a page with the start of the
# first buffer, the only page of it that a short tunnel writes.  Each page
# written is memory per held tunnel (docs/benchmarks.md, PSS).
OBJS = connectd.o session.o options.o launch.o head.o proxyproto.o \
	request.o check.o peer.o auth.o policy.o route.o upstream.o resolve.o \
	dns.o dial.o answer.o outcome.o reply.o record.o log.o server.o \
	reuse.o confine.o sandbox.o proctitle.o util.o relay.o
SRCS = $(OBJS:.o=.c)
HDRS = $(wildcard *.h)
# Unit tests and the fuzz corpus replay, built with the ordinary compiler.
TEST_BINS = tests/unit/request_test tests/unit/policy_test \
	tests/unit/outcome_test tests/unit/auth_test tests/unit/peer_test \
	tests/unit/proxyproto_test tests/unit/upstream_test \
	tests/unit/sandbox_test tests/unit/sandbox_test_asan \
	tests/unit/reuse_test tests/unit/dns_test tests/tools/peer_check \
	tests/tools/sandbox_check tests/tools/nofeature tests/tools/violate.so \
	fuzz/replay_request \
	fuzz/replay_auth fuzz/replay_config fuzz/replay_conffile \
	fuzz/replay_proxyproto fuzz/replay_upstream fuzz/replay_dns
FUZZ_TARGETS = request auth config conffile proxyproto upstream dns
# What each fuzz target links besides its own file.
FUZZ_SRCS_request = request.c
FUZZ_SRCS_auth = auth.c util.c -lcrypt
FUZZ_SRCS_config = policy.c request.c util.c
FUZZ_SRCS_conffile = options.c policy.c peer.c request.c sandbox.c \
	upstream.c util.c
FUZZ_SRCS_proxyproto = proxyproto.c
FUZZ_SRCS_upstream = upstream.c request.c util.c
FUZZ_SRCS_dns = dns.c
FUZZ_RUNS ?= 10000000
FUZZ_CC ?= clang
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

.PHONY: all run check check-asan check-systemd deps-build deps-check install \
	uninstall lint fuzz bench bench-pipes clean build-clients

all: connectd

connectd: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

%.o: %.c $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

deps-build:
	@scripts/deps.sh build

deps-check:
	@scripts/deps.sh check

# The clients of tests/clients.bats that are not Debian packages, built once
# into build-clients/: undici from the npm registry (pinned; 6.x runs on
# Node.js 18 and 20) and a Go net/http client from the standard library
# only (no module downloads; Go's caches inside build-clients/).
UNDICI_VERSION = 6.29.1
build-clients: build-clients/node_modules/undici/package.json \
	build-clients/goget build-clients/nss/libnss_resolve.so.2

build-clients/node_modules/undici/package.json:
	@mkdir -p build-clients
	npm install --prefix build-clients --no-save --no-audit --no-fund \
		--cache $(CURDIR)/build-clients/npm-cache undici@$(UNDICI_VERSION)

# libnss-resolve's module for tests/nss-pass, unpacked from Debian's package
# rather than installed: installing it brings systemd-resolved, which turns
# /etc/resolv.conf into a link to a stub only a booted systemd serves.
build-clients/nss/libnss_resolve.so.2:
	@rm -rf build-clients/nss && mkdir -p build-clients/nss/deb
	cd build-clients/nss/deb && { apt-get download libnss-resolve || \
		{ apt-get update -qq && apt-get download libnss-resolve; }; }
	dpkg-deb -x build-clients/nss/deb/libnss-resolve_*.deb \
		build-clients/nss/root
	cp "$$(find build-clients/nss/root -name libnss_resolve.so.2)" $@

build-clients/goget: tests/tools/goget/main.go tests/tools/goget/go.mod
	@mkdir -p build-clients
	cd tests/tools/goget && GOFLAGS=-mod=mod GOPROXY=off \
		GOCACHE=$(CURDIR)/build-clients/gocache \
		GOPATH=$(CURDIR)/build-clients/gopath \
		go build -o $(CURDIR)/build-clients/goget .

# A proxy on 127.0.0.1:$(PORT) in the foreground, one process per connection.
run: deps-build
	@$(MAKE) --no-print-directory connectd
	@echo "connectd on 127.0.0.1:$(PORT); try: curl -x http://127.0.0.1:$(PORT) https://example.org/"
	exec systemd-socket-activate --accept -l 127.0.0.1:$(PORT) ./connectd

tests/unit/outcome_test: tests/unit/outcome_test.c outcome.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/request_test: tests/unit/request_test.c request.o outcome.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/policy_test: tests/unit/policy_test.c policy.o request.o outcome.o \
	util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/auth_test: tests/unit/auth_test.c auth.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypt

tests/unit/reuse_test: tests/unit/reuse_test.c reuse.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/dns_test: tests/unit/dns_test.c dns.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/peer_test: tests/unit/peer_test.c peer.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/tools/peer_check: tests/tools/peer_check.c peer.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/proxyproto_test: tests/unit/proxyproto_test.c proxyproto.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/upstream_test: tests/unit/upstream_test.c upstream.o request.o \
	outcome.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# sandbox.c's filters, included whole, and again as the ASan build's.
tests/unit/sandbox_test: tests/unit/sandbox_test.c sandbox.c sandbox.h util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/unit/sandbox_test.c util.o

tests/unit/sandbox_test_asan: tests/unit/sandbox_test.c sandbox.c sandbox.h \
	util.o
	$(CC) $(CFLAGS) -D__SANITIZE_ADDRESS__=1 $(LDFLAGS) -o $@ \
		tests/unit/sandbox_test.c util.o

tests/tools/sandbox_check: tests/tools/sandbox_check.c sandbox.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# Loaded with LD_PRELOAD: a shared object, not a program.
tests/tools/violate.so: tests/tools/violate.c
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $^ -ldl

tests/tools/nofeature: tests/tools/nofeature.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_request: fuzz/replay.c fuzz/fuzz_request.c request.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_auth: fuzz/replay.c fuzz/fuzz_auth.c auth.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypt

fuzz/replay_config: fuzz/replay.c fuzz/fuzz_config.c policy.o request.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_conffile: fuzz/replay.c fuzz/fuzz_conffile.c options.o policy.o \
	peer.o request.o sandbox.o upstream.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_proxyproto: fuzz/replay.c fuzz/fuzz_proxyproto.c proxyproto.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_upstream: fuzz/replay.c fuzz/fuzz_upstream.c upstream.o request.o \
	util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_dns: fuzz/replay.c fuzz/fuzz_dns.c dns.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# peer_test with AddressSanitizer and UBSan, for the suite's ASan pass.
build-asan/peer_test: tests/unit/peer_test.c peer.c util.c peer.h util.h
	@mkdir -p build-asan
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(SAN_FLAGS) -o $@ \
		tests/unit/peer_test.c peer.c util.c

# The whole suite three times: the plain build with splice(2), again with
# the user-space copy loop, and a build with AddressSanitizer and UBSan;
# one summary line over all three.
check: deps-check
	@$(MAKE) --no-print-directory connectd build-asan/connectd \
		build-asan/peer_test $(TEST_BINS) build-clients
	@CONNECTD_BUILDS="$(CURDIR)/connectd $(CURDIR)/connectd:--no-splice \
		$(CURDIR)/build-asan/connectd" \
		CONNECTD_NSS_PASS="clients.bats dial.bats" tests/run

# connectd as its users run it: installed with PREFIX=/usr into a cached
# Debian 12 root (/var/cache/connectd-nspawn) booted with systemd-nspawn,
# systemd 252 as PID 1; the system, high-rate and per-user units, a burst,
# stopping, and the rates.  Root only.  See scripts/check-systemd.
check-systemd:
	@scripts/check-systemd

# The whole suite against a build with AddressSanitizer and UBSan.
build-asan/connectd: $(SRCS) $(HDRS)
	@mkdir -p build-asan
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(SAN_FLAGS) \
		-o $@ $(SRCS) $(LDLIBS)

check-asan: deps-check
	@$(MAKE) --no-print-directory build-asan/connectd build-asan/peer_test \
		$(TEST_BINS) build-clients
	@CONNECTD_BUILDS=$(CURDIR)/build-asan/connectd tests/run

# Long fuzzing runs (clang's libFuzzer), outside CI.  New finds go to
# build-fuzz/; copy any crash into fuzz/corpus/ with its fix.
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(SRCS) $(HDRS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer \
		$(SAN_FLAGS) -o $@ $< $(FUZZ_SRCS_$*)

fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus-$$t; \
		build-fuzz/fuzz_$$t -runs=$(FUZZ_RUNS) -max_len=40000 \
			-print_final_stats=1 build-fuzz/corpus-$$t \
			fuzz/corpus/$$t || exit 1; \
	done

# The unit files in units/ are complete units for the default prefix, so
# that systemd-analyze and the tests read them as they are.  They are also
# the templates: `make install` writes them with every /usr/local/bin/connectd
# replaced by $(BINDIR)/connectd and /etc/connectd/ by $(SYSCONFDIR)/connectd/,
# so an installed unit names the installed binary whatever the prefix.  The
# unit directories are systemd's own (pkg-config), whatever the prefix:
# systemd reads no other.
UNITS = units/connectd.socket units/connectd@.service \
	units/connectd-fast.socket units/connectd-fast.service
USER_UNITS = units/user/connectd.socket units/user/connectd@.service \
	units/user/connectd-tcp.socket units/user/connectd-tcp@.service
EXAMPLES = examples/xinetd.conf examples/inetd.conf
# TLS to the proxy: stunnel in front of connectd, with its unit pair.
TLS_EXAMPLES = examples/stunnel/stunnel.conf \
	examples/stunnel/connectd-tls.socket \
	examples/stunnel/connectd-tls@.service
systemd_var = $(or $(shell $(PKG_CONFIG) --variable=$(1) systemd 2>/dev/null),$(2))
UNITDIR ?= $(call systemd_var,systemdsystemunitdir,/lib/systemd/system)
USERUNITDIR ?= $(call systemd_var,systemduserunitdir,/usr/lib/systemd/user)
SYSUSERSDIR ?= $(call systemd_var,sysusersdir,/usr/lib/sysusers.d)
SYSUSERS ?= systemd-sysusers
INSTALL_SUBST = sed -e 's|/usr/local/bin/connectd|$(BINDIR)/connectd|g' \
	-e 's|/usr/local/share/doc/connectd|$(DOCDIR)|g' \
	-e 's|/usr/local/share/man/|$(MANDIR)/|g' \
	-e 's|/etc/connectd/|$(SYSCONFDIR)/connectd/|g'
# install_subst MODE DIR FILE... : FILEs into DIR, paths substituted
install_subst = $(foreach f,$(3),$(INSTALL_SUBST) $(f) >$(2)/$(notdir $(f)) && \
	chmod $(1) $(2)/$(notdir $(f)) &&) true

install: connectd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR) \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(DOCDIR)/examples/stunnel
	install -m 0755 connectd $(DESTDIR)$(BINDIR)/connectd
	install -m 0644 units/sysusers.d/connectd.conf $(DESTDIR)$(SYSUSERSDIR)/
	$(call install_subst,0644,$(DESTDIR)$(MANDIR)/man8,man/connectd.8)
	$(call install_subst,0644,$(DESTDIR)$(UNITDIR),$(UNITS))
	$(call install_subst,0644,$(DESTDIR)$(USERUNITDIR),$(USER_UNITS))
	$(call install_subst,0644,$(DESTDIR)$(DOCDIR)/examples,$(EXAMPLES))
	$(call install_subst,0644,$(DESTDIR)$(DOCDIR)/examples/stunnel,$(TLS_EXAMPLES))
	@# The configuration file is the admin's: installed where none is, never
	@# overwritten.
	install -d $(DESTDIR)$(SYSCONFDIR)/connectd
	[ -e $(DESTDIR)$(CONFFILE) ] || \
		install -m 0644 examples/connectd.conf $(DESTDIR)$(CONFFILE)
	@# The units run as the system user connectd: create it now on this
	@# system (SYSUSERS= skips it); a package creates it when installed.
	@if [ -z "$(DESTDIR)" ] && [ -n "$(SYSUSERS)" ] && \
	    command -v $(SYSUSERS) >/dev/null; then \
		echo $(SYSUSERS) $(SYSUSERSDIR)/connectd.conf; \
		$(SYSUSERS) $(SYSUSERSDIR)/connectd.conf; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/connectd $(DESTDIR)$(MANDIR)/man8/connectd.8
	rm -f $(UNITS:units/%=$(DESTDIR)$(UNITDIR)/%)
	rm -f $(USER_UNITS:units/user/%=$(DESTDIR)$(USERUNITDIR)/%)
	rm -f $(EXAMPLES:examples/%=$(DESTDIR)$(DOCDIR)/examples/%)
	rm -f $(TLS_EXAMPLES:examples/%=$(DESTDIR)$(DOCDIR)/examples/%)
	-rmdir $(DESTDIR)$(DOCDIR)/examples/stunnel 2>/dev/null
	rm -f $(DESTDIR)$(SYSUSERSDIR)/connectd.conf
	@# The configuration file goes only while it is as installed.
	if cmp -s examples/connectd.conf $(DESTDIR)$(CONFFILE); then \
		rm -f $(DESTDIR)$(CONFFILE); \
		rmdir $(DESTDIR)$(SYSCONFDIR)/connectd 2>/dev/null || true; \
	fi
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

lint:
	clang-format --dry-run -Werror *.c *.h tests/unit/*.c tests/tools/*.c \
		fuzz/*.c bench/*.c
	mandoc -Tlint -Wwarning man/connectd.8

# The benchmark: installs tinyproxy, squid, apache2 and gnuplot when
# missing (as root; otherwise prints the apt-get line), then prints one
# table and writes docs/benchmarks.md and docs/benchmarks.png.
bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory connectd
	@bench/run

# The pipe-size crossover behind relay.h's thresholds: a sweep of tunnel
# sizes through connectd built with other thresholds (bench/pipes).
bench-pipes: connectd
	@SRCS="$(SRCS)" bench/pipes

clean:
	rm -rf connectd *.o $(TEST_BINS) build-asan build-fuzz build-clients
	rm -f bench/loadgen bench/floor-static bench/floor-dyn
