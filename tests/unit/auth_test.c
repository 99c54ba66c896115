/*
 * Table-driven tests of auth.c: the Basic decoder on good and bad values and
 * at its limits, the password file loader on good and refused files (modes,
 * and owners as root and as another user), auth_check() against a file
 * written here with yescrypt, bcrypt and sha512-crypt hashes made at run
 * time, and the CPU time an unknown user costs next to the most expensive
 * and a cheap known user.  Prints TAP; exits 1 on a failure.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../auth.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define VALUE_MAX 4096
#define FILE_BUF_MAX (AUTH_FILE_MAX + 2)

static int test_no, test_failed;
static char tmpdir[] = "/tmp/auth_test.XXXXXX";
static char hash_y[CRYPT_OUTPUT_SIZE], hash_2b[CRYPT_OUTPUT_SIZE],
    hash_6[CRYPT_OUTPUT_SIZE];

static void
tap(int ok, const char *name, const char *detail)
{
	test_no++;
	test_failed += !ok;
	printf("%s %d - %s", ok ? "ok" : "not ok", test_no, name);
	if (!ok && detail != NULL)
		printf(" (%s)", detail);
	printf("\n");
}

static const char *
result_name(enum auth_result r)
{
	switch (r) {
	case AUTH_OK:
		return "AUTH_OK";
	case AUTH_REQUIRED:
		return "AUTH_REQUIRED";
	case AUTH_MALFORMED:
		return "AUTH_MALFORMED";
	}
	return "?";
}

/* "Basic " and the RFC 4648 encoding of plain[0..n) into out. */
static void
basic(char *out, size_t outsize, const char *plain, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)plain;
	size_t i, o = (size_t)snprintf(out, outsize, "Basic ");
	unsigned long v;

	for (i = 0; i < n && o + 5 < outsize; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

struct dec_case {
	const char *name;
	const char *raw; /* the field value, or NULL: Basic of plain */
	const char *plain; /* "user:pass", may hold a NUL */
	size_t plainlen; /* 0: strlen(plain) */
	enum auth_result want;
	const char *user; /* for AUTH_OK */
	const char *pass;
};

static const struct dec_case dec_cases[] = {
	{ "good", "Basic dXNlcjpwYXNz", NULL, 0, AUTH_OK, "user", "pass" },
	{ "lowercase basic", "basic dXNlcjpwYXNz", NULL, 0, AUTH_OK, "user",
	    "pass" },
	{ "uppercase BASIC", "BASIC dXNlcjpwYXNz", NULL, 0, AUTH_OK, "user",
	    "pass" },
	{ "several spaces", "Basic   dXNlcjpwYXNz", NULL, 0, AUTH_OK, "user",
	    "pass" },
	{ "surrounding ows", " \tBasic dXNlcjpwYXNz \t", NULL, 0, AUTH_OK,
	    "user", "pass" },
	{ "one pad", "Basic dXNlcjpwYXM=", NULL, 0, AUTH_OK, "user", "pas" },
	{ "two pads", "Basic dXNlcjpwYQ==", NULL, 0, AUTH_OK, "user", "pa" },
	{ "rfc 7617 example", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", NULL, 0,
	    AUTH_OK, "Aladdin", "open sesame" },
	{ "empty user", NULL, ":pass", 0, AUTH_OK, "", "pass" },
	{ "empty password", NULL, "user:", 0, AUTH_OK, "user", "" },
	{ "colon in password kept", NULL, "user:pa:ss:", 0, AUTH_OK, "user",
	    "pa:ss:" },
	{ "utf-8", NULL, "J\xc3\xbcrgen:p\xc3\xa4ss", 0, AUTH_OK,
	    "J\xc3\xbcrgen", "p\xc3\xa4ss" },
	{ "space in password", NULL, "u:a b", 0, AUTH_OK, "u", "a b" },

	{ "absent scheme: empty", "", NULL, 0, AUTH_REQUIRED, NULL, NULL },
	{ "only ows", " \t ", NULL, 0, AUTH_REQUIRED, NULL, NULL },
	{ "bearer", "Bearer dXNlcjpwYXNz", NULL, 0, AUTH_REQUIRED, NULL, NULL },
	{ "digest", "Digest username=\"u\", realm=\"r\"", NULL, 0,
	    AUTH_REQUIRED, NULL, NULL },
	{ "basicx", "Basicx dXNlcjpwYXNz", NULL, 0, AUTH_REQUIRED, NULL, NULL },
	{ "bas", "Bas dXNlcjpwYXNz", NULL, 0, AUTH_REQUIRED, NULL, NULL },
	{ "token only", "dXNlcjpwYXNz", NULL, 0, AUTH_REQUIRED, NULL, NULL },

	{ "basic no token", "Basic", NULL, 0, AUTH_MALFORMED, NULL, NULL },
	{ "basic space no token", "Basic   ", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "tab separator", "Basic\tdXNlcjpwYXNz", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "url-safe alphabet", "Basic dXNlcjpw-_Nz", NULL, 0, AUTH_MALFORMED,
	    NULL, NULL },
	{ "bad char", "Basic dXNlcjpwYX*z", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "space inside", "Basic dXNl cjpwYXNz", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "auth-params", "Basic realm=\"x\"", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "no padding", "Basic dXNlcjpwYQ", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "short padding", "Basic dXNlcjpwYQ=", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "three pads", "Basic dXNlcjpw====", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "extra padding", "Basic dXNlcjpwYXM==", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "pad in middle", "Basic dXM=cjpwYXNz", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "pad then char", "Basic dXNlcjpwY=z=", NULL, 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "nonzero pad bits 1", "Basic dXNlcjpwYXN=", NULL, 0, AUTH_MALFORMED,
	    NULL, NULL },
	{ "nonzero pad bits 2", "Basic dXNlcjpwYR==", NULL, 0, AUTH_MALFORMED,
	    NULL, NULL },
	{ "all pads", "Basic ====", NULL, 0, AUTH_MALFORMED, NULL, NULL },
	{ "no colon", NULL, "userpass", 0, AUTH_MALFORMED, NULL, NULL },
	{ "empty decoded", NULL, "", 0, AUTH_MALFORMED, NULL, NULL },
	{ "nul in password", NULL, "user:pa\0ss", 10, AUTH_MALFORMED, NULL,
	    NULL },
	{ "nul in user", NULL, "us\0er:pass", 10, AUTH_MALFORMED, NULL, NULL },
	{ "ctl in user", NULL, "us\x01r:pass", 0, AUTH_MALFORMED, NULL, NULL },
	{ "crlf in password", NULL, "user:pa\r\nss", 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "del in password", NULL, "user:pa\x7fss", 0, AUTH_MALFORMED, NULL,
	    NULL },
	{ "tab in password", NULL, "user:pa\tss", 0, AUTH_MALFORMED, NULL,
	    NULL },
};

static void
run_dec_case(const struct dec_case *c)
{
	char value[VALUE_MAX], user[AUTH_USER_MAX], pass[AUTH_PASS_MAX];
	char detail[128];
	enum auth_result got;
	int ok;

	if (c->raw != NULL)
		snprintf(value, sizeof(value), "%s", c->raw);
	else
		basic(value, sizeof(value), c->plain,
		    c->plainlen ? c->plainlen : strlen(c->plain));
	got = auth_decode_basic(
	    value, strlen(value), user, sizeof(user), pass, sizeof(pass));
	ok = got == c->want;
	if (ok && got == AUTH_OK)
		ok = strcmp(user, c->user) == 0 && strcmp(pass, c->pass) == 0;
	if (ok && got != AUTH_OK)
		ok = user[0] == '\0' && pass[0] == '\0';
	snprintf(detail, sizeof(detail), "got %s, want %s", result_name(got),
	    result_name(c->want));
	tap(ok, c->name, detail);
}

/* Decodes "Basic" + base64 of plain with the given buffer sizes. */
static void
dec_sized(const char *name, const char *plain, size_t usersize, size_t passsize,
    enum auth_result want)
{
	char value[VALUE_MAX], user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	enum auth_result got;

	basic(value, sizeof(value), plain, strlen(plain));
	got = auth_decode_basic(
	    value, strlen(value), user, usersize, pass, passsize);
	tap(got == want, name, result_name(got));
}

#define DEC_LIMIT_CASES 11

/* Every length cap passes at the limit and fails one byte past it. */
static void
run_dec_limits(void)
{
	char plain[1024], value[VALUE_MAX], user[8], pass[8];
	enum auth_result got;

	memset(plain, 'u', 255);
	snprintf(plain + 255, sizeof(plain) - 255, ":pw");
	dec_sized(
	    "user 255 bytes", plain, AUTH_USER_MAX, AUTH_PASS_MAX, AUTH_OK);
	snprintf(plain + 255, sizeof(plain) - 255, "u:pw");
	dec_sized("user 256 bytes: too long", plain, AUTH_USER_MAX,
	    AUTH_PASS_MAX, AUTH_MALFORMED);
	memset(plain, 'p', 260);
	memcpy(plain, "u:", 2);
	plain[257] = '\0';
	dec_sized(
	    "password 255 bytes", plain, AUTH_USER_MAX, AUTH_PASS_MAX, AUTH_OK);
	plain[257] = 'p';
	plain[258] = '\0';
	dec_sized("password 256 bytes: too long", plain, AUTH_USER_MAX,
	    AUTH_PASS_MAX, AUTH_MALFORMED);
	memset(plain, 'x', 1000);
	plain[500] = ':';
	plain[1000] = '\0';
	dec_sized("both far too long", plain, AUTH_USER_MAX, AUTH_PASS_MAX,
	    AUTH_MALFORMED);
	dec_sized("user fits small buffer", "abcd:x", 5, 2, AUTH_OK);
	dec_sized(
	    "user overflows small buffer", "abcde:x", 5, 2, AUTH_MALFORMED);
	dec_sized(
	    "password overflows small buffer", "a:xy", 5, 2, AUTH_MALFORMED);
	dec_sized("usersize 0", "a:b", 0, 2, AUTH_MALFORMED);
	got = auth_decode_basic(
	    NULL, 0, user, sizeof(user), pass, sizeof(pass));
	tap(got == AUTH_REQUIRED, "NULL value", result_name(got));
	/* The length is what counts, not a NUL: a value cut mid-token. */
	snprintf(value, sizeof(value), "Basic dXNlcjpwYXNz");
	got = auth_decode_basic(
	    value, strlen(value) - 1, user, sizeof(user), pass, sizeof(pass));
	tap(got == AUTH_MALFORMED && pass[0] == '\0', "length honoured",
	    result_name(got));
}

/* Writes content to dir/name with mode; returns the path (static). */
static const char *
write_file(const char *name, const char *content, size_t len, mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, content, len) != (ssize_t)len || fchmod(fd, mode) == -1) {
		perror(path);
		exit(1);
	}
	close(fd);
	return path;
}

/* Expands @Y, @B and @6 in t to the three hashes. */
static void
expand(char *out, size_t outsize, const char *t)
{
	size_t o = 0;
	const char *h;

	for (; *t != '\0' && o + 1 < outsize; t++) {
		h = NULL;
		if (t[0] == '@' && t[1] == 'Y')
			h = hash_y;
		else if (t[0] == '@' && t[1] == 'B')
			h = hash_2b;
		else if (t[0] == '@' && t[1] == '6')
			h = hash_6;
		if (h == NULL) {
			out[o++] = *t;
			continue;
		}
		o += (size_t)snprintf(out + o, outsize - o, "%s", h);
		if (o >= outsize)
			o = outsize - 1;
		t++;
	}
	out[o] = '\0';
}

struct load_case {
	const char *name;
	const char *content; /* with @Y, @B, @6 for the hashes */
	mode_t mode;
	int want; /* 0 or -1 */
	const char *errsub; /* expected in the message when -1 */
};

static const struct load_case load_cases[] = {
	{ "good file", "# users\n\nalice:@Y\nbob:@B\n", 0600, 0, NULL },
	{ "group-readable", "alice:@Y\n", 0640, 0, NULL },
	{ "no final newline", "alice:@Y", 0600, 0, NULL },
	{ "crlf lines", "# c\r\nalice:@Y\r\n\r\nbob:@6\r\n", 0600, 0, NULL },
	{ "legacy md5-crypt accepted", "u:$1$bt48yqns$MSA7fqJ15qMJ9IBuJTIxt0\n",
	    0600, 0, NULL },
	{ "world-readable refused", "alice:@Y\n", 0604, -1, "by others" },
	{ "world-writable refused", "alice:@Y\n", 0602, -1, "by others" },
	{ "world-rw refused", "alice:@Y\n", 0666, -1, "(mode 0666)" },
	{ "group-writable refused", "alice:@Y\n", 0620, -1,
	    "writable by its group (mode 0620)" },
	{ "group-rw refused", "alice:@Y\n", 0660, -1, "by its group" },
	{ "malformed line number", "# c\nalice:@Y\nbob\ncarol:@6\n", 0600, -1,
	    "line 3: no ':'" },
	{ "empty user", "alice:@Y\n:@B\n", 0600, -1, "line 2: empty user" },
	{ "empty hash", "alice:\n", 0600, -1, "line 1: empty hash" },
	{ "ctl in user", "al\x01ice:@Y\n", 0600, -1, "line 1: control" },
	{ "space after hash", "alice:@Y \n", 0600, -1, "line 1: ':', blank" },
	{ "shadow line", "alice:@6:19000:0:99999:7:::\n", 0600, -1,
	    "line 1: ':', blank" },
	{ "apr1 refused", "alice:$apr1$abcdefgh$0123456789012345678901\n", 0600,
	    -1, "line 1: not a crypt(3) hash" },
	{ "locked account refused", "alice:!\n", 0600, -1, "line 1: not a" },
	{ "duplicate user", "alice:@Y\nbob:@B\n#\nalice:@6\n", 0600, -1,
	    "line 4: duplicate user (line 1)" },
	{ "no users", "# nobody\n\n", 0600, -1, "no users" },
	{ "empty file", "", 0600, -1, "no users" },
};

static void
run_load_case(const struct load_case *c)
{
	static char content[8192];
	char err[512], detail[700];
	struct auth_file *af = NULL;
	const char *path;
	size_t len;
	int rc, ok;

	expand(content, sizeof(content), c->content);
	len = strlen(content);
	path = write_file("users", content, len, c->mode);
	err[0] = '\0';
	rc = auth_load(path, &af, err, sizeof(err));
	ok = rc == c->want && (rc == 0) == (af != NULL);
	if (ok && c->errsub != NULL)
		ok = strstr(err, c->errsub) != NULL &&
		    strstr(err, path) != NULL;
	snprintf(detail, sizeof(detail), "rc %d, err \"%s\"", rc, err);
	tap(ok, c->name, detail);
	auth_free(af);
}

static void
load_expect(const char *name, const char *path, int want, const char *errsub)
{
	char err[512], detail[700];
	struct auth_file *af = NULL;
	int rc, ok;

	err[0] = '\0';
	rc = auth_load(path, &af, err, sizeof(err));
	ok = rc == want && (rc == 0) == (af != NULL);
	if (ok && errsub != NULL)
		ok = strstr(err, errsub) != NULL;
	snprintf(detail, sizeof(detail), "rc %d, err \"%s\"", rc, err);
	tap(ok, name, detail);
	auth_free(af);
}

/* A file of n users "uNNNNN" sharing the bcrypt hash. */
static size_t
many_users(char *buf, size_t size, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(
		    buf + len, size - len, "u%05zu:%s\n", i, hash_2b);
	return len;
}

/* Fills buf[0..size) with comment lines of up to 64 bytes. */
static void
comments(char *buf, size_t size)
{
	size_t i;

	memset(buf, '#', size);
	for (i = 63; i < size; i += 64)
		buf[i] = '\n';
}

#define LOAD_SPECIAL_CASES 12

/* The shapes a table row cannot hold: kinds of file, sizes, counts. */
static void
run_load_special(void)
{
	static char big[FILE_BUF_MAX];
	char path[300], link[300];
	size_t n;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	load_expect("missing file", path, -1, "No such file");
	load_expect("directory refused", tmpdir, -1, "not a regular file");
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	if (mkfifo(path, 0600) == -1)
		perror(path);
	load_expect(
	    "fifo refused without hanging", path, -1, "not a regular file");
	n = (size_t)snprintf(big, sizeof(big), "alice:%s\n", hash_y);
	snprintf(path, sizeof(path), "%s", write_file("target", big, n, 0600));
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	if (symlink(path, link) == -1)
		perror(link);
	load_expect("symlink followed", link, 0, NULL);
	n = (size_t)snprintf(big, sizeof(big), "alice:%s\nb#b:x\n", hash_y);
	big[n - 5] = '\0';
	load_expect("nul byte", write_file("users", big, n, 0600), -1,
	    "line 2: NUL byte");
	memset(big, '#', AUTH_LINE_MAX);
	n = AUTH_LINE_MAX +
	    (size_t)sprintf(big + AUTH_LINE_MAX, "\nu:%s\n", hash_y);
	load_expect(
	    "line at limit", write_file("users", big, n, 0600), 0, NULL);
	memset(big, '#', AUTH_LINE_MAX + 1);
	n = AUTH_LINE_MAX + 1 +
	    (size_t)sprintf(big + AUTH_LINE_MAX + 1, "\nu:%s\n", hash_y);
	load_expect("line over limit", write_file("users", big, n, 0600), -1,
	    "line 1: longer than 4096 bytes");
	n = many_users(big, sizeof(big), AUTH_USERS_MAX);
	load_expect(
	    "users at limit", write_file("users", big, n, 0600), 0, NULL);
	n = many_users(big, sizeof(big), AUTH_USERS_MAX + 1);
	load_expect("users over limit", write_file("users", big, n, 0600), -1,
	    "line 10001: more than 10000 users");
	n = (size_t)snprintf(big, sizeof(big), "u:%s\n", hash_y);
	comments(big + n, AUTH_FILE_MAX - n);
	load_expect("file at limit",
	    write_file("users", big, AUTH_FILE_MAX, 0600), 0, NULL);
	big[AUTH_FILE_MAX] = '#';
	load_expect("file over limit",
	    write_file("users", big, AUTH_FILE_MAX + 1, 0600), -1,
	    "larger than 1048576 bytes");
	auth_free(NULL);
	tap(1, "auth_free(NULL)", NULL);
}

/*
 * Hashes password with a fresh salt of the method prefix and cost count (0:
 * the default) into out.
 */
static void
make_hash(
    char *out, const char *prefix, unsigned long count, const char *password)
{
	static struct crypt_data cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	if (crypt_gensalt_rn(prefix, count, NULL, 0, salt, sizeof(salt)) ==
		NULL ||
	    crypt_rn(password, salt, &cd, sizeof(cd)) == NULL) {
		printf("Bail out! %s: %s\n", prefix, strerror(errno));
		exit(1);
	}
	snprintf(out, CRYPT_OUTPUT_SIZE, "%s", cd.output);
}

#define OTHER_UID 54321 /* a uid no file here needs a user entry for */
#define OWNER_CASES 4

/*
 * Runs auth_load(path) in a child that runs as uid (group uid, no others),
 * as connectd run as that user would, and reports whether it returned want
 * with errsub in the message.
 */
static void
load_as(
    const char *name, uid_t uid, const char *path, int want, const char *errsub)
{
	char err[512] = "", detail[700];
	struct auth_file *af = NULL;
	int fds[2], status = -1;
	ssize_t n;
	pid_t pid;

	fflush(stdout);
	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		printf("Bail out! %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		close(fds[0]);
		if (setgroups(0, NULL) == -1 || setgid(uid) == -1 ||
		    setuid(uid) == -1)
			_exit(3);
		status = auth_load(path, &af, err, sizeof(err));
		(void)!write(fds[1], err, strlen(err));
		_exit(status == 0 ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	snprintf(detail, sizeof(detail), "status %d, err \"%s\"", status, err);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == (want == 0 ? 0 : 1) &&
		(errsub == NULL || strstr(err, errsub) != NULL),
	    name, detail);
}

/* Writes a one-user file owned by uid:gid with mode; returns its path. */
static const char *
owned_file(const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	char content[CRYPT_OUTPUT_SIZE + 16];
	const char *path;

	snprintf(content, sizeof(content), "alice:%s\n", hash_6);
	path = write_file(name, content, strlen(content), mode);
	if (chown(path, uid, gid) == -1) {
		printf("Bail out! chown %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return path;
}

/*
 * The owner rule: root's or the file of the user auth_load() runs as, as
 * root (inetd) and as another user.  Needs root to chown and to switch.
 */
static void
run_owner_cases(void)
{
	const char *p;
	int i;

	if (geteuid() != 0) {
		for (i = 0; i < OWNER_CASES; i++)
			printf("ok %d - owner # SKIP needs root\n", ++test_no);
		return;
	}
	/* The other user must reach the files in the directory. */
	chmod(tmpdir, 0711);
	p = owned_file("users", OTHER_UID, OTHER_UID, 0600);
	load_as("as root: another user's 0600 file refused", 0, p, -1,
	    "owned by uid 54321, neither root nor uid 0");
	load_as("as a user: its own 0600 file", OTHER_UID, p, 0, NULL);
	p = owned_file("users", 0, OTHER_UID, 0640);
	load_as(
	    "as a user: root's file, group-readable", OTHER_UID, p, 0, NULL);
	p = owned_file("users", OTHER_UID + 1, OTHER_UID, 0640);
	load_as("as a user: a third user's file refused", OTHER_UID, p, -1,
	    "owned by uid 54322, neither root nor uid 54321");
	chmod(tmpdir, 0700);
}

struct chk_case {
	const char *name;
	const char *raw; /* field value; NULL: Basic of plain, or absent */
	const char *plain;
	enum auth_result want;
	const char *user; /* for AUTH_OK */
};

static const struct chk_case chk_cases[] = {
	{ "yescrypt right", NULL, "alice:wonderland", AUTH_OK, "alice" },
	{ "bcrypt right", NULL, "bob:builder", AUTH_OK, "bob" },
	{ "sha512-crypt right", NULL, "carol:c:ol pass", AUTH_OK, "carol" },
	{ "yescrypt wrong password", NULL, "alice:Wonderland", AUTH_REQUIRED,
	    NULL },
	{ "bcrypt wrong password", NULL, "bob:builde", AUTH_REQUIRED, NULL },
	{ "sha512-crypt wrong password", NULL, "carol:c:ol pass ",
	    AUTH_REQUIRED, NULL },
	{ "another user's password", NULL, "alice:builder", AUTH_REQUIRED,
	    NULL },
	{ "unknown user", NULL, "mallory:wonderland", AUTH_REQUIRED, NULL },
	{ "user case matters", NULL, "Alice:wonderland", AUTH_REQUIRED, NULL },
	{ "empty user", NULL, ":wonderland", AUTH_REQUIRED, NULL },
	{ "empty password", NULL, "alice:", AUTH_REQUIRED, NULL },
	{ "field absent", NULL, NULL, AUTH_REQUIRED, NULL },
	{ "other scheme", "Bearer abc", NULL, AUTH_REQUIRED, NULL },
	{ "malformed base64", "Basic YWxpY2U6d29uZGVybGFuZA", NULL,
	    AUTH_MALFORMED, NULL },
	{ "no colon", "Basic YWxpY2U=", NULL, AUTH_MALFORMED, NULL },
};

static void
run_chk_case(const struct auth_file *af, const struct chk_case *c)
{
	char value[VALUE_MAX], user[AUTH_USER_MAX], detail[128];
	const char *v = value;
	enum auth_result got;
	int ok;

	if (c->raw != NULL)
		snprintf(value, sizeof(value), "%s", c->raw);
	else if (c->plain != NULL)
		basic(value, sizeof(value), c->plain, strlen(c->plain));
	else
		v = NULL;
	memset(user, 'x', sizeof(user));
	got = auth_check(af, v, v != NULL ? strlen(v) : 0, user, sizeof(user));
	ok = got == c->want;
	if (ok)
		ok = strcmp(user, got == AUTH_OK ? c->user : "") == 0;
	snprintf(detail, sizeof(detail), "got %s, want %s, user \"%.20s\"",
	    result_name(got), result_name(c->want), user);
	tap(ok, c->name, detail);
}

/* CPU milliseconds auth_check() takes for plain: the median of three. */
static double
ms_for(const struct auth_file *af, const char *plain)
{
	char value[VALUE_MAX];
	struct timespec a, b;
	double t[3], lo, hi;
	int i;

	basic(value, sizeof(value), plain, strlen(plain));
	for (i = 0; i < 3; i++) {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		auth_check(af, value, strlen(value), NULL, 0);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		t[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	}
	lo = t[0] < t[1] ? t[0] : t[1];
	hi = t[0] < t[1] ? t[1] : t[0];
	return t[2] < lo ? lo : t[2] > hi ? hi : t[2];
}

/*
 * An unknown user must cost at least half what a wrong password for the
 * costliest user does (it costs that hash, less noise), whatever scheme
 * the file's first user has; the cheapest user shows that the file mixes
 * costs far enough apart (4x) for the row to tell.
 */
static void
timing_row(const struct auth_file *af, const char *name, const char *costliest,
    const char *cheapest)
{
	char plain[64], detail[160];
	double unknown, high, low;

	unknown = ms_for(af, "nobody:wrong");
	snprintf(plain, sizeof(plain), "%s:wrong", costliest);
	high = ms_for(af, plain);
	snprintf(plain, sizeof(plain), "%s:wrong", cheapest);
	low = ms_for(af, plain);
	snprintf(detail, sizeof(detail),
	    "CPU ms: unknown %.2f, %s %.2f, %s %.2f", unknown, costliest, high,
	    cheapest, low);
	printf("# %s: %s\n", name, detail);
	tap(high > 4 * low && unknown >= high / 2, name, detail);
}

#define CHK_EXTRA_CASES 5

static void
run_chk_extra(const struct auth_file *af)
{
	char value[VALUE_MAX], user[4];
	enum auth_result got;

	basic(value, sizeof(value), "alice:wonderland", 16);
	got = auth_check(af, value, strlen(value), user, sizeof(user));
	tap(got == AUTH_OK && strcmp(user, "ali") == 0,
	    "small user buffer truncates", result_name(got));
	got = auth_check(af, value, strlen(value), NULL, 0);
	tap(got == AUTH_OK, "no user buffer", result_name(got));
	/* The first user is sha512-crypt; yescrypt costs far more. */
	timing_row(
	    af, "unknown user costs the costliest hash", "alice", "carol");
}

/* Loads content into a fresh file; bails out when it does not load. */
static struct auth_file *
load_text(const char *content)
{
	struct auth_file *af = NULL;
	char err[512];
	const char *path = write_file("check", content, strlen(content), 0600);

	if (auth_load(path, &af, err, sizeof(err)) == -1) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return af;
}

#define COST_ORDER_CASES 2

/* Cheaper schemes first: the unknown user's hash is the costliest one. */
static void
run_cost_order(void)
{
	char content[4 * CRYPT_OUTPUT_SIZE], y3[CRYPT_OUTPUT_SIZE],
	    b9[CRYPT_OUTPUT_SIZE], b4[CRYPT_OUTPUT_SIZE],
	    s1k[CRYPT_OUTPUT_SIZE], s100k[CRYPT_OUTPUT_SIZE];
	struct auth_file *af;

	make_hash(y3, "$y$", 3, "x"); /* N 1024: ~5 ms */
	make_hash(b9, "$2b$", 9, "x"); /* ~30 ms */
	make_hash(s1k, "$6$", 1000, "x"); /* ~0.3 ms */
	snprintf(content, sizeof(content), "yes:%s\nbcrypt:%s\nsha:%s\n", y3,
	    b9, s1k);
	af = load_text(content);
	timing_row(af, "bcrypt cost 9 costs more than cheap yescrypt", "bcrypt",
	    "sha");
	auth_free(af);
	make_hash(b4, "$2b$", 4, "x"); /* ~1 ms */
	make_hash(s100k, "$6$", 100000, "x"); /* ~30 ms */
	snprintf(content, sizeof(content), "bcrypt:%s\nsha:%s\n", b4, s100k);
	af = load_text(content);
	timing_row(
	    af, "sha512-crypt rounds=100000 costs the most", "sha", "bcrypt");
	auth_free(af);
}

static void
run_chk(void)
{
	char content[2048];
	struct auth_file *af;
	size_t i;

	/* The cheapest first: an unknown user once paid for the first. */
	snprintf(content, sizeof(content),
	    "# test users\ncarol:%s\nalice:%s\n\nbob:%s\n", hash_6, hash_y,
	    hash_2b);
	af = load_text(content);
	for (i = 0; i < NELEM(chk_cases); i++)
		run_chk_case(af, &chk_cases[i]);
	run_chk_extra(af);
	auth_free(af);
}

/* Removes what the tests wrote; the directory holds only these names. */
static void
cleanup(void)
{
	static const char *names[] = { "users", "check", "fifo", "target",
		"link" };
	char path[300];
	size_t i;

	for (i = 0; i < NELEM(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

int
main(void)
{
	size_t i;

	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	atexit(cleanup);
	make_hash(hash_y, "$y$", 0, "wonderland");
	make_hash(hash_2b, "$2b$", 0, "builder");
	make_hash(hash_6, "$6$", 0, "c:ol pass");
	printf("1..%zu\n",
	    NELEM(dec_cases) + DEC_LIMIT_CASES + NELEM(load_cases) +
		LOAD_SPECIAL_CASES + OWNER_CASES + NELEM(chk_cases) +
		CHK_EXTRA_CASES + COST_ORDER_CASES);
	for (i = 0; i < NELEM(dec_cases); i++)
		run_dec_case(&dec_cases[i]);
	run_dec_limits();
	for (i = 0; i < NELEM(load_cases); i++)
		run_load_case(&load_cases[i]);
	run_load_special();
	run_owner_cases();
	run_chk();
	run_cost_order();
	return test_failed > 0;
}
