#!/usr/bin/python3
"""Misbehaving clients for the limits and faults tests (stdlib only).

  hostile.py MODE --port PROXY_PORT [--tport T] [options]

Prints one "KEY value" line per fact, like client.py (HEAD, STATUS, BODY,
END, CHECK ...), plus timings in whole milliseconds since the connection
was made (T_* keys).  Requests are Python-escape decoded, {T} is --tport.

Modes:
  slowhead  send --request one byte every --interval seconds, watching
            for an answer between bytes; stop sending once one arrives,
            then read to the end.  SENT <n>, T_ANSWER, T_END.
  silent    connect and send nothing; read to the end.  RECV_LEN, T_END.
  staged    send --request, wait until --go-file exists (at most --timeout),
            send --rest, then read the answer to the end.
  trickle   open a tunnel (--request), then send one byte every --interval
            seconds for --duration seconds; ALIVE yes|no says whether the
            tunnel was still open then; stop and wait for its end:
            T_QUIET (ms from the last byte sent to the end).
  busy      open a tunnel to an echo target and keep it saturated both ways
            (64 KiB writes, reading everything) until the proxy ends it:
            T_END, UP, DOWN.
  flood     open a tunnel and write (non-blocking) as fast as the socket
            takes bytes until no byte was taken for --stuck-after seconds;
            then write "stuck <bytes>" to --stuck-file and wait (at most
            --timeout) for the tunnel's end: SENT, STUCK yes|no, T_STUCK,
            T_END.  --reset-when-stuck: close with an RST instead of
            waiting (END reset-sent).
  duplex    open a tunnel, then send --send-file (and a FIN) while reading
            until EOF, from one thread with non-blocking I/O, so that a
            reset is seen by whichever call meets it first (with two
            threads the writer can take the one ECONNRESET and leave the
            reader a plain EOF): RECV_LEN, RECV_SHA256, SENT, SEND_END,
            END (eof, reset, or ...).
  hold      open a tunnel to an echo target and ping through it every
            --interval seconds, writing the number of answered pings to
            --count-file after each, until --stop-file exists (then FIN and
            read to EOF) or the tunnel breaks: PINGS, END.

--check-error CODE REASONS checks an error answer as client.py does.
"""
import argparse
import codecs
import errno
import os
import re
import select
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import check_error, esc, say  # noqa: E402

SUCCESS = re.compile(rb'HTTP/1\.1 200 Connection established\r\n'
                     rb'Proxy-Agent: connectd/[!-~]+\r\n\r\n')


class Clock:
    def __init__(self):
        self.t0 = time.monotonic()

    def ms(self):
        return int((time.monotonic() - self.t0) * 1000)


def unesc(text, tport):
    if tport is not None:
        text = text.replace('{T}', str(tport))
    return codecs.escape_decode(text.encode('latin-1'))[0]


def read_to_end(sock, limit):
    """Reads until EOF, an error or `limit` seconds; returns (data, end)."""
    data = bytearray()
    stop = time.monotonic() + limit
    while True:
        left = stop - time.monotonic()
        if left <= 0:
            return bytes(data), 'timeout'
        sock.settimeout(left)
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data), 'reset'
        except socket.timeout:
            return bytes(data), 'timeout'
        except OSError as e:
            return bytes(data), 'error:%s' % errno.errorcode.get(e.errno, e)
        if not d:
            return bytes(data), 'eof'
        data += d


def report_answer(raw, end, a):
    """Prints HEAD/STATUS/BODY/EXTRA/END for an error answer (or none);
    returns the list of failed checks."""
    i = raw.find(b'\r\n\r\n')
    head, rest = (raw[:i + 4], raw[i + 4:]) if i >= 0 else (raw, b'')
    say('HEAD', esc(head))
    m = re.match(rb'HTTP/1\.1 (\d{3}) ', head)
    say('STATUS', m.group(1).decode() if m else 'none')
    hd = {}
    for line in head.split(b'\r\n')[1:]:
        if line:
            n, _, v = line.partition(b':')
            hd.setdefault(n.decode('latin-1').lower(), []).append(
                v.strip().decode('latin-1'))
    clen = None
    if 'content-length' in hd and re.fullmatch(r'\d+', hd['content-length'][0]):
        clen = int(hd['content-length'][0])
    body = rest[:clen] if clen is not None else rest
    extra = rest[clen:] if clen is not None else b''
    say('BODY', esc(body))
    say('EXTRA', esc(extra))
    say('END', end)
    if not a.check_error:
        return []
    code, reasons = int(a.check_error[0]), a.check_error[1].split(',')
    return check_error(code, reasons, head, hd, clen, body, extra, end)


def connect(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    say('LOCAL', '%s:%d' % s.getsockname()[:2])
    return s


def open_tunnel(a):
    """Connects, sends --request and reads the 200 head; (sock, clock,
    early tunnel bytes) or exits after printing why not."""
    s = connect(a)
    clock = Clock()
    s.sendall(unesc(a.request, a.tport))
    buf = b''
    s.settimeout(a.timeout)
    while b'\r\n\r\n' not in buf:
        try:
            d = s.recv(65536)
        except OSError as e:
            d = b''
            say('RECVERR', e.strerror or str(e))
        if not d:
            break
        buf += d
    i = buf.find(b'\r\n\r\n')
    head = buf[:i + 4] if i >= 0 else buf
    say('HEAD', esc(head))
    if not SUCCESS.fullmatch(head):
        say('CHECK FAIL', 'no exact 200 head')
        sys.exit(1)
    return s, clock, buf[i + 4:]


def mode_slowhead(a):
    s = connect(a)
    clock = Clock()
    req = unesc(a.request, a.tport)
    sent = 0
    t_answer = None
    stop = time.monotonic() + a.timeout
    s.setblocking(False)
    for b in req:
        if time.monotonic() > stop:
            break
        try:
            s.send(bytes([b]))
            sent += 1
        except OSError as e:
            say('SENDERR', e.strerror or str(e))
            break
        r, _, _ = select.select([s], [], [], a.interval)
        if r:
            t_answer = clock.ms()
            break
    if t_answer is None:
        r, _, _ = select.select([s], [], [], max(0.0, stop - time.monotonic()))
        t_answer = clock.ms() if r else -1
    s.setblocking(True)
    raw, end = read_to_end(s, max(1.0, stop - time.monotonic()))
    say('SENT', str(sent))
    say('T_ANSWER', str(t_answer))
    say('T_END', str(clock.ms()))
    return report_answer(raw, end, a)


def mode_silent(a):
    s = connect(a)
    clock = Clock()
    raw, end = read_to_end(s, a.timeout)
    say('RECV_LEN', str(len(raw)))
    say('RECV', esc(raw[:200]))
    say('END', end)
    say('T_END', str(clock.ms()))
    return []


def mode_staged(a):
    s = connect(a)
    s.sendall(unesc(a.request, a.tport))
    stop = time.monotonic() + a.timeout
    while not os.path.exists(a.go_file):
        if time.monotonic() > stop:
            say('CHECK FAIL', 'no go file')
            return ['no go file']
        time.sleep(0.02)
    try:
        s.sendall(unesc(a.rest, a.tport))
    except OSError as e:
        say('SENDERR', e.strerror or str(e))
    raw, end = read_to_end(s, a.timeout)
    return report_answer(raw, end, a)


def mode_trickle(a):
    s, clock, _ = open_tunnel(a)
    s.setblocking(False)
    stop = time.monotonic() + a.duration
    alive, end, last = 'yes', None, clock.ms()
    while time.monotonic() < stop:
        try:
            s.send(b'.')
            last = clock.ms()
        except OSError as e:
            alive, end = 'no', 'error:%s' % errno.errorcode.get(e.errno, e)
            break
        r, _, _ = select.select([s], [], [], a.interval)
        if r:
            try:
                d = s.recv(65536)
            except OSError as e:
                d, end = b'', 'error:%s' % errno.errorcode.get(e.errno, e)
            if not d:
                alive, end = 'no', end or 'eof'
                break
    say('ALIVE', alive)
    if end is None:
        s.setblocking(True)
        _, end = read_to_end(s, a.timeout)
    say('END', end)
    say('T_QUIET', str(clock.ms() - last))
    return []


def mode_busy(a):
    s, clock, early = open_tunnel(a)
    stop = time.monotonic() + a.timeout
    up = [0]

    def writer():
        buf = os.urandom(65536)
        try:
            while time.monotonic() < stop:
                s.sendall(buf)
                up[0] += len(buf)
        except OSError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    data, end = b'', 'timeout'
    down = len(early)
    s.settimeout(a.timeout)
    while time.monotonic() < stop:
        try:
            d = s.recv(262144)
        except ConnectionResetError:
            end = 'reset'
            break
        except socket.timeout:
            break
        except OSError as e:
            end = 'error:%s' % errno.errorcode.get(e.errno, e)
            break
        if not d:
            end = 'eof'
            break
        down += len(d)
    say('T_END', str(clock.ms()))
    say('UP', str(up[0]))
    say('DOWN', str(down))
    say('END', end)
    return []


def mode_flood(a):
    s, clock, _ = open_tunnel(a)
    s.setblocking(False)
    buf = os.urandom(65536)
    sent, last_progress, stuck = 0, time.monotonic(), False
    stop = time.monotonic() + a.timeout
    end = None
    while time.monotonic() < stop:
        try:
            n = s.send(buf)
            sent += n
            last_progress = time.monotonic()
            continue
        except BlockingIOError:
            pass
        except OSError as e:
            end = 'error:%s' % errno.errorcode.get(e.errno, e)
            break
        if time.monotonic() - last_progress >= a.stuck_after:
            stuck = True
            break
        select.select([], [s], [], 0.05)
    say('SENT', str(sent))
    say('STUCK', 'yes' if stuck else 'no')
    say('T_STUCK', str(clock.ms()))
    if stuck and a.reset_when_stuck:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack('ii', 1, 0))
        s.close()
        say('END', 'reset-sent')
        end = 'closed'
    if stuck and a.stuck_file:
        tmp = a.stuck_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('stuck %d\n' % sent)
        os.rename(tmp, a.stuck_file)
    if end is None:
        s.setblocking(True)
        _, end = read_to_end(s, max(1.0, stop - time.monotonic()))
    if end != 'closed':
        say('END', end)
    say('T_END', str(clock.ms()))
    return []


def mode_duplex(a):
    import hashlib
    s, clock, early = open_tunnel(a)
    with open(a.send_file, 'rb') as f:
        data = memoryview(f.read())
    sha = hashlib.sha256(early)
    got, sent = len(early), 0
    end = send_end = None
    s.setblocking(False)
    stop = time.monotonic() + a.timeout

    def failed(e):
        if isinstance(e, ConnectionResetError):
            return 'reset'
        return 'error:%s' % errno.errorcode.get(e.errno, e)

    while end is None and time.monotonic() < stop:
        w = [s] if send_end is None else []
        r, w, _ = select.select([s], w, [], 0.5)
        if r:
            try:
                d = s.recv(262144)
            except BlockingIOError:
                d = None
            except OSError as e:
                end = failed(e)
                break
            if d == b'':
                end = 'eof'
            elif d:
                got += len(d)
                sha.update(d)
        if w:
            try:
                sent += s.send(data[sent:sent + 262144])
                if sent == len(data):
                    s.shutdown(socket.SHUT_WR)
                    send_end = 'done'
            except BlockingIOError:
                pass
            except OSError as e:
                send_end = failed(e)
                if send_end == 'reset':
                    end = 'reset'
    say('RECV_LEN', str(got))
    say('RECV_SHA256', sha.hexdigest())
    say('SENT', str(sent))
    say('SEND_END', send_end or 'open')
    say('END', end or 'timeout')
    say('T_END', str(clock.ms()))
    return []


def mode_hold(a):
    s, clock, early = open_tunnel(a)
    pings, end = 0, None
    buf = bytearray(early)
    stop = time.monotonic() + a.timeout
    s.settimeout(5)

    def count():
        tmp = a.count_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % pings)
        os.rename(tmp, a.count_file)

    count()
    while time.monotonic() < stop and not os.path.exists(a.stop_file):
        line = b'ping %d\n' % pings
        try:
            s.sendall(line)
            while line not in buf:
                d = s.recv(65536)
                if not d:
                    end = 'eof'
                    break
                buf += d
        except ConnectionResetError:
            end = 'reset'
        except OSError as e:
            end = 'error:%s' % errno.errorcode.get(e.errno, e)
        if end:
            break
        del buf[:buf.index(line) + len(line)]
        pings += 1
        count()
        time.sleep(a.interval)
    if end is None:
        s.shutdown(socket.SHUT_WR)
        rest, end = read_to_end(s, 10)
        if rest:
            say('EXTRA', esc(rest[:200]))
    say('PINGS', str(pings))
    say('END', end)
    return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['slowhead', 'silent', 'staged', 'trickle',
                                     'busy', 'flood', 'duplex', 'hold'])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--tport', type=int)
    ap.add_argument('--request', default='')
    ap.add_argument('--rest', default='')
    ap.add_argument('--go-file')
    ap.add_argument('--interval', type=float, default=1.0)
    ap.add_argument('--duration', type=float, default=3.0)
    ap.add_argument('--stuck-after', type=float, default=1.0)
    ap.add_argument('--stuck-file')
    ap.add_argument('--reset-when-stuck', action='store_true')
    ap.add_argument('--count-file')
    ap.add_argument('--send-file')
    ap.add_argument('--stop-file')
    ap.add_argument('--check-error', nargs=2, metavar=('CODE', 'REASONS'))
    ap.add_argument('--timeout', type=float, default=20.0)
    a = ap.parse_args()
    fails = globals()['mode_' + a.mode](a)
    for f in fails:
        say('CHECK FAIL', f)
    if a.check_error and not fails:
        say('CHECK ok')
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
