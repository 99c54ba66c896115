/*
 * peer_uid() under a real launcher, for tests/peer.bats.  "serve FD" runs
 * per connection (fd 3 from systemd-socket-activate, fd 0 from inetd) and
 * answers "uid N" or "error ENAME" on the connection; "ask HOST PORT" and
 * "ask-unix PATH" ("@name" for the abstract namespace) print that answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../peer.h"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: peer_check serve FD | ask HOST PORT | "
	    "ask-unix PATH\n");
	return 2;
}

static int
serve(const char *fdtext)
{
	char line[64];
	int fd = atoi(fdtext), n;
	uid_t uid;

	if (peer_uid(fd, &uid) == 0)
		n = snprintf(line, sizeof(line), "uid %u\n", (unsigned int)uid);
	else
		n = snprintf(
		    line, sizeof(line), "error %s\n", strerrorname_np(errno));
	if (write(fd, line, (size_t)n) != n)
		return 1;
	shutdown(fd, SHUT_WR);
	return 0;
}

/* Fills ss for a numeric host (IPv4 or IPv6) or a unix path; -1 if bad. */
static int
address(const char *host, const char *port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_un *un = (struct sockaddr_un *)ss;
	size_t plen;

	memset(ss, 0, sizeof(*ss));
	if (port == NULL) {
		plen = strlen(host);
		if (plen >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, host, plen);
		if (host[0] == '@') /* abstract: no NUL terminator counted */
			un->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    plen + (host[0] != '@'));
		return 0;
	}
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(port));
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)atoi(port));
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

static int
ask(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[128];
	size_t got = 0;
	ssize_t n;
	int fd;

	if (address(host, port, &ss, &len) == -1)
		return usage();
	alarm(10);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&ss, len) == -1) {
		perror("peer_check: connect");
		return 1;
	}
	while (got < sizeof(buf) - 1 &&
	    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	fputs(buf, stdout);
	return got > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 4 && strcmp(argv[1], "ask") == 0)
		return ask(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "ask-unix") == 0)
		return ask(argv[2], NULL);
	return usage();
}
