#!/usr/bin/python3
"""Raw CONNECT client for the connectd end-to-end tests (stdlib only).

Connects to the proxy, sends a request, reads the response head and then
performs tunnel actions.  Everything it observes is printed as one
"KEY value" line per fact so that bats can assert on it:

  LOCAL 127.0.0.1:PORT        client's own address (for log assertions)
  SENDERR <text>              the request could not be sent completely
  HEAD <esc>                  response head up to and including the blank line
                              (or everything received if no blank line came)
  STATUS <code>|none
  HDR <name-lowercase>: <value>
  BODY <esc>                  error responses: bytes after the head, up to
                              Content-Length
  EXTRA <esc>                 bytes after Content-Length (must be empty)
  RECV_LEN <n>                tunnel bytes received (200 or --direct)
  RECV <esc>                  the tunnel bytes (if at most 8 KiB)
  RECV_SHA256 <hex>
  END eof|reset|timeout|open  how the connection ended for the reader
  CHECK ok | CHECK FAIL <why> results of --check-error / --check-ok

<esc> is the bytes with printable ASCII as is, and \\ \\r \\n \\t \\xHH.

Request strings (--request, --extra, send:) are Python-escape decoded
("\\r\\n", "\\x00"), and "{T}" is replaced by --tport.

Tunnel actions (--act, in order): send:ESC, sendfile:PATH, shut (FIN),
reset (close with an RST), readeof, read:N (until N tunnel bytes in all), duplex:PATH (send the file and
FIN while reading until EOF).

Exit status: 0, or 1 if a CHECK failed, 3 on a usage error.
"""
import argparse
import codecs
import hashlib
import re
import socket
import struct
import sys
import threading
import time


def esc(data):
    out = []
    for b in data:
        if b == 0x5C:
            out.append('\\\\')
        elif b == 0x0D:
            out.append('\\r')
        elif b == 0x0A:
            out.append('\\n')
        elif b == 0x09:
            out.append('\\t')
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append('\\x%02x' % b)
    return ''.join(out)


def unesc(text, tport):
    if tport is not None:
        text = text.replace('{T}', str(tport))
    return codecs.escape_decode(text.encode('latin-1'))[0]


def say(key, value=''):
    sys.stdout.write('%s %s\n' % (key, value) if value != '' else '%s\n' % key)
    sys.stdout.flush()


def pad_head(req, total):
    """Insert X-Pad fields before the final blank line so len(req) == total."""
    if req.endswith(b'\r\n\r\n'):
        body, end = req[:-2], b'\r\n'
    elif req.endswith(b'\n\n'):
        body, end = req[:-1], b'\n'
    else:
        raise SystemExit('--pad-head needs a request ending in a blank line')
    need = total - len(req)
    fields = []
    k = 0
    while need > 0:
        k += 1
        name = b'X-Pad-%d: ' % k
        overhead = len(name) + 2
        if need < overhead + 1:
            raise SystemExit('--pad-head: cannot pad by %d bytes' % need)
        size = min(need - overhead, 8000)
        rest = need - (overhead + size)
        if 0 < rest < 20:          # keep room for one more well-formed field
            size -= 20
        fields.append(name + b'p' * size + b'\r\n')
        need -= overhead + size
    out = body + b''.join(fields) + end
    assert len(out) == total, (len(out), total)
    return out


class Conn:
    def __init__(self, sock, timeout):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.end = 'open'

    def recv(self):
        """One recv; returns b'' at EOF and records how the stream ended."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.end = 'reset'
            return None
        except socket.timeout:
            self.end = 'timeout'
            return None
        except OSError as e:
            self.end = 'error:%s' % e.strerror
            return None
        if not data:
            self.end = 'eof'
        return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--tport', type=int)
    ap.add_argument('--direct', action='store_true',
                    help='no request: the connection is the tunnel')
    ap.add_argument('--request', default='')
    ap.add_argument('--request-file')
    ap.add_argument('--pad-head', type=int)
    ap.add_argument('--extra', default='',
                    help='tunnel bytes sent in the same write as the request')
    ap.add_argument('--split', default='all',
                    help='all | bytewise | N (chunks of N bytes)')
    ap.add_argument('--shut-after-request', action='store_true')
    ap.add_argument('--act', action='append', default=[],
                    help='send:ESC sendfile:PATH shut reset readeof read:N duplex:PATH')
    ap.add_argument('--out')
    ap.add_argument('--raw-out')
    ap.add_argument('--check-error', nargs=2, metavar=('CODE', 'REASONS'))
    ap.add_argument('--check-ok', action='store_true')
    ap.add_argument('--timeout', type=float, default=20.0)
    a = ap.parse_args()

    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(a.timeout)
    sock.connect((a.host, a.port))
    local = sock.getsockname()
    say('LOCAL', '%s:%d' % (local[0], local[1]))
    c = Conn(sock, a.timeout)
    raw = bytearray()
    checks = []

    head = b''
    rest = b''
    status = None
    if not a.direct:
        if a.request_file:
            with open(a.request_file, 'rb') as f:
                req = f.read()
        else:
            req = unesc(a.request, a.tport)
        if a.pad_head:
            req = pad_head(req, a.pad_head)
        data = req + unesc(a.extra, a.tport)
        try:
            if a.split == 'all':
                sock.sendall(data)
            else:
                n = 1 if a.split == 'bytewise' else int(a.split)
                for i in range(0, len(data), n):
                    sock.sendall(data[i:i + n])
                    time.sleep(0.002)   # pacing so the proxy sees many reads
            if a.shut_after_request:
                sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            say('SENDERR', e.strerror or str(e))

        buf = b''
        while b'\r\n\r\n' not in buf:
            d = c.recv()
            if not d:
                break
            buf += d
        raw += buf
        if b'\r\n\r\n' in buf:
            i = buf.index(b'\r\n\r\n') + 4
            head, rest = buf[:i], buf[i:]
        else:
            head, rest = buf, b''
        say('HEAD', esc(head))
        m = re.match(rb'HTTP/1\.1 (\d{3}) ', head)
        status = int(m.group(1)) if m else None
        say('STATUS', str(status) if status is not None else 'none')
        headers = []
        for line in head.split(b'\r\n')[1:]:
            if not line:
                continue
            name, _, value = line.partition(b':')
            headers.append((name.decode('latin-1').lower(),
                            value.strip().decode('latin-1')))
            say('HDR', '%s: %s' % (esc(name.lower()), esc(value.strip())))

    if not a.direct and status != 200:
        # Error response (or none at all): the rest up to EOF is the body.
        body = bytearray(rest)
        if c.end == 'open':
            while True:
                d = c.recv()
                if not d:
                    break
                body += d
        raw += body[len(rest):]
        hd = {}
        for n, v in headers if head else []:
            hd.setdefault(n, []).append(v)
        clen = None
        if 'content-length' in hd and re.fullmatch(r'\d+', hd['content-length'][0]):
            clen = int(hd['content-length'][0])
        b_body = bytes(body[:clen]) if clen is not None else bytes(body)
        extra = bytes(body[clen:]) if clen is not None else b''
        say('BODY', esc(b_body))
        say('EXTRA', esc(extra))
        say('END', c.end)
        if a.check_error:
            code, reasons = int(a.check_error[0]), a.check_error[1].split(',')
            checks += check_error(code, reasons, head, hd, clen, b_body, extra, c.end)
        if a.check_ok:
            checks.append('expected 200, got %s' % status)
    else:
        tunnel = bytearray(rest)
        sha = hashlib.sha256(rest)
        count = len(rest)
        outf = open(a.out, 'wb') if a.out else None
        if outf:
            outf.write(rest)
        if a.check_error:
            checks.append('expected %s, got a 200 tunnel' % a.check_error[0])
        if a.check_ok:
            if not re.fullmatch(rb'HTTP/1\.1 200 Connection established\r\n'
                                rb'Proxy-Agent: connectd/[!-~]+\r\n\r\n', head):
                checks.append('200 head is not exactly the success response: %s'
                              % esc(head))

        def take(d):
            nonlocal count
            count += len(d)
            sha.update(d)
            if len(tunnel) <= 8192:
                tunnel.extend(d)
            if outf:
                outf.write(d)
            if a.raw_out and len(raw) <= (1 << 20):
                raw.extend(d)

        def read_until_eof():
            while c.end == 'open':
                d = c.recv()
                if not d:
                    break
                take(d)

        for act in a.act:
            kind, _, arg = act.partition(':')
            try:
                if kind == 'send':
                    sock.sendall(unesc(arg, a.tport))
                elif kind == 'sendfile':
                    with open(arg, 'rb') as f:
                        sock.sendall(f.read())
                elif kind == 'reset':
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack('ii', 1, 0))
                    sock.close()
                elif kind == 'shut':
                    sock.shutdown(socket.SHUT_WR)
                elif kind == 'readeof':
                    read_until_eof()
                elif kind == 'read':
                    # until N tunnel bytes in all: some may have come
                    # in the same read as the 200 head
                    want = int(arg)
                    while count < want and c.end == 'open':
                        d = c.recv()
                        if not d:
                            break
                        take(d)
                elif kind == 'duplex':
                    err = []

                    def sender(path=arg):
                        try:
                            with open(path, 'rb') as f:
                                while True:
                                    chunk = f.read(65536)
                                    if not chunk:
                                        break
                                    sock.sendall(chunk)
                            sock.shutdown(socket.SHUT_WR)
                        except OSError as e:
                            err.append(e.strerror or str(e))
                    t = threading.Thread(target=sender, daemon=True)
                    t.start()
                    read_until_eof()
                    t.join(a.timeout)
                    if err:
                        say('SENDERR', err[0])
                else:
                    raise SystemExit('unknown action %r' % act)
            except OSError as e:
                say('SENDERR', '%s: %s' % (act, e.strerror or e))
        if outf:
            outf.close()
        say('RECV_LEN', str(count))
        if count <= 8192:
            say('RECV', esc(bytes(tunnel)))
        say('RECV_SHA256', sha.hexdigest())
        say('END', c.end)

    if a.raw_out:
        with open(a.raw_out, 'wb') as f:
            f.write(bytes(raw))
    sock.close()
    if checks:
        for ch in checks:
            say('CHECK FAIL', ch)
        return 1
    if a.check_error or a.check_ok:
        say('CHECK ok')
    return 0


def check_error(code, reasons, head, hd, clen, body, extra, end):
    f = []
    m = re.match(rb'HTTP/1\.1 (\d{3}) ([^\r\n]*)\r\n', head)
    if not m:
        return ['no HTTP/1.1 status line in %r' % esc(head)]
    if int(m.group(1)) != code:
        f.append('status %s, expected %d' % (m.group(1).decode(), code))
    if not m.group(2):
        f.append('empty reason phrase')
    if not head.endswith(b'\r\n\r\n'):
        f.append('head does not end with CRLF CRLF')
    if re.search(rb'[^\r]\n', head) or re.search(rb'\r[^\n]', head):
        f.append('head line ends are not all CRLF')
    for name in ('proxy-agent', 'proxy-status', 'content-type',
                 'content-length', 'connection'):
        if len(hd.get(name, [])) != 1:
            f.append('header %s present %d times' % (name, len(hd.get(name, []))))
    if hd.get('proxy-agent') and not hd['proxy-agent'][0].startswith('connectd/'):
        f.append('Proxy-Agent %r' % hd['proxy-agent'][0])
    ps = hd.get('proxy-status', [''])[0]
    got_reason = None
    # RFC 9209: error type, its own parameters (rcode for dns_error), the
    # upstream proxy's status when there was one, details
    pm = re.fullmatch(r'connectd; error=[a-z_]+(?:; [a-z-]+="[A-Z]+")?'
                      r'(?:; received-status=[1-9][0-9]{2})?; details="([^"]*)"', ps)
    if not pm:
        f.append('Proxy-Status %r not of form connectd; error=TYPE; details="REASON"' % ps)
    else:
        got_reason = pm.group(1)
    if hd.get('content-type', [''])[0] != 'text/plain; charset=utf-8':
        f.append('Content-Type %r' % hd.get('content-type', [''])[0])
    if hd.get('connection', [''])[0].lower() != 'close':
        f.append('Connection %r' % hd.get('connection', [''])[0])
    if code == 405 and hd.get('allow', [''])[0] != 'CONNECT':
        f.append('405 without "Allow: CONNECT" (got %r)' % hd.get('allow'))
    if clen is None:
        f.append('no numeric Content-Length')
    elif clen != len(body):
        f.append('Content-Length %d but %d body bytes arrived' % (clen, len(body)))
    if extra:
        f.append('%d bytes after the body: %s' % (len(extra), esc(extra[:200])))
    bm = re.fullmatch(rb'([a-z_]+): [^\r\n]+\n', body)
    if not bm:
        f.append('body is not one line "<reason>: <text>\\n": %s' % esc(body[:300]))
    else:
        key = bm.group(1).decode()
        if key not in reasons:
            f.append('body reason %s, expected %s' % (key, '|'.join(reasons)))
        if got_reason is not None and got_reason != key:
            f.append('Proxy-Status details="%s" differs from body reason %s'
                     % (got_reason, key))
    if end != 'eof':
        f.append('connection ended by %s, expected a clean EOF' % end)
    return f


if __name__ == '__main__':
    sys.exit(main())
