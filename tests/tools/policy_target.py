#!/usr/bin/python3
"""An echo target that records every connection it accepts (stdlib only).

  policy_target.py --port-file F --log L [--host H]...

Listens on each --host (default 127.0.0.1) on one and the same port (the
first bind picks it), writes the port to F, then serves until killed: every
accepted connection first appends the line "accept <local address>" to L
(so a test can prove that a refused request never reached the target, and
which of several addresses a tunnel used), then gets its bytes echoed back,
with a FIN after the client's FIN.
"""
import argparse
import os
import select
import socket
import threading


def echo(conn):
    try:
        conn.settimeout(30)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--host', action='append')
    a = ap.parse_args()
    hosts = a.host or ['127.0.0.1']

    socks = []
    port = 0
    for h in hosts:
        fam = socket.AF_INET6 if ':' in h else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((h, port))
        s.listen(64)
        port = s.getsockname()[1]
        socks.append(s)
    open(a.log, 'a').close()
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
    os.rename(tmp, a.port_file)

    lock = threading.Lock()
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            conn, _ = s.accept()
            local = conn.getsockname()
            with lock, open(a.log, 'a') as f:
                f.write('accept %s\n' % (
                    '[%s]:%d' % local[:2] if conn.family == socket.AF_INET6
                    else '%s:%d' % local))
            threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == '__main__':
    main()
