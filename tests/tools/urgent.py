#!/usr/bin/python3
"""TCP urgent data through the proxy (stdlib only).

  urgent.py --port PROXY_PORT --direction up|down --scenario NAME

Listens on 127.0.0.1 port 0 as the target, opens a tunnel to itself
through the proxy, then has one end (the client for "up", the target for
"down") send a stream with bytes marked urgent (send(2) with MSG_OOB) and
close, while the other end reads to EOF.  Scenarios:
  one       1000 bytes, one urgent byte, 1000 bytes, 1 s of silence
  several   five rounds of 1000 bytes and an urgent byte, 100 ms apart,
            then 1000 bytes and 1 s of silence
  backlog   the reader waits before reading, so 4 MiB already fills the
            proxy's pipe and socket buffers when the urgent byte comes,
            then 4 MiB more
Prints "SENT n", "GOT n", "MATCH yes|no" (the reader got exactly the bytes
sent, the urgent ones in-line where they were sent), "URGENT k" (bytes sent
urgent), "END eof|reset|timeout" (how the reader's stream ended) and
"BACK eof|reset|timeout" (how the sender saw the reader's own close).
"""
import argparse
import os
import socket
import threading
import time

URGENT = b'!'


def plan(scenario):
    """The sender's steps: ('data', bytes), ('urgent', byte) or ('pause', s)."""
    steps = []
    if scenario == 'one':
        steps = [('data', os.urandom(1000)), ('pause', 0.05),
                 ('urgent', URGENT), ('pause', 0.05),
                 ('data', os.urandom(1000)), ('pause', 1)]
    elif scenario == 'several':
        for _ in range(5):
            steps += [('data', os.urandom(1000)), ('pause', 0.1),
                      ('urgent', URGENT), ('pause', 0.1)]
        steps += [('data', os.urandom(1000)), ('pause', 1)]
    elif scenario == 'backlog':
        steps = [('data', os.urandom(4 << 20)), ('urgent', URGENT),
                 ('data', os.urandom(4 << 20))]
    else:
        raise SystemExit('unknown scenario ' + scenario)
    return steps


def send_steps(sock, steps, out):
    sent = bytearray()
    try:
        for kind, what in steps:
            if kind == 'pause':
                time.sleep(what)
            elif kind == 'urgent':
                sock.send(what, socket.MSG_OOB)
                sent += what
            else:
                sock.sendall(what)
                sent += what
        sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        out['send_error'] = e.strerror
    out['sent'] = bytes(sent)


def read_to_end(sock, deadline):
    got = bytearray()
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = sock.recv(1 << 20)
        except socket.timeout:
            return bytes(got), 'timeout'
        except ConnectionResetError:
            return bytes(got), 'reset'
        if not d:
            return bytes(got), 'eof'
        got += d


def open_tunnel(proxy_port, timeout):
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen(1)
    tport = lsock.getsockname()[1]
    client = socket.create_connection(('127.0.0.1', proxy_port),
                                      timeout=timeout)
    client.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
                   % tport)
    head = b''
    while b'\r\n\r\n' not in head:
        d = client.recv(1)
        if not d:
            raise SystemExit('HEAD none')
        head += d
    print('HEAD', head.split(b'\r\n')[0].decode('ascii', 'replace'))
    lsock.settimeout(timeout)
    target, _ = lsock.accept()
    lsock.close()
    return client, target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--direction', choices=('up', 'down'), required=True)
    ap.add_argument('--scenario', required=True)
    ap.add_argument('--timeout', type=float, default=20)
    a = ap.parse_args()
    steps = plan(a.scenario)
    client, target = open_tunnel(a.port, a.timeout)
    sender, reader = (client, target) if a.direction == 'up' \
        else (target, client)
    out = {}
    t = threading.Thread(target=send_steps, args=(sender, steps, out))
    t.start()
    if a.scenario == 'backlog':
        time.sleep(1)  # let the stream pile up in front of the reader
    got, end = read_to_end(reader, time.monotonic() + a.timeout)
    t.join(a.timeout)
    sent = out.get('sent', b'')
    print('SENT', len(sent))
    print('GOT', len(got))
    print('MATCH', 'yes' if got == sent else 'no')
    print('URGENT', sum(1 for k, _ in steps if k == 'urgent'))
    print('END', end)
    if 'send_error' in out:
        print('SENDERR', out['send_error'])
    reader.shutdown(socket.SHUT_WR)
    _, back = read_to_end(sender, time.monotonic() + a.timeout)
    print('BACK', back)


if __name__ == '__main__':
    main()
