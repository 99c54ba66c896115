/*
 * The stub resolver's I/O: the two files read line by line through a
 * bounded buffer, one socket per query, a schedule of tries over the
 * nameservers as glibc's res_send(3) keeps, and TCP after a truncated
 * answer.  What the bytes mean is dns.c's business.
 */
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define RESOLVE_HOSTS "/etc/hosts"
#define RESOLVE_CONF "/etc/resolv.conf"
#define RESOLVE_DNS_PORT 53
/* An answer read at most, over UDP or TCP: some 250 addresses. */
#define RESOLVE_MSG_MAX 4096
/* A line of either file read at most: a longer one is skipped whole. */
#define RESOLVE_LINE_MAX 4096

enum resolve_stage {
	RESOLVE_IDLE,
	RESOLVE_UDP, /* the query is out, waiting for the datagram */
	RESOLVE_TCP_CONNECTING,
	RESOLVE_TCP_READING, /* the query is out, reading the answer */
	RESOLVE_DONE, /* verdict and addrs hold the result */
};

/* One family's query, through its tries. */
struct resolve_query {
	struct dns_query q;
	enum resolve_stage stage;
	int fd;
	int tcp; /* ask over TCP: use-vc, or a truncated answer came */
	int try; /* which try, over every server in turn */
	int64_t try_until; /* when this try gives up on its server */
	/* The most telling thing a server said; DNS_IGNORE for nothing. */
	enum dns_verdict verdict;
	int local_errno; /* a socket we could not have, 0 for none */
	struct dns_addrs addrs;
	size_t got; /* TCP: bytes of buf read, the length prefix too */
	uint8_t buf[2 + RESOLVE_MSG_MAX];
};

/* One resolution's state. */
struct resolve {
	struct dns_conf conf;
	struct resolve_query query[RESOLVE_NFAMILIES];
	unsigned int first_server; /* of every query's first try (rotate) */
	int fresh; /* families done since the last resolve_collect() */
};

/*
 * Mapped for a resolution and unmapped by resolve_end(), so a connection
 * to an address literal never touches a page of it (memory per held
 * tunnel: docs/benchmarks.md, PSS), and nothing of a name and its answers
 * stays in the process after it.  NULL between resolutions.
 */
static struct resolve *resolve_state;

static const uint16_t resolve_types[RESOLVE_NFAMILIES] = {
	[RESOLVE_V6] = DNS_TYPE_AAAA,
	[RESOLVE_V4] = DNS_TYPE_A,
};

/*
 * Calls line_fn for each line of path, without its newline.  A missing
 * file has no lines.  Returns 0, or -1 with errno when it cannot be read.
 */
static int
resolve_each_line(const char *path,
    void (*line_fn)(void *ctx, const char *line, size_t len), void *ctx)
{
	char buf[RESOLVE_LINE_MAX];
	size_t have = 0;
	int fd, skipping = 0;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return errno == ENOENT ? 0 : -1;
	while ((n = read(fd, buf + have, sizeof(buf) - have)) != 0) {
		size_t start = 0;
		const char *nl;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		have += (size_t)n;
		while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
			if (!skipping)
				line_fn(ctx, buf + start,
				    (size_t)(nl - buf) - start);
			skipping = 0;
			start = (size_t)(nl - buf) + 1;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof(buf)) {
			skipping = 1;
			have = 0;
		}
	}
	if (n == 0 && have > 0 && !skipping)
		line_fn(ctx, buf, have);
	n = n == 0 ? 0 : -1;
	close(fd);
	return (int)n;
}

/* What the hosts file gives for one name. */
struct resolve_hosts {
	const char *name;
	int found;
	struct dns_addrs *v6, *v4;
};

static void
resolve_hosts_line(void *ctx, const char *line, size_t len)
{
	struct resolve_hosts *h = ctx;

	h->found |= dns_hosts_line(line, len, h->name, h->v6, h->v4);
}

static void
resolve_conf_line(void *ctx, const char *line, size_t len)
{
	dns_conf_line(ctx, line, len);
}

/* A random 16 bits: query ids an off-path attacker cannot guess. */
static uint16_t
resolve_random16(void)
{
	uint16_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	return (uint16_t)(util_now_ms() ^ getpid());
}

/* Ends q's query with verdict v. */
static void
resolve_done(struct resolve_query *q, enum dns_verdict v)
{
	struct resolve_query *base = resolve_state->query;

	if (q->fd != -1)
		close(q->fd);
	q->fd = -1;
	q->stage = RESOLVE_DONE;
	q->verdict = v;
	resolve_state->fresh |= 1 << (int)(q - base);
}

/* The socket address of the server try t of a query asks. */
static socklen_t
resolve_server_addr(int t, struct sockaddr_storage *ss)
{
	const struct dns_conf *c = &resolve_state->conf;
	const struct dns_server *s =
	    &c->server[(resolve_state->first_server + (unsigned int)t) %
		c->nservers];

	memset(ss, 0, sizeof(*ss));
	if (s->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(RESOLVE_DNS_PORT);
		memcpy(&in6->sin6_addr, s->addr, 16);
		in6->sin6_scope_id = s->scope;
		return sizeof(*in6);
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(RESOLVE_DNS_PORT);
	memcpy(&in->sin_addr, s->addr, 4);
	return sizeof(*in);
}

/*
 * Sends q's query for its current try: over UDP, or over TCP once the
 * connection is up.  Returns 0, or -1 with errno.
 */
static int
resolve_send(struct resolve_query *q)
{
	uint8_t msg[2 + DNS_QUERY_MAX];
	const void *out = q->q.msg;
	size_t len = q->q.len;

	if (q->tcp) {
		/* RFC 1035 section 4.2.2: a two-byte length first. */
		msg[0] = (uint8_t)(q->q.len >> 8);
		msg[1] = (uint8_t)q->q.len;
		memcpy(msg + 2, q->q.msg, q->q.len);
		out = msg;
		len += 2;
	}
	/* A fresh socket's buffer takes it whole. */
	if (send(q->fd, out, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	q->stage = q->tcp ? RESOLVE_TCP_READING : RESOLVE_UDP;
	q->got = 0;
	return 0;
}

/*
 * Starts q's current try: a socket connected to the server (so the kernel
 * takes datagrams from it alone, on a random port), and the query sent
 * once the connection is up.  Returns 0, or -1 with errno.
 */
static int
resolve_try_start(struct resolve_query *q, int64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len = resolve_server_addr(q->try, &ss);
	int type = q->tcp ? SOCK_STREAM : SOCK_DGRAM;

	if (q->fd != -1)
		close(q->fd);
	q->try_until = now + dns_try_ms(&resolve_state->conf, q->try);
	q->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd == -1)
		return -1;
	if (connect(q->fd, (struct sockaddr *)&ss, len) == 0)
		return resolve_send(q);
	if (errno != EINPROGRESS)
		return -1;
	q->stage = RESOLVE_TCP_CONNECTING;
	return 0;
}

/* Whether errno says this process ran out of something. */
static int
resolve_local_failure(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/*
 * The current try of q failed: the server said v (DNS_IGNORE: nothing, in
 * time), or could not be reached.  A server's answer ends the query once
 * every server was asked; silence, once every try was made.  Otherwise the
 * next try starts, and a try that cannot start counts as failed too.
 */
static void
resolve_try_failed(struct resolve_query *q, enum dns_verdict v, int64_t now)
{
	const struct dns_conf *c = &resolve_state->conf;
	int tries = c->attempts * (int)c->nservers;

	for (;;) {
		if (v != DNS_IGNORE)
			q->verdict = v;
		if (++q->try >= tries ||
		    (v != DNS_IGNORE && q->try % (int)c->nservers == 0)) {
			resolve_done(q, q->verdict);
			return;
		}
		q->tcp = c->use_vc;
		if (resolve_try_start(q, now) == 0)
			return;
		if (resolve_local_failure(errno)) {
			q->local_errno = errno;
			resolve_done(q, DNS_BAD);
			return;
		}
		v = DNS_BAD;
	}
}

/* Judges a whole answer msg[0..len) to q; over TCP nothing is ignored. */
static void
resolve_judge(
    struct resolve_query *q, const uint8_t *msg, size_t len, int64_t now)
{
	enum dns_verdict v = dns_judge(&q->q, msg, len, &q->addrs);

	switch (v) {
	case DNS_IGNORE:
		if (q->tcp)
			resolve_try_failed(q, DNS_BAD, now);
		return;
	case DNS_TRUNCATED:
		/* RFC 7766: ask the same server again over TCP. */
		if (q->tcp) {
			resolve_try_failed(q, DNS_BAD, now);
			return;
		}
		q->tcp = 1;
		if (resolve_try_start(q, now) == -1)
			resolve_try_failed(q, DNS_BAD, now);
		return;
	case DNS_ANSWER:
	case DNS_NXDOMAIN:
		resolve_done(q, v);
		return;
	case DNS_SERVFAIL:
	case DNS_REFUSED:
	case DNS_BAD:
		resolve_try_failed(q, v, now);
		return;
	}
}

/* Reads the datagrams waiting on q's socket. */
static void
resolve_read_udp(struct resolve_query *q, int64_t now)
{
	while (q->stage == RESOLVE_UDP) {
		ssize_t n = recv(q->fd, q->buf, RESOLVE_MSG_MAX, MSG_TRUNC);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			/* ECONNREFUSED: nothing listens there (ICMP). */
			resolve_try_failed(q, DNS_BAD, now);
			return;
		}
		/* Longer than we read: as truncated, so asked over TCP. */
		if (n > RESOLVE_MSG_MAX)
			q->buf[2] |= 0x02;
		resolve_judge(q, q->buf,
		    (size_t)(n > RESOLVE_MSG_MAX ? RESOLVE_MSG_MAX : n), now);
	}
}

/* Reads what came of q's TCP answer; judges it once whole. */
static void
resolve_read_tcp(struct resolve_query *q, int64_t now)
{
	size_t want = q->got < 2 ? 2 : 2 + ((size_t)q->buf[0] << 8 | q->buf[1]);
	ssize_t n;

	if (want > sizeof(q->buf)) {
		resolve_try_failed(q, DNS_BAD, now);
		return;
	}
	n = recv(q->fd, q->buf + q->got, want - q->got, 0);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		resolve_try_failed(q, DNS_BAD, now);
		return;
	}
	q->got += (size_t)n;
	if (q->got >= 2 && q->got == 2 + ((size_t)q->buf[0] << 8 | q->buf[1]))
		resolve_judge(q, q->buf + 2, q->got - 2, now);
}

/* The TCP connection's outcome: send the query, or try the next server. */
static void
resolve_connected(struct resolve_query *q, int64_t now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0 || resolve_send(q) == -1)
		resolve_try_failed(q, DNS_BAD, now);
}

/* Starts both queries of a name the hosts file did not hold. */
static void
resolve_ask(const char *host, int64_t now)
{
	struct resolve_query *q;
	int f;

	dns_conf_init(&resolve_state->conf);
	/* Unreadable is no answer: never ask a server it does not name. */
	if (resolve_each_line(
		RESOLVE_CONF, resolve_conf_line, &resolve_state->conf) == -1) {
		if (resolve_local_failure(errno))
			resolve_state->query[0].local_errno = errno;
		resolve_done(&resolve_state->query[RESOLVE_V6], DNS_BAD);
		resolve_done(&resolve_state->query[RESOLVE_V4], DNS_BAD);
		return;
	}
	dns_conf_finish(&resolve_state->conf);
	resolve_state->first_server = resolve_state->conf.rotate
	    ? resolve_random16() % resolve_state->conf.nservers
	    : 0;
	for (f = 0; f < RESOLVE_NFAMILIES; f++) {
		q = &resolve_state->query[f];
		if (dns_query_build(&q->q, host, resolve_random16(),
			resolve_types[f], resolve_state->conf.edns) == -1) {
			/* No DNS name can be spelt so: none exists. */
			resolve_done(q, DNS_NXDOMAIN);
			continue;
		}
		q->tcp = resolve_state->conf.use_vc;
		if (resolve_try_start(q, now) == -1) {
			if (resolve_local_failure(errno)) {
				q->local_errno = errno;
				resolve_done(q, DNS_BAD);
				continue;
			}
			resolve_try_failed(q, DNS_BAD, now);
		}
	}
}

/* Maps a new resolution's state, zeroed, with no socket; -1 with errno. */
static int
resolve_map(void)
{
	void *m = mmap(NULL, sizeof(*resolve_state), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int f;

	if (m == MAP_FAILED)
		return -1;
	resolve_state = m;
	for (f = 0; f < RESOLVE_NFAMILIES; f++)
		resolve_state->query[f].fd = -1;
	return 0;
}

int
resolve_start(const char *host)
{
	struct resolve_hosts h;
	int f;

	resolve_end();
	if (resolve_map() == -1)
		return -1;
	h.name = host;
	h.found = 0;
	h.v6 = &resolve_state->query[RESOLVE_V6].addrs;
	h.v4 = &resolve_state->query[RESOLVE_V4].addrs;
	if (resolve_each_line(RESOLVE_HOSTS, resolve_hosts_line, &h) == -1) {
		int saved = errno;

		resolve_end();
		errno = saved;
		return -1;
	}
	if (!h.found) {
		resolve_ask(host, util_now_ms());
		return 0;
	}
	/* As glibc's files backend: the file alone answers both families. */
	for (f = 0; f < RESOLVE_NFAMILIES; f++)
		resolve_done(&resolve_state->query[f], DNS_ANSWER);
	return 0;
}

size_t
resolve_pollfds(struct pollfd *pfd)
{
	size_t n = 0;
	int f;

	if (resolve_state == NULL)
		return 0;
	for (f = 0; f < RESOLVE_NFAMILIES; f++) {
		const struct resolve_query *q = &resolve_state->query[f];

		if (q->stage == RESOLVE_IDLE || q->stage == RESOLVE_DONE)
			continue;
		pfd[n].fd = q->fd;
		pfd[n].events = q->stage == RESOLVE_TCP_CONNECTING ? POLLOUT
								   : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

int64_t
resolve_wake(void)
{
	int64_t wake = INT64_MAX;
	int f;

	for (f = 0; f < RESOLVE_NFAMILIES; f++)
		if (resolve_family_pending((enum resolve_family)f) &&
		    resolve_state->query[f].try_until < wake)
			wake = resolve_state->query[f].try_until;
	return wake;
}

/* The pending query whose socket fd is, or NULL. */
static struct resolve_query *
resolve_query_of(int fd)
{
	int f;

	for (f = 0; f < RESOLVE_NFAMILIES; f++)
		if (resolve_family_pending((enum resolve_family)f) &&
		    resolve_state->query[f].fd == fd)
			return &resolve_state->query[f];
	return NULL;
}

int
resolve_collect(const struct pollfd *pfd, size_t n, int64_t now)
{
	int f, done;
	size_t i;

	if (resolve_state == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		struct resolve_query *q = resolve_query_of(pfd[i].fd);

		if (q == NULL || pfd[i].revents == 0)
			continue;
		if (q->stage == RESOLVE_TCP_CONNECTING)
			resolve_connected(q, now);
		else if (q->stage == RESOLVE_TCP_READING)
			resolve_read_tcp(q, now);
		else
			resolve_read_udp(q, now);
	}
	for (f = 0; f < RESOLVE_NFAMILIES; f++)
		if (resolve_family_pending((enum resolve_family)f) &&
		    now >= resolve_state->query[f].try_until)
			resolve_try_failed(
			    &resolve_state->query[f], DNS_IGNORE, now);
	done = resolve_state->fresh;
	resolve_state->fresh = 0;
	return done;
}

const struct dns_addrs *
resolve_answer(enum resolve_family f)
{
	const struct resolve_query *q;

	if (resolve_state == NULL)
		return NULL;
	q = &resolve_state->query[f];
	return q->stage == RESOLVE_DONE && q->verdict == DNS_ANSWER &&
		q->addrs.n > 0
	    ? &q->addrs
	    : NULL;
}

int
resolve_family_pending(enum resolve_family f)
{
	enum resolve_stage s;

	if (resolve_state == NULL)
		return 0;
	s = resolve_state->query[f].stage;
	return s != RESOLVE_IDLE && s != RESOLVE_DONE;
}

int
resolve_pending(void)
{
	return resolve_family_pending(RESOLVE_V6) ||
	    resolve_family_pending(RESOLVE_V4);
}

enum outcome
resolve_verdict(void)
{
	int seen[DNS_BAD + 1] = { 0 }, f;

	if (resolve_state == NULL)
		return OUT_DNS_FAILURE;
	for (f = 0; f < RESOLVE_NFAMILIES; f++) {
		const struct resolve_query *q = &resolve_state->query[f];

		if (q->local_errno != 0)
			return OUT_RESOURCES_EXHAUSTED;
		seen[q->stage == RESOLVE_DONE ? q->verdict : DNS_IGNORE] = 1;
	}
	/* A server's failure says more than another family's silence. */
	if (seen[DNS_SERVFAIL])
		return OUT_DNS_SERVFAIL;
	if (seen[DNS_REFUSED])
		return OUT_DNS_REFUSED;
	if (seen[DNS_BAD] || seen[DNS_TRUNCATED])
		return OUT_DNS_FAILURE;
	if (seen[DNS_IGNORE])
		return OUT_DNS_TIMEOUT;
	return seen[DNS_ANSWER] ? OUT_DNS_NO_ADDRESS : OUT_DNS_NXDOMAIN;
}

void
resolve_end(void)
{
	int f;

	if (resolve_state == NULL)
		return;
	for (f = 0; f < RESOLVE_NFAMILIES; f++)
		if (resolve_state->query[f].fd != -1)
			close(resolve_state->query[f].fd);
	munmap(resolve_state, sizeof(*resolve_state));
	resolve_state = NULL;
}
