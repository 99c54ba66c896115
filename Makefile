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
LDLIBS += $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null || echo -lsystemd)
ifeq ($(CI),true)
CFLAGS += -Werror
endif

# The six steps, in order: launch, request, policy, dial, reply, relay, log.
OBJS = connectd.o options.o launch.o request.o policy.o dial.o reply.o \
	relay.o log.o util.o
HDRS = $(wildcard *.h)

.PHONY: all run check deps-build deps-check install uninstall lint clean

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

check: deps-check
	@$(MAKE) --no-print-directory connectd
	@tests/run

install: connectd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 0755 connectd $(DESTDIR)$(BINDIR)/connectd
	install -m 0644 man/connectd.8 $(DESTDIR)$(MANDIR)/man8/connectd.8
	install -m 0644 units/connectd.socket units/connectd@.service $(DESTDIR)$(UNITDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/connectd $(DESTDIR)$(MANDIR)/man8/connectd.8 \
		$(DESTDIR)$(UNITDIR)/connectd.socket $(DESTDIR)$(UNITDIR)/connectd@.service

lint:
	clang-format --dry-run -Werror *.c *.h
	mandoc -Tlint -Wwarning man/connectd.8

clean:
	rm -f connectd *.o
