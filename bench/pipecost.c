/*
 * pipecost: what connectd's relay itself costs to carry one tunnel of a
 * given size, for bench/pipes.  It links relay.c three times, built with
 * different thresholds and its functions renamed (bench/pipes does that),
 * and runs each relay_run() on fresh loopback TCP connections: a thread on
 * the target's side sends SIZE bytes and its FIN, a thread on the client's
 * side sends only its FIN and drains.  Timed is the relay thread alone,
 * from relay_run() to its return: CPU (CLOCK_THREAD_CPUTIME_ID, user and
 * system, so pipe2, fcntl, splice, read and write are all in it) and wall
 * time.  The four ways take turns, tunnel by tunnel, so load from other
 * work on the machine falls on all of them alike.
 *
 *   pipecost SIZE COUNT
 *       COUNT tunnels of SIZE bytes for each way.  Prints a line per way:
 *       "way=W size=SIZE count=COUNT cpu_us=MEDIAN cpu_p10_us=P10
 *       wall_us=MEDIAN cpu_ratio=R" where R is the median over turns of
 *       W's CPU divided by copy's in the same turn.
 *
 * The ways: copy (relay_run_policy without splice, as --no-splice), splice
 * (relay_run_splice: from the first byte, default pipe, never grown), grown
 * (relay_run_grown: from the first byte, pipe grown at once), policy
 * (relay_run_policy: relay.h's thresholds).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../relay.h"
#include "../util.h"

typedef int relay_fn(const struct relay_ends *, const char *, size_t, int64_t,
    int64_t, struct relay_result *);
relay_fn relay_run_policy, relay_run_splice, relay_run_grown;

#define NWAYS 4
static const struct way {
	const char *name;
	relay_fn *run;
	int splice;
} ways[NWAYS] = {
	{ "copy", relay_run_policy, 0 },
	{ "splice", relay_run_splice, 1 },
	{ "grown", relay_run_grown, 1 },
	{ "policy", relay_run_policy, 1 },
};

#define CHUNK (256 * 1024)

static char chunk[CHUNK];

struct peer {
	int fd;
	uint64_t size; /* to send; the rest is drained */
	uint64_t got;
};

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static double
clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Sends p->size bytes and a FIN, then drains to the EOF. */
static void *
peer_run(void *arg)
{
	struct peer *p = arg;
	static __thread char buf[CHUNK];
	uint64_t sent = 0;
	ssize_t n;

	while (sent < p->size) {
		size_t want = p->size - sent < CHUNK ? (size_t)(p->size - sent)
						     : CHUNK;

		if ((n = write(p->fd, chunk, want)) <= 0)
			die("peer write");
		sent += (uint64_t)n;
	}
	shutdown(p->fd, SHUT_WR);
	while ((n = read(p->fd, buf, sizeof(buf))) > 0)
		p->got += (uint64_t)n;
	return NULL;
}

/* A connected loopback pair: *near is the relay's end, *far the peer's. */
static void
tcp_pair(int lfd, const struct sockaddr_in *sa, int *near, int *far)
{
	int one = 1;

	if ((*far = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(*far, (const struct sockaddr *)sa, sizeof(*sa)) == -1 ||
	    (*near = accept(lfd, NULL, NULL)) == -1)
		die("tcp pair");
	setsockopt(*far, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*near, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (util_set_nonblock(*near) == -1)
		die("nonblock");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile of v[0..n), sorted in place. */
static double
quantile(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(int)(p * (n - 1) + 0.5)];
}

/* One tunnel through w: its relay thread's CPU and wall time in us. */
static void
one_tunnel(int lfd, const struct sockaddr_in *sa, const struct way *w,
    uint64_t size, double *cpu, double *wall)
{
	struct peer client = { .size = 0 }, target = { .size = size };
	struct relay_ends ends = { .client_is_socket = 1, .splice = w->splice };
	struct relay_result res;
	pthread_t ct, tt;
	double c0, w0;

	tcp_pair(lfd, sa, &ends.client_in, &client.fd);
	ends.client_out = ends.client_in;
	tcp_pair(lfd, sa, &ends.target, &target.fd);
	pthread_create(&ct, NULL, peer_run, &client);
	pthread_create(&tt, NULL, peer_run, &target);
	c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
	w0 = clock_us(CLOCK_MONOTONIC);
	w->run(&ends, "", 0, 0, -1, &res);
	*cpu = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
	*wall = clock_us(CLOCK_MONOTONIC) - w0;
	close(ends.client_in);
	close(ends.target);
	pthread_join(ct, NULL);
	pthread_join(tt, NULL);
	close(client.fd);
	close(target.fd);
	if (res.down != size || client.got != size)
		die("short relay");
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd, count, i, w;
	uint64_t size;
	double *cpu[NWAYS], *wall[NWAYS], *ratio;

	if (argc != 3) {
		fprintf(stderr, "usage: pipecost SIZE COUNT\n");
		return 2;
	}
	size = strtoull(argv[1], NULL, 10);
	count = atoi(argv[2]);
	if (count < 1)
		return 2;
	for (w = 0; w < NWAYS; w++) {
		cpu[w] = calloc((size_t)count, sizeof(double));
		wall[w] = calloc((size_t)count, sizeof(double));
	}
	ratio = calloc((size_t)count, sizeof(double));
	memset(chunk, 'p', sizeof(chunk));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) == -1)
		die("listen");
	/* Turn by turn, the ways in a rotating order. */
	for (i = 0; i < count; i++)
		for (w = 0; w < NWAYS; w++) {
			int k = (w + i) % NWAYS;

			one_tunnel(
			    lfd, &sa, &ways[k], size, &cpu[k][i], &wall[k][i]);
		}
	for (w = 0; w < NWAYS; w++) {
		for (i = 0; i < count; i++)
			ratio[i] = cpu[w][i] / cpu[0][i];
		printf("way=%s size=%llu count=%d cpu_ratio=%.3f ",
		    ways[w].name, (unsigned long long)size, count,
		    quantile(ratio, count, 0.5));
		printf("cpu_us=%.2f cpu_p10_us=%.2f wall_us=%.2f\n",
		    quantile(cpu[w], count, 0.5), quantile(cpu[w], count, 0.1),
		    quantile(wall[w], count, 0.5));
	}
	return 0;
}
