#!/usr/bin/python3
"""Echo target that first reads a PROXY protocol header (stdlib only).

  pptarget.py --port-file F --out O

Binds 127.0.0.1 port 0, writes the port to F, and for each connection reads
one PROXY header (v1 text or v2 binary, parsed here independently of
connectd's parser), appends what it said to O as one line:

  v1 TCP4 SRC SPORT DST DPORT     v1 UNKNOWN
  v2 PROXY INET SRC SPORT DST DPORT    (INET6 likewise)
  v2 PROXY UNSPEC                 v2 LOCAL
  BAD <why>                       (then the connection is closed)

and then echoes every byte after the header until EOF.
"""
import argparse
import ipaddress
import socket
import struct
import threading

SIG = b'\r\n\r\n\x00\r\nQUIT\n'


def read_exact(conn, n, buf):
    while len(buf) < n:
        chunk = conn.recv(4096)
        if not chunk:
            raise EOFError('eof after %d bytes' % len(buf))
        buf += chunk
    return buf


def read_header(conn):
    """Returns (line, rest): the header described, the bytes after it."""
    buf = read_exact(conn, 12, b'')
    if buf.startswith(b'PROXY '):
        while b'\r\n' not in buf:
            if len(buf) > 107:
                raise ValueError('v1 line too long')
            buf = read_exact(conn, len(buf) + 1, buf)
        line, rest = buf.split(b'\r\n', 1)
        if len(line) + 2 > 107:
            raise ValueError('v1 line too long')
        words = line.decode('ascii').split(' ')
        if words[1] == 'UNKNOWN':
            return 'v1 UNKNOWN', rest
        if words[1] not in ('TCP4', 'TCP6') or len(words) != 6:
            raise ValueError('v1 fields: %r' % line)
        for w in words[2:4]:
            ipaddress.ip_address(w)
        return 'v1 ' + ' '.join([words[1], words[2], words[4], words[3],
                                 words[5]]), rest
    if not buf.startswith(SIG):
        raise ValueError('no header: %r' % buf)
    buf = read_exact(conn, 16, buf)
    ver_cmd, fam, length = buf[12], buf[13], struct.unpack('!H', buf[14:16])[0]
    buf = read_exact(conn, 16 + length, buf)
    body, rest = buf[16:16 + length], buf[16 + length:]
    if ver_cmd >> 4 != 2:
        raise ValueError('v2 version %d' % (ver_cmd >> 4))
    if ver_cmd & 0xf == 0:
        return 'v2 LOCAL', rest
    if fam == 0x00:
        return 'v2 PROXY UNSPEC', rest
    if fam in (0x11, 0x21):
        alen = 4 if fam == 0x11 else 16
        if length != 2 * alen + 4:
            raise ValueError('v2 length %d' % length)
        src = ipaddress.ip_address(body[:alen])
        dst = ipaddress.ip_address(body[alen:2 * alen])
        sport, dport = struct.unpack('!HH', body[2 * alen:])
        return 'v2 PROXY %s %s %d %s %d' % (
            'INET' if fam == 0x11 else 'INET6', src, sport, dst, dport), rest
    raise ValueError('v2 family %#x' % fam)


def serve(conn, out, lock):
    try:
        try:
            line, rest = read_header(conn)
        except (ValueError, EOFError, UnicodeDecodeError, IndexError) as e:
            line, rest = 'BAD %s' % e, None
        with lock, open(out, 'a') as f:
            f.write(line + '\n')
        if rest is None:
            return
        if rest:
            conn.sendall(rest)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 0))
    s.listen(16)
    with open(a.port_file, 'w') as f:
        f.write('%d\n' % s.getsockname()[1])
    lock = threading.Lock()
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, a.out, lock),
                         daemon=True).start()


if __name__ == '__main__':
    main()
