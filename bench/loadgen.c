/*
 * loadgen: the benchmark's load tool and target server.
 *
 *   loadgen target PORT
 *       Serves on 127.0.0.1: PORT echoes, PORT+1 sources (reads a decimal
 *       byte count and a newline, sends that many bytes, shuts down),
 *       PORT+2 sinks (reads a decimal byte count and a newline, then
 *       that many bytes, answers the count received).  No test relies on
 *       a half-close: tinyproxy and squid end a tunnel at the first FIN.
 *       One epoll loop; holds as many connections as RLIMIT_NOFILE allows.
 *   loadgen rate  (-x PROXY | -D) -t TARGET -c CLIENTS -s SECONDS [-w WARMUP]
 *       CLIENTS threads, each: connect, CONNECT to TARGET (echo port), read
 *       the 200 head, send one byte, read it back, close.  Prints conn/s and
 *       time-to-200 p50/p99 in ms (with -D: time to connect).  With -b
 *       BYTES, each tunnel goes to the source port (TARGET's port + 1) and
 *       reads BYTES down to the EOF instead of the echo: a tunnel of a
 *       given size (bench/pipes).
 *   loadgen throughput (-x PROXY | -D) -t TARGET -d down|up -b BYTES
 *       One tunnel; streams BYTES target->client (down, from PORT+1) or
 *       client->target (up, to PORT+2).  Prints MB/s (10^6 bytes).
 *   loadgen aggregate (-x PROXY | -D) -t TARGET -c TUNNELS -b BYTES
 *       TUNNELS tunnels at once (64), each streaming BYTES/TUNNELS from
 *       the source port; prints the aggregate MB/s from the moment all
 *       are open to the end of the last.
 *   loadgen hold (-x PROXY | -D) -t TARGET -n COUNT [-p INFLIGHT]
 *       Opens COUNT tunnels to the echo port, checks each with one echoed
 *       byte, prints "held ..." and waits for SIGUSR1 or SIGTERM (at most
 *       -s SECONDS, default 600); then checks every tunnel again and prints
 *       the count lost.
 *   loadgen pss [PID...]
 *       Sums Pss over /proc/PID/smaps_rollup for the PIDs given, or read
 *       one a line from stdin.  Prints "pss_kib=N procs=N".
 *   loadgen tree PID
 *       Prints PID and all its descendants, one a line.
 *   loadgen cpu [PID...]
 *       Sums utime+stime+cutime+cstime (waited-for children) over the PIDs
 *       given, or read one a line from stdin.  Prints "cpu_ns=N".  Only
 *       the fallback where no cgroup can be made.
 *
 * PROXY and TARGET are IPv4 address:port.  Every mode raises RLIMIT_NOFILE.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_BUF (256 * 1024)
#define SRC_FILE (16 * 1024 * 1024) /* memfd the source sends from */
#define HEAD_MAX 4096

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	/* As root the hard limit itself can go up, to fs.nr_open. */
	if (rl.rlim_max < 1048576) {
		struct rlimit up = { 1048576, 1048576 };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * A target given by name (the bench's names): resolved once, here, for
 * the direct column only; through a proxy the name goes in the CONNECT.
 */
static int
resolve_v4(const char *host, struct in_addr *out)
{
	struct addrinfo hints = { .ai_family = AF_INET }, *res;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	*out = ((const struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
}

static void
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "loadgen: bad address %s\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 &&
	    resolve_v4(host, &sa->sin_addr) == -1) {
		fprintf(stderr, "loadgen: bad address %s\n", s);
		exit(2);
	}
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
}

static void
set_nodelay(int fd)
{
	int on = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* ---------------------------------------------------------------- target */

enum kind { K_LISTEN, K_ECHO, K_SOURCE, K_SINK };

struct tconn {
	enum kind kind;
	int fd;
	int lport; /* listeners: what they accept */
	char buf[64]; /* echo pending bytes, or the source's command */
	size_t len;
	uint64_t left; /* source: bytes still to send */
	uint64_t got; /* sink: bytes received */
	off_t off;
	int sent_cmd, shut;
};

static int src_memfd = -1;

static void
tconn_close(int ep, struct tconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void
tconn_mod(int ep, struct tconn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Returns -1 when the connection is finished and freed. */
static int
target_echo(int ep, struct tconn *c)
{
	for (;;) {
		ssize_t n;

		if (c->len > 0) {
			n = write(c->fd, c->buf, c->len);
			if (n == -1 && errno == EAGAIN) {
				tconn_mod(ep, c, EPOLLOUT);
				return 0;
			}
			if (n <= 0)
				goto gone;
			memmove(c->buf, c->buf + n, c->len - (size_t)n);
			c->len -= (size_t)n;
			if (c->len > 0)
				continue;
			tconn_mod(ep, c, EPOLLIN);
		}
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n > 0) {
			c->len = (size_t)n;
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			return 0;
		goto gone;
	}
gone:
	tconn_close(ep, c);
	return -1;
}

static int
target_source(int ep, struct tconn *c)
{
	if (!c->sent_cmd) {
		for (;;) {
			ssize_t n = read(c->fd, c->buf + c->len, 1);

			if (n == -1 && errno == EAGAIN)
				return 0;
			if (n <= 0)
				goto gone;
			if (c->buf[c->len] == '\n')
				break;
			if (++c->len >= sizeof(c->buf) - 1)
				goto gone;
		}
		c->buf[c->len] = '\0';
		c->left = strtoull(c->buf, NULL, 10);
		c->sent_cmd = 1;
		tconn_mod(ep, c, EPOLLOUT);
	}
	if (c->shut) {
		/* Wait for the client's close, discarding anything it sends. */
		char b[256];
		ssize_t n = read(c->fd, b, sizeof(b));

		if (n == -1 && errno == EAGAIN)
			return 0;
		goto gone;
	}
	while (c->left > 0) {
		size_t want = c->left < IO_BUF ? (size_t)c->left : IO_BUF;
		ssize_t n;

		if (c->off >= SRC_FILE)
			c->off = 0;
		if (want > (size_t)(SRC_FILE - c->off))
			want = (size_t)(SRC_FILE - c->off);
		n = sendfile(c->fd, src_memfd, &c->off, want);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			goto gone;
		c->left -= (uint64_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	c->shut = 1;
	tconn_mod(ep, c, EPOLLIN);
	return 0;
gone:
	tconn_close(ep, c);
	return -1;
}

static int
target_sink(int ep, struct tconn *c)
{
	static char junk[IO_BUF];

	/* First the count the client will send, then the bytes. */
	while (!c->sent_cmd) {
		ssize_t n = read(c->fd, c->buf + c->len, 1);

		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0 || c->len >= sizeof(c->buf) - 2)
			goto gone;
		if (c->buf[c->len] == '\n') {
			c->buf[c->len] = '\0';
			c->left = strtoull(c->buf, NULL, 10);
			c->sent_cmd = 1;
		} else {
			c->len++;
		}
	}
	for (;;) {
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_TRUNC);

		if (n > 0) {
			c->got += (uint64_t)n;
			if (c->got < c->left || c->shut)
				continue;
		} else if (n == -1 && errno == EAGAIN) {
			return 0;
		} else if (n == -1 || c->shut) {
			goto gone;
		}
		/*
		 * All announced bytes are in (or the client closed early):
		 * answer the count, then wait for the client to close.  16
		 * bytes always fit an empty send buffer.
		 */
		char ans[32];
		int len = snprintf(
		    ans, sizeof(ans), "%015" PRIu64 "\n", c->got);

		if (write(c->fd, ans, (size_t)len) != len || n == 0)
			goto gone;
		c->shut = 1;
	}
gone:
	tconn_close(ep, c);
	return -1;
}

static int
target_listen(int ep, int port, enum kind kind)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event e;
	struct tconn *c;
	int fd, on = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("bind");
	if (listen(fd, 65535) == -1)
		die("listen");
	c = calloc(1, sizeof(*c));
	c->kind = K_LISTEN;
	c->fd = fd;
	c->lport = kind;
	e.events = EPOLLIN;
	e.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	return fd;
}

static void
target_accept(int ep, struct tconn *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK);
		struct epoll_event e;
		struct tconn *c;

		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				fprintf(stderr, "loadgen target: accept: %s\n",
				    strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->kind = (enum kind)l->lport;
		if (c->kind == K_ECHO)
			set_nodelay(fd);
		e.events = EPOLLIN;
		e.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	}
}

static int
mode_target(int argc, char **argv)
{
	struct epoll_event ev[256];
	char *pattern;
	int ep, port, i;

	if (argc < 1) {
		fprintf(stderr, "usage: loadgen target PORT\n");
		return 2;
	}
	port = atoi(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	src_memfd = memfd_create("loadgen-source", 0);
	if (src_memfd == -1)
		die("memfd_create");
	pattern = malloc(SRC_FILE);
	for (i = 0; i < SRC_FILE; i++)
		pattern[i] = (char)('a' + i % 26);
	if (write(src_memfd, pattern, SRC_FILE) != SRC_FILE)
		die("memfd write");
	free(pattern);
	ep = epoll_create1(0);
	target_listen(ep, port, K_ECHO);
	target_listen(ep, port + 1, K_SOURCE);
	target_listen(ep, port + 2, K_SINK);
	printf("ready echo=%d source=%d sink=%d\n", port, port + 1, port + 2);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, ev, 256, -1);

		for (i = 0; i < n; i++) {
			struct tconn *c = ev[i].data.ptr;

			switch (c->kind) {
			case K_LISTEN:
				target_accept(ep, c);
				break;
			case K_ECHO:
				target_echo(ep, c);
				break;
			case K_SOURCE:
				target_source(ep, c);
				break;
			case K_SINK:
				target_sink(ep, c);
				break;
			}
		}
	}
}

/* ---------------------------------------------------------- client common */

struct client_opts {
	int direct;
	struct sockaddr_in proxy, target;
	char target_text[64];
	int clients;
	double seconds, warmup;
	int down;
	uint64_t bytes;
	int sized; /* rate: -b given, tunnels of that many bytes */
	int count, inflight;
};

static int
connect_to(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
connect_request(char *out, size_t size, const char *target)
{
	return snprintf(out, size, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
	    target, target);
}

/* True when head[0..len) holds a complete head. */
static int
head_done(const char *head, size_t len)
{
	return len >= 4 && memmem(head, len, "\r\n\r\n", 4) != NULL;
}

static int
head_is_200(const char *head)
{
	return strncmp(head, "HTTP/1.", 7) == 0 &&
	    strncmp(head + 8, " 200", 4) == 0;
}

/*
 * Blocking: opens a tunnel to target (or a direct connection).  Returns the
 * fd, or -1; *refused is set for a non-200 answer.
 */
static int
open_tunnel(const struct client_opts *o, const struct sockaddr_in *target,
    const char *target_text, int *refused)
{
	char req[256], head[HEAD_MAX];
	size_t got = 0;
	int fd, len;

	*refused = 0;
	if (o->direct)
		return connect_to(target);
	fd = connect_to(&o->proxy);
	if (fd == -1)
		return -1;
	len = connect_request(req, sizeof(req), target_text);
	if (write(fd, req, (size_t)len) != len)
		goto fail;
	/*
	 * Read to the blank line.  The target sends nothing until asked, so
	 * nothing can follow the head yet.
	 */
	while (!head_done(head, got)) {
		ssize_t n = read(fd, head + got, sizeof(head) - 1 - got);

		if (n <= 0 || got + (size_t)n >= sizeof(head) - 1)
			goto fail;
		got += (size_t)n;
	}
	head[got] = '\0';
	if (!head_is_200(head)) {
		*refused = 1;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void
set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ------------------------------------------------------------------ rate */

struct rate_thread {
	pthread_t tid;
	const struct client_opts *o;
	double start, end; /* the measured window */
	double *lat;
	size_t nlat, cap;
	unsigned long done, errors, refused;
};

static atomic_int rate_stop;

/* The rate's exchange once the tunnel is open: one echoed byte, or BYTES. */
static int
rate_exchange(int fd, const struct client_opts *o)
{
	static _Thread_local char buf[IO_BUF];
	uint64_t moved = 0;
	char cmd[32];
	int len;

	if (!o->sized)
		return write(fd, "x", 1) == 1 && read(fd, buf, 1) == 1 ? 0 : -1;
	len = snprintf(cmd, sizeof(cmd), "%" PRIu64 "\n", o->bytes);
	if (write(fd, cmd, (size_t)len) != len)
		return -1;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);

		if (n == 0)
			break;
		if (n < 0)
			return -1;
		moved += (uint64_t)n;
	}
	return moved == o->bytes ? 0 : -1;
}

static void *
rate_worker(void *arg)
{
	struct rate_thread *t = arg;
	const struct client_opts *o = t->o;
	char req[256], head[HEAD_MAX];
	int reqlen = connect_request(req, sizeof(req), o->target_text);

	while (!atomic_load(&rate_stop)) {
		double t0 = now_s(), t1;
		size_t got = 0;
		int fd;

		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1) {
			t->errors++;
			usleep(1000);
			continue;
		}
		set_timeouts(fd, 10);
		set_nodelay(fd);
		if (o->direct) {
			if (connect(fd, (const struct sockaddr *)&o->target,
				sizeof(o->target)) == -1)
				goto err;
		} else {
			if (connect(fd, (const struct sockaddr *)&o->proxy,
				sizeof(o->proxy)) == -1)
				goto err;
			if (write(fd, req, (size_t)reqlen) != reqlen)
				goto err;
			while (!head_done(head, got)) {
				ssize_t n = read(
				    fd, head + got, sizeof(head) - 1 - got);

				if (n <= 0 ||
				    got + (size_t)n >= sizeof(head) - 1)
					goto err;
				got += (size_t)n;
			}
			head[got] = '\0';
			if (!head_is_200(head)) {
				t->refused++;
				goto err_counted;
			}
		}
		t1 = now_s();
		if (rate_exchange(fd, o) == -1)
			goto err;
		close(fd);
		if (t0 >= t->start && now_s() <= t->end) {
			if (t->nlat == t->cap) {
				t->cap = t->cap ? t->cap * 2 : 4096;
				t->lat = realloc(
				    t->lat, t->cap * sizeof(double));
			}
			t->lat[t->nlat++] = (t1 - t0) * 1000.0;
			t->done++;
		}
		continue;
	err:
		t->errors++;
	err_counted:
		close(fd);
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
percentile(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

/* A sized rate streams from the source port, TARGET's port + 1. */
static void
rate_to_source(struct client_opts *o)
{
	char addr[32];

	o->target.sin_port = htons((uint16_t)(ntohs(o->target.sin_port) + 1));
	inet_ntop(AF_INET, &o->target.sin_addr, addr, sizeof(addr));
	snprintf(o->target_text, sizeof(o->target_text), "%s:%u", addr,
	    ntohs(o->target.sin_port));
}

static int
mode_rate(struct client_opts *o)
{
	struct rate_thread *t = calloc((size_t)o->clients, sizeof(*t));
	double start = now_s() + o->warmup, *all;
	size_t n = 0;
	unsigned long done = 0, errors = 0, refused = 0;
	int i;

	for (i = 0; i < o->clients; i++) {
		t[i].o = o;
		t[i].start = start;
		t[i].end = start + o->seconds;
		pthread_create(&t[i].tid, NULL, rate_worker, &t[i]);
	}
	while (now_s() < start + o->seconds)
		usleep(10000);
	atomic_store(&rate_stop, 1);
	for (i = 0; i < o->clients; i++) {
		pthread_join(t[i].tid, NULL);
		n += t[i].nlat;
		done += t[i].done;
		errors += t[i].errors;
		refused += t[i].refused;
	}
	all = malloc((n + 1) * sizeof(double));
	n = 0;
	for (i = 0; i < o->clients; i++) {
		memcpy(all + n, t[i].lat, t[i].nlat * sizeof(double));
		n += t[i].nlat;
	}
	qsort(all, n, sizeof(double), cmp_double);
	printf("rate conns=%lu conn_s=%.1f p50_ms=%.3f p99_ms=%.3f "
	       "errors=%lu refused=%lu\n",
	    done, (double)done / o->seconds, percentile(all, n, 0.50),
	    percentile(all, n, 0.99), errors, refused);
	return done > 0 ? 0 : 1;
}

/* ------------------------------------------------------------ throughput */

static int
mode_throughput(struct client_opts *o)
{
	struct sockaddr_in target = o->target;
	char text[64], addr[32];
	static char buf[IO_BUF];
	uint64_t moved = 0;
	double t0, t1;
	int fd, refused;

	/* down streams from the source port, up into the sink port. */
	target.sin_port = htons(
	    (uint16_t)(ntohs(o->target.sin_port) + (o->down ? 1 : 2)));
	inet_ntop(AF_INET, &target.sin_addr, addr, sizeof(addr));
	snprintf(text, sizeof(text), "%s:%u", addr, ntohs(target.sin_port));
	fd = open_tunnel(o, &target, text, &refused);
	if (fd == -1) {
		fprintf(stderr, "loadgen: no tunnel%s\n",
		    refused ? " (refused)" : "");
		return 1;
	}
	set_timeouts(fd, 30);
	if (o->down) {
		char cmd[32];
		int len = snprintf(cmd, sizeof(cmd), "%" PRIu64 "\n", o->bytes);

		t0 = now_s();
		if (write(fd, cmd, (size_t)len) != len)
			die("write");
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);

			if (n == 0)
				break;
			if (n < 0)
				die("recv");
			moved += (uint64_t)n;
		}
		t1 = now_s();
	} else {
		int mfd = memfd_create("loadgen-up", 0);
		char ans[32];
		size_t got = 0;
		off_t off = 0;

		if (mfd == -1)
			die("memfd_create");
		memset(buf, 'u', sizeof(buf));
		for (off = 0; off < SRC_FILE; off += IO_BUF)
			if (write(mfd, buf, IO_BUF) != IO_BUF)
				die("memfd write");
		char cmd[32];
		int len = snprintf(cmd, sizeof(cmd), "%" PRIu64 "\n", o->bytes);

		t0 = now_s();
		if (write(fd, cmd, (size_t)len) != len)
			die("write");
		while (moved < o->bytes) {
			size_t want = o->bytes - moved < IO_BUF
			    ? (size_t)(o->bytes - moved)
			    : IO_BUF;
			ssize_t n;

			if (off >= SRC_FILE)
				off = 0;
			n = sendfile(fd, mfd, &off, want);
			if (n <= 0)
				die("sendfile");
			moved += (uint64_t)n;
		}
		while (got < 16) {
			ssize_t n = read(fd, ans + got, 16 - got);

			if (n <= 0) {
				fprintf(stderr,
				    "loadgen: no answer from the "
				    "sink (%s)\n",
				    n == 0 ? "EOF" : strerror(errno));
				return 1;
			}
			got += (size_t)n;
		}
		t1 = now_s();
		ans[16] = '\0';
		if (strtoull(ans, NULL, 10) != o->bytes) {
			fprintf(stderr,
			    "loadgen: sink got %s, sent %" PRIu64 "\n", ans,
			    o->bytes);
			return 1;
		}
	}
	close(fd);
	if (moved != o->bytes) {
		fprintf(stderr, "loadgen: moved %" PRIu64 " of %" PRIu64 "\n",
		    moved, o->bytes);
		return 1;
	}
	printf("throughput dir=%s bytes=%" PRIu64 " seconds=%.3f MB_s=%.1f\n",
	    o->down ? "down" : "up", moved, t1 - t0,
	    (double)moved / (t1 - t0) / 1e6);
	return 0;
}

/* ------------------------------------------------------------- aggregate */

struct agg_thread {
	pthread_t tid;
	const struct client_opts *o;
	uint64_t want, moved;
	int failed;
};

static pthread_barrier_t agg_barrier;

/* One tunnel of the aggregate: opened, then streams want bytes down. */
static void *
agg_worker(void *arg)
{
	struct agg_thread *t = arg;
	struct sockaddr_in target = t->o->target;
	char text[64], addr[32], cmd[32];
	char *buf = malloc(IO_BUF);
	int fd, refused, len;

	target.sin_port = htons((uint16_t)(ntohs(t->o->target.sin_port) + 1));
	inet_ntop(AF_INET, &target.sin_addr, addr, sizeof(addr));
	snprintf(text, sizeof(text), "%s:%u", addr, ntohs(target.sin_port));
	fd = open_tunnel(t->o, &target, text, &refused);
	pthread_barrier_wait(&agg_barrier);
	if (fd == -1 || buf == NULL) {
		t->failed = 1;
		free(buf);
		return NULL;
	}
	set_timeouts(fd, 60);
	len = snprintf(cmd, sizeof(cmd), "%" PRIu64 "\n", t->want);
	if (write(fd, cmd, (size_t)len) != len)
		t->failed = 1;
	while (!t->failed) {
		ssize_t n = recv(fd, buf, IO_BUF, MSG_TRUNC);

		if (n <= 0) {
			t->failed = n < 0;
			break;
		}
		t->moved += (uint64_t)n;
	}
	close(fd);
	free(buf);
	return NULL;
}

/*
 * -c tunnels at once, each streaming -b / -c bytes down: the aggregate
 * MB/s from the moment all are open to the end of the last one.
 */
static int
mode_aggregate(struct client_opts *o)
{
	int n = o->clients > 0 ? o->clients : 64, i, failed = 0;
	struct agg_thread *t = calloc((size_t)n, sizeof(*t));
	uint64_t moved = 0;
	double t0, t1;

	pthread_barrier_init(&agg_barrier, NULL, (unsigned)n + 1);
	for (i = 0; i < n; i++) {
		t[i].o = o;
		t[i].want = o->bytes / (uint64_t)n;
		pthread_create(&t[i].tid, NULL, agg_worker, &t[i]);
	}
	pthread_barrier_wait(&agg_barrier);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		moved += t[i].moved;
		failed += t[i].failed || t[i].moved != t[i].want;
	}
	t1 = now_s();
	printf("aggregate tunnels=%d failed=%d bytes=%" PRIu64
	       " seconds=%.3f MB_s=%.1f\n",
	    n, failed, moved, t1 - t0, (double)moved / (t1 - t0) / 1e6);
	return failed == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ hold */

enum hstate { H_CONNECTING, H_HEAD, H_ECHO, H_HELD, H_DEAD };

struct hconn {
	int fd;
	enum hstate st;
	size_t got;
	double since;
	char head[512];
};

static volatile sig_atomic_t hold_release;

/* Why tunnels were refused or failed: a few distinct reasons, counted. */
#define WHY_MAX 8
static char why_text[WHY_MAX][80];
static int why_count[WHY_MAX], why_n;

static void
why(const char *text)
{
	int i;

	for (i = 0; i < why_n; i++)
		if (strcmp(why_text[i], text) == 0)
			break;
	if (i == why_n) {
		if (why_n == WHY_MAX)
			return;
		snprintf(why_text[why_n++], sizeof(why_text[0]), "%s", text);
	}
	why_count[i]++;
}

static void
why_errno(const char *step, int e)
{
	char text[80];

	snprintf(text, sizeof(text), "%s: %s", step, e ? strerror(e) : "EOF");
	why(text);
}

static void
on_release(int sig)
{
	(void)sig;
	hold_release = 1;
}

/* Starts connection i; returns 0 or -1 (counted as refused). */
static int
hold_start(int ep, struct hconn *c, const struct client_opts *o)
{
	const struct sockaddr_in *sa = o->direct ? &o->target : &o->proxy;
	struct epoll_event e;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		return -1;
	c->st = H_CONNECTING;
	c->got = 0;
	c->since = now_s();
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	e.events = EPOLLOUT;
	e.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
	return 0;
}

/* Advances c; returns 1 once held, -1 on failure, 0 for more. */
static int
hold_step(int ep, struct hconn *c, const struct client_opts *o)
{
	struct epoll_event e = { .data.ptr = c };
	char req[256], b;
	int len, err = 0;
	socklen_t el = sizeof(err);
	ssize_t n;

	switch (c->st) {
	case H_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 ||
		    err != 0) {
			why_errno("connect", err);
			return -1;
		}
		if (o->direct) {
			c->st = H_ECHO;
		} else {
			len = connect_request(req, sizeof(req), o->target_text);
			if (write(c->fd, req, (size_t)len) != len)
				return -1;
			c->st = H_HEAD;
		}
		if (c->st == H_ECHO && write(c->fd, "h", 1) != 1)
			return -1;
		e.events = EPOLLIN;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
		return 0;
	case H_HEAD:
		n = read(c->fd, c->head + c->got, sizeof(c->head) - 1 - c->got);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			why_errno("reading the 200", n == 0 ? 0 : errno);
			return -1;
		}
		c->got += (size_t)n;
		if (!head_done(c->head, c->got)) {
			if (c->got >= sizeof(c->head) - 1)
				return -1;
			return 0;
		}
		c->head[c->got] = '\0';
		if (!head_is_200(c->head)) {
			c->head[strcspn(c->head, "\r\n")] = '\0';
			why(c->head);
			return -1;
		}
		if (write(c->fd, "h", 1) != 1)
			return -1;
		c->st = H_ECHO;
		return 0;
	case H_ECHO:
		n = read(c->fd, &b, 1);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n != 1) {
			why_errno("reading the echo", n == 0 ? 0 : errno);
			return -1;
		}
		c->st = H_HELD;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		return 1;
	default:
		return -1;
	}
}

static void
hold_kill(int ep, struct hconn *c)
{
	if (c->fd != -1) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->st = H_DEAD;
}

/*
 * Sends one byte down every held tunnel, then reads it back; returns how
 * many did not answer within the deadline.
 */
static int
hold_check(int ep, struct hconn *cs, int n, double deadline)
{
	struct epoll_event ev[256];
	int i, waiting = 0, lost = 0;

	for (i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN,
			.data.ptr = &cs[i] };

		if (cs[i].st != H_HELD)
			continue;
		if (write(cs[i].fd, "c", 1) != 1) {
			hold_kill(ep, &cs[i]);
			lost++;
			continue;
		}
		cs[i].st = H_ECHO;
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
		waiting++;
	}
	while (waiting > 0 && now_s() < deadline) {
		int k = epoll_wait(ep, ev, 256, 100);

		for (i = 0; i < k; i++) {
			struct hconn *c = ev[i].data.ptr;
			char b;
			ssize_t r = read(c->fd, &b, 1);

			if (r == -1 && errno == EAGAIN)
				continue;
			waiting--;
			if (r == 1) {
				c->st = H_HELD;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			} else {
				hold_kill(ep, c);
				lost++;
			}
		}
	}
	return lost + waiting;
}

static int
mode_hold(struct client_opts *o)
{
	struct hconn *cs = calloc((size_t)o->count, sizeof(*cs));
	struct epoll_event ev[256];
	int started = 0, active = 0, held = 0, refused = 0, failed = 0;
	int i, lost;
	double t0 = now_s(), wait_until, next_sweep = t0 + 1;

	signal(SIGUSR1, on_release);
	signal(SIGTERM, on_release);
	signal(SIGINT, on_release);
	int ep = epoll_create1(0);

	for (i = 0; i < o->count; i++)
		cs[i].fd = -1;
	while (held + refused + failed < o->count && !hold_release) {
		while (active < o->inflight && started < o->count) {
			if (hold_start(ep, &cs[started], o) == -1) {
				cs[started].st = H_DEAD;
				refused++;
			} else {
				active++;
			}
			started++;
		}
		int k = epoll_wait(ep, ev, 256, 100);

		for (i = 0; i < k; i++) {
			struct hconn *c = ev[i].data.ptr;
			int r = hold_step(ep, c, o);

			if (r == 1) {
				held++;
				active--;
			} else if (r == -1) {
				/* Before the 200 it is refused, after it failed. */
				if (c->st == H_ECHO)
					failed++;
				else
					refused++;
				hold_kill(ep, c);
				active--;
			}
		}
		/* A step stuck for 30 s counts as failed. */
		if (now_s() >= next_sweep) {
			double now = now_s();

			next_sweep = now + 1;

			for (i = 0; i < started; i++) {
				struct hconn *c = &cs[i];

				if (c->st != H_HELD && c->st != H_DEAD &&
				    now - c->since > 30) {
					hold_kill(ep, c);
					failed++;
					active--;
				}
			}
		}
	}
	/* Released before every tunnel was up: the rest failed. */
	for (i = 0; i < started; i++)
		if (cs[i].st != H_HELD && cs[i].st != H_DEAD) {
			hold_kill(ep, &cs[i]);
			failed++;
		}
	failed += o->count - started;
	printf("held=%d refused=%d failed=%d seconds=%.2f\n", held, refused,
	    failed, now_s() - t0);
	for (i = 0; i < why_n; i++)
		printf("why: %d x %s\n", why_count[i], why_text[i]);
	fflush(stdout);
	wait_until = now_s() + o->seconds;
	while (!hold_release && now_s() < wait_until)
		usleep(20000);
	lost = hold_check(ep, cs, o->count, now_s() + 30);
	printf("lost=%d\n", lost);
	fflush(stdout);
	for (i = 0; i < o->count; i++)
		if (cs[i].fd != -1)
			close(cs[i].fd);
	return held == o->count && lost == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ pss, tree */

static long
pss_of(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Pss:", 4) == 0) {
			kib = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static int
mode_pss(int argc, char **argv)
{
	long total = 0, procs = 0, k;
	char line[64];
	int i;

	if (argc > 0) {
		for (i = 0; i < argc; i++)
			if ((k = pss_of(atoi(argv[i]))) >= 0) {
				total += k;
				procs++;
			}
	} else {
		while (fgets(line, sizeof(line), stdin) != NULL)
			if ((k = pss_of(atoi(line))) >= 0) {
				total += k;
				procs++;
			}
	}
	printf("pss_kib=%ld procs=%ld\n", total, procs);
	return 0;
}

static int
ppid_of(int pid)
{
	char path[64], buf[512], *p;
	int fd, ppid = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p != NULL && sscanf(p + 2, "%*c %d", &ppid) != 1)
		ppid = -1;
	return ppid;
}

static long long
cpu_ticks_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long long cut, cst;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* Fields 14-17, counted from the state (field 3) after the name. */
	if (p == NULL ||
	    sscanf(p + 2,
		"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		"%llu %llu %lld %lld",
		&ut, &st, &cut, &cst) != 4)
		return 0;
	return (long long)(ut + st) + cut + cst;
}

static int
mode_cpu(int argc, char **argv)
{
	long long ticks = 0;
	char line[64];
	int i;

	if (argc > 0) {
		for (i = 0; i < argc; i++)
			ticks += cpu_ticks_of(atoi(argv[i]));
	} else {
		while (fgets(line, sizeof(line), stdin) != NULL)
			ticks += cpu_ticks_of(atoi(line));
	}
	printf("cpu_ns=%lld\n", ticks * (1000000000LL / sysconf(_SC_CLK_TCK)));
	return 0;
}

static int
mode_tree(int argc, char **argv)
{
	int *pids = NULL, *ppids = NULL, n = 0, cap = 0, i, changed;
	char *in;
	struct dirent *d;
	DIR *dir;

	if (argc < 1)
		return 2;
	dir = opendir("/proc");
	while ((d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			pids = realloc(pids, (size_t)cap * sizeof(int));
			ppids = realloc(ppids, (size_t)cap * sizeof(int));
		}
		pids[n] = atoi(d->d_name);
		ppids[n] = ppid_of(pids[n]);
		n++;
	}
	closedir(dir);
	in = calloc((size_t)n + 1, 1);
	for (i = 0; i < n; i++)
		in[i] = pids[i] == atoi(argv[0]);
	do {
		int j;

		changed = 0;
		for (i = 0; i < n; i++) {
			if (in[i])
				continue;
			for (j = 0; j < n; j++)
				if (in[j] && pids[j] == ppids[i]) {
					in[i] = 1;
					changed = 1;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < n; i++)
		if (in[i])
			printf("%d\n", pids[i]);
	return 0;
}

/* ------------------------------------------------------------------ main */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen target PORT\n"
	    "       loadgen rate (-x PROXY | -D) -t TARGET -c N -s SECS [-w "
	    "SECS] [-b BYTES]\n"
	    "       loadgen throughput (-x PROXY | -D) -t TARGET -d down|up -b "
	    "BYTES\n"
	    "       loadgen aggregate (-x PROXY | -D) -t TARGET -c N -b BYTES\n"
	    "       loadgen hold (-x PROXY | -D) -t TARGET -n N [-p INFLIGHT] "
	    "[-s SECS]\n"
	    "       loadgen pss [PID...]\n"
	    "       loadgen tree PID\n"
	    "       loadgen cpu [PID...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct client_opts o = { .clients = 4,
		.seconds = 2,
		.warmup = 0.3,
		.down = 1,
		.bytes = 2000000000ULL,
		.count = 1000,
		.inflight = 128 };
	const char *mode;
	int c, have_target = 0;

	if (argc < 2)
		usage();
	mode = argv[1];
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "target") == 0)
		return mode_target(argc - 2, argv + 2);
	if (strcmp(mode, "pss") == 0)
		return mode_pss(argc - 2, argv + 2);
	if (strcmp(mode, "tree") == 0)
		return mode_tree(argc - 2, argv + 2);
	if (strcmp(mode, "cpu") == 0)
		return mode_cpu(argc - 2, argv + 2);
	if (strcmp(mode, "hold") == 0)
		o.seconds = 600;
	optind = 2;
	while ((c = getopt(argc, argv, "x:Dt:c:s:w:d:b:n:p:")) != -1) {
		switch (c) {
		case 'x':
			parse_addr(optarg, &o.proxy);
			break;
		case 'D':
			o.direct = 1;
			break;
		case 't':
			parse_addr(optarg, &o.target);
			snprintf(
			    o.target_text, sizeof(o.target_text), "%s", optarg);
			have_target = 1;
			break;
		case 'c':
			o.clients = atoi(optarg);
			break;
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'w':
			o.warmup = atof(optarg);
			break;
		case 'd':
			o.down = strcmp(optarg, "down") == 0;
			break;
		case 'b':
			o.bytes = strtoull(optarg, NULL, 10);
			o.sized = 1;
			break;
		case 'n':
			o.count = atoi(optarg);
			break;
		case 'p':
			o.inflight = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!have_target || (!o.direct && o.proxy.sin_port == 0))
		usage();
	if (strcmp(mode, "rate") == 0) {
		if (o.sized)
			rate_to_source(&o);
		return mode_rate(&o);
	}
	if (strcmp(mode, "throughput") == 0)
		return mode_throughput(&o);
	if (strcmp(mode, "aggregate") == 0)
		return mode_aggregate(&o);
	if (strcmp(mode, "hold") == 0)
		return mode_hold(&o);
	usage();
	return 2;
}
