/*
 * Who is on the other end: the local uid that owns the client's end of the
 * connection, from SO_PEERCRED for AF_UNIX and from the kernel's socket
 * diagnostics (NETLINK_SOCK_DIAG) for TCP, plus the parsing of the
 * --allow-uid list it is checked against.  Nothing here logs or exits.
 */
#ifndef CONNECTD_PEER_H
#define CONNECTD_PEER_H

#include <stddef.h>
#include <sys/types.h>

#define PEER_UIDS_MAX 64 /* entries in an --allow-uid list, all options */

/*
 * Finds the uid of the process that owns the other end of the connected
 * socket fd: SO_PEERCRED for AF_UNIX (the credentials the peer had when it
 * connected), one NETLINK_SOCK_DIAG lookup for TCP over IPv4 or IPv6 (an
 * IPv4 client of a dual-stack listener included).  Only an established (or
 * half-closed) TCP socket still held by a process counts: listening,
 * TIME_WAIT and orphaned sockets do not.  The kernel answers before send(2)
 * returns; a silent one costs 1 s (ETIMEDOUT), and at worst two queries of
 * eight 1 s reads each are made.  Returns 0 with *uid set, or -1 with errno:
 *   ENOENT       no local owner found (a peer on another host, a closed or
 *                orphaned client socket, a non-TCP inet socket, an
 *                AF_UNIX peer without credentials);
 *   EAFNOSUPPORT fd is not AF_UNIX, AF_INET or AF_INET6, or AF_NETLINK
 *                is forbidden (systemd's RestrictAddressFamilies=);
 *   ENOTSOCK     fd is not a socket (a pipe, a file);
 *   ENOTCONN     fd is not connected;
 *   ETIMEDOUT    the kernel did not answer in time;
 *   EMSGSIZE     the kernel's answer did not fit the 8 KiB buffer;
 *   EPROTO       the answer was malformed or never ended;
 *   EBADF, or the error of socket(2), send(2) or recvmsg(2) on the netlink
 *   socket, or the error the kernel's answer carries.
 * *uid is untouched on failure.  A uid the caller's user namespace cannot
 * map comes back as the overflow uid (65534).
 */
int peer_uid(int fd, uid_t *uid);

/*
 * Parses a comma-separated list such as "1000,alice,self" and appends the
 * uids to uids[*n], never past uids[max - 1].  An item of digits only is a
 * uid (0 to 4294967294), "self" is getuid(), anything else a user name for
 * getpwnam_r(3); no spaces are allowed.  Returns 0 with *n advanced, or -1
 * with errno and *n unchanged (entries from uids[*n] on may have been
 * overwritten):
 *   EINVAL  an empty item, an unknown user name, a number out of range;
 *   E2BIG   the list would take more than max entries in all;
 *   or the errno of a failed user database lookup (EIO, ENOMEM, EMFILE).
 * On failure the offending item, cut to badsize - 1 bytes, is copied into
 * bad (which may be NULL when badsize is 0) for the error message.
 */
int peer_parse_uids(const char *list, uid_t *uids, size_t max, size_t *n,
    char *bad, size_t badsize);

/* Returns 1 if uid is one of uids[0..n), else 0. */
int peer_uid_allowed(uid_t uid, const uid_t *uids, size_t n);

#endif
