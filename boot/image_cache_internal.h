/*
 * image_cache_internal.h - what the image cache's files share and nobody
 * else sees: the cache, one fetch, a parsed href, an index entry, a fresh
 * file, a pin, and the calls between image_cache.c (public face),
 * image_href.c (hrefs, checksums), image_store.c (index, pins, eviction)
 * and image_fetch.c (one URL into the cache).  Any thread.
 */
#ifndef LB_IMAGE_CACHE_INTERNAL_H
#define LB_IMAGE_CACHE_INTERNAL_H

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "boot/image_cache.h"

#define HREF_MAX 4096
#define SHA_HEX 64
#define VHASH_HEX 16		/* validator hash in file names */
#define VALIDATOR_MAX 512	/* ETag, Last-Modified */
#define SHOW_HEX 12		/* digest prefix in mismatch messages */
#define TMP_PREFIX ".tmp-"
#define CONNECT_TIMEOUT_S 10L
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_TIME_S 30L
#define TOTAL_TIMEOUT_S 1800L
#define MAX_REDIRS 5L
#define N_SECRETS 3

/* One fetch of one URL; the leader fills it in, waiters read it once done. */
struct lb_img_fetch {
	struct lb_img_fetch *next;
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
	struct lb_img_fetch *fetches;	/* in flight, guarded by lock */
	struct lb_img_pin *pins;	/* handed-out paths, guarded by lock */
	unsigned long long max_bytes;	/* 0: no size limit */
	long long ttl_s;		/* 0: no age limit */
	unsigned long downloads; /* atomic */
};

struct lb_img_href {
	const char *raw;	/* borrowed */
	bool is_file;
	char *path;		/* file://: the percent-decoded path */
	char *real;		/* file://: its canonical path, once allowed */
	char *secrets[N_SECRETS]; /* http: user, password, query (curl's) */
	char safe[HREF_MAX + 16]; /* scheme://host[:port]/path */
	char key[SHA_HEX + 1];
};

/* What the index says about the cached copy of one URL. */
struct lb_img_entry {
	char *file;
	char *etag;
	char *last_modified;
	char *validator;	/* file:// sources */
	char sha[SHA_HEX + 1];
};

/* A fetched file not yet in the cache. */
struct lb_img_fresh {
	char tmp[PATH_MAX];
	char sha[SHA_HEX + 1];
	char validator[VALIDATOR_MAX * 2 + 16];
	char etag[VALIDATOR_MAX];
	char last_modified[VALIDATOR_MAX];
	bool have;
};

/*
 * A cached file handed out by lb_image_cache_get() and not yet given back:
 * between the fetch and the hard link into tftp_root or http_root its link
 * count is 1, and only the pin keeps eviction off it.
 */
struct lb_img_pin {
	struct lb_img_pin *next;
	unsigned int n;
	char path[];
};

/* image_href.c */

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void lb_img_hex(const unsigned char *d, size_t n, char *out);
void lb_img_sha256_hex(const char *s, char out[SHA_HEX + 1]);
/* s is exactly n hex digits. */
bool lb_img_is_hex(const char *s, size_t n);
/* Printable ASCII (spaces only if allow_space): hrefs and headers. */
bool lb_img_is_clean(const char *s, bool allow_space);
void lb_img_href_release(struct lb_img_href *h);
/* Form only: scheme, host, path; h->key from the raw href. */
int lb_img_parse_href(const char *raw, struct lb_img_href *h,
    struct lb_err *err);
/* file:// below an allowed directory; lock held. */
int lb_img_resolve_file(const struct lb_image_cache *c, struct lb_img_href *h,
    const char *what, struct lb_err *err);
/* parse_href, then resolve_file for file://; lock held. */
int lb_img_parse_allowed(const struct lb_image_cache *c, const char *raw,
    const char *what, struct lb_img_href *h, struct lb_err *err);
/* "" for none; else 64 lower-case hex digits in want. */
int lb_img_parse_checksum(const char *checksum, const struct lb_img_href *h,
    char want[SHA_HEX + 1], struct lb_err *err);
/* -EINVAL with the "checksum mismatch" message. */
int lb_img_mismatch(const struct lb_img_href *h, const char *want,
    const char *got, struct lb_err *err);

/* image_store.c */

/* <dir>/<name> into buf (PATH_MAX).  0 or -ENAMETOOLONG. */
int lb_img_path_in(const struct lb_image_cache *c, const char *name,
    char *buf);
/* Removes a temporary file once; the name is forgotten. */
void lb_img_unlink_tmp(char *path);
void lb_img_entry_release(struct lb_img_entry *e);
int lb_img_load_index(const struct lb_image_cache *c, const char *key,
    struct lb_img_entry *e);
/* A new temporary file in the cache directory; its fd or -errno. */
int lb_img_make_temp(const struct lb_image_cache *c, char path[PATH_MAX],
    mode_t mode);
int lb_img_save_index(const struct lb_image_cache *c,
    const struct lb_img_href *h, const char *file,
    const struct lb_img_fresh *nw, const struct stat *st);
/* Lock held. */
int lb_img_pin_add(struct lb_image_cache *c, const char *path,
    unsigned int n);
void lb_img_pin_drop(struct lb_image_cache *c, const char *path);
/* Removes what the limits say must go; lock held. */
void lb_img_evict(struct lb_image_cache *c);
/* A use of 'key': its index's mtime moves to now (the LRU clock). */
void lb_img_touch_index(const struct lb_image_cache *c, const char *key);

/* image_fetch.c */

/* The leader's work for one URL: fetch, verify, store; fills f in. */
void lb_img_fetch_one(struct lb_image_cache *c, const struct lb_img_href *h,
    struct lb_img_fetch *f);

#endif
