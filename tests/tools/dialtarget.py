#!/usr/bin/python3
"""Echo targets that say which address the client reached (stdlib only).

  dialtarget.py --listen ADDR:PORT [--listen [ADDR6]:PORT ...]
                [--log FILE] [--ready FILE]

Listens on every given address (IPv6 ones in brackets; the same port may be
used on several addresses), and on each connection sends one line
"via <local address>\\n" (e.g. "via [fd00::1]:4443", "via 127.0.0.2:4443"),
then echoes until the peer's FIN, then shuts down writing.  Each accepted
connection is appended to --log as "accept <local> <peer>".  The ready file
gets "ok" once every socket listens.  Runs until killed.
"""
import argparse
import os
import socket
import sys
import threading

LOCK = threading.Lock()


def text(sa):
    host, port = sa[0], sa[1]
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def handle(conn, peer, logpath):
    try:
        local = text(conn.getsockname())
        if logpath:
            with LOCK, open(logpath, 'a') as f:
                f.write('accept %s %s\n' % (local, text(peer)))
        conn.settimeout(30)
        conn.sendall(b'via ' + local.encode() + b'\n')
        while True:
            d = conn.recv(65536)
            if not d:
                break
            conn.sendall(d)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def serve(sock, logpath):
    while True:
        conn, peer = sock.accept()
        threading.Thread(target=handle, args=(conn, peer, logpath),
                         daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen', action='append', required=True)
    ap.add_argument('--log')
    ap.add_argument('--ready')
    a = ap.parse_args()
    socks = []
    for spec in a.listen:
        host, _, port = spec.rpartition(':')
        host = host.strip('[]')
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, int(port)))
        s.listen(64)
        socks.append(s)
    for s in socks[1:]:
        threading.Thread(target=serve, args=(s, a.log), daemon=True).start()
    if a.ready:
        with open(a.ready + '.tmp', 'w') as f:
            f.write('ok\n')
        os.rename(a.ready + '.tmp', a.ready)
    serve(socks[0], a.log)


if __name__ == '__main__':
    sys.exit(main())
