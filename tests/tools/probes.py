#!/usr/bin/python3
"""Health-check probes as HAProxy sends them (stdlib only).

  probes.py --port P [--host H] [--count N] [--local] [--pause S]

Each probe connects, with --local writes a PROXY v2 LOCAL header (what
HAProxy's check-send-proxy sends), then closes with an RST (SO_LINGER 0),
as HAProxy ends a check; probes run one after another, --pause seconds
apart.  Prints "PROBES <n ok> <n failed>"; exit status 1 if one failed.
"""
import argparse
import socket
import struct
import sys
import time

LOCAL = b'\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--count', type=int, default=1)
    ap.add_argument('--local', action='store_true')
    ap.add_argument('--pause', type=float, default=0.0)
    a = ap.parse_args()
    ok = bad = 0
    for _ in range(a.count):
        try:
            s = socket.create_connection((a.host, a.port), timeout=5)
            if a.local:
                s.sendall(LOCAL)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack('ii', 1, 0))
            s.close()
            ok += 1
        except OSError:
            bad += 1
        if a.pause:
            time.sleep(a.pause)
    print('PROBES %d %d' % (ok, bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
