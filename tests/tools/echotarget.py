#!/usr/bin/python3
"""An echo target on several addresses that logs each connection (stdlib only).

  echotarget.py [--host H]... [--port N] [--port-file F] [--log L] [--greet]

Listens on each --host (default 127.0.0.1; IPv6 ones without brackets) on
one and the same port: N, or with the default 0 the port the first bind
picks.  Once every socket listens, writes the port to F (the tests' sign
that the target is ready).  Runs until killed.  Every accepted connection
first appends "accept <local> <peer>" to L ("accept [fd00::1]:4443
127.0.0.1:50000"), so a test can prove that a refused request never
reached the target and which of several addresses a tunnel used; with
--greet it then gets the line "via <local>\\n"; then its bytes are echoed
back, with a FIN after the client's FIN.
"""
import argparse
import os
import select
import socket
import threading

LOCK = threading.Lock()


def text(sa):
    host, port = sa[0], sa[1]
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def echo(conn, greet):
    try:
        conn.settimeout(30)
        if greet:
            conn.sendall(b'via ' + text(conn.getsockname()).encode() + b'\n')
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


def listen(hosts, port):
    socks = []
    for h in hosts:
        fam = socket.AF_INET6 if ':' in h else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((h, port))
        s.listen(64)
        port = s.getsockname()[1]
        socks.append(s)
    return socks, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', action='append')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--log')
    ap.add_argument('--greet', action='store_true')
    a = ap.parse_args()

    socks, port = listen(a.host or ['127.0.0.1'], a.port)
    if a.log:
        open(a.log, 'a').close()
    if a.port_file:
        tmp = a.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.rename(tmp, a.port_file)

    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            conn, peer = s.accept()
            if a.log:
                with LOCK, open(a.log, 'a') as f:
                    f.write('accept %s %s\n' % (text(conn.getsockname()),
                                                text(peer)))
            threading.Thread(target=echo, args=(conn, a.greet),
                             daemon=True).start()


if __name__ == '__main__':
    main()
