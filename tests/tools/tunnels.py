#!/usr/bin/python3
"""Hold several CONNECT tunnels open at once (stdlib only).

  tunnels.py --port P --tport T [--host H] [--count N] [--ready-file R]
             [--release-file F] [--tag TEXT] [--timeout S] [--target A]

Phase 1 opens N connections to the proxy, then sends each its CONNECT
request to A:T (an echo target; A is 127.0.0.1 unless given), then reads
every answer, which must be exactly the 200 head, then sends "ping <i>\\n"
through each and reads the echo back.  Every tunnel is open at the same
time; each one that works prints "OPEN <i> <local port>", one that does not
"FAIL <i> <why>".
Then "READY <n open>" is printed and written to R.

Phase 2 waits until F exists (at most --hold seconds; no F: at once), then
on every open tunnel sends "bye <i> <TEXT>\\n", a FIN, reads until EOF and
prints "CLOSED <i> ok" when exactly that came back followed by a clean EOF,
or "CLOSED <i> fail <why>".  Last line: "RESULT ok=<n> fail=<n>".

Exit status 0 when every tunnel worked in both phases, 1 otherwise.
"""
import argparse
import os
import re
import socket
import sys
import time

SUCCESS = re.compile(rb'HTTP/1\.1 200 Connection established\r\n'
                     rb'Proxy-Agent: connectd/[!-~]+\r\n\r\n')


def say(*parts):
    sys.stdout.write(' '.join(str(p) for p in parts) + '\n')
    sys.stdout.flush()


def read_exactly(sock, n):
    buf = b''
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise EOFError('eof after %d of %d bytes: %r' % (len(buf), n, buf))
        buf += d
    return buf


def read_head(sock):
    """Reads byte by byte up to the blank line, so nothing after it is taken."""
    buf = b''
    while not buf.endswith(b'\r\n\r\n'):
        d = sock.recv(1)
        if not d:
            raise EOFError('eof in the head: %r' % buf)
        buf += d
        if len(buf) > 8192:
            raise ValueError('head too long: %r' % buf[:200])
    return buf


def read_to_eof(sock):
    buf = b''
    while True:
        d = sock.recv(65536)
        if not d:
            return buf
        buf += d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--tport', type=int, required=True)
    ap.add_argument('--target', default='127.0.0.1')
    ap.add_argument('--count', type=int, default=1)
    ap.add_argument('--ready-file')
    ap.add_argument('--release-file')
    ap.add_argument('--tag', default='')
    ap.add_argument('--timeout', type=float, default=20.0)
    ap.add_argument('--hold', type=float, default=25.0)
    a = ap.parse_args()

    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    req = ('CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n'
           % (a.target, a.tport, a.target, a.tport)).encode()
    socks = {}
    bad = 0
    for i in range(a.count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        try:
            s.connect((a.host, a.port))
            socks[i] = s
        except OSError as e:
            say('FAIL', i, 'connect:', e.strerror or e)
            s.close()
            bad += 1
    for i, s in list(socks.items()):
        try:
            s.sendall(req)
        except OSError as e:
            say('FAIL', i, 'send request:', e.strerror or e)
            s.close()
            del socks[i]
            bad += 1
    for i, s in list(socks.items()):
        try:
            head = read_head(s)
            if not SUCCESS.fullmatch(head):
                raise ValueError('not the 200 head: %r' % head)
            ping = b'ping %d\n' % i
            s.sendall(ping)
            echo = read_exactly(s, len(ping))
            if echo != ping:
                raise ValueError('echo %r, sent %r' % (echo, ping))
            say('OPEN', i, s.getsockname()[1])
        except (OSError, EOFError, ValueError) as e:
            say('FAIL', i, type(e).__name__, getattr(e, 'strerror', None) or e)
            s.close()
            del socks[i]
            bad += 1
    say('READY', len(socks))
    if a.ready_file:
        tmp = a.ready_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % len(socks))
        os.rename(tmp, a.ready_file)

    if a.release_file:
        stop = time.monotonic() + a.hold
        while not os.path.exists(a.release_file) and time.monotonic() < stop:
            time.sleep(0.02)
    for i, s in socks.items():
        bye = b'bye %d %s\n' % (i, a.tag.encode())
        try:
            s.sendall(bye)
            s.shutdown(socket.SHUT_WR)
            got = read_to_eof(s)
            if got != bye:
                raise ValueError('got %r, sent %r' % (got, bye))
            say('CLOSED', i, 'ok')
        except (OSError, ValueError) as e:
            say('CLOSED', i, 'fail', type(e).__name__,
                getattr(e, 'strerror', None) or e)
            bad += 1
        finally:
            s.close()
    say('RESULT', 'ok=%d' % (a.count - bad), 'fail=%d' % bad)
    return 0 if bad == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
