/*
 * Asynchronous resolution on getaddrinfo_a(3).  Completion is signalled with
 * a real-time signal read through a signalfd, so the dialer waits for
 * answers and connections in one poll(2), with no callback thread.
 */
#include "resolve.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define RESOLVE_SIGNAL (SIGRTMIN + 1)

/* One resolution's state; glibc's threads write into req[]. */
struct resolve {
	struct gaicb req[RESOLVE_NFAMILIES];
	struct addrinfo hints[RESOLVE_NFAMILIES];
	char service[8];
	int fd; /* signalfd: readable on an answer */
	int pending[RESOLVE_NFAMILIES]; /* still asking */
	int err[RESOLVE_NFAMILIES]; /* getaddrinfo error, 0 on success */
};

static struct resolve resolve_state = { .fd = -1 };

/* Blocks the completion signal so it queues for the signalfd. */
static int
resolve_signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, RESOLVE_SIGNAL);
	/* Blocked before glibc makes its threads, so they inherit it too. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/*
 * Turns the resolver's search list off, so the name asked is the name the
 * policy judged: glibc would otherwise also ask "internal" as
 * "internal.corp" (resolv.conf's search or domain line, or the host's own
 * domain).  An empty LOCALDOMAIN replaces all of those (resolv.conf(5)).  A
 * trailing dot on the name would do it too, but glibc's files backend then
 * finds no /etc/hosts line.  Set before the first query starts a resolver
 * thread: glibc reads it whenever it loads resolv.conf.
 */
static int
resolve_no_search(void)
{
	return setenv("LOCALDOMAIN", "", 1);
}

int
resolve_start(const char *host, unsigned int port)
{
	struct resolve *r = &resolve_state;
	static const int family[RESOLVE_NFAMILIES] = { AF_INET6, AF_INET };
	struct gaicb *list[RESOLVE_NFAMILIES];
	struct sigevent sev;
	int i;

	/* A query glibc could not cancel may still write into r. */
	if (r->pending[RESOLVE_V6] || r->pending[RESOLVE_V4]) {
		errno = EBUSY;
		return -1;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->service, sizeof(r->service), "%u", port);
	if (resolve_no_search() == -1 || (r->fd = resolve_signal_fd()) == -1)
		return -1;
	for (i = 0; i < RESOLVE_NFAMILIES; i++) {
		r->hints[i].ai_family = family[i];
		r->hints[i].ai_socktype = SOCK_STREAM;
		r->hints[i].ai_protocol = IPPROTO_TCP;
		r->hints[i].ai_flags = AI_NUMERICSERV;
		r->req[i].ar_name = host;
		r->req[i].ar_service = r->service;
		r->req[i].ar_request = &r->hints[i];
		r->pending[i] = 1;
		list[i] = &r->req[i];
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = RESOLVE_SIGNAL;
	/* One signal per answer: the notification of each list item. */
	for (i = 0; i < RESOLVE_NFAMILIES; i++) {
		if (getaddrinfo_a(GAI_NOWAIT, &list[i], 1, &sev) != 0) {
			close(r->fd);
			r->fd = -1;
			errno = EAGAIN;
			return -1;
		}
	}
	return 0;
}

int
resolve_fd(void)
{
	return resolve_state.fd;
}

int
resolve_collect(void)
{
	struct resolve *r = &resolve_state;
	struct signalfd_siginfo si;
	int i, done = 0;

	/* Drain the signals; the queries' own state says which finished. */
	while (read(r->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	for (i = 0; i < RESOLVE_NFAMILIES; i++) {
		int rc;

		if (!r->pending[i] ||
		    (rc = gai_error(&r->req[i])) == EAI_INPROGRESS)
			continue;
		r->pending[i] = 0;
		r->err[i] = rc;
		done |= 1 << i;
	}
	return done;
}

const struct addrinfo *
resolve_answer(enum resolve_family f)
{
	const struct resolve *r = &resolve_state;

	return !r->pending[f] && r->err[f] == 0 ? r->req[f].ar_result : NULL;
}

int
resolve_family_pending(enum resolve_family f)
{
	return resolve_state.pending[f];
}

int
resolve_pending(void)
{
	return resolve_state.pending[RESOLVE_V6] ||
	    resolve_state.pending[RESOLVE_V4];
}

/*
 * glibc reports a resolver that could not open a socket or /etc/hosts as a
 * failure like any other, and the worker thread's errno is lost.  One more
 * fd tells: if there is none, the answer is 503, not a DNS error.
 */
static int
resolve_out_of_fds(const struct resolve *r)
{
	int probe = dup(r->fd);

	if (probe != -1) {
		close(probe);
		return 0;
	}
	return errno == EMFILE || errno == ENFILE;
}

enum outcome
resolve_verdict(void)
{
	const struct resolve *r = &resolve_state;
	int i, nodata = 0, failure = 0;

	for (i = 0; i < RESOLVE_NFAMILIES; i++) {
		switch (r->err[i]) {
		case EAI_MEMORY:
		case EAI_SYSTEM:
			/* A local failure (no fd for /etc/hosts or a socket). */
			return OUT_RESOURCES_EXHAUSTED;
		case EAI_NONAME:
			break;
		case 0:
		case EAI_NODATA:
		case EAI_ADDRFAMILY:
			/* The name exists: this family has no address. */
			nodata = 1;
			break;
		default:
			/* EAI_AGAIN (SERVFAIL, no resolver), EAI_FAIL, ... */
			failure = 1;
			break;
		}
	}
	if (failure && resolve_out_of_fds(r))
		return OUT_RESOURCES_EXHAUSTED;
	if (failure)
		return OUT_DNS_FAILURE;
	return nodata ? OUT_DNS_NO_ADDRESS : OUT_DNS_NXDOMAIN;
}

int
resolve_end(void)
{
	struct resolve *r = &resolve_state;
	int i, left = 0;

	for (i = 0; i < RESOLVE_NFAMILIES; i++) {
		if (r->pending[i] && gai_cancel(&r->req[i]) == EAI_CANCELED)
			r->pending[i] = 0;
		if (!r->pending[i] && r->req[i].ar_result != NULL) {
			freeaddrinfo(r->req[i].ar_result);
			r->req[i].ar_result = NULL;
		}
	}
	for (i = 0; i < RESOLVE_NFAMILIES; i++)
		left |= r->pending[i];
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	return left;
}
