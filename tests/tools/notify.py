#!/usr/bin/python3
"""A stand-in for systemd's notification socket (sd_notify(3)), stdlib only.

  notify.py --socket PATH

Binds an AF_UNIX datagram socket at PATH (removing a stale file first) with
SO_PASSCRED, and prints every datagram it receives as one line

  MSG pid=<sender pid> <payload, escaped: \\n for newline, \\\\ for \\>

flushed at once, until killed (or --timeout seconds, default 120, pass).
"""
import argparse
import os
import socket
import struct
import sys


def esc(data):
    out = []
    for b in data:
        if b == 0x5C:
            out.append('\\\\')
        elif b == 0x0A:
            out.append('\\n')
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append('\\x%02x' % b)
    return ''.join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--socket', required=True)
    ap.add_argument('--timeout', type=float, default=120.0)
    a = ap.parse_args()

    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(a.socket)
    s.settimeout(a.timeout)
    creds = struct.calcsize('3i')
    while True:
        try:
            data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(creds))
        except socket.timeout:
            return 0
        pid = '-'
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = str(struct.unpack('3i', payload[:creds])[0])
        sys.stdout.write('MSG pid=%s %s\n' % (pid, esc(data)))
        sys.stdout.flush()


if __name__ == '__main__':
    sys.exit(main())
