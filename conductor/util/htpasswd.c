/*
 * htpasswd.c - bcrypt htpasswd file loading and HTTP basic credential checks.
 * Loading runs on the main thread; checks only read the loaded entries and
 * use crypt_rn() with their own state, so any number of API threads may
 * check at once.  What checks share (the cache of verified credentials,
 * failures per source, the bcrypt counter) is under one mutex, never held
 * across a bcrypt run.
 */
#include "conductor/util/htpasswd.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conductor/util/banned.h"

#define BCRYPT_LEN 60
#define USER_MAX 255
#define LINE_MAX_LEN 1024

struct htpasswd_entry {
	char *user;
	char hash[BCRYPT_LEN + 1];
};

#define DIGEST_LEN 32
#define CACHE_SLOTS 16
#define SOURCE_SLOTS 256
#define SOURCE_LEN 64

/* A credential bcrypt accepted: a salted SHA-256 of "user\0password". */
struct cached {
	unsigned char digest[DIGEST_LEN];
	uint64_t expires;		/* 0: free */
};

/* Failed bcrypt runs of one source address in its current window. */
struct source {
	char addr[SOURCE_LEN];
	uint64_t window_start;
	unsigned int failures;		/* counted before the run, undone on success */
};

struct check_state {
	pthread_mutex_t lock;
	unsigned char salt[DIGEST_LEN];
	struct cached cache[CACHE_SLOTS];
	struct source sources[SOURCE_SLOTS];
	unsigned long bcrypt_runs;
};

struct lb_htpasswd {
	struct htpasswd_entry *entries;
	size_t n;
	struct check_state *st;		/* mutable under a const handle */
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
	if (h->st != NULL) {
		pthread_mutex_destroy(&h->st->lock);
		OPENSSL_cleanse(h->st, sizeof(*h->st));
		free(h->st);
	}
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
		h->st = calloc(1, sizeof(*h->st));
		if (h->st != NULL)
			pthread_mutex_init(&h->st->lock, NULL);
		if (h->st == NULL ||
		    RAND_bytes(h->st->salt, sizeof(h->st->salt)) != 1) {
			r = lb_err_set(err, -ENOMEM, "cannot set up the "
			    "credential cache");
			goto out;
		}
	}
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

static int
digest_of(const struct check_state *st, const unsigned char *creds,
    size_t len, unsigned char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, st->salt, sizeof(st->salt)) &&
	    EVP_DigestUpdate(ctx, creds, len) &&
	    EVP_DigestFinal_ex(ctx, out, NULL);

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

/* Under st->lock. */
static bool
cache_has(const struct check_state *st, const unsigned char *digest,
    uint64_t now)
{
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (st->cache[i].expires > now &&
		    CRYPTO_memcmp(st->cache[i].digest, digest, DIGEST_LEN) == 0)
			return true;
	return false;
}

/* Under st->lock: into a free or expired slot, else the soonest to expire. */
static void
cache_put(struct check_state *st, const unsigned char *digest, uint64_t now)
{
	struct cached *victim = &st->cache[0];

	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		if (CRYPTO_memcmp(st->cache[i].digest, digest, DIGEST_LEN) == 0) {
			victim = &st->cache[i];
			break;
		}
		if (st->cache[i].expires < victim->expires)
			victim = &st->cache[i];
	}
	memcpy(victim->digest, digest, DIGEST_LEN);
	victim->expires = now + LB_HTPASSWD_CACHE_SECONDS;
}

/*
 * Under st->lock: the slot of 'addr', taken over from another address if
 * need be (a collision at worst restores that one's few runs).
 */
static struct source *
source_of(struct check_state *st, const char *addr, uint64_t now)
{
	uint32_t hash = 2166136261u;
	struct source *src;

	for (const char *p = addr; *p != '\0'; p++)
		hash = (hash ^ (unsigned char)*p) * 16777619u;
	src = &st->sources[hash % SOURCE_SLOTS];
	if (strcmp(src->addr, addr) != 0) {
		snprintf(src->addr, sizeof(src->addr), "%s", addr);
		src->failures = 0;
		src->window_start = now;
	}
	if (now - src->window_start >= LB_HTPASSWD_FAIL_WINDOW) {
		src->failures = 0;
		src->window_start = now;
	}
	return src;
}

/* bcrypt of 'password' against the entry of 'user' (or a stand-in). */
static int
verify(const struct lb_htpasswd *h, const char *user, const char *password)
{
	const struct htpasswd_entry *entry = find_user(h, user);
	struct crypt_data *data;
	const char *hash, *out;
	int r = -EACCES;

	/* an unknown user costs a bcrypt run too, so timing does not tell */
	hash = entry != NULL ? entry->hash : h->entries[0].hash;
	/* crypt_rn wants zeroed state; it is ~32 KiB, too big for a stack */
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return -ENOMEM;
	out = crypt_rn(password, hash, data, sizeof(*data));
	if (out != NULL && strlen(out) == BCRYPT_LEN &&
	    equal_ct(out, hash, BCRYPT_LEN) && entry != NULL)
		r = 0;
	explicit_bzero(data, sizeof(*data));
	free(data);
	return r;
}

int
lb_htpasswd_check_at(const struct lb_htpasswd *h, const char *authorization,
    const char *source, uint64_t now)
{
	unsigned char creds[LB_HTPASSWD_HEADER_MAX / 4 * 3 + 4];
	unsigned char digest[DIGEST_LEN];
	struct check_state *st;
	struct source *src = NULL;
	const char *token;
	char *colon;
	size_t len;
	int n, r = -EACCES;

	if (h == NULL || h->n == 0 || authorization == NULL ||
	    basic_token(authorization, &token, &len) != 0)
		return -EACCES;
	st = h->st;
	n = b64_decode(token, len, creds);
	if (n < 0)
		return -EACCES;
	creds[n] = '\0';
	colon = memchr(creds, ':', n);
	if (colon == NULL || memchr(creds, '\0', n) != NULL)
		goto out;
	*colon = '\0';			/* creds: "user\0password" */
	r = digest_of(st, creds, n, digest);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&st->lock);
	if (cache_has(st, digest, now)) {
		pthread_mutex_unlock(&st->lock);
		r = 0;
		goto out;
	}
	if (source != NULL) {
		src = source_of(st, source, now);
		if (src->failures >= LB_HTPASSWD_FAIL_MAX) {
			pthread_mutex_unlock(&st->lock);
			r = -EACCES;	/* no bcrypt run until the window ends */
			goto out;
		}
		/* counted now, so parallel requests cannot all run bcrypt */
		src->failures++;
	}
	st->bcrypt_runs++;
	pthread_mutex_unlock(&st->lock);

	r = verify(h, (const char *)creds, colon + 1);

	pthread_mutex_lock(&st->lock);
	if (r == 0) {
		cache_put(st, digest, now);
		/* the slot may have changed hands meanwhile: only undo ours */
		if (src != NULL && strcmp(src->addr, source) == 0 &&
		    src->failures > 0)
			src->failures--;
	}
	pthread_mutex_unlock(&st->lock);
out:
	explicit_bzero(creds, sizeof(creds));
	OPENSSL_cleanse(digest, sizeof(digest));
	return r;
}

int
lb_htpasswd_user(const char *authorization, char *out, size_t size)
{
	unsigned char creds[LB_HTPASSWD_HEADER_MAX / 4 * 3 + 4];
	const char *token;
	char *colon;
	size_t len;
	int n;

	if (authorization == NULL || size == 0 ||
	    basic_token(authorization, &token, &len) != 0)
		return -EINVAL;
	n = b64_decode(token, len, creds);
	if (n < 0)
		return -EINVAL;
	creds[n] = '\0';
	colon = memchr(creds, ':', n);
	if (colon != NULL) {
		*colon = '\0';
		snprintf(out, size, "%s", (const char *)creds);
	}
	explicit_bzero(creds, sizeof(creds));
	return colon != NULL ? 0 : -EINVAL;
}

static uint64_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* +1: a monotonic 0 must not look like a free cache slot's expiry */
	return (uint64_t)ts.tv_sec + 1;
}

int
lb_htpasswd_check(const struct lb_htpasswd *h, const char *authorization,
    const char *source)
{
	return lb_htpasswd_check_at(h, authorization, source, now_s());
}

int
lb_htpasswd_check_header(const struct lb_htpasswd *h,
    const char *authorization)
{
	return lb_htpasswd_check(h, authorization, NULL);
}

unsigned long
lb_htpasswd_bcrypt_runs(const struct lb_htpasswd *h)
{
	unsigned long n;

	pthread_mutex_lock(&h->st->lock);
	n = h->st->bcrypt_runs;
	pthread_mutex_unlock(&h->st->lock);
	return n;
}
