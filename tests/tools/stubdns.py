#!/usr/bin/python3
"""A table-driven stub DNS server for the connectd dial tests (stdlib only).

  stubdns.py --zone FILE [--host 127.0.0.1] [--port 53] [--log FILE]
             [--ready FILE]

Serves UDP and TCP on HOST:PORT until killed, answering from the zone FILE,
one rule a line ('#' starts a comment):

  NAME TYPE VALUE [delay=SECONDS] [tc]

  TYPE   A, AAAA, * (every type), or CNAME (VALUE is the alias's target,
         answered as the CNAME record and the target's records)
  VALUE  an address (for A or AAAA: one answer record; several lines give
         several records), or one of
           NXDOMAIN  rcode 3, no records
           SERVFAIL  rcode 2
           REFUSED   rcode 5
           NODATA    rcode 0 and no answer (the name exists, not this type)
           DROP      never answer
  delay  answer this long after the query (a thread per delayed answer,
         so other queries are answered meanwhile)
  tc     over UDP, answer with TC set and no record (the whole answer
         comes over TCP)

For a query (NAME, TYPE): the address rules of that type if any, else the
action for TYPE, else the action for *, else NODATA when the name has any
rule, else NXDOMAIN.  Names match without case and without a trailing dot.

Each query is appended to --log as one line:
  <ms since start> <udp|tcp> <name> <type> <what was done> [delay=<s>]
The ready file gets "ok" once both sockets listen.
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys
import threading
import time

TYPES = {'A': 1, 'AAAA': 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {'NOERROR': 0, 'SERVFAIL': 2, 'NXDOMAIN': 3, 'REFUSED': 5}
ACTIONS = ('NXDOMAIN', 'SERVFAIL', 'REFUSED', 'NODATA', 'DROP')

T0 = time.monotonic()
LOG_LOCK = threading.Lock()


def load_zone(path):
    """Returns {name: {type: {'addrs': [...], 'action': str, 'delay': s}}}."""
    zone = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            if len(line) < 3:
                raise SystemExit('%s:%d: NAME TYPE VALUE expected' % (path, n))
            name, rtype, value = line[0].lower().rstrip('.'), line[1].upper(), line[2]
            delay, tc = 0.0, False
            for opt in line[3:]:
                if opt.startswith('delay='):
                    delay = float(opt[6:])
                elif opt == 'tc':
                    tc = True
                else:
                    raise SystemExit('%s:%d: unknown option %s' % (path, n, opt))
            if rtype == 'CNAME':
                zone.setdefault(name, {})['CNAME'] = value.lower().rstrip('.')
                continue
            if rtype != '*' and rtype not in TYPES:
                raise SystemExit('%s:%d: unknown type %s' % (path, n, rtype))
            rule = zone.setdefault(name, {}).setdefault(
                rtype, {'addrs': [], 'action': None, 'delay': 0.0, 'tc': False})
            rule['delay'] = max(rule['delay'], delay)
            rule['tc'] = rule['tc'] or tc
            if value.upper() in ACTIONS:
                rule['action'] = value.upper()
                continue
            if rtype == '*':
                raise SystemExit('%s:%d: * takes an action, not an address' % (path, n))
            addr = ipaddress.ip_address(value)
            if (addr.version == 4) != (rtype == 'A'):
                raise SystemExit('%s:%d: %s is not an %s address' % (path, n, value, rtype))
            rule['addrs'].append(addr.packed)
    return zone


def decide(zone, name, qtype):
    """(action, [rdata], delay, tc, cname target or None) for a query."""
    rules = zone.get(name)
    if rules is not None and 'CNAME' in rules:
        target = rules['CNAME']
        return decide_plain(zone, target, qtype) + (target,)
    return decide_plain(zone, name, qtype) + (None,)


def decide_plain(zone, name, qtype):
    """(action, [rdata], delay, tc) for a name without an alias."""
    rules = zone.get(name)
    if rules is None:
        return 'NXDOMAIN', [], 0.0, False
    tname = TYPE_NAMES.get(qtype)
    rule = rules.get(tname) if tname else None
    if rule and rule['addrs']:
        return 'ANSWER', rule['addrs'], rule['delay'], rule['tc']
    if rule and rule['action']:
        return rule['action'], [], rule['delay'], rule['tc']
    star = rules.get('*')
    if star and star['action']:
        return star['action'], [], star['delay'], star['tc']
    return 'NODATA', [], (rule or {'delay': 0.0})['delay'], False


def parse_question(msg):
    """(id, flags, qname text, raw question bytes, qtype) or None."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack('!HHH', msg[:6])
    if qd != 1 or flags & 0x8000:
        return None
    i, labels = 12, []
    while True:
        if i >= len(msg):
            return None
        n = msg[i]
        i += 1
        if n == 0:
            break
        if n & 0xC0 or i + n > len(msg):
            return None
        labels.append(msg[i:i + n].decode('latin-1'))
        i += n
    if i + 4 > len(msg):
        return None
    qtype, _qclass = struct.unpack('!HH', msg[i:i + 4])
    return qid, flags, '.'.join(labels).lower(), msg[12:i + 4], qtype


def wire_name(name):
    return b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'


def build(qid, qflags, question, qtype, rcode, rdatas, cname=None, tc=False):
    # QR, opcode copied, AA, TC, RD copied, RA, rcode
    flags = (0x8000 | (qflags & 0x7800) | 0x0400 | (0x0200 if tc else 0) |
             (qflags & 0x0100) | 0x0080 | rcode)
    owner, answers = b'\xc0\x0c', b''
    if cname is not None:
        target = wire_name(cname)
        answers = struct.pack('!HHHIH', 0xC00C, 5, 1, 60, len(target)) + target
        owner = target
    answers += b''.join(
        owner + struct.pack('!HHIH', qtype, 1, 60, len(rd)) + rd for rd in rdatas)
    count = len(rdatas) + (cname is not None)
    head = struct.pack('!HHHHHH', qid, flags, 1, count, 0, 0)
    return head + question + answers


def log(path, proto, name, qtype, what, delay):
    if not path:
        return
    line = '%d %s %s %s %s%s\n' % (
        (time.monotonic() - T0) * 1000, proto, name,
        TYPE_NAMES.get(qtype, str(qtype)), what,
        ' delay=%g' % delay if delay else '')
    with LOG_LOCK, open(path, 'a') as f:
        f.write(line)


def respond(zone, msg, proto, logpath, send):
    q = parse_question(msg)
    if q is None:
        return
    qid, qflags, name, question, qtype = q
    action, rdatas, delay, tc, cname = decide(zone, name, qtype)
    tc = tc and proto == 'udp'
    what = action if action != 'ANSWER' else 'ANSWER:%d' % len(rdatas)
    log(logpath, proto, name, qtype, what + (' TC' if tc else ''), delay)
    if action == 'DROP':
        return
    rcode = {'ANSWER': 0, 'NODATA': 0}.get(action, RCODES.get(action, 2))
    if tc:
        rdatas, cname = [], None
    reply = build(qid, qflags, question, qtype, rcode, rdatas, cname, tc)

    def go():
        try:
            send(reply)
        except OSError:
            pass
    if delay > 0:
        t = threading.Timer(delay, go)
        t.daemon = True
        t.start()
    else:
        go()


def serve_udp(sock, zone, logpath):
    while True:
        msg, peer = sock.recvfrom(4096)
        respond(zone, msg, 'udp', logpath,
                lambda data, peer=peer: sock.sendto(data, peer))


def recv_exact(conn, n):
    data = b''
    while len(data) < n:
        d = conn.recv(n - len(data))
        if not d:
            return None
        data += d
    return data


def serve_tcp_conn(conn, zone, logpath):
    lock = threading.Lock()

    def send(data):
        with lock:
            conn.sendall(struct.pack('!H', len(data)) + data)
    try:
        conn.settimeout(30)
        while True:
            hdr = recv_exact(conn, 2)
            if hdr is None:
                break
            msg = recv_exact(conn, struct.unpack('!H', hdr)[0])
            if msg is None:
                break
            respond(zone, msg, 'tcp', logpath, send)
    except OSError:
        pass
    # a delayed answer may still be due: leave the socket to the timer
    t = threading.Timer(10, conn.close)
    t.daemon = True
    t.start()


def serve_tcp(sock, zone, logpath):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, zone, logpath),
                         daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--zone', required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=53)
    ap.add_argument('--log')
    ap.add_argument('--ready')
    a = ap.parse_args()
    zone = load_zone(a.zone)

    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    udp = socket.socket(fam, socket.SOCK_DGRAM)
    udp.bind((a.host, a.port))
    tcp = socket.socket(fam, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((a.host, a.port))
    tcp.listen(16)
    threading.Thread(target=serve_tcp, args=(tcp, zone, a.log), daemon=True).start()
    if a.ready:
        with open(a.ready + '.tmp', 'w') as f:
            f.write('ok\n')
        os.rename(a.ready + '.tmp', a.ready)
    serve_udp(udp, zone, a.log)


if __name__ == '__main__':
    sys.exit(main())
