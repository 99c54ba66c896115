#!/usr/bin/env python3
"""HTTP CONNECT clients for the booted-systemd checks (tests/systemd/inside.sh).

The proxy is HOST:PORT or unix:PATH; the target is HOST:PORT, an echo server.

  client.py tunnel PROXY TARGET     status code; for a 200, one line echoed
                                    through the tunnel; exit 0 on 200 + echo
  client.py status PROXY TARGET     status code of the answer; exit 0
  client.py violate PROXY TARGET    as status, with the header that makes a
                                    connectd running tools/violate.so break
                                    its sandbox (0: no answer came)
  client.py hold PROXY TARGET FILE  a tunnel that echoes a byte every 0.1 s,
                                    writing its state to FILE ("open N",
                                    then "end eof|reset|error N") until the
                                    proxy ends it or FILE.stop appears
  client.py burst PROXY N SECS      N connect-and-close within SECS; prints
                                    "connected=C failed=F elapsed=S"
"""
import os
import socket
import sys
import time


def dial(proxy, timeout=10.0):
    if proxy.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(proxy[5:])
        return s
    host, port = proxy.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def connect(proxy, target, extra=b""):
    """Returns (socket, status code); status 0 when no answer came."""
    s = dial(proxy)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target.encode(), target.encode(), extra))
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            chunk = s.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            break
        head += chunk
    parts = head.split(b" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return s, code


def echo_once(s, data=b"ping\n"):
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(len(data) - len(got))
        if not chunk:
            break
        got += chunk
    return got == data


def cmd_tunnel(proxy, target):
    s, code = connect(proxy, target)
    ok = code == 200 and echo_once(s)
    print(code, "echo" if ok else "no-echo")
    return 0 if ok else 1


def cmd_status(proxy, target):
    try:
        _, code = connect(proxy, target)
    except OSError as e:
        print("error", e.errno)
        return 1
    print(code)
    return 0


def cmd_hold(proxy, target, state):
    def put(text):
        with open(state + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(state + ".tmp", state)

    s, code = connect(proxy, target)
    if code != 200:
        put("end status %d 0" % code)
        return 1
    n = 0
    s.settimeout(5)
    while not os.path.exists(state + ".stop"):
        try:
            if not echo_once(s, b"x"):
                put("end eof %d" % n)
                return 0
        except ConnectionResetError:
            put("end reset %d" % n)
            return 0
        except OSError:
            put("end error %d" % n)
            return 0
        n += 1
        put("open %d" % n)
        time.sleep(0.1)
    s.close()
    put("end stopped %d" % n)
    return 0


def cmd_burst(proxy, n, secs):
    n, secs = int(n), float(secs)
    start = time.monotonic()
    connected = failed = 0
    for i in range(n):
        delay = start + secs * i / n - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            s = dial(proxy, timeout=2)
            s.close()
            connected += 1
        except OSError:
            failed += 1
    print("connected=%d failed=%d elapsed=%.2f" % (connected, failed, time.monotonic() - start))
    return 0


def cmd_violate(proxy, target):
    try:
        _, code = connect(proxy, target, b"X-Connectd-Test-Violate: 1\r\n")
    except OSError as e:
        print("error", e.errno)
        return 1
    print(code)
    return 0


def main(argv):
    cmds = {"tunnel": (cmd_tunnel, 2), "status": (cmd_status, 2),
            "violate": (cmd_violate, 2),
            "hold": (cmd_hold, 3), "burst": (cmd_burst, 3)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) != cmds[argv[1]][1] + 2:
        sys.stderr.write(__doc__)
        return 2
    fn, _ = cmds[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
