/*
 * image_fetch.c - one URL into the cache: file:// copies of the canonical
 * path, HTTP(S) downloads through the libcurl helper (conditional when a
 * copy exists), sha256 as it streams, checksum check and commit under the
 * validator's name.  Runs on the thread leading the fetch of that URL,
 * without the cache's lock.
 */
#include "boot/boot_common.h"
#include "boot/image_cache_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conductor/util/http_client.h"

#include "conductor/util/banned.h"

/* ---- fetching ---- */

/* lb_boot_copy_fd's 'each': the chunk into the digest. */
static void
digest_chunk(void *arg, const char *buf, size_t n)
{
	EVP_DigestUpdate(arg, buf, n);
}

static void
finish_sha(EVP_MD_CTX *md, char out[SHA_HEX + 1])
{
	unsigned char d[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(md, d, &n);
	lb_img_hex(d, sizeof(d), out);
}

/*
 * Opens the canonical path checked by lb_img_resolve_file(), following no
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
fetch_file(const struct lb_image_cache *c, const struct lb_img_href *h,
    const struct lb_img_entry *old, struct lb_img_fresh *nw, struct lb_err *err)
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
	out = lb_img_make_temp(c, nw->tmp, 0644);
	md = EVP_MD_CTX_new();
	if (out < 0 || md == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		r = lb_err_set(err, -EIO, "cannot create image cache file in "
		    "'%s': %s", c->dir, strerror(out < 0 ? -out : ENOMEM));
		goto out;
	}
	r = lb_boot_copy_fd(fd, out, LB_IMAGE_MAX_SIZE, digest_chunk, md);
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
		lb_img_unlink_tmp(nw->tmp);
	close(fd);
	return r;
}

struct xfer {
	struct lb_image_cache *c;
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
		if (!lb_img_is_clean(out, true))
			out[0] = '\0';
	}
}

static bool
header_cb(struct lb_http *http, void *data, const char *line, size_t len)
{
	struct xfer *x = data;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 1xx). */
		x->etag[0] = x->last_modified[0] = '\0';
		x->headers_done = x->in_body = false;
	} else if ((len == 2 && line[0] == '\r') || (len == 1 &&
	    line[0] == '\n')) {
		if (x->headers_done)
			return true;	/* trailers */
		x->headers_done = true;
		if (lb_http_status(http) == 200) {
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
	return true;
}

static bool
write_cb(void *arg, const char *data, size_t len)
{
	struct xfer *x = arg;
	int r;

	if (!x->in_body)
		return true;	/* the body of a redirect or an error */
	if (x->bytes + len > LB_IMAGE_MAX_SIZE) {
		x->too_big = true;
		return false;
	}
	if ((r = lb_boot_write_all(x->fd, data, len)) < 0) {
		x->write_errno = -r;
		return false;
	}
	EVP_DigestUpdate(x->md, data, len);
	x->bytes += len;
	return true;
}

static int
transfer_error(const struct lb_img_href *h, const struct xfer *x,
    const struct lb_http_reply *rp, struct lb_err *err)
{
	if (x->too_big || rp->fail == LB_HTTP_TOO_LARGE)
		return lb_err_set(err, -EIO, "image '%s' is larger than 4 GiB",
		    h->safe);
	if (x->write_errno != 0)
		return lb_err_set(err, -EIO, "cannot write the image cache "
		    "file for '%s': %s", h->safe, strerror(x->write_errno));
	switch (rp->fail) {
	case LB_HTTP_CONNECT:
		return lb_err_set(err, -EHOSTUNREACH, "cannot reach the server "
		    "of image '%s': %s", h->safe, rp->why);
	case LB_HTTP_TIMEOUT:
		return lb_err_set(err, -ETIMEDOUT, "timed out fetching image "
		    "'%s': %s", h->safe, rp->why);
	case LB_HTTP_REDIRECTS:
		return lb_err_set(err, -EIO, "cannot fetch image '%s': more "
		    "than %ld redirects", h->safe, MAX_REDIRS);
	default:
		return lb_err_set(err, -EIO, "cannot fetch image '%s': %s",
		    h->safe, rp->why);
	}
}

/* If-None-Match and If-Modified-Since from the cached copy, if any. */
static void
conditional_headers(const struct lb_img_entry *old, const char **hdrs,
    char lines[2][VALIDATOR_MAX + 32])
{
	size_t n = 0;

	if (old != NULL && old->etag != NULL &&
	    strlen(old->etag) < VALIDATOR_MAX) {
		snprintf(lines[0], sizeof(lines[0]), "If-None-Match: %s",
		    old->etag);
		hdrs[n++] = lines[0];
	}
	if (old != NULL && old->last_modified != NULL &&
	    strlen(old->last_modified) < VALIDATOR_MAX) {
		snprintf(lines[1], sizeof(lines[1]), "If-Modified-Since: %s",
		    old->last_modified);
		hdrs[n++] = lines[1];
	}
	hdrs[n] = NULL;
}

/* What the final HTTP status means, once the transfer itself worked. */
static int
http_status(const struct lb_image_cache *c, const struct lb_img_href *h,
    const struct lb_img_entry *old, const struct xfer *x, long status,
    struct lb_img_fresh *nw, struct lb_err *err)
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
fetch_http(struct lb_image_cache *c, const struct lb_img_href *h,
    const struct lb_img_entry *old, struct lb_img_fresh *nw, struct lb_err *err)
{
	struct xfer x = { .c = c, .fd = -1 };
	char lines[2][VALIDATOR_MAX + 32];
	const char *hdrs[3];
	struct lb_http_request rq = {
		.url = h->raw,
		.headers = hdrs,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.timeout_s = TOTAL_TIMEOUT_S,
		.low_speed_bytes = LOW_SPEED_BYTES,
		.low_speed_time_s = LOW_SPEED_TIME_S,
		.verify = true,
		.max_redirs = MAX_REDIRS,
		.max_file_size = LB_IMAGE_MAX_SIZE,
		.user_agent = "lifeboat",
		.write = write_cb,
		.header = header_cb,
		.ctx = &x,
		.secrets = { h->secrets[0], h->secrets[1], h->secrets[2] },
	};
	struct lb_http_reply rp = { .body = { .data = NULL } };
	struct lb_http *http = NULL;
	int r;

	x.md = EVP_MD_CTX_new();
	conditional_headers(old, hdrs, lines);
	if (lb_http_new(&http) < 0 || x.md == NULL ||
	    EVP_DigestInit_ex(x.md, EVP_sha256(), NULL) != 1) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	x.fd = lb_img_make_temp(c, nw->tmp, 0644);
	if (x.fd < 0) {
		r = lb_err_set(err, -EIO, "cannot create image cache file in "
		    "'%s': %s", c->dir, strerror(-x.fd));
		goto out;
	}
	if (lb_http_perform(http, &rq, &rp) < 0)
		r = transfer_error(h, &x, &rp, err);
	else
		r = http_status(c, h, old, &x, rp.status, nw, err);
out:
	if (x.fd >= 0)
		close(x.fd);
	if (r < 0 || !nw->have)
		lb_img_unlink_tmp(nw->tmp);
	lb_buf_release(&rp.body);
	lb_http_free(http);
	EVP_MD_CTX_free(x.md);
	return r;
}

/* Moves a fresh file into place under its validator's name and indexes it. */
static int
commit(struct lb_image_cache *c, const struct lb_img_href *h,
    struct lb_img_fresh *nw, char *name, struct lb_err *err)
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
	lb_img_sha256_hex(v, vhash);
	snprintf(name, SHA_HEX + VHASH_HEX + 2, "%s-%.*s", h->key, VHASH_HEX,
	    vhash);
	r = lb_img_path_in(c, name, path);
	if (r == 0 && rename(nw->tmp, path) != 0)
		r = -errno;
	if (r < 0) {
		lb_img_unlink_tmp(nw->tmp);
		return lb_err_set(err, -EIO, "cannot store image '%s' in the "
		    "cache: %s", h->safe, strerror(-r));
	}
	nw->tmp[0] = '\0';
	if (stat(path, &st) != 0)
		r = -errno;
	else
		r = lb_img_save_index(c, h, name, nw, &st);
	if (r < 0) {
		/* No half entry: a copy without its index is not kept. */
		(void)unlink(path);
		return lb_err_set(err, -EIO, "cannot write the image cache "
		    "index for '%s': %s", h->safe, strerror(-r));
	}
	/* An older copy of the URL is now unindexed: eviction removes it. */
	return 0;
}

/* The leader's work for one URL: fetch, verify, store; fills f in. */
void
lb_img_fetch_one(struct lb_image_cache *c, const struct lb_img_href *h,
    struct lb_img_fetch *f)
{
	struct lb_img_entry old;
	struct lb_img_fresh nw = { .have = false };
	char name[SHA_HEX + VHASH_HEX + 2], path[PATH_MAX];
	bool have_old = lb_img_load_index(c, h->key, &old) == 0;
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
		lb_img_unlink_tmp(nw.tmp);
		f->mismatch = true;
		r = lb_img_mismatch(h, f->want, sha, &f->err);
		goto out;
	}
	if (nw.have)
		r = commit(c, h, &nw, name, &f->err);
	else
		snprintf(name, sizeof(name), "%s", old.file);
	if (r == 0 && lb_img_path_in(c, name, path) < 0)
		r = lb_err_set(&f->err, -EIO, "image cache path too long");
	if (r == 0 && (f->path = strdup(path)) == NULL)
		r = lb_err_set(&f->err, -ENOMEM, "out of memory");
	if (r == 0)
		snprintf(f->sha, sizeof(f->sha), "%s", sha);
out:
	if (have_old)
		lb_img_entry_release(&old);
	f->r = r;
}

