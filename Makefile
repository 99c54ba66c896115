# connectd: an HTTP CONNECT proxy for one connection at a time.
# `make run` and `make check` work on a fresh Debian 12 machine as root:
# scripts/deps.sh installs the Debian packages they need, only when missing.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= /etc/systemd/system
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

# The six steps, in order: launch, request, policy, dial, reply, relay, log.
OBJS = connectd.o options.o launch.o request.o peer.o auth.o policy.o \
	resolve.o dial.o reply.o relay.o server.o sandbox.o log.o proctitle.o \
	util.o
SRCS = $(OBJS:.o=.c)
HDRS = $(wildcard *.h)
# Unit tests and the fuzz corpus replay, built with the ordinary compiler.
TEST_BINS = tests/unit/request_test tests/unit/policy_test \
	tests/unit/auth_test tests/unit/peer_test tests/tools/peer_check \
	tests/tools/sandbox_check tests/tools/nofeature fuzz/replay_request \
	fuzz/replay_auth fuzz/replay_config fuzz/replay_conffile
FUZZ_TARGETS = request auth config conffile
# What each fuzz target links besides its own file.
FUZZ_SRCS_request = request.c
FUZZ_SRCS_auth = auth.c util.c -lcrypt
FUZZ_SRCS_config = policy.c request.c util.c
FUZZ_SRCS_conffile = options.c policy.c peer.c request.c sandbox.c util.c
FUZZ_RUNS ?= 10000000
FUZZ_CC ?= clang
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

.PHONY: all run check check-asan deps-build deps-check install uninstall \
	lint fuzz bench clean

all: connectd

connectd: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

%.o: %.c $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

deps-build:
	@scripts/deps.sh build

deps-check:
	@scripts/deps.sh check

# A proxy on 127.0.0.1:$(PORT) in the foreground, one process per connection.
run: deps-build
	@$(MAKE) --no-print-directory connectd
	@echo "connectd on 127.0.0.1:$(PORT); try: curl -x http://127.0.0.1:$(PORT) https://example.org/"
	exec systemd-socket-activate --accept -l 127.0.0.1:$(PORT) ./connectd

tests/unit/request_test: tests/unit/request_test.c request.o reply.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/policy_test: tests/unit/policy_test.c policy.o request.o reply.o \
	util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/unit/auth_test: tests/unit/auth_test.c auth.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypt

tests/unit/peer_test: tests/unit/peer_test.c peer.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/tools/peer_check: tests/tools/peer_check.c peer.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/tools/sandbox_check: tests/tools/sandbox_check.c sandbox.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

tests/tools/nofeature: tests/tools/nofeature.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_request: fuzz/replay.c fuzz/fuzz_request.c request.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_auth: fuzz/replay.c fuzz/fuzz_auth.c auth.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypt

fuzz/replay_config: fuzz/replay.c fuzz/fuzz_config.c policy.o request.o util.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

fuzz/replay_conffile: fuzz/replay.c fuzz/fuzz_conffile.c options.o policy.o \
	peer.o request.o sandbox.o util.o
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
		build-asan/peer_test $(TEST_BINS)
	@CONNECTD_BUILDS="$(CURDIR)/connectd $(CURDIR)/connectd:--no-splice \
		$(CURDIR)/build-asan/connectd" tests/run

# The whole suite against a build with AddressSanitizer and UBSan.
build-asan/connectd: $(SRCS) $(HDRS)
	@mkdir -p build-asan
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(SAN_FLAGS) \
		-o $@ $(SRCS) $(LDLIBS)

check-asan: deps-check
	@$(MAKE) --no-print-directory build-asan/connectd build-asan/peer_test \
		$(TEST_BINS)
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

UNITS = units/connectd.socket units/connectd@.service \
	units/connectd-fast.socket units/connectd-fast.service
USER_UNITS = units/user/connectd.socket units/user/connectd@.service \
	units/user/connectd-tcp.socket units/user/connectd-tcp@.service
USERUNITDIR ?= $(PREFIX)/lib/systemd/user

install: connectd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR)
	install -m 0755 connectd $(DESTDIR)$(BINDIR)/connectd
	install -m 0644 man/connectd.8 $(DESTDIR)$(MANDIR)/man8/connectd.8
	install -m 0644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 0644 $(USER_UNITS) $(DESTDIR)$(USERUNITDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/connectd $(DESTDIR)$(MANDIR)/man8/connectd.8
	rm -f $(UNITS:units/%=$(DESTDIR)$(UNITDIR)/%)
	rm -f $(USER_UNITS:units/user/%=$(DESTDIR)$(USERUNITDIR)/%)

lint:
	clang-format --dry-run -Werror *.c *.h tests/unit/*.c tests/tools/*.c \
		fuzz/*.c bench/*.c
	mandoc -Tlint -Wwarning man/connectd.8

# The benchmark: installs tinyproxy, squid and gnuplot when missing (as
# root; otherwise prints the apt-get line), then prints one table and
# writes docs/benchmarks.md and docs/benchmarks.png.
bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory connectd
	@bench/run

clean:
	rm -rf connectd *.o $(TEST_BINS) build-asan build-fuzz
	rm -f bench/loadgen bench/floor-static bench/floor-dyn
