#!/usr/bin/python3
"""Run connectd as a UCSPI program over two pipes (no socket at all).

  ucspi.py --request ESC --tport T [--send ESC] [--read-first]
           [--stderr FILE] [--env NAME=VALUE]... -- CONNECTD ARGS...

Environment for the child: PROTO=TCP TCPREMOTEIP=127.0.0.1
TCPREMOTEPORT=5555 (LISTEN_* removed), then each --env.  fd 0 and fd 1 of the child are
pipes.  After the response head:
  default       write --send, close the write pipe (half-close), read the
                read pipe until EOF;
  --read-first  read the read pipe until EOF first (the target's FIN must
                arrive as EOF while our direction is still open), then write
                --send and close the write pipe.
Prints HEAD/STATUS/RECV/END like client.py and EXIT <status>.
"""
import argparse
import codecs
import os
import re
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import esc, say  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--request', required=True)
    ap.add_argument('--tport', type=int)
    ap.add_argument('--send', default='')
    ap.add_argument('--read-first', action='store_true')
    ap.add_argument('--stderr', default=os.devnull)
    ap.add_argument('--timeout', type=float, default=20.0)
    ap.add_argument('--env', action='append', default=[])
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd

    def unesc(s):
        if a.tport is not None:
            s = s.replace('{T}', str(a.tport))
        return codecs.escape_decode(s.encode('latin-1'))[0]

    env = {k: v for k, v in os.environ.items() if not k.startswith('LISTEN_')}
    env.update(PROTO='TCP', TCPREMOTEIP='127.0.0.1', TCPREMOTEPORT='5555')
    env.update(kv.split('=', 1) for kv in a.env)
    with open(a.stderr, 'wb') as err:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=err, env=env, bufsize=0)
    killer = threading.Timer(a.timeout, p.kill)
    killer.daemon = True
    killer.start()
    rd, wr = p.stdout, p.stdin

    def write_close(data, close):
        try:
            if data:
                wr.write(data)
            if close:
                wr.close()
        except OSError as e:
            say('SENDERR', e.strerror or str(e))

    write_close(unesc(a.request), False)
    buf = b''
    end = 'open'
    while b'\r\n\r\n' not in buf:
        d = os.read(rd.fileno(), 65536)
        if not d:
            end = 'eof'
            break
        buf += d
    i = buf.find(b'\r\n\r\n')
    head, rest = (buf[:i + 4], buf[i + 4:]) if i >= 0 else (buf, b'')
    say('HEAD', esc(head))
    m = re.match(rb'HTTP/1\.1 (\d{3}) ', head)
    say('STATUS', m.group(1).decode() if m else 'none')

    got = bytearray(rest)

    def read_eof():
        nonlocal end
        while end == 'open':
            d = os.read(rd.fileno(), 65536)
            if not d:
                end = 'eof'
                break
            got.extend(d)

    if m and m.group(1) == b'200':
        if a.read_first:
            read_eof()
            say('RECV', esc(bytes(got)))
            write_close(unesc(a.send), True)
        else:
            write_close(unesc(a.send), True)
            read_eof()
            say('RECV', esc(bytes(got)))
    else:
        write_close(b'', True)
        read_eof()
        say('BODY', esc(bytes(got)))
    say('END', end)
    try:
        code = p.wait(a.timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        code = 'timeout'
    killer.cancel()
    say('EXIT', str(code))
    return 0


if __name__ == '__main__':
    sys.exit(main())
