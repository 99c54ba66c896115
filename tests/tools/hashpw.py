#!/usr/bin/python3
"""Hash a password with crypt(3) for the connectd auth tests (stdlib only).

  hashpw.py yescrypt|bcrypt|sha512 PASSWORD

Prints one crypt(3) hash ($y$..., $2b$..., $6$...) made by libxcrypt (the
library connectd verifies with) through ctypes: crypt_gensalt() with the
scheme's prefix and default cost, random salt from the OS, then crypt().
Exit status 0, or 1 when libcrypt lacks the scheme.  For machines without
mkpasswd(1) (the whois package); the tests prefer mkpasswd when present.
"""
import ctypes
import ctypes.util
import sys

PREFIX = {'yescrypt': b'$y$', 'bcrypt': b'$2b$', 'sha512': b'$6$'}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in PREFIX:
        sys.stderr.write('usage: hashpw.py yescrypt|bcrypt|sha512 PASSWORD\n')
        return 2
    prefix = PREFIX[sys.argv[1]]
    name = ctypes.util.find_library('crypt') or 'libcrypt.so.1'
    lib = ctypes.CDLL(name, use_errno=True)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(prefix, 0, None, 0)
    if not setting:
        sys.stderr.write('crypt_gensalt %s failed\n' % prefix.decode())
        return 1
    h = lib.crypt(sys.argv[2].encode(), setting)
    if not h or not h.startswith(prefix):
        sys.stderr.write('crypt failed for %s\n' % prefix.decode())
        return 1
    print(h.decode())
    return 0


if __name__ == '__main__':
    sys.exit(main())
