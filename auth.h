/*
 * Proxy authentication: HTTP Basic credentials (RFC 7617, RFC 9110 section
 * 11) checked against an htpasswd-like file of crypt(3) hashes, verified
 * with libxcrypt.  The Basic decoder is pure so the fuzzer drives it alone;
 * nothing here logs, and no decoded password outlives a call.
 */
#ifndef CONNECTD_AUTH_H
#define CONNECTD_AUTH_H

#include <stddef.h>

#define AUTH_USER_MAX 256 /* user buffer: at most 255 bytes + NUL */
#define AUTH_PASS_MAX 256 /* password buffer: at most 255 bytes + NUL */
#define AUTH_FILE_MAX (1024 * 1024) /* bytes in the password file */
#define AUTH_LINE_MAX 4096 /* bytes in one line, without its '\n' */
#define AUTH_USERS_MAX 10000

struct auth_file;

enum auth_result {
	AUTH_OK, /* user and password match: *user filled */
	AUTH_REQUIRED, /* none, not Basic, unknown user, wrong password: 407 */
	AUTH_MALFORMED, /* Basic but bad base64, no colon, CTL, too long: 400 */
};

/*
 * Loads the password file at path (symbolic links are followed, as for any
 * configuration file): lines "user:hash", where user is 1-255 bytes without
 * ':' or control bytes and hash is a crypt(3) hash libxcrypt accepts (no
 * ':', blank or control byte).  Empty lines and lines starting with '#' are
 * skipped; a "\r\n" line end is taken as "\n".  Mode and owner are checked
 * on the opened descriptor, not the path: the file checked is the one read.
 * Returns 0 and *out, owned by the caller (free with auth_free()), or -1 with
 * a message naming path (and the line number, for a bad line) in err of
 * errsize bytes, *out untouched, when the file cannot be opened or read, is
 * not a regular file, is readable or writable by others (mode & 006) or
 * writable by its group (mode & 020), is owned by neither root nor the
 * effective uid, is larger than AUTH_FILE_MAX, has a line longer than
 * AUTH_LINE_MAX, a bad line, a duplicate user, more than AUTH_USERS_MAX
 * users or none.
 * Memory held is the file's size plus one entry per user.
 */
int
auth_load(const char *path, struct auth_file **out, char *err, size_t errsize);

/* Wipes and frees what auth_load() returned; NULL is a no-op. */
void auth_free(struct auth_file *af);

/*
 * Checks a Proxy-Authorization field value[0..len) (value NULL: the field
 * was absent) against af.  Returns AUTH_OK with the user name copied to user
 * (usersize bytes; AUTH_USER_MAX holds any name, a smaller buffer gets it
 * truncated; user may be NULL when usersize is 0), AUTH_REQUIRED (no
 * credentials, another scheme, unknown user or wrong password) or
 * AUTH_MALFORMED (see auth_decode_basic()); on anything but AUTH_OK user is
 * set to "".  An unknown user costs one hash, as a wrong password does, with
 * the stored hash whose method and cost parameters are estimated the most
 * expensive (the first such); the hashes are compared in constant time.
 * The decoded credentials are wiped before returning; none are logged.
 * Uses one static crypt buffer: not thread-safe.
 */
enum auth_result auth_check(const struct auth_file *af, const char *value,
    size_t len, char *user, size_t usersize);

/*
 * Parses value[0..len), "Basic" (any case) 1*SP token68 with optional
 * surrounding SP/HTAB, where token68 is strict base64 (RFC 4648 alphabet,
 * padded to a multiple of 4, zero pad bits, nothing else inside), and splits
 * the decoded text at its first ':' into user (usersize bytes) and pass
 * (passsize bytes), both NUL-terminated.  Pure: no allocation, no I/O.
 * Returns AUTH_OK (user may be empty, pass may contain ':'); AUTH_REQUIRED
 * for a NULL or empty value or another scheme; AUTH_MALFORMED for a Basic
 * value with no token, a bad token, no ':', a control byte (NUL included) in
 * the decoded text, or a user or password that does not fit its buffer (a
 * size of 0 fits nothing).  On anything but AUTH_OK, user is "" and all of
 * pass is wiped (when their sizes are not 0).
 */
enum auth_result auth_decode_basic(const char *value, size_t len, char *user,
    size_t usersize, char *pass, size_t passsize);

#endif
