/*
 * The local owner of the client's end of the connection, for --allow-uid:
 * SO_PEERCRED on AF_UNIX, and for TCP one exact-match query to the kernel's
 * socket diagnostics, the way identd servers ask.  The kernel's answer is
 * checked field by field because an exact lookup falls back to a listener.
 */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "util.h"

#define PEER_NL_BUF 8192 /* the kernel's own NLMSG_GOODSIZE cap */
#define PEER_NL_READS 8 /* datagrams read per query at most */
#define PEER_NL_TIMEOUT_S 1 /* per read; the kernel answers at once */
#define PEER_PW_BUF_MAX (1024 * 1024) /* getpwnam_r buffer cap */

/* The client's socket as the kernel's table holds it, ports in net order. */
struct peer_query {
	int family;
	unsigned char src[16]; /* client address: its socket's local end */
	unsigned char dst[16]; /* our address: its socket's remote end */
	uint16_t sport, dport;
	uint32_t ifindex; /* IPv6 scope of a link-local peer, else 0 */
};

/* What one netlink message or datagram told us. */
enum peer_step {
	PEER_ERROR = -1, /* errno set */
	PEER_NONE, /* answer complete, no socket matched */
	PEER_FOUND, /* *uid set */
	PEER_MORE, /* keep reading */
};

static const unsigned char peer_v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

static int
peer_unix_uid(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	/* The kernel reports uid -1 for a peer it has no credentials of. */
	if (len < sizeof(cred) || cred.uid == (uid_t)-1) {
		errno = ENOENT;
		return -1;
	}
	*uid = cred.uid;
	return 0;
}

/* Copies an address with its port into q's src or dst (family's layout). */
static void
peer_take_addr(const struct sockaddr_storage *ss, unsigned char *addr,
    uint16_t *port, uint32_t *ifindex)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		memcpy(addr, &in->sin_addr, 4);
		*port = in->sin_port;
	} else {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;

		memcpy(addr, &in6->sin6_addr, 16);
		*port = in6->sin6_port;
		*ifindex = in6->sin6_scope_id;
	}
}

/*
 * Writes addr (in family's layout) in canonical form into out, an
 * IPv4-mapped IPv6 address as plain IPv4, and returns the canonical family:
 * a v4 client of a dual-stack listener may be either in the kernel's table.
 */
static int
peer_canon(int family, const unsigned char *addr, unsigned char *out)
{
	memset(out, 0, 16);
	if (family == AF_INET) {
		memcpy(out, addr, 4);
		return AF_INET;
	}
	if (memcmp(addr, peer_v4mapped, sizeof(peer_v4mapped)) == 0) {
		memcpy(out, addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, addr, 16);
	return AF_INET6;
}

static int
peer_same_addr(int fa, const unsigned char *a, int fb, const unsigned char *b)
{
	unsigned char ca[16], cb[16];

	return peer_canon(fa, a, ca) == peer_canon(fb, b, cb) &&
	    memcmp(ca, cb, sizeof(ca)) == 0;
}

/*
 * Accepts only the client's own socket: an exact lookup that misses the
 * established table returns a listener on the client's port, and TIME_WAIT,
 * SYN_RECV and orphaned sockets report uid 0 or belong to nobody (inode 0).
 */
static int
peer_msg_matches(const struct peer_query *q, const struct inet_diag_msg *m)
{
	static const unsigned int live = 1U << TCP_ESTABLISHED |
	    1U << TCP_FIN_WAIT1 | 1U << TCP_FIN_WAIT2 | 1U << TCP_CLOSE_WAIT |
	    1U << TCP_LAST_ACK | 1U << TCP_CLOSING;
	unsigned char src[16], dst[16];

	if (m->idiag_state >= 32 || !(live & 1U << m->idiag_state) ||
	    m->idiag_inode == 0)
		return 0;
	if (m->id.idiag_sport != q->sport || m->id.idiag_dport != q->dport)
		return 0;
	memcpy(src, m->id.idiag_src, sizeof(src));
	memcpy(dst, m->id.idiag_dst, sizeof(dst));
	return peer_same_addr(m->idiag_family, src, q->family, q->src) &&
	    peer_same_addr(m->idiag_family, dst, q->family, q->dst);
}

/* Interprets one message of our sequence: header h, payload data. */
static enum peer_step
peer_diag_msg(const struct nlmsghdr *h, const char *data,
    const struct peer_query *q, uid_t *uid)
{
	struct inet_diag_msg m;
	struct nlmsgerr e;

	if (h->nlmsg_type == NLMSG_DONE)
		return PEER_NONE;
	if (h->nlmsg_type == NLMSG_ERROR) {
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(e))) {
			errno = EPROTO;
			return PEER_ERROR;
		}
		memcpy(&e, data, sizeof(e));
		if (e.error == 0) /* an acknowledgement ends the answer */
			return PEER_NONE;
		errno = -e.error;
		return PEER_ERROR;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return PEER_MORE;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(m))) {
		errno = EPROTO;
		return PEER_ERROR;
	}
	memcpy(&m, data, sizeof(m));
	if (!peer_msg_matches(q, &m))
		return PEER_MORE;
	*uid = (uid_t)m.idiag_uid;
	return PEER_FOUND;
}

/* Walks the messages of one datagram buf[0..len). */
static enum peer_step
peer_diag_parse(const char *buf, size_t len, const struct peer_query *q,
    uint32_t seq, uid_t *uid)
{
	int multi = 0, seen = 0;

	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t step;

		memcpy(&h, buf, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len) {
			errno = EPROTO;
			return PEER_ERROR;
		}
		/* Anything not answering our request is stale: skip it. */
		if (h.nlmsg_seq == seq) {
			enum peer_step r = peer_diag_msg(
			    &h, buf + NLMSG_HDRLEN, q, uid);

			if (r != PEER_MORE)
				return r;
			seen = 1;
			multi |= (h.nlmsg_flags & NLM_F_MULTI) != 0;
		}
		step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= len)
			break;
		buf += step;
		len -= step;
	}
	/* A single-part answer is complete; a multipart one ends in DONE. */
	return seen && !multi ? PEER_NONE : PEER_MORE;
}

/*
 * Reads one datagram from the kernel.  Returns its length, 0 for one not
 * from the kernel (dropped), or -1 with errno (ETIMEDOUT, EMSGSIZE).
 */
static ssize_t
peer_nl_read(int nl, void *buf, size_t size)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = { .msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1 };
	ssize_t n = recvmsg(nl, &mh, 0);

	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			errno = ETIMEDOUT; /* SO_RCVTIMEO expired */
		return -1;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		errno = EMSGSIZE;
		return -1;
	}
	/* Only the kernel (port 0) may answer; another process could forge. */
	if (mh.msg_namelen < sizeof(from) || from.nl_pid != 0)
		return 0;
	return n;
}

/* Reads the answer to request seq; a bounded number of datagrams. */
static int
peer_diag_recv(int nl, const struct peer_query *q, uint32_t seq, uid_t *uid)
{
	union {
		struct nlmsghdr align;
		char buf[PEER_NL_BUF];
	} u;
	int i;

	for (i = 0; i < PEER_NL_READS; i++) {
		ssize_t n = peer_nl_read(nl, u.buf, sizeof(u.buf));
		enum peer_step r;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		r = peer_diag_parse(u.buf, (size_t)n, q, seq, uid);
		if (r == PEER_FOUND)
			return 0;
		if (r == PEER_ERROR)
			return -1;
		if (r == PEER_NONE) {
			errno = ENOENT;
			return -1;
		}
	}
	errno = EPROTO; /* the kernel never said it was done */
	return -1;
}

/* Sends one exact-match SOCK_DIAG_BY_FAMILY request for q, then reads. */
static int
peer_diag_lookup(int nl, const struct peer_query *q, uint32_t seq, uid_t *uid)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST; /* no NLM_F_DUMP: one socket */
	req.h.nlmsg_seq = seq;
	req.r.sdiag_family = (uint8_t)q->family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_sport = q->sport;
	req.r.id.idiag_dport = q->dport;
	memcpy(req.r.id.idiag_src, q->src, sizeof(req.r.id.idiag_src));
	memcpy(req.r.id.idiag_dst, q->dst, sizeof(req.r.id.idiag_dst));
	req.r.id.idiag_if = q->ifindex;
	/* Without NOCOOKIE the kernel compares cookies and answers ESTALE. */
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (send(nl, &req, sizeof(req), 0) == -1)
		return -1;
	return peer_diag_recv(nl, q, seq, uid);
}

/* A netlink socket that hears only the kernel and waits at most 1 s. */
static int
peer_nl_open(void)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = PEER_NL_TIMEOUT_S };
	int nl, saved;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl == -1)
		return -1;
	/* Connected to port 0, the socket refuses other processes' unicasts. */
	if (setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(nl, (struct sockaddr *)&kernel, sizeof(kernel)) == -1) {
		saved = errno;
		close(nl);
		errno = saved;
		return -1;
	}
	return nl;
}

/* Both ends IPv4-mapped: the same query with plain IPv4 addresses. */
static int
peer_unmapped(const struct peer_query *q, struct peer_query *v4)
{
	if (q->family != AF_INET6 ||
	    memcmp(q->src, peer_v4mapped, sizeof(peer_v4mapped)) != 0 ||
	    memcmp(q->dst, peer_v4mapped, sizeof(peer_v4mapped)) != 0)
		return 0;
	*v4 = *q;
	v4->family = AF_INET;
	memset(v4->src, 0, sizeof(v4->src));
	memset(v4->dst, 0, sizeof(v4->dst));
	memcpy(v4->src, q->src + 12, 4);
	memcpy(v4->dst, q->dst + 12, 4);
	v4->ifindex = 0;
	return 1;
}

/* Builds the query for TCP socket fd, whose local address is self. */
static int
peer_inet_query(
    int fd, const struct sockaddr_storage *self, struct peer_query *q)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int proto;
	socklen_t plen = sizeof(proto);
	uint32_t unused;

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) == -1)
		return -1;
	if (proto != IPPROTO_TCP) {
		errno = ENOENT; /* sock_diag is asked about TCP only */
		return -1;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == -1)
		return -1;
	memset(q, 0, sizeof(*q));
	q->family = self->ss_family;
	/* The client's socket has our ends swapped: its source is our peer. */
	peer_take_addr(&peer, q->src, &q->sport, &q->ifindex);
	peer_take_addr(self, q->dst, &q->dport, &unused);
	return 0;
}

static int
peer_inet_uid(int fd, const struct sockaddr_storage *self, uid_t *uid)
{
	struct peer_query q, v4;
	int nl, rc, saved;

	if (peer_inet_query(fd, self, &q) == -1)
		return -1;
	if ((nl = peer_nl_open()) == -1)
		return -1;
	/*
	 * A v4 client of a dual-stack listener owns an AF_INET socket; ask
	 * in that family first, then in the mapped form we were given.
	 */
	if (peer_unmapped(&q, &v4)) {
		rc = peer_diag_lookup(nl, &v4, 1, uid);
		if (rc == -1 && errno == ENOENT)
			rc = peer_diag_lookup(nl, &q, 2, uid);
	} else {
		rc = peer_diag_lookup(nl, &q, 1, uid);
	}
	saved = errno;
	close(nl);
	errno = saved;
	return rc;
}

/* Reads the first number in a /proc file; -1 when it cannot. */
static long long
peer_proc_number(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/*
 * Inside a user namespace the kernel shows a uid it cannot map as the
 * overflow uid (65534), for every such user at once, root included: that
 * is no user at all.  In the initial namespace, whose uid_map maps all of
 * 0-4294967294, every uid is real, nobody's 65534 too.
 */
static int
peer_uid_unmappable(uid_t uid)
{
	char map[64];
	ssize_t n;
	int fd;

	if ((long long)uid != peer_proc_number("/proc/sys/kernel/overflowuid"))
		return 0;
	if ((fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	n = read(fd, map, sizeof(map) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	map[n] = '\0';
	/* "0 0 4294967295": the initial namespace. */
	return strtoul(map, NULL, 10) != 0 || strstr(map, "4294967295") == NULL;
}

int
peer_uid(int fd, uid_t *uid)
{
	struct sockaddr_storage self;
	socklen_t len = sizeof(self);
	uid_t found;

	if (getsockname(fd, (struct sockaddr *)&self, &len) == -1)
		return -1;
	switch (self.ss_family) {
	case AF_UNIX:
		if (peer_unix_uid(fd, &found) == -1)
			return -1;
		break;
	case AF_INET:
	case AF_INET6:
		if (peer_inet_uid(fd, &self, &found) == -1)
			return -1;
		break;
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (peer_uid_unmappable(found)) {
		errno = ENOENT;
		return -1;
	}
	*uid = found;
	return 0;
}

/* getpwnam_r with a buffer grown on ERANGE; an unknown name is EINVAL. */
static int
peer_lookup_name(const char *name, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	size_t size;
	int e = ERANGE;

	for (size = 1024; e == ERANGE && size <= PEER_PW_BUF_MAX; size *= 2) {
		char *buf = malloc(size);

		if (buf == NULL)
			return -1;
		res = NULL;
		e = getpwnam_r(name, &pw, buf, size, &res);
		if (e == 0 && res != NULL)
			*uid = pw.pw_uid;
		free(buf);
	}
	if (e == 0 && res != NULL)
		return 0;
	/* getpwnam_r(3): "not found" is 0 or, on some systems, these. */
	if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		e = EINVAL;
	errno = e;
	return -1;
}

/* Parses one item s[0..len) of the list. */
static int
peer_parse_item(const char *s, size_t len, uid_t *uid)
{
	char item[LOGIN_NAME_MAX];
	long long v;

	if (len == 0 || len >= sizeof(item)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(item, s, len);
	item[len] = '\0';
	if (strspn(item, "0123456789") == len) {
		/* (uid_t)-1 means "no uid" to setresuid(2) and chown(2). */
		if (util_parse_int(item, 0, (long long)(uid_t)-2, &v) == -1) {
			errno = EINVAL;
			return -1;
		}
		*uid = (uid_t)v;
		return 0;
	}
	if (strcmp(item, "self") == 0) {
		*uid = getuid();
		return 0;
	}
	return peer_lookup_name(item, uid);
}

/* Copies s[0..len) into bad, cut to fit, always terminated. */
static void
peer_set_bad(char *bad, size_t badsize, const char *s, size_t len)
{
	if (badsize == 0)
		return;
	if (len > badsize - 1)
		len = badsize - 1;
	memcpy(bad, s, len);
	bad[len] = '\0';
}

int
peer_parse_uids(const char *list, uid_t *uids, size_t max, size_t *n, char *bad,
    size_t badsize)
{
	size_t count = *n;
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		uid_t uid;

		if (peer_parse_item(p, len, &uid) == -1) {
			peer_set_bad(bad, badsize, p, len);
			return -1;
		}
		if (count >= max) {
			peer_set_bad(bad, badsize, p, len);
			errno = E2BIG;
			return -1;
		}
		/* Written past *n only; *n moves once the whole list parsed. */
		uids[count++] = uid;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*n = count;
	return 0;
}

int
peer_uid_allowed(uid_t uid, const uid_t *uids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (uids[i] == uid)
			return 1;
	return 0;
}
