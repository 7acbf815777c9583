/*
 * image_cache.c - rescue images: the one href parser and file:// check,
 * file:// copies and libcurl downloads into <dir>/<sha256(url)>-<validator
 * hash>, one JSON index per URL (its mtime is the last use), eviction by
 * size and age, and placement by hard link.  Any thread: 'lock' guards the
 * fetches in flight, the pins and eviction; one fetch per URL runs at a
 * time and its waiters share the result.
 */
#include "boot/image_cache.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conductor/util/banned.h"

#define HREF_MAX 4096
#define SHA_HEX 64
#define VHASH_HEX 16		/* validator hash in file names */
#define VALIDATOR_MAX 512	/* ETag, Last-Modified */
#define SHOW_HEX 12		/* digest prefix in mismatch messages */
#define TMP_PREFIX ".tmp-"
#define COPY_CHUNK 65536
#define CONNECT_TIMEOUT_S 10L
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_TIME_S 30L
#define TOTAL_TIMEOUT_S 1800L
#define MAX_REDIRS 5L
#define N_SECRETS 3

/* One fetch of one URL; the leader fills it in, waiters read it once done. */
struct fetch {
	struct fetch *next;
	char key[SHA_HEX + 1];
	char want[SHA_HEX + 1];	/* the leader's checksum, "" for none */
	unsigned int refs;
	bool done;
	bool mismatch;		/* failed only on the leader's checksum */
	int r;
	char *path;
	char sha[SHA_HEX + 1];	/* of the content at path */
	struct lb_err err;
};

struct lb_image_cache {
	char *dir;
	char **allowed;		/* file:// roots, as configured */
	size_t nallowed;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* some fetch is done */
	struct fetch *fetches;	/* in flight, guarded by lock */
	struct pin *pins;	/* handed-out paths, guarded by lock */
	unsigned long long max_bytes;	/* 0: no size limit */
	long long ttl_s;		/* 0: no age limit */
	unsigned long downloads; /* atomic */
};

struct href {
	const char *raw;	/* borrowed */
	bool is_file;
	char *path;		/* file://: the percent-decoded path */
	char *real;		/* file://: its canonical path, once allowed */
	char *secrets[N_SECRETS]; /* http: user, password, query (curl's) */
	char safe[HREF_MAX + 16]; /* scheme://host[:port]/path */
	char key[SHA_HEX + 1];
};

/* What the index says about the cached copy of one URL. */
struct entry {
	char *file;
	char *etag;
	char *last_modified;
	char *validator;	/* file:// sources */
	char sha[SHA_HEX + 1];
};

/* A fetched file not yet in the cache. */
struct fresh {
	char tmp[PATH_MAX];
	char sha[SHA_HEX + 1];
	char validator[VALIDATOR_MAX * 2 + 16];
	char etag[VALIDATOR_MAX];
	char last_modified[VALIDATOR_MAX];
	bool have;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ---- */

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const char *s, char out[SHA_HEX + 1])
{
	unsigned char d[32];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
	hex(d, sizeof(d), out);
}

static bool
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL ||
		    s[i] == '\0')
			return false;
	}
	return s[n] == '\0';
}

/* Printable ASCII without spaces: what we accept in hrefs and headers. */
static bool
is_clean(const char *s, bool allow_space)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    (*s == ' ' && !allow_space))
			return false;
	}
	return true;
}

static int
path_in(const struct lb_image_cache *c, const char *name, char *buf)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", c->dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Removes a temporary file once; the name is forgotten. */
static void
unlink_tmp(char *path)
{
	if (path[0] != '\0')
		(void)unlink(path);
	path[0] = '\0';
}

/* Replaces every occurrence of secret in curl's message by "******". */
static void
scrub(char msg[CURL_ERROR_SIZE], const char *secret)
{
	char out[CURL_ERROR_SIZE];
	size_t slen = strlen(secret), o = 0;
	const char *p, *hit;

	for (p = msg; (hit = strstr(p, secret)) != NULL; p = hit + slen) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s******",
		    (int)(hit - p), p);
		if (o >= sizeof(out))
			break;
	}
	if (p == msg)
		return;
	if (o < sizeof(out))
		snprintf(out + o, sizeof(out) - o, "%s", p);
	memcpy(msg, out, sizeof(out));
	msg[CURL_ERROR_SIZE - 1] = '\0';
}

/* ---- hrefs and checksums ---- */

static void
href_release(struct href *h)
{
	free(h->path);
	free(h->real);
	for (int i = 0; i < N_SECRETS; i++)
		curl_free(h->secrets[i]);
}

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The path of a file:// href, percent-decoded into 'out' (as RFC 8089
 * reads it).  Decoded bytes must be printable ASCII: a NUL or a control
 * character would mean one thing to the check and another to open().
 */
static int
decode_path(const char *p, char *out, size_t size, struct lb_err *err)
{
	size_t o = 0;

	for (; *p != '\0'; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);

			if (lo < 0)
				return lb_err_set(err, -EINVAL, "malformed "
				    "percent-encoding in file:// image href");
			c = hi << 4 | lo;
			p += 2;
		}
		if (c < 0x20 || c >= 0x7f)
			return lb_err_set(err, -EINVAL, "file:// image href "
			    "path has control or non-ASCII characters");
		if (o + 1 >= size)
			return lb_err_set(err, -EINVAL, "file:// image href "
			    "path is too long");
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/*
 * 'path' with "", "." and ".." components resolved as text, never through
 * the file system: what the href names before any symlink is followed.
 */
static void
lexical_normal(const char *path, char out[PATH_MAX])
{
	size_t o = 0;
	const char *p = path, *end;

	out[0] = '\0';
	while (*p != '\0') {
		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		if (end - p == 1 && p[0] == '.') {
			;
		} else if (end - p == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[--o] != '/')
				;
			out[o] = '\0';
		} else if (end > p && o + 1 + (size_t)(end - p) < PATH_MAX) {
			out[o++] = '/';
			memcpy(out + o, p, (size_t)(end - p));
			o += (size_t)(end - p);
			out[o] = '\0';
		}
		p = end;
	}
	if (o == 0)
		snprintf(out, PATH_MAX, "/");
}

static int
parse_file_href(struct href *h, const char *rest, struct lb_err *err)
{
	const char *path = strchr(rest, '/');
	char decoded[PATH_MAX];
	int r;

	/* file:///abs or file://localhost/abs; never a relative path. */
	if (path == NULL || (path != rest && ((size_t)(path - rest) != 9 ||
	    strncasecmp(rest, "localhost", 9) != 0)))
		return lb_err_set(err, -EINVAL, "file:// image href must name "
		    "an absolute local path (file:///path)");
	if (strpbrk(path, "?#") != NULL)
		return lb_err_set(err, -EINVAL, "file:// image href must not "
		    "have a query or a fragment");
	r = decode_path(path, decoded, sizeof(decoded), err);
	if (r < 0)
		return r;
	if (strspn(decoded, "/") == strlen(decoded))
		return lb_err_set(err, -EINVAL, "file:// image href has no "
		    "file name");
	h->is_file = true;
	h->path = strdup(decoded);
	if (h->path == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	snprintf(h->safe, sizeof(h->safe), "file://%s", decoded);
	return 0;
}

static int
parse_http_href(struct href *h, const char *scheme, struct lb_err *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL;
	int r = 0;

	if (u == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	/* curl would read "http:///x" as host "x". */
	if (strstr(h->raw, "://")[3] == '/' ||
	    curl_url_set(u, CURLUPART_URL, h->raw, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0') {
		r = lb_err_set(err, -EINVAL, "malformed %s:// image href",
		    scheme);
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		r = lb_err_set(err, -EINVAL, "malformed %s:// image href",
		    scheme);
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_USER, &h->secrets[0], 0);
	(void)curl_url_get(u, CURLUPART_PASSWORD, &h->secrets[1], 0);
	(void)curl_url_get(u, CURLUPART_QUERY, &h->secrets[2], 0);
	snprintf(h->safe, sizeof(h->safe), "%s://%s%s%s%s", scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "", path);
out:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return r;
}

static int
parse_href(const char *raw, struct href *h, struct lb_err *err)
{
	const char *sep;
	char scheme[8];
	size_t n;

	memset(h, 0, sizeof(*h));
	h->raw = raw;
	if (raw == NULL || raw[0] == '\0')
		return lb_err_set(err, -EINVAL, "no image href given");
	if (strlen(raw) > HREF_MAX || !is_clean(raw, false))
		return lb_err_set(err, -EINVAL, "malformed image href (too "
		    "long, or has spaces or control characters)");
	sep = strstr(raw, "://");
	if (sep == NULL)
		return lb_err_set(err, -EINVAL, "image href is not an absolute "
		    "URL (expected file://, http:// or https://)");
	n = (size_t)(sep - raw);
	if (n == 0 || n >= sizeof(scheme) || strspn(raw, "abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") < n)
		return lb_err_set(err, -EINVAL, "malformed image href scheme");
	for (size_t i = 0; i < n; i++)
		scheme[i] = (char)(raw[i] | 0x20);
	scheme[n] = '\0';
	sha256_hex(raw, h->key);
	if (strcmp(scheme, "file") == 0)
		return parse_file_href(h, sep + 3, err);
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)
		return parse_http_href(h, scheme, err);
	return lb_err_set(err, -EINVAL, "unsupported image href scheme '%s' "
	    "(expected file, http or https)", scheme);
}

/* True when 'path' is 'dir' or lies below it, on a component boundary. */
static bool
path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' ||
	    path[n] == '\0');
}

/*
 * A file:// href is allowed when it lies below one of the allowed
 * directories twice: as written, with "." and ".." resolved as text (so
 * that nothing outside them is even looked up), and after realpath(3) (so
 * that no symlink leads out).  The directories are canonicalised the same
 * way each time: one that is a symlink, or made after start-up, works.
 * The canonical path lands in h->real and is all that is ever opened; the
 * cache key is made from it, so every spelling of one file is one entry.
 */
static int
resolve_file(const struct lb_image_cache *c, struct href *h,
    const char *what, struct lb_err *err)
{
	char lex[PATH_MAX], real[PATH_MAX], dir[PATH_MAX], *keyed;
	bool below = false;
	size_t i;

	lexical_normal(h->path, lex);
	for (i = 0; i < c->nallowed && !below; i++) {
		lexical_normal(c->allowed[i], dir);
		below = c->allowed[i][0] == '/' && path_below(lex, dir);
	}
	if (!below)
		goto refused;
	if (realpath(lex, real) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return lb_err_set(err, -ENOENT, "%s '%s' not found",
			    what, h->safe);
		return lb_err_set(err, -EIO, "cannot resolve %s '%s': %s",
		    what, h->safe, strerror(errno));
	}
	below = false;
	for (i = 0; i < c->nallowed && !below; i++)
		below = realpath(c->allowed[i], dir) != NULL &&
		    path_below(real, dir);
	if (!below)
		goto refused;
	h->real = strdup(real);
	if (h->real == NULL || asprintf(&keyed, "file://%s", real) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	sha256_hex(keyed, h->key);
	free(keyed);
	return 0;
refused:
	return lb_err_set(err, -EINVAL, "%s '%s' is not below any of "
	    "[conductor] file_url_allowed_paths", what, h->safe);
}

/*
 * The href parsed and, for file://, checked and canonicalised: the one
 * way any href reaches the file system or the network.
 */
static int
parse_allowed(const struct lb_image_cache *c, const char *raw,
    const char *what, struct href *h, struct lb_err *err)
{
	int r = parse_href(raw, h, err);

	if (r == 0 && h->is_file)
		r = resolve_file(c, h, what, err);
	return r;
}

/* "" for none; else 64 lower-case hex digits in want. */
static int
parse_checksum(const char *checksum, const struct href *h,
    char want[SHA_HEX + 1], struct lb_err *err)
{
	const char *d = checksum;

	want[0] = '\0';
	if (checksum == NULL || checksum[0] == '\0')
		return 0;
	if (strncasecmp(d, "sha256:", 7) == 0)
		d += 7;
	if (!is_hex(d, SHA_HEX))
		return lb_err_set(err, -EINVAL, "malformed checksum for image "
		    "'%s': expected sha256:<64 hex digits>", h->safe);
	for (size_t i = 0; i <= SHA_HEX; i++)
		want[i] = (char)(d[i] >= 'A' && d[i] <= 'F' ? d[i] | 0x20 :
		    d[i]);
	return 0;
}

static int
mismatch(const struct href *h, const char *want, const char *got,
    struct lb_err *err)
{
	return lb_err_set(err, -EINVAL, "checksum mismatch for image '%s': "
	    "expected %.*s..., got %.*s...", h->safe, SHOW_HEX, want,
	    SHOW_HEX, got);
}

/* ---- the index: <key>.json ---- */

static void
entry_release(struct entry *e)
{
	free(e->file);
	free(e->etag);
	free(e->last_modified);
	free(e->validator);
	memset(e, 0, sizeof(*e));
}

static char *
dup_member(const json_t *o, const char *name, bool *ok)
{
	const json_t *v = json_object_get(o, name);
	char *s;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || !is_clean(json_string_value(v), true)) {
		*ok = false;
		return NULL;
	}
	s = strdup(json_string_value(v));
	if (s == NULL)
		*ok = false;
	return s;
}

/*
 * 0 when the index names a cached copy that is still as it was written
 * (size and mtime: a placed hard link written in place shows up here).
 */
static int
load_index(const struct lb_image_cache *c, const char *key, struct entry *e)
{
	char path[PATH_MAX], name[SHA_HEX + 8];
	const char *sha;
	json_int_t size, mtime_ns;
	json_t *o;
	struct stat st;
	bool ok = true;

	memset(e, 0, sizeof(*e));
	snprintf(name, sizeof(name), "%s.json", key);
	if (path_in(c, name, path) < 0)
		return -ENAMETOOLONG;
	o = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	if (o == NULL)
		return -ENOENT;
	e->file = dup_member(o, "file", &ok);
	e->etag = dup_member(o, "etag", &ok);
	e->last_modified = dup_member(o, "last_modified", &ok);
	e->validator = dup_member(o, "validator", &ok);
	sha = json_string_value(json_object_get(o, "sha256"));
	size = json_integer_value(json_object_get(o, "size"));
	mtime_ns = json_integer_value(json_object_get(o, "mtime_ns"));
	ok = ok && sha != NULL && is_hex(sha, SHA_HEX) && e->file != NULL &&
	    strlen(e->file) == SHA_HEX + 1 + VHASH_HEX &&
	    strncmp(e->file, key, SHA_HEX) == 0 && e->file[SHA_HEX] == '-' &&
	    is_hex(e->file + SHA_HEX + 1, VHASH_HEX) &&
	    path_in(c, e->file, path) == 0 && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size == size &&
	    (json_int_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec == mtime_ns;
	if (ok)
		snprintf(e->sha, sizeof(e->sha), "%s", sha);
	json_decref(o);
	if (!ok) {
		entry_release(e);
		return -ESTALE;
	}
	return 0;
}

static int
make_temp(const struct lb_image_cache *c, char path[PATH_MAX], mode_t mode)
{
	int fd;

	if (path_in(c, TMP_PREFIX "XXXXXX", path) < 0)
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0) {
		int r = -errno;

		close(fd);
		unlink(path);
		return r;
	}
	return fd;
}

static int
save_index(const struct lb_image_cache *c, const struct href *h,
    const char *file, const struct fresh *nw, const struct stat *st)
{
	char tmp[PATH_MAX], path[PATH_MAX], name[SHA_HEX + 8];
	json_t *o;
	int fd, r = 0;

	snprintf(name, sizeof(name), "%s.json", h->key);
	if (path_in(c, name, path) < 0)
		return -ENAMETOOLONG;
	o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:I, s:I}",
	    "url", h->safe, "file", file,
	    "etag", nw->etag[0] != '\0' ? nw->etag : NULL,
	    "last_modified", nw->last_modified[0] != '\0' ?
	    nw->last_modified : NULL,
	    "validator", h->is_file ? nw->validator : NULL,
	    "sha256", nw->sha, "size", (json_int_t)st->st_size,
	    "mtime_ns", (json_int_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec);
	if (o == NULL)
		return -ENOMEM;
	fd = make_temp(c, tmp, 0600);
	if (fd < 0) {
		json_decref(o);
		return fd;
	}
	errno = EIO;
	if (json_dumpfd(o, fd, JSON_COMPACT) != 0 || fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	json_decref(o);
	return r;
}

/* ---- fetching ---- */

/* Writes all of buf; -errno on failure. */
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copies in to out, hashing into md when given; -E2BIG past the cap (a
 * write's own -EFBIG or -ENOSPC is passed on as it is).
 */
static int
copy_fd(int in, int out, EVP_MD_CTX *md)
{
	unsigned long long total = 0;
	char *buf = malloc(COPY_CHUNK);
	ssize_t n;
	int r = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		n = read(in, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		total += (unsigned long long)n;
		if (total > LB_IMAGE_MAX_SIZE) {
			r = -E2BIG;
			break;
		}
		if (md != NULL)
			EVP_DigestUpdate(md, buf, (size_t)n);
		if ((r = write_all(out, buf, (size_t)n)) < 0)
			break;
	}
	free(buf);
	return r;
}

static void
finish_sha(EVP_MD_CTX *md, char out[SHA_HEX + 1])
{
	unsigned char d[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(md, d, &n);
	hex(d, sizeof(d), out);
}

/*
 * Opens the canonical path checked by resolve_file(), following no
 * symlink on the way: one swapped in since the check fails with ELOOP.
 * O_NONBLOCK: a FIFO must not hang us before fstat rejects it.
 */
static int
open_canonical(const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		    O_NOFOLLOW,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = open(path, (int)how.flags);
	return (int)fd;
}

/* file://: a copy into the cache unless the source is unchanged. */
static int
fetch_file(const struct lb_image_cache *c, const struct href *h,
    const struct entry *old, struct fresh *nw, struct lb_err *err)
{
	EVP_MD_CTX *md = NULL;
	struct stat st;
	int fd, out = -1, r;

	fd = open_canonical(h->real);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return lb_err_set(err, -ENOENT, "image '%s' not found", h->safe);
	if (fd < 0 && errno == ELOOP)
		return lb_err_set(err, -EINVAL, "cannot open image '%s': a "
		    "symlink appeared on its path", h->safe);
	if (fd < 0)
		return lb_err_set(err, -EIO, "cannot open image '%s': %s",
		    h->safe, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = lb_err_set(err, -EINVAL, "image '%s' is not a regular "
		    "file", h->safe);
		goto out;
	}
	if ((unsigned long long)st.st_size > LB_IMAGE_MAX_SIZE) {
		r = lb_err_set(err, -EIO, "image '%s' is larger than 4 GiB",
		    h->safe);
		goto out;
	}
	snprintf(nw->validator, sizeof(nw->validator),
	    "file:%ju:%ju:%jd:%jd.%09ld", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino, (intmax_t)st.st_size,
	    (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (old != NULL && old->validator != NULL &&
	    strcmp(old->validator, nw->validator) == 0) {
		r = 0;
		goto out;
	}
	out = make_temp(c, nw->tmp, 0644);
	md = EVP_MD_CTX_new();
	if (out < 0 || md == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		r = lb_err_set(err, -EIO, "cannot create image cache file in "
		    "'%s': %s", c->dir, strerror(out < 0 ? -out : ENOMEM));
		goto out;
	}
	r = copy_fd(fd, out, md);
	if (r == 0 && fsync(out) != 0)
		r = -errno;
	if (r == -E2BIG)
		r = lb_err_set(err, -EIO, "image '%s' is larger than 4 GiB",
		    h->safe);
	else if (r < 0)
		r = lb_err_set(err, -EIO, "cannot copy image '%s' into the "
		    "cache: %s", h->safe, strerror(-r));
	if (r == 0) {
		finish_sha(md, nw->sha);
		nw->have = true;
	}
out:
	EVP_MD_CTX_free(md);
	if (out >= 0)
		close(out);
	if (r < 0)
		unlink_tmp(nw->tmp);
	close(fd);
	return r;
}

struct xfer {
	struct lb_image_cache *c;
	CURL *curl;
	int fd;
	EVP_MD_CTX *md;
	unsigned long long bytes;
	bool in_body;		/* headers of a 200 are done */
	bool headers_done;
	bool too_big;
	int write_errno;
	char etag[VALIDATOR_MAX];
	char last_modified[VALIDATOR_MAX];
};

/* Copies a header's value (trimmed) into out if it is clean and fits. */
static void
header_value(const char *line, size_t len, size_t name_len, char *out,
    size_t size)
{
	const char *v = line + name_len, *end = line + len;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	out[0] = '\0';
	if ((size_t)(end - v) < size && end > v) {
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
		if (!is_clean(out, true))
			out[0] = '\0';
	}
}

static size_t
header_cb(char *line, size_t size, size_t nitems, void *data)
{
	struct xfer *x = data;
	size_t len = size * nitems;
	long status = 0;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 1xx). */
		x->etag[0] = x->last_modified[0] = '\0';
		x->headers_done = x->in_body = false;
	} else if ((len == 2 && line[0] == '\r') || (len == 1 &&
	    line[0] == '\n')) {
		if (x->headers_done)
			return len;	/* trailers */
		x->headers_done = true;
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200) {
			x->in_body = true;
			__atomic_fetch_add(&x->c->downloads, 1,
			    __ATOMIC_RELAXED);
		}
	} else if (len > 5 && strncasecmp(line, "ETag:", 5) == 0) {
		header_value(line, len, 5, x->etag, sizeof(x->etag));
	} else if (len > 14 && strncasecmp(line, "Last-Modified:", 14) == 0) {
		header_value(line, len, 14, x->last_modified,
		    sizeof(x->last_modified));
	}
	return len;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;
	int r;

	if (!x->in_body)
		return len;	/* the body of a redirect or an error */
	if (x->bytes + len > LB_IMAGE_MAX_SIZE) {
		x->too_big = true;
		return 0;
	}
	if ((r = write_all(x->fd, data, len)) < 0) {
		x->write_errno = -r;
		return 0;
	}
	EVP_DigestUpdate(x->md, data, len);
	x->bytes += len;
	return len;
}

/* curl's own words, unless they could carry a secret of the URL. */
static const char *
curl_why(const struct href *h, CURLcode rc, char *errbuf)
{
	for (int i = 0; i < N_SECRETS; i++) {
		if (h->secrets[i] == NULL || h->secrets[i][0] == '\0')
			continue;
		if (strlen(h->secrets[i]) < 4)
			return curl_easy_strerror(rc);
		scrub(errbuf, h->secrets[i]);
	}
	/* After a redirect the target's query may hold a token. */
	if (strchr(errbuf, '?') != NULL)
		return curl_easy_strerror(rc);
	return errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
}

static int
transfer_error(const struct href *h, const struct xfer *x, CURLcode rc,
    char *errbuf, struct lb_err *err)
{
	const char *why = curl_why(h, rc, errbuf);

	if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return lb_err_set(err, -EIO, "image '%s' is larger than 4 GiB",
		    h->safe);
	if (x->write_errno != 0)
		return lb_err_set(err, -EIO, "cannot write the image cache "
		    "file for '%s': %s", h->safe, strerror(x->write_errno));
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return lb_err_set(err, -EHOSTUNREACH, "cannot reach the server "
		    "of image '%s': %s", h->safe, why);
	case CURLE_OPERATION_TIMEDOUT:
		return lb_err_set(err, -ETIMEDOUT, "timed out fetching image "
		    "'%s': %s", h->safe, why);
	case CURLE_TOO_MANY_REDIRECTS:
		return lb_err_set(err, -EIO, "cannot fetch image '%s': more "
		    "than %ld redirects", h->safe, MAX_REDIRS);
	default:
		return lb_err_set(err, -EIO, "cannot fetch image '%s': %s",
		    h->safe, why);
	}
}

static struct curl_slist *
conditional_headers(const struct entry *old, bool *nomem)
{
	struct curl_slist *hdrs = NULL, *n;
	char line[VALIDATOR_MAX + 32];

	if (old == NULL)
		return NULL;
	if (old->etag != NULL && strlen(old->etag) < VALIDATOR_MAX) {
		snprintf(line, sizeof(line), "If-None-Match: %s", old->etag);
		n = curl_slist_append(hdrs, line);
		*nomem = *nomem || n == NULL;
		hdrs = n != NULL ? n : hdrs;
	}
	if (old->last_modified != NULL &&
	    strlen(old->last_modified) < VALIDATOR_MAX) {
		snprintf(line, sizeof(line), "If-Modified-Since: %s",
		    old->last_modified);
		n = curl_slist_append(hdrs, line);
		*nomem = *nomem || n == NULL;
		hdrs = n != NULL ? n : hdrs;
	}
	return hdrs;
}

static void
setup_curl(CURL *curl, const struct href *h, struct xfer *x,
    struct curl_slist *hdrs, char *errbuf)
{
	curl_easy_setopt(curl, CURLOPT_URL, h->raw);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, MAX_REDIRS);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)LB_IMAGE_MAX_SIZE);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "lifeboat");
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
}

/* What the final HTTP status means, once the transfer itself worked. */
static int
http_status(const struct lb_image_cache *c, const struct href *h,
    const struct entry *old, const struct xfer *x, long status,
    struct fresh *nw, struct lb_err *err)
{
	if (status == 304 && old != NULL)
		return 0;
	if (status == 404 || status == 410)
		return lb_err_set(err, -ENOENT, "image '%s' not found",
		    h->safe);
	if (status != 200)
		return lb_err_set(err, -EIO, "cannot fetch image '%s': HTTP "
		    "%ld", h->safe, status);
	if (fsync(x->fd) != 0)
		return lb_err_set(err, -EIO, "cannot write the image cache "
		    "file in '%s': %s", c->dir, strerror(errno));
	finish_sha(x->md, nw->sha);
	snprintf(nw->etag, sizeof(nw->etag), "%s", x->etag);
	snprintf(nw->last_modified, sizeof(nw->last_modified), "%s",
	    x->last_modified);
	nw->have = true;
	return 0;
}

static int
fetch_http(struct lb_image_cache *c, const struct href *h,
    const struct entry *old, struct fresh *nw, struct lb_err *err)
{
	struct xfer x = { .c = c, .fd = -1 };
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	bool nomem = false;
	long status = 0;
	CURLcode rc;
	int r;

	x.curl = curl_easy_init();
	x.md = EVP_MD_CTX_new();
	hdrs = conditional_headers(old, &nomem);
	if (x.curl == NULL || x.md == NULL || nomem ||
	    EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	x.fd = make_temp(c, nw->tmp, 0644);
	if (x.fd < 0) {
		r = lb_err_set(err, -EIO, "cannot create image cache file in "
		    "'%s': %s", c->dir, strerror(-x.fd));
		goto out;
	}
	setup_curl(x.curl, h, &x, hdrs, errbuf);
	rc = curl_easy_perform(x.curl);
	if (rc != CURLE_OK) {
		r = transfer_error(h, &x, rc, errbuf, err);
		goto out;
	}
	curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &status);
	r = http_status(c, h, old, &x, status, nw, err);
out:
	if (x.fd >= 0)
		close(x.fd);
	if (r < 0 || !nw->have)
		unlink_tmp(nw->tmp);
	curl_slist_free_all(hdrs);
	if (x.curl != NULL)
		curl_easy_cleanup(x.curl);
	EVP_MD_CTX_free(x.md);
	return r;
}

/* Moves a fresh file into place under its validator's name and indexes it. */
static int
commit(struct lb_image_cache *c, const struct href *h, struct fresh *nw,
    char *name, struct lb_err *err)
{
	char vhash[SHA_HEX + 1], path[PATH_MAX];
	const char *v = nw->validator;
	struct stat st;
	int r;

	if (!h->is_file) {
		/* No validator: name the copy after its content. */
		snprintf(nw->validator, sizeof(nw->validator), "%s%s\n%s%s",
		    nw->etag[0] != '\0' ? "etag:" : "", nw->etag,
		    nw->last_modified[0] != '\0' ? "lm:" : "",
		    nw->last_modified);
		if (nw->etag[0] == '\0' && nw->last_modified[0] == '\0')
			v = nw->sha;
	}
	sha256_hex(v, vhash);
	snprintf(name, SHA_HEX + VHASH_HEX + 2, "%s-%.*s", h->key, VHASH_HEX,
	    vhash);
	r = path_in(c, name, path);
	if (r == 0 && rename(nw->tmp, path) != 0)
		r = -errno;
	if (r < 0) {
		unlink_tmp(nw->tmp);
		return lb_err_set(err, -EIO, "cannot store image '%s' in the "
		    "cache: %s", h->safe, strerror(-r));
	}
	nw->tmp[0] = '\0';
	if (stat(path, &st) != 0)
		r = -errno;
	else
		r = save_index(c, h, name, nw, &st);
	if (r < 0) {
		/* No half entry: a copy without its index is not kept. */
		(void)unlink(path);
		return lb_err_set(err, -EIO, "cannot write the image cache "
		    "index for '%s': %s", h->safe, strerror(-r));
	}
	/* An older copy of the URL is now unindexed: evict() removes it. */
	return 0;
}

/* The leader's work for one URL: fetch, verify, store; fills f in. */
static void
fetch_one(struct lb_image_cache *c, const struct href *h, struct fetch *f)
{
	struct entry old;
	struct fresh nw = { .have = false };
	char name[SHA_HEX + VHASH_HEX + 2], path[PATH_MAX];
	bool have_old = load_index(c, h->key, &old) == 0;
	const char *sha;
	int r;

	if (h->is_file)
		r = fetch_file(c, h, have_old ? &old : NULL, &nw, &f->err);
	else
		r = fetch_http(c, h, have_old ? &old : NULL, &nw, &f->err);
	if (r < 0)
		goto out;
	sha = nw.have ? nw.sha : old.sha;
	if (f->want[0] != '\0' && strcmp(f->want, sha) != 0) {
		/* A fresh copy is not kept; a cached one is what the URL has. */
		unlink_tmp(nw.tmp);
		f->mismatch = true;
		r = mismatch(h, f->want, sha, &f->err);
		goto out;
	}
	if (nw.have)
		r = commit(c, h, &nw, name, &f->err);
	else
		snprintf(name, sizeof(name), "%s", old.file);
	if (r == 0 && path_in(c, name, path) < 0)
		r = lb_err_set(&f->err, -EIO, "image cache path too long");
	if (r == 0 && (f->path = strdup(path)) == NULL)
		r = lb_err_set(&f->err, -ENOMEM, "out of memory");
	if (r == 0)
		snprintf(f->sha, sizeof(f->sha), "%s", sha);
out:
	if (have_old)
		entry_release(&old);
	f->r = r;
}

/* ---- pins and eviction ---- */

/*
 * A cached file handed out by lb_image_cache_get() and not yet given back:
 * between the fetch and the hard link into tftp_root or http_root its link
 * count is 1, and only the pin keeps eviction off it.
 */
struct pin {
	struct pin *next;
	unsigned int n;
	char path[];
};

/* Lock held.  0, or -ENOMEM. */
static int
pin_add(struct lb_image_cache *c, const char *path, unsigned int n)
{
	struct pin *p;

	for (p = c->pins; p != NULL; p = p->next) {
		if (strcmp(p->path, path) == 0) {
			p->n += n;
			return 0;
		}
	}
	p = malloc(sizeof(*p) + strlen(path) + 1);
	if (p == NULL)
		return -ENOMEM;
	p->n = n;
	memcpy(p->path, path, strlen(path) + 1);
	p->next = c->pins;
	c->pins = p;
	return 0;
}

/* Lock held. */
static void
pin_drop(struct lb_image_cache *c, const char *path)
{
	struct pin **pp, *p;

	for (pp = &c->pins; (p = *pp) != NULL; pp = &p->next) {
		if (strcmp(p->path, path) == 0) {
			if (--p->n == 0) {
				*pp = p->next;
				free(p);
			}
			return;
		}
	}
}

/* Lock held: a cached file of 'key' that eviction must leave alone. */
static bool
busy(const struct lb_image_cache *c, const char *key, const char *name)
{
	char path[PATH_MAX];

	for (const struct fetch *f = c->fetches; f != NULL; f = f->next) {
		if (strncmp(f->key, key, SHA_HEX) == 0)
			return true;
	}
	if (path_in(c, name, path) < 0)
		return true;
	for (const struct pin *p = c->pins; p != NULL; p = p->next) {
		if (strcmp(p->path, path) == 0)
			return true;
	}
	return false;
}

/* One cached copy as eviction sees it. */
struct victim {
	char key[SHA_HEX + 1];
	char file[SHA_HEX + VHASH_HEX + 2];
	bool indexed;		/* the copy <key>.json names */
	bool evictable;		/* not linked into a root, pinned or fetched */
	time_t used;		/* the index's mtime, else the file's */
	unsigned long long size;
};

static bool
is_data_name(const char *name)
{
	return strlen(name) == SHA_HEX + 1 + VHASH_HEX &&
	    name[SHA_HEX] == '-' && strspn(name, "0123456789abcdef") ==
	    SHA_HEX && is_hex(name + SHA_HEX + 1, VHASH_HEX);
}

/* The index's mtime says when the copy it names was last handed out. */
static time_t
last_used(const struct lb_image_cache *c, const char *key, time_t dflt)
{
	char name[SHA_HEX + 8], path[PATH_MAX];
	struct stat st;

	snprintf(name, sizeof(name), "%s.json", key);
	if (path_in(c, name, path) < 0 || stat(path, &st) != 0)
		return dflt;
	return st.st_mtim.tv_sec;
}

/* Lists the cached copies; *ret is malloc'd.  Lock held. */
static int
list_victims(const struct lb_image_cache *c, struct victim **ret, size_t *n)
{
	struct victim *v = NULL, *nv;
	size_t cap = 0;
	struct dirent *de;
	struct entry e;
	struct stat st;
	DIR *d = opendir(c->dir);

	*n = 0;
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (!is_data_name(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
		    0 || !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = reallocarray(v, cap, sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		nv = &v[(*n)++];
		memset(nv, 0, sizeof(*nv));
		memcpy(nv->key, de->d_name, SHA_HEX);
		snprintf(nv->file, sizeof(nv->file), "%s", de->d_name);
		nv->size = (unsigned long long)st.st_size;
		nv->evictable = st.st_nlink == 1 &&
		    !busy(c, nv->key, nv->file);
		/* An index may name another copy of the key (a new one). */
		nv->indexed = false;
		if (load_index(c, nv->key, &e) == 0) {
			nv->indexed = strcmp(e.file, nv->file) == 0;
			entry_release(&e);
		}
		nv->used = nv->indexed ? last_used(c, nv->key,
		    st.st_mtim.tv_sec) : st.st_mtim.tv_sec;
	}
	closedir(d);
	*ret = v;
	return 0;
}

/* Index first: a crash in between leaves an orphan, removed next time. */
static void
drop_victim(const struct lb_image_cache *c, const struct victim *v)
{
	char name[SHA_HEX + 8], path[PATH_MAX];

	if (v->indexed) {
		snprintf(name, sizeof(name), "%s.json", v->key);
		if (path_in(c, name, path) == 0)
			(void)unlink(path);
	}
	if (path_in(c, v->file, path) == 0)
		(void)unlink(path);
}

/*
 * Ironic's clean-up of the master image cache: copies unused for longer
 * than the TTL go, then the least recently used ones until the cache fits
 * its size (which counts copies in use too).  A copy still linked into a
 * root (link count above 1), pinned or being fetched is never removed; an
 * unindexed copy (a crash, a URL's older version) goes whenever it is
 * unused.  Lock held.
 */
static void
evict(struct lb_image_cache *c)
{
	struct victim *v = NULL;
	unsigned long long total = 0;
	time_t now = time(NULL);
	size_t n, i, oldest;

	if (list_victims(c, &v, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (v[i].evictable && (!v[i].indexed || (c->ttl_s > 0 &&
		    now - v[i].used > c->ttl_s))) {
			drop_victim(c, &v[i]);
			v[i].size = 0;
			v[i].evictable = false;
		}
		total += v[i].size;
	}
	while (c->max_bytes > 0 && total > c->max_bytes) {
		oldest = n;
		for (i = 0; i < n; i++) {
			if (v[i].evictable && (oldest == n ||
			    v[i].used < v[oldest].used))
				oldest = i;
		}
		if (oldest == n)
			break;		/* the rest is in use */
		drop_victim(c, &v[oldest]);
		total -= v[oldest].size;
		v[oldest].evictable = false;
	}
	free(v);
}

/* A use of 'key': its index's mtime moves to now (the LRU clock). */
static void
touch_index(const struct lb_image_cache *c, const char *key)
{
	char name[SHA_HEX + 8], path[PATH_MAX];

	snprintf(name, sizeof(name), "%s.json", key);
	if (path_in(c, name, path) == 0)
		(void)utimensat(AT_FDCWD, path, NULL, 0);
}

/* ---- the public face ---- */

int
lb_image_cache_new(const char *dir, struct lb_image_cache **ret,
    struct lb_err *err)
{
	struct lb_image_cache *c;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (dir == NULL || dir[0] == '\0' ||
	    strlen(dir) > PATH_MAX - SHA_HEX - VHASH_HEX - 16)
		return lb_err_set(err, -EINVAL, "bad image cache directory");
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return lb_err_set(err, -EIO, "cannot initialise libcurl: %s",
		    curl_easy_strerror(curl_init_rc));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return lb_err_set(err, -EIO, "cannot create image cache "
		    "directory '%s': %s", dir, strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return lb_err_set(err, -EIO, "image cache '%s' is not a "
		    "directory", dir);
	d = opendir(dir);
	if (d == NULL)
		return lb_err_set(err, -EIO, "cannot read image cache "
		    "directory '%s': %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->dir = strdup(dir)) == NULL) {
		free(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	*ret = c;
	return 0;
}

void
lb_image_cache_free(struct lb_image_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	while (c->pins != NULL) {
		struct pin *p = c->pins;

		c->pins = p->next;
		free(p);
	}
	for (size_t i = 0; i < c->nallowed; i++)
		free(c->allowed[i]);
	free(c->allowed);
	free(c->dir);
	free(c);
}

int
lb_image_cache_configure(struct lb_image_cache *c,
    const struct lb_image_cache_opts *o, struct lb_err *err)
{
	char **allowed = calloc(o->nallowed + 1, sizeof(*allowed));

	if (allowed == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < o->nallowed; i++) {
		allowed[i] = strdup(o->allowed[i]);
		if (allowed[i] == NULL) {
			while (i > 0)
				free(allowed[--i]);
			free(allowed);
			return lb_err_set(err, -ENOMEM, "out of memory");
		}
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nallowed; i++)
		free(c->allowed[i]);
	free(c->allowed);
	c->allowed = allowed;
	c->nallowed = o->nallowed;
	c->max_bytes = o->max_bytes;
	c->ttl_s = o->ttl_s;
	evict(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int
lb_image_cache_check(struct lb_image_cache *c, const char *what,
    const char *href, char **ret_canonical, struct lb_err *err)
{
	struct href h;
	int r;

	pthread_mutex_lock(&c->lock);
	r = parse_allowed(c, href, what, &h, err);
	pthread_mutex_unlock(&c->lock);
	if (r == 0 && ret_canonical != NULL) {
		*ret_canonical = strdup(h.is_file ? h.real : h.safe);
		if (*ret_canonical == NULL)
			r = lb_err_set(err, -ENOMEM, "out of memory");
	}
	href_release(&h);
	return r;
}

void
lb_image_cache_unpin(struct lb_image_cache *c, const char *path)
{
	if (path == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	pin_drop(c, path);
	pthread_mutex_unlock(&c->lock);
}

void
lb_image_cache_clean(struct lb_image_cache *c)
{
	pthread_mutex_lock(&c->lock);
	evict(c);
	pthread_mutex_unlock(&c->lock);
}

unsigned long
lb_image_cache_downloads(const struct lb_image_cache *c)
{
	return __atomic_load_n(&c->downloads, __ATOMIC_RELAXED);
}

/* Drops a reference; lock held. */
static void
fetch_put(struct fetch *f)
{
	if (--f->refs == 0) {
		free(f->path);
		free(f);
	}
}

/* Runs a fetch as leader; returns the (referenced, done) fetch or NULL. */
static struct fetch *
lead(struct lb_image_cache *c, const struct href *h, const char *want)
{
	struct fetch *f = calloc(1, sizeof(*f)), **pp;

	if (f == NULL)
		return NULL;
	memcpy(f->key, h->key, sizeof(f->key));
	memcpy(f->want, want, sizeof(f->want));
	f->refs = 1;
	f->next = c->fetches;
	c->fetches = f;
	pthread_mutex_unlock(&c->lock);
	fetch_one(c, h, f);
	pthread_mutex_lock(&c->lock);
	for (pp = &c->fetches; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	f->done = true;
	/* Every caller that shares the fetch holds a pin until it unpins. */
	if (f->r == 0 && pin_add(c, f->path, f->refs) < 0) {
		f->r = lb_err_set(&f->err, -ENOMEM, "out of memory");
		free(f->path);
		f->path = NULL;
	}
	pthread_cond_broadcast(&c->cond);
	return f;
}

/* The outcome of a done fetch for a caller wanting 'want'; lock held. */
static int
outcome(struct lb_image_cache *c, const struct fetch *f,
    const struct href *h, const char *want, char **ret_path,
    struct lb_err *err)
{
	char *p;

	if (f->r < 0) {
		if (err != NULL)
			memcpy(err, &f->err, sizeof(*err));
		return f->r;
	}
	if (want[0] != '\0' && strcmp(want, f->sha) != 0) {
		pin_drop(c, f->path);
		return mismatch(h, want, f->sha, err);
	}
	p = strdup(f->path);
	if (p == NULL) {
		pin_drop(c, f->path);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	touch_index(c, f->key);
	*ret_path = p;
	return 0;
}

int
lb_image_cache_get(struct lb_image_cache *c, const char *href,
    const char *checksum, char **ret_path, struct lb_err *err)
{
	char want[SHA_HEX + 1];
	struct href h;
	struct fetch *f;
	int r;

	/* The checksum's form is checked before any I/O. */
	r = parse_href(href, &h, err);
	if (r == 0)
		r = parse_checksum(checksum, &h, want, err);
	if (r == 0 && h.is_file) {
		pthread_mutex_lock(&c->lock);
		r = resolve_file(c, &h, "image", err);
		pthread_mutex_unlock(&c->lock);
	}
	if (r < 0) {
		href_release(&h);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	for (;;) {
		for (f = c->fetches; f != NULL; f = f->next) {
			if (strcmp(f->key, h.key) == 0)
				break;
		}
		if (f == NULL) {
			f = lead(c, &h, want);
			if (f == NULL) {
				r = lb_err_set(err, -ENOMEM, "out of memory");
				break;
			}
		} else {
			f->refs++;
			while (!f->done)
				pthread_cond_wait(&c->cond, &c->lock);
			/* The leader's checksum was wrong; ours may not be. */
			if (f->mismatch && strcmp(f->want, want) != 0) {
				fetch_put(f);
				continue;
			}
		}
		r = outcome(c, f, &h, want, ret_path, err);
		fetch_put(f);
		break;
	}
	/* What was just fetched is pinned; older copies may have to go. */
	evict(c);
	pthread_mutex_unlock(&c->lock);
	href_release(&h);
	return r;
}

/* ---- placing ---- */

static int
copy_to_new(const char *src, const char *dst)
{
	int in, out, r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	r = copy_fd(in, out, NULL);
	if (close(out) != 0 && r == 0)
		r = -errno;
	close(in);
	if (r < 0)
		unlink(dst);
	return r;
}

int
lb_image_place(const char *cached, const char *dest, struct lb_err *err)
{
	static unsigned long seq;
	char tmp[PATH_MAX];
	struct stat cs, ds;
	bool linked = false;
	int r = -EEXIST;

	if (stat(cached, &cs) != 0)
		return lb_err_set(err, errno == ENOENT ? -ENOENT : -EIO,
		    "cannot place image at '%s': cached file '%s': %s", dest,
		    cached, strerror(errno));
	if (!S_ISREG(cs.st_mode))
		return lb_err_set(err, -EINVAL, "cannot place image at '%s': "
		    "'%s' is not a regular file", dest, cached);
	if (lstat(dest, &ds) == 0 && ds.st_dev == cs.st_dev &&
	    ds.st_ino == cs.st_ino)
		return 0;	/* rename() would keep the temporary name */
	for (int i = 0; i < 100 && r == -EEXIST; i++) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.lbtmp.%ld.%lu", dest,
		    (long)getpid(), __atomic_fetch_add(&seq, 1,
		    __ATOMIC_RELAXED)) >= sizeof(tmp))
			return lb_err_set(err, -EINVAL, "image destination "
			    "'%s' is too long", dest);
		r = link(cached, tmp) == 0 ? 0 : -errno;
		linked = r == 0;
		if (r == -EXDEV || r == -EMLINK || r == -EPERM ||
		    r == -EOPNOTSUPP)
			r = copy_to_new(cached, tmp);
	}
	if (r < 0)
		return lb_err_set(err, -EIO, "cannot place image '%s' at '%s': "
		    "%s", cached, dest, strerror(-r));
	if (rename(tmp, dest) != 0) {
		r = -errno;
		unlink(tmp);
		return lb_err_set(err, -EIO, "cannot place image at '%s': %s",
		    dest, strerror(-r));
	}
	/* A racing placement of the same inode leaves tmp behind. */
	if (linked && lstat(tmp, &ds) == 0)
		unlink(tmp);
	return 0;
}
