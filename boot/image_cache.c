/*
 * image_cache.c - the public face of the image cache: set-up and limits,
 * the href check for the API, gets that share one fetch per URL among
 * their callers, and placement by hard link.  Any thread: 'lock' guards
 * the fetches in flight, the pins and eviction; one fetch per URL runs at
 * a time and its waiters share the result.
 */
#include "boot/boot_common.h"
#include "boot/image_cache_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor/util/http_client.h"

#include "conductor/util/banned.h"

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
	if (lb_http_global_init() < 0)
		return lb_err_set(err, -EIO, "cannot initialise libcurl");
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
		struct lb_img_pin *p = c->pins;

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
	lb_img_evict(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int
lb_image_cache_check(struct lb_image_cache *c, const char *what,
    const char *href, char **ret_canonical, struct lb_err *err)
{
	struct lb_img_href h;
	int r;

	pthread_mutex_lock(&c->lock);
	r = lb_img_parse_allowed(c, href, what, &h, err);
	pthread_mutex_unlock(&c->lock);
	if (r == 0 && ret_canonical != NULL) {
		*ret_canonical = strdup(h.is_file ? h.real : h.safe);
		if (*ret_canonical == NULL)
			r = lb_err_set(err, -ENOMEM, "out of memory");
	}
	lb_img_href_release(&h);
	return r;
}

void
lb_image_cache_unpin(struct lb_image_cache *c, const char *path)
{
	if (path == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	lb_img_pin_drop(c, path);
	pthread_mutex_unlock(&c->lock);
}

void
lb_image_cache_clean(struct lb_image_cache *c)
{
	pthread_mutex_lock(&c->lock);
	lb_img_evict(c);
	pthread_mutex_unlock(&c->lock);
}

unsigned long
lb_image_cache_downloads(const struct lb_image_cache *c)
{
	return __atomic_load_n(&c->downloads, __ATOMIC_RELAXED);
}

/* Drops a reference; lock held. */
static void
fetch_put(struct lb_img_fetch *f)
{
	if (--f->refs == 0) {
		free(f->path);
		free(f);
	}
}

/* Runs a fetch as leader; returns the (referenced, done) fetch or NULL. */
static struct lb_img_fetch *
lead(struct lb_image_cache *c, const struct lb_img_href *h, const char *want)
{
	struct lb_img_fetch *f = calloc(1, sizeof(*f)), **pp;

	if (f == NULL)
		return NULL;
	memcpy(f->key, h->key, sizeof(f->key));
	memcpy(f->want, want, sizeof(f->want));
	f->refs = 1;
	f->next = c->fetches;
	c->fetches = f;
	pthread_mutex_unlock(&c->lock);
	lb_img_fetch_one(c, h, f);
	pthread_mutex_lock(&c->lock);
	for (pp = &c->fetches; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	f->done = true;
	/* Every caller that shares the fetch holds a pin until it unpins. */
	if (f->r == 0 && lb_img_pin_add(c, f->path, f->refs) < 0) {
		f->r = lb_err_set(&f->err, -ENOMEM, "out of memory");
		free(f->path);
		f->path = NULL;
	}
	pthread_cond_broadcast(&c->cond);
	return f;
}

/* The outcome of a done fetch for a caller wanting 'want'; lock held. */
static int
outcome(struct lb_image_cache *c, const struct lb_img_fetch *f,
    const struct lb_img_href *h, const char *want, char **ret_path,
    struct lb_err *err)
{
	char *p;

	if (f->r < 0) {
		if (err != NULL)
			memcpy(err, &f->err, sizeof(*err));
		return f->r;
	}
	if (want[0] != '\0' && strcmp(want, f->sha) != 0) {
		lb_img_pin_drop(c, f->path);
		return lb_img_mismatch(h, want, f->sha, err);
	}
	p = strdup(f->path);
	if (p == NULL) {
		lb_img_pin_drop(c, f->path);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	lb_img_touch_index(c, f->key);
	*ret_path = p;
	return 0;
}

int
lb_image_cache_get(struct lb_image_cache *c, const char *href,
    const char *checksum, char **ret_path, struct lb_err *err)
{
	char want[SHA_HEX + 1];
	struct lb_img_href h;
	struct lb_img_fetch *f;
	int r;

	/* The checksum's form is checked before any I/O. */
	r = lb_img_parse_href(href, &h, err);
	if (r == 0)
		r = lb_img_parse_checksum(checksum, &h, want, err);
	if (r == 0 && h.is_file) {
		pthread_mutex_lock(&c->lock);
		r = lb_img_resolve_file(c, &h, "image", err);
		pthread_mutex_unlock(&c->lock);
	}
	if (r < 0) {
		lb_img_href_release(&h);
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
	lb_img_evict(c);
	pthread_mutex_unlock(&c->lock);
	lb_img_href_release(&h);
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
	r = lb_boot_copy_fd(in, out, LB_IMAGE_MAX_SIZE, NULL, NULL);
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
