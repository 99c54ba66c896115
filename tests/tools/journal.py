#!/usr/bin/python3
"""A stand-in for systemd-journald's native socket (stdlib only).

  journal.py --socket PATH --out FILE

Binds a datagram socket at PATH and appends each entry it receives to FILE
as one JSON object per line (field name to value), as the journal's
native protocol carries them: KEY=value lines, or KEY, a newline, a
little-endian 64-bit length and the value for binary values; with FILE
/dev/null it only takes them, as journald's cheapest reader would (make
bench).  Like journald, it asks the kernel who sent each entry
(SO_PASSCRED) and adds the sender's pid as _PID.  Runs until killed.
"""
import argparse
import json
import os
import socket
import struct


def parse(data):
    fields = {}
    while data:
        nl = data.find(b'\n')
        line = data[:nl] if nl >= 0 else data
        if b'=' in line:
            k, v = line.split(b'=', 1)
            data = data[nl + 1:] if nl >= 0 else b''
        else:
            k = line
            (n,) = struct.unpack('<Q', data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            data = data[nl + 10 + n:]
        fields[k.decode()] = v.decode('utf-8', 'replace')
    return fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--socket', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(a.socket)
    os.chmod(a.socket, 0o666)
    discard = a.out == os.devnull  # make bench: take entries, keep none
    ucred = struct.calcsize('iII')
    while True:
        data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(ucred))
        if discard:
            continue
        fields = parse(data)
        for level, kind, cred in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                fields['_PID'] = str(struct.unpack('iII', cred[:ucred])[0])
        with open(a.out, 'a') as f:
            f.write(json.dumps(fields) + '\n')


if __name__ == '__main__':
    main()
