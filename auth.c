/*
 * Proxy authentication: the strict Basic decoder, the password file loader
 * and the check that ties them together with libxcrypt.  The file is read
 * once into one buffer that the user table points into.  Decoded Basic
 * credentials cost exactly one hash, known user or not, and an unknown
 * user's is the file's most expensive one, so that answering fast does not
 * tell which users exist.
 */
#include "auth.h"

#include <crypt.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct auth_entry {
	const char *user; /* into auth_file.buf, NUL-terminated */
	const char *hash; /* likewise */
	unsigned int line; /* for the duplicate-user message */
};

struct auth_file {
	char *buf; /* the file's bytes, split in place */
	size_t bufsize;
	struct auth_entry *ents; /* in file order */
	size_t n; /* >= 1 */
	size_t cap;
	size_t dummy; /* the entry an unknown user is hashed with */
	double dummy_cost; /* its auth_cost() */
};

/* Where decoded bytes go: user until the first ':', then the password. */
struct auth_sink {
	char *user;
	size_t usersize;
	size_t ulen;
	char *pass;
	size_t passsize;
	size_t plen;
	int colon;
};

/* 32 KiB: too big for the stack; one check at a time per process. */
static struct crypt_data auth_crypt;

/*
 * libxcrypt, loaded with dlopen(3) by auth_load(): a proxy without
 * --auth-file (and each of its connections) never maps it.
 */
static struct {
	__typeof__(&crypt_rn) rn;
	__typeof__(&crypt_checksalt) checksalt;
} auth_lib;

/* Loads libcrypt once; 0, or -1 with a message. */
static int
auth_load_lib(char *err, size_t errsize)
{
	void *lib;

	if (auth_lib.rn != NULL)
		return 0;
	if ((lib = dlopen("libcrypt.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(
		    err, errsize, "cannot load libcrypt.so.1: %s", dlerror());
		return -1;
	}
	/* POSIX dlsym returns void *; this is how a function pointer is read. */
	*(void **)&auth_lib.rn = dlsym(lib, "crypt_rn");
	*(void **)&auth_lib.checksalt = dlsym(lib, "crypt_checksalt");
	if (auth_lib.rn == NULL || auth_lib.checksalt == NULL) {
		snprintf(err, errsize, "libcrypt.so.1 lacks crypt_rn");
		auth_lib.rn = NULL;
		return -1;
	}
	return 0;
}

static int
auth_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 4648 table 1; -1 for anything else, '=' included. */
static int
auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 7617 section 2: neither part may hold a control character. */
static int
auth_sink_put(struct auth_sink *s, unsigned char c)
{
	if (auth_is_ctl(c))
		return -1;
	if (!s->colon && c == ':') {
		s->colon = 1;
		return 0;
	}
	/* Keep a byte for the NUL. */
	if (!s->colon) {
		if (s->ulen + 1 >= s->usersize)
			return -1;
		s->user[s->ulen++] = (char)c;
	} else {
		if (s->plen + 1 >= s->passsize)
			return -1;
		s->pass[s->plen++] = (char)c;
	}
	return 0;
}

/* Decodes one quartet t[0..4) into the sink; last allows "xx==", "xxx=". */
static int
auth_b64_quartet(const char *t, int last, struct auth_sink *s)
{
	unsigned long bits = 0;
	int pad = 0, i, v;

	if (last)
		pad = t[3] != '=' ? 0 : t[2] != '=' ? 1 : 2;
	for (i = 0; i < 4 - pad; i++) {
		if ((v = auth_b64_value((unsigned char)t[i])) == -1)
			return -1;
		bits |= (unsigned long)v << (18 - 6 * i);
	}
	/* Nonzero pad bits would give one text two encodings. */
	if ((pad == 1 && (bits & 0xff) != 0) ||
	    (pad == 2 && (bits & 0xffff) != 0))
		return -1;
	for (i = 0; i < 3 - pad; i++)
		if (auth_sink_put(s, (unsigned char)(bits >> (16 - 8 * i))) ==
		    -1)
			return -1;
	return 0;
}

static int
auth_b64_decode(const char *t, size_t n, struct auth_sink *s)
{
	size_t i;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4)
		if (auth_b64_quartet(t + i, i + 4 == n, s) == -1)
			return -1;
	return 0;
}

static void
auth_clear(char *user, size_t usersize, char *pass, size_t passsize)
{
	if (usersize > 0)
		user[0] = '\0';
	if (passsize > 0)
		explicit_bzero(pass, passsize);
}

/* The value less its leading and trailing OWS (RFC 9110 section 5.6.3). */
static const char *
auth_trim(const char *v, size_t *len)
{
	while (*len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		(*len)--;
	}
	while (*len > 0 && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
		(*len)--;
	return v;
}

enum auth_result
auth_decode_basic(const char *value, size_t len, char *user, size_t usersize,
    char *pass, size_t passsize)
{
	struct auth_sink s = { user, usersize, 0, pass, passsize, 0, 0 };
	size_t slen = 0;

	auth_clear(user, usersize, pass, passsize);
	if (value == NULL)
		return AUTH_REQUIRED;
	value = auth_trim(value, &len);
	while (slen < len && value[slen] != ' ' && value[slen] != '\t')
		slen++;
	/* RFC 9110 section 11.1: the scheme is case-insensitive. */
	if (slen != 5 || strncasecmp(value, "Basic", 5) != 0)
		return AUTH_REQUIRED;
	/* credentials = auth-scheme [ 1*SP token68 ]: SP only, not HTAB. */
	if (slen == len || value[slen] != ' ')
		return AUTH_MALFORMED;
	while (slen < len && value[slen] == ' ')
		slen++;
	if (usersize == 0 || passsize == 0 ||
	    auth_b64_decode(value + slen, len - slen, &s) == -1 || !s.colon) {
		auth_clear(user, usersize, pass, passsize);
		return AUTH_MALFORMED;
	}
	user[s.ulen] = '\0';
	pass[s.plen] = '\0';
	return AUTH_OK;
}

/*
 * Reads the whole file into af->buf, NUL-terminated, in a buffer sized by
 * fstat.  Returns its length (at most AUTH_FILE_MAX) or -1.
 */
static int
auth_read(const char *path, struct auth_file *af, char *err, size_t errsize)
{
	struct stat st;
	size_t size, got = 0;
	ssize_t n = 0;
	int fd;

	if ((fd = util_open_secret(path, AUTH_FILE_MAX, &st, err, errsize)) ==
	    -1)
		return -1;
	size = (size_t)st.st_size;
	/* One byte more than fstat said, to see a file that grew. */
	if ((af->buf = malloc(size + 2)) == NULL) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	af->bufsize = size + 2;
	while (got < size + 1) {
		n = read(fd, af->buf + got, size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (n == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (got > size) {
		snprintf(err, errsize, "%s: changed while being read", path);
		return -1;
	}
	af->buf[got] = '\0';
	return (int)got;
}

/* Checks "user:hash" (NUL-terminated); returns a complaint or NULL. */
static const char *
auth_check_line(const char *line, const char **hash)
{
	const char *colon = strchr(line, ':'), *p;

	if (colon == NULL)
		return "no ':' between user and hash";
	if (colon == line)
		return "empty user";
	if (colon - line >= AUTH_USER_MAX)
		return "user longer than 255 bytes";
	for (p = line; p < colon; p++)
		if (auth_is_ctl((unsigned char)*p))
			return "control byte in user";
	*hash = colon + 1;
	if (**hash == '\0')
		return "empty hash";
	if (strlen(*hash) >= CRYPT_OUTPUT_SIZE)
		return "hash too long";
	for (p = *hash; *p != '\0'; p++)
		if (auth_is_ctl((unsigned char)*p) || *p == ' ' || *p == ':')
			return "':', blank or control byte in hash";
	/* Legacy methods (md5-crypt, sha256-crypt) still verify: allowed. */
	switch (auth_lib.checksalt(*hash)) {
	case CRYPT_SALT_OK:
	case CRYPT_SALT_METHOD_LEGACY:
	case CRYPT_SALT_TOO_CHEAP:
		return NULL;
	default:
		return "not a crypt(3) hash libxcrypt supports";
	}
}

/* crypt(3)'s "./0-9A-Za-z" digit value, or -1. */
static int
auth_itoa64(char c)
{
	static const char digits[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const char *p = c != '\0' ? strchr(digits, c) : NULL;

	return p != NULL ? (int)(p - digits) : -1;
}

/*
 * Reads one of yescrypt's variable-length numbers (libxcrypt
 * yescrypt-common.c decode64_uint32) from *s into *v, at least min, and
 * moves *s past it.  Returns 0, or -1 for a byte that is no digit.
 */
static int
auth_y_number(const char **s, unsigned long long min, unsigned long long *v)
{
	unsigned long long start = 0, end = 47, chars = 1, bits = 0;
	int c;

	if ((c = auth_itoa64(*(*s)++)) == -1)
		return -1;
	*v = min;
	/* end climbs 47, 55, 59, 61, 62, 63: at most six digits. */
	while ((unsigned long long)c > end) {
		*v += (end + 1 - start) << bits;
		start = end + 1;
		end = start + (62 - end) / 2;
		chars++;
		bits += 6;
	}
	*v += ((unsigned long long)c - start) << bits;
	while (--chars > 0) {
		if ((c = auth_itoa64(*(*s)++)) == -1)
			return -1;
		bits -= 6;
		*v += (unsigned long long)c << bits;
	}
	return 0;
}

/*
 * yescrypt's cost, N * r * p and the time factor t, from the parameters
 * after "$y$" or "$gy$": flavor, log2 N, r, then optionally which of p, t,
 * g and NROM follow, p and t first.  ~200 ns per unit of N * r.
 */
static double
auth_cost_yescrypt(const char *s)
{
	unsigned long long flavor, n_log2, r, have = 0, p = 1, t = 0;
	double time = 1.0; /* t = 0: the mixing loop runs 4N/3 times */

	if (auth_y_number(&s, 0, &flavor) == -1 ||
	    auth_y_number(&s, 1, &n_log2) == -1 || n_log2 > 63 ||
	    auth_y_number(&s, 1, &r) == -1)
		return 0;
	if (*s != '$' && auth_y_number(&s, 1, &have) == -1)
		return 0;
	if (((have & 1) && auth_y_number(&s, 2, &p) == -1) ||
	    ((have & 2) && auth_y_number(&s, 1, &t) == -1))
		return 0;
	if (t == 1)
		time = 1.125; /* 3N/2 times */
	else if (t > 1)
		time = 0.75 * (double)t; /* tN times */
	return 200.0 * (double)(1ULL << n_log2) * (double)r * (double)p * time;
}

/* A little-endian number of n crypt(3) digits; -1 for a bad one. */
static double
auth_le_number(const char *s, int n)
{
	double v = 0, scale = 1;
	int i, c;

	for (i = 0; i < n; i++) {
		if ((c = auth_itoa64(s[i])) == -1)
			return -1;
		v += c * scale;
		scale *= 64;
	}
	return v;
}

/* scrypt "$7$": log2 N in one digit, then r and p in five each. */
static double
auth_cost_scrypt(const char *s)
{
	int n_log2 = auth_itoa64(s[0]);
	double r = auth_le_number(s + 1, 5), p = auth_le_number(s + 6, 5);

	if (n_log2 < 1 || n_log2 > 63 || r < 0 || p < 0)
		return 0;
	return 330.0 * (double)(1ULL << n_log2) * r * p;
}

/* The decimal number at the start of s (0 for none), capped at 1e12. */
static double
auth_decimal(const char *s)
{
	double v = 0;

	for (; *s >= '0' && *s <= '9' && v < 1e12; s++)
		v = v * 10 + (*s - '0');
	return v;
}

/* The number after "rounds=" at s, or def when s does not start so. */
static double
auth_rounds(const char *s, double def)
{
	return strncmp(s, "rounds=", 7) == 0 ? auth_decimal(s + 7) : def;
}

/* bcrypt "$2b$NN$": 2^NN rounds of ~60 us. */
static double
auth_cost_bcrypt(const char *s)
{
	if (s[0] < '0' || s[0] > '3' || s[1] < '0' || s[1] > '9')
		return 0;
	return 60000.0 * (double)(1ULL << ((s[0] - '0') * 10 + (s[1] - '0')));
}

/*
 * What verifying against hash costs, estimated from the method and cost in
 * its setting, in nanoseconds as measured on an x86-64 core with libxcrypt
 * 4.4.33.  Only the order matters: an unknown user is hashed with the most
 * expensive hash.  A method not listed here counts as 0, never chosen over
 * one that is.
 */
static double
auth_cost(const char *h)
{
	double v;

	if (strncmp(h, "$y$", 3) == 0)
		return auth_cost_yescrypt(h + 3);
	if (strncmp(h, "$gy$", 4) == 0)
		return auth_cost_yescrypt(h + 4);
	if (strncmp(h, "$7$", 3) == 0)
		return auth_cost_scrypt(h + 3);
	if (strncmp(h, "$2", 2) == 0 && h[2] != '\0' && h[3] == '$')
		return auth_cost_bcrypt(h + 4);
	/* sha-crypt: 5000 rounds unless said, clamped to 1000 at least. */
	if (strncmp(h, "$6$", 3) == 0 || strncmp(h, "$5$", 3) == 0) {
		v = auth_rounds(h + 3, 5000);
		return (h[1] == '6' ? 310.0 : 410.0) * (v < 1000 ? 1000 : v);
	}
	if (strncmp(h, "$sha1$", 6) == 0)
		return 1000.0 * auth_decimal(h + 6);
	/* SunMD5 adds 4096 basic rounds to the ones it names. */
	if (strncmp(h, "$md5$", 5) == 0 || strncmp(h, "$md5,", 5) == 0)
		return 1470.0 * (4096 + auth_rounds(h + 5, 0));
	if (strncmp(h, "$1$", 3) == 0)
		return 150000.0;
	if (h[0] == '_')
		return 175.0 * auth_le_number(h + 1, 4);
	if (strncmp(h, "$3$", 3) == 0)
		return 2000.0;
	/* Traditional DES and bigcrypt: no prefix. */
	if (h[0] != '$')
		return 7000.0;
	return 0;
}

/* Appends one entry, growing the table by doubling up to the cap. */
static int
auth_add(
    struct auth_file *af, const char *user, const char *hash, unsigned int line)
{
	struct auth_entry *e;
	size_t cap;
	double cost;

	if (af->n == af->cap) {
		cap = af->cap == 0 ? 16 : af->cap * 2;
		if (cap > AUTH_USERS_MAX)
			cap = AUTH_USERS_MAX;
		if ((e = reallocarray(af->ents, cap, sizeof(*e))) == NULL)
			return -1;
		af->ents = e;
		af->cap = cap;
	}
	af->ents[af->n].user = user;
	af->ents[af->n].hash = hash;
	af->ents[af->n].line = line;
	/* The first of the most expensive: a file of one kind keeps its first. */
	cost = auth_cost(hash);
	if (af->n == 0 || cost > af->dummy_cost) {
		af->dummy = af->n;
		af->dummy_cost = cost;
	}
	af->n++;
	return 0;
}

/* Parses one line, split in place; adds its user unless it is skipped. */
static int
auth_parse_line(struct auth_file *af, char *line, size_t len,
    unsigned int lineno, const char *path, char *err, size_t errsize)
{
	const char *why, *hash = NULL;

	if (len > AUTH_LINE_MAX) {
		snprintf(err, errsize, "%s: line %u: longer than %d bytes",
		    path, lineno, AUTH_LINE_MAX);
		return -1;
	}
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0 || line[0] == '#')
		return 0;
	if (memchr(line, '\0', len) != NULL)
		why = "NUL byte";
	else if (af->n == AUTH_USERS_MAX)
		why = "more than 10000 users";
	else
		why = auth_check_line(line, &hash);
	if (why != NULL) {
		snprintf(err, errsize, "%s: line %u: %s", path, lineno, why);
		return -1;
	}
	/* Ends the user at its ':'; the hash already ends at the line end. */
	line[hash - 1 - line] = '\0';
	if (auth_add(af, line, hash, lineno) == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Splits buf[0..len) into lines and parses each. */
static int
auth_parse(struct auth_file *af, size_t len, const char *path, char *err,
    size_t errsize)
{
	char *p = af->buf, *end = af->buf + len, *nl;
	unsigned int lineno = 0;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		*nl = '\0';
		if (auth_parse_line(af, p, (size_t)(nl - p), ++lineno, path,
			err, errsize) == -1)
			return -1;
		p = nl + 1;
	}
	if (af->n == 0) {
		snprintf(err, errsize, "%s: no users", path);
		return -1;
	}
	return 0;
}

static int
auth_cmp_user(const void *a, const void *b)
{
	const struct auth_entry *const *x = a, *const *y = b;

	return strcmp((*x)->user, (*y)->user);
}

/* Refuses a user named twice: which line would win is anyone's guess. */
static int
auth_dups(
    const struct auth_file *af, const char *path, char *err, size_t errsize)
{
	const struct auth_entry **v, *a, *b;
	size_t i;
	int rc = 0;

	if ((v = calloc(af->n, sizeof(*v))) == NULL) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < af->n; i++)
		v[i] = &af->ents[i];
	qsort(v, af->n, sizeof(*v), auth_cmp_user);
	for (i = 1; i < af->n && rc == 0; i++) {
		if (strcmp(v[i - 1]->user, v[i]->user) != 0)
			continue;
		a = v[i - 1]->line < v[i]->line ? v[i - 1] : v[i];
		b = a == v[i] ? v[i - 1] : v[i];
		snprintf(err, errsize, "%s: line %u: duplicate user (line %u)",
		    path, b->line, a->line);
		rc = -1;
	}
	free(v);
	return rc;
}

int
auth_load(const char *path, struct auth_file **out, char *err, size_t errsize)
{
	struct auth_file *af;
	int len;

	if (auth_load_lib(err, errsize) == -1)
		return -1;
	if ((af = calloc(1, sizeof(*af))) == NULL) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((len = auth_read(path, af, err, errsize)) == -1 ||
	    auth_parse(af, (size_t)len, path, err, errsize) == -1 ||
	    auth_dups(af, path, err, errsize) == -1) {
		auth_free(af);
		return -1;
	}
	*out = af;
	return 0;
}

void
auth_free(struct auth_file *af)
{
	if (af == NULL)
		return;
	/* The hashes are not secrets, but need not linger either. */
	if (af->buf != NULL)
		explicit_bzero(af->buf, af->bufsize);
	free(af->buf);
	free(af->ents);
	free(af);
}

/* Compares in time that depends on the lengths only, which are public. */
static int
auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = 0;

	if (la != lb)
		return 0;
	for (i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Hashes pass with hash's method, salt and cost; 1 when they match. */
static int
auth_verify(const char *hash, const char *pass)
{
	const char *out;
	int ok;

	out = auth_lib.rn(pass, hash, &auth_crypt, (int)sizeof(auth_crypt));
	ok = out != NULL && auth_equal(out, hash);
	/* It holds the password and intermediate state: wipe it all. */
	explicit_bzero(&auth_crypt, sizeof(auth_crypt));
	return ok;
}

/* Visits every entry: no early exit that would time where a name sits. */
static const struct auth_entry *
auth_find(const struct auth_file *af, const char *user)
{
	const struct auth_entry *found = NULL;
	size_t i;

	for (i = 0; i < af->n; i++)
		if (strcmp(af->ents[i].user, user) == 0)
			found = &af->ents[i];
	return found;
}

enum auth_result
auth_check(const struct auth_file *af, const char *value, size_t len,
    char *user, size_t usersize)
{
	char u[AUTH_USER_MAX], p[AUTH_PASS_MAX];
	const struct auth_entry *e;
	enum auth_result r;

	if (usersize > 0)
		user[0] = '\0';
	if (value == NULL)
		return AUTH_REQUIRED;
	r = auth_decode_basic(value, len, u, sizeof(u), p, sizeof(p));
	if (r == AUTH_OK) {
		e = auth_find(af, u);
		/* An unknown user pays for a hash too: the costliest one. */
		if (!auth_verify(
			e != NULL ? e->hash : af->ents[af->dummy].hash, p) ||
		    e == NULL)
			r = AUTH_REQUIRED;
		else if (usersize > 0)
			util_strlcpy(user, u, usersize);
	}
	explicit_bzero(u, sizeof(u));
	explicit_bzero(p, sizeof(p));
	return r;
}
