/*
 * htpasswd.c - bcrypt htpasswd file loading and HTTP basic credential checks.
 * Loading runs on the main thread; lb_htpasswd_check_header() only reads the
 * loaded entries and uses crypt_rn() with its own state, so any number of API
 * threads may call it at once.
 */
#include "conductor/util/htpasswd.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/util/banned.h"

#define BCRYPT_LEN 60
#define USER_MAX 255
#define LINE_MAX_LEN 1024

struct htpasswd_entry {
	char *user;
	char hash[BCRYPT_LEN + 1];
};

struct lb_htpasswd {
	struct htpasswd_entry *entries;
	size_t n;
};

void
lb_htpasswd_free(struct lb_htpasswd *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free(h->entries[i].user);
		explicit_bzero(h->entries[i].hash, sizeof(h->entries[i].hash));
	}
	free(h->entries);
	free(h);
}

/* "$2y$NN$" + 53 characters of bcrypt's base64, cost 04..31. */
static bool
is_bcrypt(const char *s)
{
	static const char alphabet[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	int cost;

	if (strlen(s) != BCRYPT_LEN || s[0] != '$' || s[1] != '2' ||
	    strchr("aby", s[2]) == NULL || s[3] != '$' ||
	    !isdigit((unsigned char)s[4]) || !isdigit((unsigned char)s[5]) ||
	    s[6] != '$')
		return false;
	cost = (s[4] - '0') * 10 + (s[5] - '0');
	return cost >= 4 && cost <= 31 && strspn(s + 7, alphabet) == 53;
}

static const struct htpasswd_entry *
find_user(const struct lb_htpasswd *h, const char *user)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->entries[i].user, user) == 0)
			return &h->entries[i];
	return NULL;
}

/* Adds the entry on 'line' (trimmed, not blank, not a comment). */
static int
add_line(struct lb_htpasswd *h, size_t *cap, const char *path,
    unsigned int lineno, char *line, struct lb_err *err)
{
	char *colon = strchr(line, ':');
	struct htpasswd_entry *e;

	if (colon == NULL)
		return lb_err_set(err, -EINVAL, "%s:%u: missing ':' between "
		    "user and password hash", path, lineno);
	*colon = '\0';
	if (colon == line || colon - line > USER_MAX)
		return lb_err_set(err, -EINVAL, "%s:%u: user name is empty or "
		    "longer than %d bytes", path, lineno, USER_MAX);
	/* the hash is not shown: it is still a secret of sorts */
	if (!is_bcrypt(colon + 1))
		return lb_err_set(err, -EINVAL, "%s:%u: the entry of user "
		    "'%s' is not bcrypt (create it with htpasswd -B)", path,
		    lineno, line);
	if (find_user(h, line) != NULL)
		return lb_err_set(err, -EINVAL, "%s:%u: user '%s' is listed "
		    "twice", path, lineno, line);
	if (h->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;

		e = reallocarray(h->entries, ncap, sizeof(*e));
		if (e == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		h->entries = e;
		*cap = ncap;
	}
	e = &h->entries[h->n];
	e->user = strdup(line);
	if (e->user == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	memcpy(e->hash, colon + 1, BCRYPT_LEN + 1);
	h->n++;
	return 0;
}

static int
parse(struct lb_htpasswd *h, const char *path, char *buf, size_t len,
    struct lb_err *err)
{
	char *s = buf, *end = buf + len, *nl, *line, *e;
	unsigned int lineno = 0;
	size_t cap = 0;
	int r;

	if (memchr(buf, '\0', len) != NULL)
		return lb_err_set(err, -EINVAL, "%s: contains a NUL byte",
		    path);
	for (; s < end; s = nl + 1) {
		nl = memchr(s, '\n', end - s);
		if (nl == NULL)
			nl = end;
		*nl = '\0';
		lineno++;
		if (nl - s > LINE_MAX_LEN)
			return lb_err_set(err, -EINVAL, "%s:%u: line longer "
			    "than %d bytes", path, lineno, LINE_MAX_LEN);
		for (line = s; isspace((unsigned char)*line); line++)
			;
		for (e = nl; e > line && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		r = add_line(h, &cap, path, lineno, line, err);
		if (r != 0)
			return r;
	}
	if (h->n == 0)
		return lb_err_set(err, -EINVAL, "%s: no users", path);
	return 0;
}

int
lb_htpasswd_load(const char *path, struct lb_htpasswd **ret,
    struct lb_err *err)
{
	struct lb_htpasswd *h = NULL;
	char *buf = NULL;
	size_t len = 0, cap = LB_HTPASSWD_FILE_MAX + 2;
	ssize_t got;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		return lb_err_set(err, r, "cannot open '%s': %s", path,
		    strerror(-r));
	}
	/* one byte over the limit tells it is over, one more for the NUL */
	buf = malloc(cap);
	h = calloc(1, sizeof(*h));
	if (buf == NULL || h == NULL) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	while (len < cap - 1) {
		got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			lb_err_set(err, r, "cannot read '%s': %s", path,
			    strerror(-r));
			goto out;
		}
		if (got == 0)
			break;
		len += got;
	}
	if (len > LB_HTPASSWD_FILE_MAX) {
		r = lb_err_set(err, -EINVAL, "%s: larger than %d bytes", path,
		    LB_HTPASSWD_FILE_MAX);
		goto out;
	}
	buf[len] = '\0';
	r = parse(h, path, buf, len, err);
	if (r == 0) {
		*ret = h;
		h = NULL;
	}
out:
	close(fd);
	if (buf != NULL)
		explicit_bzero(buf, len);
	free(buf);
	lb_htpasswd_free(h);
	return r;
}

static int
b64_value(unsigned char c)
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

/*
 * Decodes standard base64, padded or not; 'out' holds at least len / 4 * 3
 * + 3 bytes.  Returns the decoded length or -EINVAL.
 */
static int
b64_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned int acc = 0, bits = 0;
	size_t i, pad = 0, n = 0;
	int v;

	while (pad < 2 && len > 0 && in[len - 1] == '=') {
		len--;
		pad++;
	}
	if (len % 4 == 1 || (pad > 0 && (len + pad) % 4 != 0))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		v = b64_value((unsigned char)in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (int)n;
}

/* Compares without stopping at the first difference. */
static bool
equal_ct(const char *a, const char *b, size_t n)
{
	volatile unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* Points *ret at the base64 credentials of a "Basic" header value. */
static int
basic_token(const char *authorization, const char **ret, size_t *ret_len)
{
	const char *p = authorization, *e;
	size_t len = strnlen(authorization, LB_HTPASSWD_HEADER_MAX + 1);

	if (len > LB_HTPASSWD_HEADER_MAX)
		return -EACCES;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return -EACCES;
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == p)
		return -EACCES;
	*ret = p;
	*ret_len = e - p;
	return 0;
}

int
lb_htpasswd_check_header(const struct lb_htpasswd *h,
    const char *authorization)
{
	unsigned char creds[LB_HTPASSWD_HEADER_MAX / 4 * 3 + 4];
	const struct htpasswd_entry *entry;
	struct crypt_data *data;
	const char *token, *hash, *out;
	char *colon;
	size_t len;
	int n, r = -EACCES;

	if (h == NULL || h->n == 0 || authorization == NULL ||
	    basic_token(authorization, &token, &len) != 0)
		return -EACCES;
	n = b64_decode(token, len, creds);
	if (n < 0)
		return -EACCES;
	creds[n] = '\0';
	colon = memchr(creds, ':', n);
	if (colon == NULL || memchr(creds, '\0', n) != NULL)
		goto out;
	*colon = '\0';
	entry = find_user(h, (const char *)creds);
	/* an unknown user costs a bcrypt run too, so timing does not tell */
	hash = entry != NULL ? entry->hash : h->entries[0].hash;
	/* crypt_rn wants zeroed state; it is ~32 KiB, too big for a stack */
	data = calloc(1, sizeof(*data));
	if (data == NULL) {
		r = -ENOMEM;
		goto out;
	}
	out = crypt_rn(colon + 1, hash, data, sizeof(*data));
	if (out != NULL && strlen(out) == BCRYPT_LEN &&
	    equal_ct(out, hash, BCRYPT_LEN) && entry != NULL)
		r = 0;
	explicit_bzero(data, sizeof(*data));
	free(data);
out:
	explicit_bzero(creds, sizeof(creds));
	return r;
}
