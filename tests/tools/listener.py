#!/usr/bin/python3
"""Hand a port-0 listening socket to a program, for connectd --fork.

  listener.py --port-file F [--host H] [--via-activate | --stdin] -- PROGRAM ARGS...

Binds H (default 127.0.0.1) port 0 and listens, writes the port to F,
closes every other fd above 2 (a service manager starts a service with a
clean set), then execs PROGRAM (the PID stays the same, so the caller's PID for this process
is PROGRAM's) with the listening socket

  (default)        on fd 3 with LISTEN_FDS=1 LISTEN_PID=<pid>: systemd with
                   Accept=no
  --via-activate   the same, but through the real `systemd-socket-activate`
                   without --accept, which takes the fd over (sd_listen_fds)
                   and execs PROGRAM with its own LISTEN_FDS/LISTEN_PID
  --stdin          on fd 0 and nothing in the environment: inetd with `wait`

(`systemd-socket-activate -l` cannot bind port 0, hence the hand-over.)
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
    ap.add_argument('--backlog', type=int, default=128)
    how = ap.add_mutually_exclusive_group()
    how.add_argument('--via-activate', action='store_true')
    how.add_argument('--stdin', action='store_true')
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    if not cmd:
        ap.error('no program given')

    fam = socket.AF_INET6 if ':' in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((a.host, 0))
    s.listen(a.backlog)
    port = s.getsockname()[1]
    fd = s.detach()
    want = 0 if a.stdin else 3
    if fd != want:
        os.dup2(fd, want)  # dup2 leaves the new fd inheritable
        os.close(fd)
    else:
        os.set_inheritable(want, True)

    # Python ignores SIGPIPE and an ignored signal survives exec: give the
    # program the default disposition, as a service manager does.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for k in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'):
        os.environ.pop(k, None)
    if not a.stdin:
        os.environ['LISTEN_FDS'] = '1'
        os.environ['LISTEN_PID'] = str(os.getpid())
    if a.via_activate:
        cmd = ['systemd-socket-activate', '--'] + cmd

    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
    os.rename(tmp, a.port_file)
    if want == 3:
        os.closerange(4, os.sysconf('SC_OPEN_MAX'))
    else:
        os.closerange(3, os.sysconf('SC_OPEN_MAX'))
    os.execvp(cmd[0], cmd)


if __name__ == '__main__':
    sys.exit(main())
