/*
 * image_href.c - the one parser of image hrefs (file://, http://,
 * https://), the file:// policy (below an allowed directory as written and
 * after realpath, canonical path only), checksums, and the hex helpers.
 * Any thread; resolve_file reads the cache's allowed list under its lock.
 */
#include "boot/image_cache_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

void
lb_img_hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void
lb_img_sha256_hex(const char *s, char out[SHA_HEX + 1])
{
	unsigned char d[32];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
	lb_img_hex(d, sizeof(d), out);
}

bool
lb_img_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL ||
		    s[i] == '\0')
			return false;
	}
	return s[n] == '\0';
}

bool
lb_img_is_clean(const char *s, bool allow_space)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    (*s == ' ' && !allow_space))
			return false;
	}
	return true;
}

/* ---- hrefs and checksums ---- */

void
lb_img_href_release(struct lb_img_href *h)
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
parse_file_href(struct lb_img_href *h, const char *rest, struct lb_err *err)
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
parse_http_href(struct lb_img_href *h, const char *scheme, struct lb_err *err)
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

int
lb_img_parse_href(const char *raw, struct lb_img_href *h, struct lb_err *err)
{
	const char *sep;
	char scheme[8];
	size_t n;

	memset(h, 0, sizeof(*h));
	h->raw = raw;
	if (raw == NULL || raw[0] == '\0')
		return lb_err_set(err, -EINVAL, "no image href given");
	if (strlen(raw) > HREF_MAX || !lb_img_is_clean(raw, false))
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
	lb_img_sha256_hex(raw, h->key);
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
int
lb_img_resolve_file(const struct lb_image_cache *c, struct lb_img_href *h,
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
	lb_img_sha256_hex(keyed, h->key);
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
int
lb_img_parse_allowed(const struct lb_image_cache *c, const char *raw,
    const char *what, struct lb_img_href *h, struct lb_err *err)
{
	int r = lb_img_parse_href(raw, h, err);

	if (r == 0 && h->is_file)
		r = lb_img_resolve_file(c, h, what, err);
	return r;
}

/* "" for none; else 64 lower-case hex digits in want. */
int
lb_img_parse_checksum(const char *checksum, const struct lb_img_href *h,
    char want[SHA_HEX + 1], struct lb_err *err)
{
	const char *d = checksum;

	want[0] = '\0';
	if (checksum == NULL || checksum[0] == '\0')
		return 0;
	if (strncasecmp(d, "sha256:", 7) == 0)
		d += 7;
	if (!lb_img_is_hex(d, SHA_HEX))
		return lb_err_set(err, -EINVAL, "malformed checksum for image "
		    "'%s': expected sha256:<64 hex digits>", h->safe);
	for (size_t i = 0; i <= SHA_HEX; i++)
		want[i] = (char)(d[i] >= 'A' && d[i] <= 'F' ? d[i] | 0x20 :
		    d[i]);
	return 0;
}

int
lb_img_mismatch(const struct lb_img_href *h, const char *want, const char *got,
    struct lb_err *err)
{
	return lb_err_set(err, -EINVAL, "checksum mismatch for image '%s': "
	    "expected %.*s..., got %.*s...", h->safe, SHOW_HEX, want,
	    SHOW_HEX, got);
}

