#!/usr/bin/python3
"""Hand a port-0 listening socket to a program as a launcher would.

  activate.py --port-file F [--host H] [--backlog N]
              [--inetd | --direct | --via-activate | --stdin]
              -- PROGRAM ARGS...

Binds H (default 127.0.0.1) port 0 and listens, writes the port to F,
closes every other fd above 2 (a service manager starts a program with a
clean set), then execs, so the caller's PID for this process is the
launcher's or PROGRAM's:

  (default)       `systemd-socket-activate --accept PROGRAM ARGS...` with
                  the listener on fd 3, LISTEN_FDS=1 LISTEN_PID=<pid>: it
                  takes the fd over (sd_listen_fds) and spawns PROGRAM per
                  connection, the connection on fd 3 (systemd, Accept=yes)
  --inetd         the same with --inetd: the connection on fds 0 and 1
  --direct        PROGRAM itself with the *listening* socket on fd 3 and
                  LISTEN_FDS=1 LISTEN_PID=<pid> (systemd, Accept=no)
  --via-activate  the same through the real `systemd-socket-activate`
                  without --accept, which execs PROGRAM with its own
                  LISTEN_FDS/LISTEN_PID
  --stdin         PROGRAM itself with the listening socket on fd 0 and
                  nothing in the environment (inetd, wait)

(systemd-socket-activate cannot itself bind port 0, hence the hand-over.)
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
    how.add_argument('--inetd', action='store_true')
    how.add_argument('--direct', action='store_true')
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
    elif not (a.direct or a.stdin):
        cmd = (['systemd-socket-activate', '--accept'] +
               (['--inetd'] if a.inetd else []) + ['--'] + cmd)

    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
    os.rename(tmp, a.port_file)
    os.closerange(max(want, 2) + 1, os.sysconf('SC_OPEN_MAX'))
    os.execvp(cmd[0], cmd)


if __name__ == '__main__':
    sys.exit(main())
