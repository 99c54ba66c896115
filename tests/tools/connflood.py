#!/usr/bin/python3
"""A sustained connect flood for the high-rate mode tests (stdlib only).

  connflood.py --port P [--host H] [--open N] [--stop-file F]
               [--duration SECONDS] [--throttle PID]

Opens connections to H:P (default 127.0.0.1) as fast as it can, with
non-blocking connects, and sends nothing.  At most N (default 1000) are
held; past that the oldest is closed with an RST (SO_LINGER 0), which
leaves no TIME_WAIT behind, so the flood can go on for as long as it is
asked to.  A connect that fails (refused once the listener is gone, out of
ports or fds) only frees a place.  Stops when F exists (checked every 256
rounds) or after --duration seconds (default 60), closes everything and
prints CONNECTS <n> (connects started) and FAILED <n> (failed at once).
"""
import argparse
import collections
import errno
import os
import signal
import socket
import struct
import sys
import time

LINGER_RST = struct.pack('ii', 1, 0)
RUN_S = 0.0005
PERIOD_S = 0.01


class Throttle:
    """Lets a process run RUN_S out of every PERIOD_S, until it is gone."""

    def __init__(self, pid):
        self.pid = pid
        self.running = True
        self.next = 0.0

    def _signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            self.pid = None

    def tick(self):
        now = time.monotonic()
        if self.pid is None or now < self.next:
            return
        self.running = not self.running
        self._signal(signal.SIGCONT if self.running else signal.SIGSTOP)
        self.next = now + (RUN_S if self.running else PERIOD_S - RUN_S)

    def release(self):
        if self.pid is not None:
            self._signal(signal.SIGCONT)


def close_rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)
    except OSError:
        pass
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--open', type=int, default=1000)
    ap.add_argument('--stop-file')
    ap.add_argument('--duration', type=float, default=60.0)
    ap.add_argument('--throttle', type=int, metavar='PID')
    a = ap.parse_args()
    throttle = Throttle(a.throttle) if a.throttle else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        flood(a, throttle)
    finally:
        if throttle:
            throttle.release()
    return 0


def flood(a, throttle):
    """Connects until told to stop; see the module's text."""
    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    held = collections.deque()
    connects = failed = rounds = 0
    end = time.monotonic() + a.duration
    while True:
        rounds += 1
        if throttle:
            throttle.tick()
        if rounds % 256 == 0 and (
                time.monotonic() >= end or
                (a.stop_file and os.path.exists(a.stop_file))):
            break
        if len(held) >= a.open:
            close_rst(held.popleft())
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
        except OSError:
            if held:
                close_rst(held.popleft())
            continue
        s.setblocking(False)
        connects += 1
        rc = s.connect_ex((a.host, a.port))
        if rc in (0, errno.EINPROGRESS):
            held.append(s)
        else:
            failed += 1
            close_rst(s)
    while held:
        close_rst(held.popleft())
    print('CONNECTS %d' % connects)
    print('FAILED %d' % failed)


if __name__ == '__main__':
    sys.exit(main())
