#!/usr/bin/python3
"""Run a program and record the CPU time it used (stdlib only).

  rusage.py --out FILE -- PROGRAM ARGS...

Runs PROGRAM as a child with every file descriptor and the environment
inherited (so it can stand between an inetd-style launcher and the program
it spawns), waits for it, appends "user_ms=<n> sys_ms=<n> status=<n>" to
FILE, and exits with the child's exit status (128+N after signal N).
"""
import argparse
import os
import signal
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    if not cmd:
        ap.error('no program given')
    pid = os.fork()
    if pid == 0:
        try:
            # Python ignores SIGPIPE, and an ignored signal survives exec
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, wstatus, ru = os.wait4(pid, 0)
    if os.WIFSIGNALED(wstatus):
        code = 128 + os.WTERMSIG(wstatus)
    else:
        code = os.WEXITSTATUS(wstatus)
    with open(a.out, 'a') as f:
        f.write('user_ms=%d sys_ms=%d status=%d\n' % (
            ru.ru_utime * 1000, ru.ru_stime * 1000, code))
    return code


if __name__ == '__main__':
    sys.exit(main())
