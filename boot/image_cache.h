/*
 * image_cache.h - fetches rescue kernels and ramdisks (file://, http://,
 * https://) into a local cache keyed by URL and validator, verifies their
 * checksums, and hard-links them into place.  Any thread: concurrent gets
 * of one URL share a single fetch.
 */
#ifndef LB_IMAGE_CACHE_H
#define LB_IMAGE_CACHE_H

#include <stddef.h>

#include "conductor/util/err.h"

/* Images larger than this are refused. */
#define LB_IMAGE_MAX_SIZE (4ULL << 30)

struct lb_image_cache;

/*
 * dir: the cache directory (created 0700 if missing; its parent must
 * exist).  Leftover temporary files of an earlier run are removed.
 */
int lb_image_cache_new(const char *dir, struct lb_image_cache **ret,
    struct lb_err *err);
/* Accepts NULL.  No get may be running. */
void lb_image_cache_free(struct lb_image_cache *c);

struct lb_image_cache_opts {
	/*
	 * [conductor] file_url_allowed_paths: the only directories file://
	 * hrefs may resolve into (borrowed; copied).  None: file:// is
	 * refused.
	 */
	char *const *allowed;
	size_t nallowed;
	unsigned long long max_bytes;	/* [pxe] image_cache_size; 0: none */
	long long ttl_s;		/* [pxe] image_cache_ttl; 0: none */
};

/*
 * Sets the allowed file:// directories and the limits, then evicts what
 * the limits say must go.  Call before any get.
 */
int lb_image_cache_configure(struct lb_image_cache *c,
    const struct lb_image_cache_opts *o, struct lb_err *err);

/*
 * The check lb_image_cache_get() makes before any I/O, for the API to
 * refuse a bad href up front; 'what' names it in messages
 * ("rescue_kernel").  One parser for both: the scheme is case-insensitive,
 * file:// takes no host but "localhost", its path is percent-decoded, must
 * lie below an allowed directory as written ("." and ".." resolved as
 * text) and again after realpath(3), and only that canonical path is ever
 * opened (with no symlink followed).  http(s):// is checked for form only.
 * ret_canonical (NULL: not wanted) gets the canonical path of a file://
 * href, or the shown form of an http(s) one; the caller frees it.
 * -EINVAL when refused, -ENOENT when the file does not exist.
 */
int lb_image_cache_check(struct lb_image_cache *c, const char *what,
    const char *href, char **ret_canonical, struct lb_err *err);

/*
 * Makes sure 'href' is in the cache and returns the path of the cached
 * file in ret_path (malloc'd; the caller frees it), pinned: eviction leaves
 * it alone until lb_image_cache_unpin(), so the caller can link it into
 * place first.  A file linked into place (link count above 1) is never
 * evicted either.  Each get may evict copies of other URLs: first those
 * unused for longer than the TTL, then the least recently used ones while
 * the cache is larger than its size.  'checksum' is NULL or
 * "sha256:<64 hex>" (also accepted: a bare 64-hex string); on mismatch a
 * freshly fetched file is not kept and -EINVAL says "checksum mismatch for
 * image '<safe url>': expected <first 12 hex>..., got <first 12>...".
 *
 * file:// reads the local file (checked as lb_image_cache_check() says;
 * it must be a regular file) and
 * copies it into the cache, again only when its size, mtime or inode
 * changed.  http(s):// downloads with libcurl (TLS verified, bounded in
 * time and size, at most 5 redirects), conditionally (If-None-Match,
 * If-Modified-Since) when a cached copy exists; a 304 keeps it, a new
 * validator lands under a new name and the older copy of that URL is
 * removed once nobody holds it (pinned or linked).  Cached files are
 * 0644 so that servers can read placed links.
 *
 * Errors: -EINVAL for a malformed href, an unsupported scheme, a relative
 * path or a malformed checksum (checked before any I/O); -ENOENT for a
 * missing file or HTTP 404/410; -EHOSTUNREACH or -ETIMEDOUT for connection
 * problems; -EIO otherwise.  Messages show the URL as scheme://host/path
 * only, never its userinfo or query.
 */
int lb_image_cache_get(struct lb_image_cache *c, const char *href,
    const char *checksum, char **ret_path, struct lb_err *err);

/* Gives back a path lb_image_cache_get() returned (NULL: nothing). */
void lb_image_cache_unpin(struct lb_image_cache *c, const char *path);

/* Evicts what the limits say must go now (a get does it too). */
void lb_image_cache_clean(struct lb_image_cache *c);

/*
 * Hard-links the cached file at 'cached' to 'dest' (replacing it atomically
 * via a temporary name in dest's directory + rename); copies when the link
 * fails with EXDEV (or the file system has no hard links).
 */
int lb_image_place(const char *cached, const char *dest, struct lb_err *err);

/*
 * How many network downloads (HTTP 200 replies) this cache has started;
 * 304 replies and file:// copies do not count.
 */
unsigned long lb_image_cache_downloads(const struct lb_image_cache *c);

#endif
