#!/usr/bin/python3
"""Many tunnels at once through the proxy, every byte checked (stdlib only).

  stress.py --port-file F --proxy-port-file G [--tunnels N] [--min B]
            [--max B] [--seed S] [--deadline SECONDS]

Starts its own target on 127.0.0.1 port 0 and writes the port to F, then
waits (at most 20 s) for G to hold the proxy's port.  Then N clients connect
to the proxy at once, each asking for a tunnel to the target and moving a
random payload of a random size in [min, max] bytes each way.  The first 16
bytes up are a header (magic, tunnel id, pattern), sent in the same write as
the request, so the target knows who it talks to.

The pattern says who half-closes when:
  0  both sides send and read at the same time, each FINs when done
  1  the client sends everything and FINs before it reads
  2  the client reads until the target's FIN before it sends
  3  the target reads until the client's FIN before it sends
  4  the target sends everything and FINs before it reads
Sends are in random chunk sizes with random short pauses.  Each side hashes
what it sends and what it receives (SHA-256); at the end both ends of every
tunnel are compared, and the exact 200 head and a clean EOF each way are
required.

Output: FAIL <id> <why> lines, then TUNNELS, OK, UP_BYTES, DOWN_BYTES
(tunnel bytes including the headers), SECONDS.  Exit 0 when every tunnel
is intact, 1 otherwise.
"""
import argparse
import hashlib
import os
import random
import re
import resource
import socket
import struct
import sys
import threading
import time

MAGIC = b'STRS'
HEADER = struct.Struct('!4sIB7x')  # 16 bytes
SUCCESS = re.compile(rb'HTTP/1\.1 200 Connection established\r\n'
                     rb'Proxy-Agent: connectd/[!-~]+\r\n\r\n')
PATTERNS = 5


class Side:
    """What one end of one tunnel sent and received."""

    def __init__(self):
        self.tx_sha = hashlib.sha256()
        self.tx_len = 0
        self.rx_sha = hashlib.sha256()
        self.rx_len = 0
        self.rx_end = None
        self.tx_end = None
        self.error = None


def send_payload(sock, payload, side, rng, lock):
    """Sends payload in random chunks, then FINs."""
    view = memoryview(payload)
    i = 0
    try:
        while i < len(view):
            with lock:
                n = min(len(view) - i, int(2 ** rng.uniform(0, 16)) + 1)
                pause = rng.random() < 0.05
            sock.sendall(view[i:i + n])
            side.tx_sha.update(view[i:i + n])
            side.tx_len += n
            i += n
            if pause:
                time.sleep(0.001)
        sock.shutdown(socket.SHUT_WR)
        side.tx_end = 'fin'
    except OSError as e:
        side.tx_end = 'error:%s' % e


def read_all(sock, side, first=b''):
    if first:
        side.rx_sha.update(first)
        side.rx_len += len(first)
    try:
        while True:
            d = sock.recv(262144)
            if not d:
                side.rx_end = 'eof'
                return
            side.rx_sha.update(d)
            side.rx_len += len(d)
    except ConnectionResetError:
        side.rx_end = 'reset'
    except OSError as e:
        side.rx_end = 'error:%s' % e


def run_pattern(sock, pattern, me, side, payload, rng, lock, first=b''):
    """Runs this end's part of the pattern; `me` is 'client' or 'target'."""
    sender_first = (me == 'client' and pattern == 1) or \
        (me == 'target' and pattern == 4)
    reader_first = (me == 'client' and pattern == 2) or \
        (me == 'target' and pattern == 3)
    if sender_first:
        send_payload(sock, payload, side, rng, lock)
        read_all(sock, side, first)
    elif reader_first:
        read_all(sock, side, first)
        send_payload(sock, payload, side, rng, lock)
    else:
        t = threading.Thread(target=send_payload,
                             args=(sock, payload, side, rng, lock), daemon=True)
        t.start()
        read_all(sock, side, first)
        t.join()


class Run:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.rng = random.Random(a.seed)
        self.targets = {}      # id -> Side
        self.clients = {}      # id -> Side
        self.heads = {}        # id -> bool

    def size(self):
        with self.lock:
            return self.rng.randint(self.a.min, self.a.max)

    # --- target --------------------------------------------------------
    def target_conn(self, conn):
        side = Side()
        try:
            conn.settimeout(self.a.deadline)
            hdr = b''
            while len(hdr) < HEADER.size:
                d = conn.recv(HEADER.size - len(hdr))
                if not d:
                    raise OSError('EOF inside the header')
                hdr += d
            magic, tid, pattern = HEADER.unpack(hdr)
            if magic != MAGIC:
                raise OSError('bad header %r' % hdr)
            with self.lock:
                self.targets[tid] = side
                rng = random.Random(self.rng.random())
            payload = os.urandom(self.size())
            run_pattern(conn, pattern, 'target', side, payload, rng, self.lock,
                        first=hdr)
        except OSError as e:
            side.error = str(e)
        finally:
            conn.close()

    def serve(self, lsock):
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=self.target_conn, args=(conn,),
                             daemon=True).start()

    # --- client --------------------------------------------------------
    def client(self, tid, pport, tport, start):
        side = Side()
        self.clients[tid] = side
        with self.lock:
            pattern = self.rng.randrange(PATTERNS)
            rng = random.Random(self.rng.random())
            early_extra = self.rng.randrange(0, 2048)
        payload = HEADER.pack(MAGIC, tid, pattern) + os.urandom(self.size())
        req = (b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n'
               % (tport, tport))
        start.wait()
        try:
            sock = socket.create_connection(('127.0.0.1', pport),
                                            timeout=self.a.deadline)
            # the request, the header and a few payload bytes in one write
            first = HEADER.size + early_extra
            sock.sendall(req + payload[:first])
            side.tx_sha.update(payload[:first])
            side.tx_len += first
            buf = b''
            while b'\r\n\r\n' not in buf:
                d = sock.recv(65536)
                if not d:
                    break
                buf += d
            i = buf.find(b'\r\n\r\n')
            head, rest = buf[:i + 4], buf[i + 4:]
            self.heads[tid] = bool(SUCCESS.fullmatch(head))
            if not self.heads[tid]:
                side.error = 'head %r' % head[:200]
                return
            run_pattern(sock, pattern, 'client', side, payload[first:], rng,
                        self.lock, first=rest)
            sock.close()
        except OSError as e:
            side.error = str(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--proxy-port-file', required=True)
    ap.add_argument('--tunnels', type=int, default=200)
    ap.add_argument('--min', type=int, default=65536)
    ap.add_argument('--max', type=int, default=262144)
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--deadline', type=float, default=60.0)
    a = ap.parse_args()
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), 'big')
    print('SEED', a.seed, flush=True)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * a.tunnels + 64))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    threading.stack_size(256 * 1024)

    run = Run(a)
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(1024)
    tport = lsock.getsockname()[1]
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % tport)
    os.rename(tmp, a.port_file)
    threading.Thread(target=run.serve, args=(lsock,), daemon=True).start()

    stop = time.monotonic() + 20
    pport = None
    while pport is None:
        try:
            with open(a.proxy_port_file) as f:
                pport = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            if time.monotonic() > stop:
                print('FAIL - no proxy port in %s' % a.proxy_port_file)
                return 1
            time.sleep(0.05)

    start = threading.Event()
    threads = [threading.Thread(target=run.client,
                                args=(i, pport, tport, start), daemon=True)
               for i in range(a.tunnels)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.set()
    end = t0 + a.deadline
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    # the targets finish right after their clients; give them a moment
    while time.monotonic() < end:
        with run.lock:
            done = [run.targets.get(i) for i in range(a.tunnels)]
        if all(s is not None and s.rx_end and s.tx_end for s in done):
            break
        time.sleep(0.02)
    secs = time.monotonic() - t0

    fails = []
    up = down = 0
    for i in range(a.tunnels):
        c, t = run.clients.get(i), run.targets.get(i)
        why = []
        if threads[i].is_alive():
            why.append('client still running at the deadline')
        if c is None or c.error:
            why.append('client: %s' % (c.error if c else 'never ran'))
        if t is None:
            why.append('the target never saw this tunnel')
        elif t.error:
            why.append('target: %s' % t.error)
        if c is not None and t is not None and not why:
            if (c.tx_len, c.tx_sha.digest()) != (t.rx_len, t.rx_sha.digest()):
                why.append('up: client sent %d bytes, target got %d, sha %s'
                           % (c.tx_len, t.rx_len, 'differs'
                              if c.tx_sha.digest() != t.rx_sha.digest()
                              else 'equal'))
            if (t.tx_len, t.tx_sha.digest()) != (c.rx_len, c.rx_sha.digest()):
                why.append('down: target sent %d bytes, client got %d, sha %s'
                           % (t.tx_len, c.rx_len, 'differs'
                              if t.tx_sha.digest() != c.rx_sha.digest()
                              else 'equal'))
            for who, s in (('client', c), ('target', t)):
                if s.rx_end != 'eof' or s.tx_end != 'fin':
                    why.append('%s: read ended %s, write ended %s'
                               % (who, s.rx_end, s.tx_end))
            up += c.tx_len
            down += c.rx_len
        if why:
            fails.append(i)
            print('FAIL %d %s' % (i, '; '.join(why)))
    print('TUNNELS', a.tunnels)
    print('OK', a.tunnels - len(fails))
    print('UP_BYTES', up)
    print('DOWN_BYTES', down)
    print('SECONDS %.2f' % secs)
    sys.stdout.flush()
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
