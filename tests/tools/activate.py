#!/usr/bin/python3
"""Hand a port-0 listening socket to a program as systemd would.

  activate.py --port-file F [--host H] [--inetd] -- PROGRAM ARGS...
      binds H (default 127.0.0.1) port 0, writes the port to F, puts the
      listener on fd 3 with LISTEN_FDS=1 LISTEN_PID=<own pid> and execs
      `systemd-socket-activate --accept [--inetd] PROGRAM ARGS...`, which
      takes the fd over (sd_listen_fds) and spawns PROGRAM per connection.
      (systemd-socket-activate cannot itself bind port 0.)

  activate.py --port-file F --direct -- PROGRAM ARGS...
      execs PROGRAM itself with the *listening* socket on fd 3 and
      LISTEN_FDS=1 (the Accept=no set-up connectd must refuse).
"""
import argparse
import os
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--inetd', action='store_true')
    ap.add_argument('--direct', action='store_true')
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    if not cmd:
        ap.error('no program given')

    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((a.host, 0))
    s.listen(64)
    port = s.getsockname()[1]
    fd = s.detach()
    if fd != 3:
        os.dup2(fd, 3)
        os.close(fd)
    os.set_inheritable(3, True)
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
    os.rename(tmp, a.port_file)

    # Python ignores SIGPIPE and an ignored signal survives exec: give the
    # program the default disposition, as inetd and tcpserver do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.environ['LISTEN_FDS'] = '1'
    os.environ['LISTEN_PID'] = str(os.getpid())
    os.environ.pop('LISTEN_FDNAMES', None)
    if a.direct:
        os.execvp(cmd[0], cmd)
    argv = ['systemd-socket-activate', '--accept']
    if a.inetd:
        argv.append('--inetd')
    os.execvp(argv[0], argv + ['--'] + cmd)


if __name__ == '__main__':
    sys.exit(main())
