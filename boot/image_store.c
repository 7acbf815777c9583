/*
 * image_store.c - the cache directory: temporary files, one JSON index per
 * URL (its mtime is the last use), pins on handed-out files, and eviction
 * by size and age.  Any thread; pins and eviction run under the cache's
 * lock.
 */
#include "boot/image_cache_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conductor/util/banned.h"

int
lb_img_path_in(const struct lb_image_cache *c, const char *name, char *buf)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", c->dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

void
lb_img_unlink_tmp(char *path)
{
	if (path[0] != '\0')
		(void)unlink(path);
	path[0] = '\0';
}

/* ---- the index: <key>.json ---- */

void
lb_img_entry_release(struct lb_img_entry *e)
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
	if (!json_is_string(v) ||
	    !lb_img_is_clean(json_string_value(v), true)) {
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
int
lb_img_load_index(const struct lb_image_cache *c, const char *key,
    struct lb_img_entry *e)
{
	char path[PATH_MAX], name[SHA_HEX + 8];
	const char *sha;
	json_int_t size, mtime_ns;
	json_t *o;
	struct stat st;
	bool ok = true;

	memset(e, 0, sizeof(*e));
	snprintf(name, sizeof(name), "%s.json", key);
	if (lb_img_path_in(c, name, path) < 0)
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
	ok = ok && sha != NULL && lb_img_is_hex(sha, SHA_HEX) &&
	    e->file != NULL &&
	    strlen(e->file) == SHA_HEX + 1 + VHASH_HEX &&
	    strncmp(e->file, key, SHA_HEX) == 0 && e->file[SHA_HEX] == '-' &&
	    lb_img_is_hex(e->file + SHA_HEX + 1, VHASH_HEX) &&
	    lb_img_path_in(c, e->file, path) == 0 && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size == size &&
	    (json_int_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec == mtime_ns;
	if (ok)
		snprintf(e->sha, sizeof(e->sha), "%s", sha);
	json_decref(o);
	if (!ok) {
		lb_img_entry_release(e);
		return -ESTALE;
	}
	return 0;
}

int
lb_img_make_temp(const struct lb_image_cache *c, char path[PATH_MAX],
    mode_t mode)
{
	int fd;

	if (lb_img_path_in(c, TMP_PREFIX "XXXXXX", path) < 0)
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

int
lb_img_save_index(const struct lb_image_cache *c, const struct lb_img_href *h,
    const char *file, const struct lb_img_fresh *nw, const struct stat *st)
{
	char tmp[PATH_MAX], path[PATH_MAX], name[SHA_HEX + 8];
	json_t *o;
	int fd, r = 0;

	snprintf(name, sizeof(name), "%s.json", h->key);
	if (lb_img_path_in(c, name, path) < 0)
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
	fd = lb_img_make_temp(c, tmp, 0600);
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

/* ---- pins and eviction ---- */

/* Lock held.  0, or -ENOMEM. */
int
lb_img_pin_add(struct lb_image_cache *c, const char *path, unsigned int n)
{
	struct lb_img_pin *p;

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
void
lb_img_pin_drop(struct lb_image_cache *c, const char *path)
{
	struct lb_img_pin **pp, *p;

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

	for (const struct lb_img_fetch *f = c->fetches; f != NULL;
	    f = f->next) {
		if (strncmp(f->key, key, SHA_HEX) == 0)
			return true;
	}
	if (lb_img_path_in(c, name, path) < 0)
		return true;
	for (const struct lb_img_pin *p = c->pins; p != NULL; p = p->next) {
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
	    SHA_HEX && lb_img_is_hex(name + SHA_HEX + 1, VHASH_HEX);
}

/* The index's mtime says when the copy it names was last handed out. */
static time_t
last_used(const struct lb_image_cache *c, const char *key, time_t dflt)
{
	char name[SHA_HEX + 8], path[PATH_MAX];
	struct stat st;

	snprintf(name, sizeof(name), "%s.json", key);
	if (lb_img_path_in(c, name, path) < 0 || stat(path, &st) != 0)
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
	struct lb_img_entry e;
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
		if (lb_img_load_index(c, nv->key, &e) == 0) {
			nv->indexed = strcmp(e.file, nv->file) == 0;
			lb_img_entry_release(&e);
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
		if (lb_img_path_in(c, name, path) == 0)
			(void)unlink(path);
	}
	if (lb_img_path_in(c, v->file, path) == 0)
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
void
lb_img_evict(struct lb_image_cache *c)
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
void
lb_img_touch_index(const struct lb_image_cache *c, const char *key)
{
	char name[SHA_HEX + 8], path[PATH_MAX];

	snprintf(name, sizeof(name), "%s.json", key);
	if (lb_img_path_in(c, name, path) == 0)
		(void)utimensat(AT_FDCWD, path, NULL, 0);
}

