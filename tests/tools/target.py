#!/usr/bin/python3
"""Loopback target servers for the connectd end-to-end tests (stdlib only).

Binds HOST port 0, listens, writes the real port to --port-file, then serves
every connection in a thread until killed.

Modes:
  echo            send back everything received; at EOF shut down writing.
  banner          send --data first (the server speaks first), then echo.
  halfclose-echo  read until EOF, then send back what arrived plus --data
                  (the trailer), then close: proves the far side can still
                  answer after the client's FIN.
  send-then-read  send --data, shutdown(SHUT_WR), read until EOF and write
                  what arrived to --out: proves the client's bytes after the
                  target's FIN still arrive.
  sink-source     send --send-file while reading everything; at EOF append
                  "<sha256> <length>" of what arrived as one line to --out.
  tls             HTTPS server (--cert/--key): GET / answers --data.
  bound           bind only, never listen: connections are refused.
  silent          accept and hold the connection open, never sending.
  reset           read one chunk, then abort the connection (RST).
  observe         read until the end; write "eof <n>" or "reset <n>" (how
                  the connection ended, bytes received) to --out.  With
                  --delay S, first wait S seconds without reading; with
                  --wait-file F, first wait (at most 60 s) until F exists.
  stall           accept and never read nor send: the peer's bytes pile up
                  in the socket buffers (flow control against the sender).
  pour            send random bytes in --chunk sized writes (--pace seconds
                  apart) until --total bytes are sent (0: until the
                  connection fails, at most 60 s), while draining what
                  arrives; --wait-eof: read until the peer's FIN first;
                  --reset-after: end with an RST instead of a FIN.  Appends
                  one line to --out:
                    <how> sent=<n> sha=<hex> rx=<n> rxend=<eof|reset|..> ms=<n>
                  how: done (all sent, FIN), rst (all sent, RST), reset
                  (ECONNRESET on send), pipe (EPIPE on send), timeout, error.
"""
import argparse
import codecs
import hashlib
import http.server
import os
import socket
import ssl
import struct
import sys
import threading
import time


def recv_all(conn):
    data = bytearray()
    while True:
        d = conn.recv(65536)
        if not d:
            return bytes(data)
        data += d


def write_atomic(path, data, append=False):
    if append:
        with open(path, 'ab') as f:
            f.write(data)
        return
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.rename(tmp, path)


def handle(mode, conn, a, lock):
    try:
        if mode in ('echo', 'banner'):
            if mode == 'banner':
                conn.sendall(a.data)
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                conn.sendall(d)
            conn.shutdown(socket.SHUT_WR)
            # wait for the peer to close before closing (no RST)
            conn.settimeout(30)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
        elif mode == 'halfclose-echo':
            got = recv_all(conn)
            conn.sendall(got + a.data)
            conn.shutdown(socket.SHUT_WR)
        elif mode == 'send-then-read':
            conn.sendall(a.data)
            conn.shutdown(socket.SHUT_WR)
            got = recv_all(conn)
            write_atomic(a.out, got)
        elif mode == 'sink-source':
            def source():
                with open(a.send_file, 'rb') as f:
                    while True:
                        chunk = f.read(65536)
                        if not chunk:
                            break
                        conn.sendall(chunk)
                conn.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=source, daemon=True)
            t.start()
            h = hashlib.sha256()
            n = 0
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                h.update(d)
                n += len(d)
            t.join()
            with lock:
                write_atomic(a.out, ('%s %d\n' % (h.hexdigest(), n)).encode(),
                             append=True)
        elif mode == 'reset':
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
        elif mode == 'observe':
            if a.delay:
                time.sleep(a.delay)
            stop = time.monotonic() + 60
            while a.wait_file and not os.path.exists(a.wait_file) and \
                    time.monotonic() < stop:
                time.sleep(0.02)
            n, how = 0, 'eof'
            conn.settimeout(60)
            try:
                while True:
                    d = conn.recv(65536)
                    if not d:
                        break
                    n += len(d)
            except ConnectionResetError:
                how = 'reset'
            except OSError as e:
                how = 'error ' + (e.strerror or str(e))
            write_atomic(a.out, ('%s %d\n' % (how, n)).encode())
        elif mode == 'stall':
            time.sleep(120)
        elif mode == 'pour':
            pour(conn, a, lock)
        elif mode == 'silent':
            conn.settimeout(120)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
    except OSError as e:
        sys.stderr.write('target %s: %s\n' % (mode, e))
    finally:
        conn.close()


def pour(conn, a, lock):
    """Mode pour: see the module docstring."""
    rx = {'n': 0, 'end': 'open'}

    def drain():
        try:
            while True:
                d = conn.recv(65536)
                if not d:
                    rx['end'] = 'eof'
                    return
                rx['n'] += len(d)
        except ConnectionResetError:
            rx['end'] = 'reset'
        except OSError as e:
            rx['end'] = 'error:' + (e.strerror or str(e))

    conn.settimeout(60)
    reader = threading.Thread(target=drain, daemon=True)
    if a.wait_eof:
        drain()
    else:
        reader.start()
    block = os.urandom(max(a.chunk, 1))
    h = hashlib.sha256()
    sent, how = 0, 'done'
    t0 = time.monotonic()
    try:
        while a.total == 0 or sent < a.total:
            if time.monotonic() - t0 > 60:
                how = 'timeout'
                break
            n = a.chunk if a.total == 0 else min(a.chunk, a.total - sent)
            conn.sendall(block[:n])
            h.update(block[:n])
            sent += n
            if a.pace:
                time.sleep(a.pace)
        if how == 'done' and a.reset_after:
            # the close must not wait for the drain thread's recv: wake it
            # with SHUT_RD (sends nothing), then close with an RST
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
            end = rx['end']
            conn.shutdown(socket.SHUT_RD)
            if not a.wait_eof:
                reader.join(5)
            rx['end'] = end
            how = 'rst'
        elif how == 'done':
            conn.shutdown(socket.SHUT_WR)
            if not a.wait_eof:
                reader.join(60)
    except ConnectionResetError:
        how = 'reset'
    except BrokenPipeError:
        how = 'pipe'
    except OSError as e:
        how = 'error:' + (e.strerror or str(e)).replace(' ', '_')
    ms = int((time.monotonic() - t0) * 1000)
    with lock:
        write_atomic(a.out, ('%s sent=%d sha=%s rx=%d rxend=%s ms=%d\n' % (
            how, sent, h.hexdigest(), rx['n'], rx['end'], ms)).encode(),
            append=True)


def serve_tls(a, sock):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    body = a.data

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Connection', 'close')
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    def one(conn, addr):
        try:
            conn.settimeout(30)
            tls = ctx.wrap_socket(conn, server_side=True)
            H(tls, addr, None)
            try:
                tls.unwrap()
            except (OSError, ValueError):
                pass
        except (OSError, ssl.SSLError) as e:
            sys.stderr.write('tls target: %s\n' % e)
        finally:
            conn.close()

    while True:
        conn, addr = sock.accept()
        threading.Thread(target=one, args=(conn, addr), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--data', default='')
    ap.add_argument('--out')
    ap.add_argument('--send-file')
    ap.add_argument('--cert')
    ap.add_argument('--key')
    ap.add_argument('--delay', type=float, default=0.0)
    ap.add_argument('--wait-file')
    ap.add_argument('--total', type=int, default=0)
    ap.add_argument('--chunk', type=int, default=65536)
    ap.add_argument('--pace', type=float, default=0.0)
    ap.add_argument('--wait-eof', action='store_true')
    ap.add_argument('--reset-after', action='store_true')
    a = ap.parse_args()
    a.data = codecs.escape_decode(a.data.encode('latin-1'))[0]

    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.bind((a.host, 0))
    if a.mode != 'bound':
        sock.listen(64)
    write_atomic(a.port_file, b'%d\n' % sock.getsockname()[1])

    if a.mode == 'bound':
        while True:
            time.sleep(3600)
    if a.mode == 'tls':
        serve_tls(a, sock)
    lock = threading.Lock()
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(a.mode, conn, a, lock),
                         daemon=True).start()


if __name__ == '__main__':
    main()
