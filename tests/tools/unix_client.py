#!/usr/bin/python3
"""client.py over an AF_UNIX stream socket (stdlib only).

  unix_client.py --unix PATH [client.py options, without --host/--port]

Runs client.py unchanged, with its socket replaced by one connected to
PATH ("@name" for the abstract namespace): same request options, same
tunnel actions, same "KEY value" output (LOCAL is "unix:0").  For the
per-user proxy tests, where connectd gets an AF_UNIX connection and looks
up the client's uid with SO_PEERCRED.
"""
import os
import socket
import sys
import types

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client  # noqa: E402


def main():
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[0] != '--unix':
        sys.stderr.write('usage: unix_client.py --unix PATH [client.py options]\n')
        return 3
    path = argv[1]
    if path.startswith('@'):
        path = '\0' + path[1:]

    class UnixSocket(socket.socket):
        def __init__(self, family=-1, type=socket.SOCK_STREAM, proto=0,
                     fileno=None):
            super().__init__(socket.AF_UNIX, type, 0, fileno)

        def setsockopt(self, level, opt, *value):
            if level == socket.IPPROTO_TCP:
                return None     # TCP_NODELAY: no such thing here
            return super().setsockopt(level, opt, *value)

        def connect(self, address):
            return super().connect(path)

        def getsockname(self):
            return ('unix', 0)

    shim = types.SimpleNamespace(**{k: getattr(socket, k) for k in dir(socket)
                                    if not k.startswith('__')})
    shim.socket = UnixSocket
    client.socket = shim
    sys.argv = [sys.argv[0], '--host', 'unix', '--port', '0'] + argv[2:]
    return client.main()


if __name__ == '__main__':
    sys.exit(main())
