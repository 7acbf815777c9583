/*
 * test_image_cache.c - the rescue image cache (boot/image_cache.c): file://
 * and http:// fetches, checksums, conditional requests, one download for
 * many threads, and placement.  HTTP comes from a small server on a thread
 * of this process, bound to 127.0.0.1 on an ephemeral port.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot/image_cache.h"

#include "conductor/util/banned.h"

#define N_RES 8
#define N_THREADS 20
#define REQ_MAX 8192
#define WAIT_S 30

/* ---- a tiny HTTP/1.1 server with ETag, Last-Modified and 304 ---- */

struct res {
	char path[64];
	char *body;
	size_t len;
	char etag[64];
	char last_modified[64];
	int status;		/* 200, 302 (to location) or 500 */
	char location[128];
};

struct server {
	int fd;
	int port;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct res res[N_RES];
	size_t nres;
	/* The request log: */
	unsigned int requests, n200, n304, n404;
	char inm[128];		/* If-None-Match of the last request */
	char ims[128];		/* If-Modified-Since of the last request */
	/* The gate: while hold, a 200's body waits. */
	bool hold, holding;
};

struct fixture {
	char root[256];		/* removed at the end */
	char dir[300];		/* the cache */
	struct lb_image_cache *cache;
	struct server srv;
	bool have_srv;
};

static void
deadline_in(struct timespec *ts, int s)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += s;
}

static void
header_of(const char *req, const char *name, char *out, size_t size)
{
	char pat[64];
	const char *v, *end;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	v = strcasestr(req, pat);
	if (v == NULL)
		return;
	v += strlen(pat);
	while (*v == ' ')
		v++;
	end = strstr(v, "\r\n");
	if (end != NULL && (size_t)(end - v) < size) {
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
	}
}

static void
send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Reads one request head; false on EOF, error or 10 s of silence. */
static bool
read_request(int fd, char *req)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	while (len < REQ_MAX - 1) {
		if (poll(&pfd, 1, 10000) <= 0)
			return false;
		n = recv(fd, req + len, REQ_MAX - 1 - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			return true;
	}
	return false;
}

static void
serve(struct server *s, int fd)
{
	char req[REQ_MAX], path[128] = "", head[512], *body = NULL;
	struct res *r = NULL;
	struct timespec dl;
	size_t len = 0;
	int status = 404;

	if (!read_request(fd, req) ||
	    sscanf(req, "GET %127[^? ]", path) != 1)
		return;
	pthread_mutex_lock(&s->lock);
	s->requests++;
	header_of(req, "If-None-Match", s->inm, sizeof(s->inm));
	header_of(req, "If-Modified-Since", s->ims, sizeof(s->ims));
	for (size_t i = 0; i < s->nres; i++) {
		if (strcmp(s->res[i].path, path) == 0)
			r = &s->res[i];
	}
	if (r != NULL && r->status != 200) {
		status = r->status;
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nLocation: %s\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n", status,
		    r->location);
	} else if (r != NULL && ((r->etag[0] != '\0' &&
	    strcmp(s->inm, r->etag) == 0) || (r->etag[0] == '\0' &&
	    r->last_modified[0] != '\0' &&
	    strcmp(s->ims, r->last_modified) == 0))) {
		status = 304;
		s->n304++;
		snprintf(head, sizeof(head), "HTTP/1.1 304 Not Modified\r\n"
		    "Connection: close\r\n\r\n");
	} else if (r != NULL) {
		status = 200;
		s->n200++;
		len = r->len;
		body = malloc(len + 1);
		memcpy(body, r->body, len);
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n%s%s%s%s%s%s"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    r->etag[0] != '\0' ? "ETag: " : "", r->etag,
		    r->etag[0] != '\0' ? "\r\n" : "",
		    r->last_modified[0] != '\0' ? "Last-Modified: " : "",
		    r->last_modified, r->last_modified[0] != '\0' ? "\r\n" : "",
		    len);
	} else {
		s->n404++;
		snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\n"
		    "Content-Length: 9\r\nConnection: close\r\n\r\nnot found");
	}
	pthread_mutex_unlock(&s->lock);
	send_all(fd, head, strlen(head));
	if (status == 200) {
		pthread_mutex_lock(&s->lock);
		deadline_in(&dl, WAIT_S);
		s->holding = s->hold;
		pthread_cond_broadcast(&s->cond);
		while (s->hold && pthread_cond_timedwait(&s->cond, &s->lock,
		    &dl) == 0)
			;
		pthread_mutex_unlock(&s->lock);
		send_all(fd, body, len);
	}
	free(body);
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd p[2] = {
		{ .fd = s->fd, .events = POLLIN },
		{ .fd = s->stop[0], .events = POLLIN },
	};
	int fd;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if (p[0].revents == 0)
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(s, fd);
		close(fd);
	}
	return NULL;
}

/* Binds 127.0.0.1:0; returns the socket and its port. */
static int
bind_loopback(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static void
server_start(struct server *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = bind_loopback(&s->port);
	assert_int_equal(listen(s->fd, 64), 0);
	assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->hold = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->stop[0]);
	close(s->stop[1]);
	for (size_t i = 0; i < s->nres; i++)
		free(s->res[i].body);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

/* Adds or replaces a resource; etag/lm may be NULL. */
static void
server_set(struct server *s, const char *path, const char *body,
    const char *etag, const char *lm)
{
	struct res *r = NULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nres; i++) {
		if (strcmp(s->res[i].path, path) == 0)
			r = &s->res[i];
	}
	if (r == NULL) {
		assert_true(s->nres < N_RES);
		r = &s->res[s->nres++];
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->body = strdup(body);
	r->len = strlen(body);
	snprintf(r->etag, sizeof(r->etag), "%s", etag != NULL ? etag : "");
	snprintf(r->last_modified, sizeof(r->last_modified), "%s",
	    lm != NULL ? lm : "");
	r->status = 200;
	pthread_mutex_unlock(&s->lock);
}

static void
server_redirect(struct server *s, const char *path, const char *to)
{
	server_set(s, path, "", NULL, NULL);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nres; i++) {
		if (strcmp(s->res[i].path, path) == 0) {
			s->res[i].status = to != NULL ? 302 : 500;
			snprintf(s->res[i].location,
			    sizeof(s->res[i].location), "%s",
			    to != NULL ? to : "");
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- helpers ---- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* file:// below fx->root only, and the given limits. */
static void
allow(struct fixture *fx, unsigned long long max_bytes, long long ttl_s)
{
	char *dirs[] = { fx->root };
	struct lb_image_cache_opts o = { .allowed = dirs, .nallowed = 1,
	    .max_bytes = max_bytes, .ttl_s = ttl_s };
	struct lb_err err = { { 0 } };

	assert_int_equal(lb_image_cache_configure(fx->cache, &o, &err), 0);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *t = getenv("TMPDIR");
	struct lb_err err = { { 0 } };

	assert_non_null(fx);
	snprintf(fx->root, sizeof(fx->root), "%s/lb-image-cache-XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	assert_non_null(mkdtemp(fx->root));
	snprintf(fx->dir, sizeof(fx->dir), "%s/cache", fx->root);
	assert_int_equal(lb_image_cache_new(fx->dir, &fx->cache, &err), 0);
	allow(fx, 0, 0);
	*state = fx;
	return 0;
}

static int
setup_http(void **state)
{
	struct fixture *fx;

	setup(state);
	fx = *state;
	server_start(&fx->srv);
	fx->have_srv = true;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->have_srv)
		server_stop(&fx->srv);
	lb_image_cache_free(fx->cache);
	nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
assert_content(const char *path, const char *want)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, want);
}

static void
sha_of(const char *text, char out[65])
{
	unsigned char d[32];
	unsigned int n = 0;

	EVP_Digest(text, strlen(text), d, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Entries in the cache directory (no dot files), counted. */
static int
cache_files(const struct fixture *fx, const char *suffix)
{
	struct dirent **list;
	int n, count = 0;

	n = scandir(fx->dir, &list, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (list[i]->d_name[0] != '.' && (suffix == NULL ||
		    (len > strlen(suffix) && strcmp(list[i]->d_name + len -
		    strlen(suffix), suffix) == 0)))
			count++;
		free(list[i]);
	}
	free(list);
	return count;
}

static int
data_files(const struct fixture *fx)
{
	return cache_files(fx, NULL) - cache_files(fx, ".json");
}

static void
url(const struct fixture *fx, const char *path, char *out, size_t size)
{
	snprintf(out, size, "http://127.0.0.1:%d%s", fx->srv.port, path);
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- file:// ---- */

static void
test_new_creates_dir(void **state)
{
	struct fixture *fx = *state;
	struct lb_image_cache *c = NULL;
	struct lb_err err = { { 0 } };
	char dir[400], tmp[420];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/fresh", fx->root);
	assert_int_equal(lb_image_cache_new(dir, &c, &err), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	lb_image_cache_free(c);
	/* A leftover temporary file of a crashed run goes away. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp-abcdef", dir);
	write_file(tmp, "partial");
	assert_int_equal(lb_image_cache_new(dir, &c, &err), 0);
	assert_false(exists(tmp));
	lb_image_cache_free(c);
	lb_image_cache_free(NULL);
	snprintf(dir, sizeof(dir), "%s/no/such/parent", fx->root);
	assert_int_equal(lb_image_cache_new(dir, &c, &err), -EIO);
}

static void
test_file_ok(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char src[400], href[420], *p1 = NULL, *p2 = NULL;
	const char *base;
	struct stat st;

	snprintf(src, sizeof(src), "%s/kernel", fx->root);
	write_file(src, "kernel v1");
	snprintf(href, sizeof(href), "file://%s", src);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p1, &err),
	    0);
	assert_content(p1, "kernel v1");
	assert_int_equal(strncmp(p1, fx->dir, strlen(fx->dir)), 0);
	/* The name is <sha256(url)>-<16 hex>, never the URL's text. */
	base = strrchr(p1, '/') + 1;
	assert_int_equal(strlen(base), 64 + 1 + 16);
	assert_int_equal(base[64], '-');
	assert_int_equal(strspn(base, "0123456789abcdef-"), strlen(base));
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* Unchanged: the same copy, no download. */
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p2, &err),
	    0);
	assert_string_equal(p1, p2);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 0);
	assert_int_equal(data_files(fx), 1);
	assert_int_equal(cache_files(fx, ".json"), 1);
	free(p1);
	free(p2);
}

static void
test_file_changed(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char src[400], href[420], *p1 = NULL, *p2 = NULL;

	snprintf(src, sizeof(src), "%s/ramdisk", fx->root);
	write_file(src, "ramdisk v1");
	snprintf(href, sizeof(href), "file://localhost%s", src);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p1, &err),
	    0);
	write_file(src, "ramdisk version 2");
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p2, &err),
	    0);
	assert_string_not_equal(p1, p2);
	assert_content(p2, "ramdisk version 2");
	/*
	 * The newest copy per URL is kept, the old one removed once it is
	 * no longer handed out (pinned) or linked.
	 */
	assert_true(exists(p1));
	lb_image_cache_unpin(fx->cache, p1);
	lb_image_cache_clean(fx->cache);
	assert_false(exists(p1));
	assert_int_equal(data_files(fx), 1);
	free(p1);
	free(p2);
}

static void
test_file_missing(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[400], want[500], *p = NULL;

	snprintf(href, sizeof(href), "file://%s/nope.kernel", fx->root);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -ENOENT);
	snprintf(want, sizeof(want), "image '%s' not found", href);
	assert_string_equal(err.msg, want);
	assert_null(p);
	/* A directory is not an image. */
	snprintf(href, sizeof(href), "file://%s", fx->root);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -EINVAL);
	snprintf(want, sizeof(want), "image '%s' is not a regular file", href);
	assert_string_equal(err.msg, want);
	assert_int_equal(cache_files(fx, NULL), 0);
}

static void
test_bad_hrefs(void **state)
{
	static const struct {
		const char *href;
		const char *msg;
	} bad[] = {
		{ "kernels/vmlinuz", "image href is not an absolute URL "
		    "(expected file://, http:// or https://)" },
		{ "/srv/vmlinuz", "image href is not an absolute URL "
		    "(expected file://, http:// or https://)" },
		{ "file:relative", "image href is not an absolute URL "
		    "(expected file://, http:// or https://)" },
		{ "file://relative/vmlinuz", "file:// image href must name an "
		    "absolute local path (file:///path)" },
		{ "file://", "file:// image href must name an absolute local "
		    "path (file:///path)" },
		{ "file:///", "file:// image href has no file name" },
		{ "ftp://user:pw@host/vmlinuz", "unsupported image href scheme "
		    "'ftp' (expected file, http or https)" },
		{ "http://", "malformed http:// image href" },
		{ "https:///path", "malformed https:// image href" },
		{ "http://host/a b", "malformed image href (too long, or has "
		    "spaces or control characters)" },
		{ "http://host/a\nb", "malformed image href (too long, or has "
		    "spaces or control characters)" },
		{ "://host/x", "malformed image href scheme" },
		{ "", "no image href given" },
	};
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char *p = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		assert_int_equal(lb_image_cache_get(fx->cache, bad[i].href,
		    NULL, &p, &err), -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
	}
	assert_int_equal(lb_image_cache_get(fx->cache, NULL, NULL, &p, &err),
	    -EINVAL);
	assert_null(p);
	assert_int_equal(cache_files(fx, NULL), 0);
}

/* ---- checksums ---- */

static void
test_checksum_ok(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char src[400], href[420], sha[65], sum[80], *p = NULL;

	snprintf(src, sizeof(src), "%s/kernel", fx->root);
	write_file(src, "checked kernel");
	snprintf(href, sizeof(href), "file://%s", src);
	sha_of("checked kernel", sha);
	snprintf(sum, sizeof(sum), "sha256:%s", sha);
	assert_int_equal(lb_image_cache_get(fx->cache, href, sum, &p, &err),
	    0);
	assert_content(p, "checked kernel");
	free(p);
	/* A bare digest, and upper case. */
	for (int i = 0; i < 64; i++)
		sum[i] = (char)(sha[i] >= 'a' ? sha[i] - 32 : sha[i]);
	sum[64] = '\0';
	assert_int_equal(lb_image_cache_get(fx->cache, href, sum, &p, &err),
	    0);
	free(p);
	assert_int_equal(lb_image_cache_get(fx->cache, href, "", &p, &err), 0);
	free(p);
}

static void
test_checksum_mismatch(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char src[400], href[420], sha[65], want[600], *p = NULL;
	const char *wrong = "sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	snprintf(src, sizeof(src), "%s/kernel", fx->root);
	write_file(src, "tampered kernel");
	snprintf(href, sizeof(href), "file://%s", src);
	sha_of("tampered kernel", sha);
	assert_int_equal(lb_image_cache_get(fx->cache, href, wrong, &p, &err),
	    -EINVAL);
	snprintf(want, sizeof(want), "checksum mismatch for image '%s': "
	    "expected 0123456789ab..., got %.12s...", href, sha);
	assert_string_equal(err.msg, want);
	assert_null(p);
	/* Not kept: no data file, no index, no temporary file. */
	assert_int_equal(cache_files(fx, NULL), 0);
	assert_int_equal(cache_files(fx, ".json"), 0);
}

static void
test_checksum_malformed(void **state)
{
	static const char *const bad[] = {
		"md5:0123456789abcdef0123456789abcdef",
		"sha256:abc",
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdeg",
		"sha512:0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef",
		"0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0",
		"sha256: 0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef",
	};
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[400], want[500], *p = NULL;

	/* Checked before any I/O: even a missing file says "malformed". */
	snprintf(href, sizeof(href), "file://%s/missing", fx->root);
	snprintf(want, sizeof(want), "malformed checksum for image '%s': "
	    "expected sha256:<64 hex digits>", href);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(lb_image_cache_get(fx->cache, href, bad[i],
		    &p, &err), -EINVAL);
		assert_string_equal(err.msg, want);
	}
	assert_null(p);
}

/* ---- http:// ---- */

static void
test_http_download_then_304(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[200], *p1 = NULL, *p2 = NULL;

	server_set(&fx->srv, "/ipa.kernel", "kernel bytes", "\"v1\"", NULL);
	url(fx, "/ipa.kernel", href, sizeof(href));
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p1, &err),
	    0);
	assert_content(p1, "kernel bytes");
	assert_int_equal(lb_image_cache_downloads(fx->cache), 1);
	assert_int_equal(fx->srv.n200, 1);
	assert_string_equal(fx->srv.inm, "");
	/* The second get asks conditionally and keeps the copy. */
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p2, &err),
	    0);
	assert_string_equal(p1, p2);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 1);
	assert_int_equal(fx->srv.requests, 2);
	assert_int_equal(fx->srv.n304, 1);
	assert_string_equal(fx->srv.inm, "\"v1\"");
	assert_int_equal(data_files(fx), 1);
	free(p1);
	free(p2);
}

static void
test_http_last_modified(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	const char *lm = "Wed, 21 Oct 2015 07:28:00 GMT";
	char href[200], *p1 = NULL, *p2 = NULL;

	server_set(&fx->srv, "/ipa.initramfs", "ramdisk bytes", NULL, lm);
	url(fx, "/ipa.initramfs", href, sizeof(href));
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p1, &err),
	    0);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p2, &err),
	    0);
	assert_string_equal(p1, p2);
	assert_string_equal(fx->srv.ims, lm);
	assert_string_equal(fx->srv.inm, "");
	assert_int_equal(fx->srv.n200, 1);
	assert_int_equal(fx->srv.n304, 1);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 1);
	free(p1);
	free(p2);
}

static void
test_http_new_etag(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[200], *p1 = NULL, *p2 = NULL;

	server_set(&fx->srv, "/k", "old kernel", "\"a\"", NULL);
	url(fx, "/k", href, sizeof(href));
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p1, &err),
	    0);
	server_set(&fx->srv, "/k", "new kernel!", "\"b\"", NULL);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p2, &err),
	    0);
	assert_string_equal(fx->srv.inm, "\"a\"");
	assert_int_equal(lb_image_cache_downloads(fx->cache), 2);
	assert_string_not_equal(p1, p2);
	assert_content(p2, "new kernel!");
	assert_true(exists(p1));	/* still pinned */
	lb_image_cache_unpin(fx->cache, p1);
	lb_image_cache_clean(fx->cache);
	assert_false(exists(p1));
	assert_int_equal(data_files(fx), 1);
	free(p1);
	free(p2);
}

static void
test_http_errors(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[200], want[300], *p = NULL;

	url(fx, "/missing.kernel", href, sizeof(href));
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -ENOENT);
	snprintf(want, sizeof(want), "image '%s' not found", href);
	assert_string_equal(err.msg, want);
	server_redirect(&fx->srv, "/broken", NULL);	/* a 500 */
	url(fx, "/broken", href, sizeof(href));
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -EIO);
	snprintf(want, sizeof(want), "cannot fetch image '%s': HTTP 500", href);
	assert_string_equal(err.msg, want);
	assert_null(p);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 0);
	assert_int_equal(cache_files(fx, NULL), 0);
}

static void
test_http_secrets_not_shown(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[300], want[300], idx[600], *p = NULL, *q;
	size_t n;
	FILE *f;

	snprintf(href, sizeof(href), "http://admin:hunter22@127.0.0.1:%d"
	    "/missing?temp_url_sig=deadbeef", fx->srv.port);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -ENOENT);
	snprintf(want, sizeof(want), "image 'http://127.0.0.1:%d/missing' "
	    "not found", fx->srv.port);
	assert_string_equal(err.msg, want);
	/* Nor does the index on disk keep them. */
	server_set(&fx->srv, "/img", "bytes", "\"e\"", NULL);
	snprintf(href, sizeof(href), "http://admin:hunter22@127.0.0.1:%d"
	    "/img?temp_url_sig=deadbeef", fx->srv.port);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    0);
	q = strrchr(p, '-');
	*q = '\0';
	snprintf(idx, sizeof(idx), "%s.json", p);
	free(p);
	f = fopen(idx, "r");
	assert_non_null(f);
	n = fread(idx, 1, sizeof(idx) - 1, f);
	fclose(f);
	assert_true(n > 0);
	idx[n] = '\0';
	assert_null(strstr(idx, "hunter22"));
	assert_null(strstr(idx, "deadbeef"));
	assert_non_null(strstr(idx, "/img"));
}

static void
test_http_refused(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	struct timespec t0, t1;
	char href[200], want[300], *p = NULL;
	int port, fd = bind_loopback(&port);

	close(fd);	/* nothing listens there now */
	snprintf(href, sizeof(href), "http://127.0.0.1:%d/k", port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -EHOSTUNREACH);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	snprintf(want, sizeof(want), "cannot reach the server of image '%s': ",
	    href);
	assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
	assert_int_equal(cache_files(fx, NULL), 0);
}

static void
test_http_checksum(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[200], sha[65], sum[80], want[400], *p = NULL;
	const char *wrong =
	    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

	server_set(&fx->srv, "/r", "ramdisk", "\"r1\"", NULL);
	url(fx, "/r", href, sizeof(href));
	sha_of("ramdisk", sha);
	/* A fresh download that does not match is not kept. */
	assert_int_equal(lb_image_cache_get(fx->cache, href, wrong, &p, &err),
	    -EINVAL);
	snprintf(want, sizeof(want), "checksum mismatch for image '%s': "
	    "expected fedcba987654..., got %.12s...", href, sha);
	assert_string_equal(err.msg, want);
	assert_int_equal(cache_files(fx, NULL), 0);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 1);
	/* So the next get downloads again. */
	snprintf(sum, sizeof(sum), "sha256:%s", sha);
	assert_int_equal(lb_image_cache_get(fx->cache, href, sum, &p, &err),
	    0);
	assert_content(p, "ramdisk");
	free(p);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 2);
	/* A wrong checksum against the current copy: refused, no download. */
	assert_int_equal(lb_image_cache_get(fx->cache, href, wrong, &p, &err),
	    -EINVAL);
	assert_string_equal(err.msg, want);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 2);
	assert_int_equal(fx->srv.n304, 1);
}

static void
test_http_redirects(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[200], to[200], want[300], *p = NULL;

	server_set(&fx->srv, "/real", "real kernel", "\"x\"", NULL);
	url(fx, "/real", to, sizeof(to));
	server_redirect(&fx->srv, "/moved", to);
	url(fx, "/moved", href, sizeof(href));
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    0);
	assert_content(p, "real kernel");
	free(p);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 1);
	/* A loop stops after five redirects. */
	url(fx, "/loop", to, sizeof(to));
	server_redirect(&fx->srv, "/loop", to);
	assert_int_equal(lb_image_cache_get(fx->cache, to, NULL, &p, &err),
	    -EIO);
	snprintf(want, sizeof(want), "cannot fetch image '%s': more than 5 "
	    "redirects", to);
	assert_string_equal(err.msg, want);
	assert_int_equal(fx->srv.requests, 2 + 6);
}

struct worker {
	struct lb_image_cache *cache;
	const char *href;
	pthread_barrier_t *go;
	int r;
	char *path;
	struct lb_err err;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->go);
	w->r = lb_image_cache_get(w->cache, w->href, NULL, &w->path, &w->err);
	return NULL;
}

static void
test_http_many_threads_one_download(void **state)
{
	struct fixture *fx = *state;
	struct worker w[N_THREADS];
	pthread_t t[N_THREADS];
	pthread_barrier_t go;
	struct timespec dl;
	char href[200];

	server_set(&fx->srv, "/shared", "one image for all", "\"s\"", NULL);
	url(fx, "/shared", href, sizeof(href));
	fx->srv.hold = true;
	pthread_barrier_init(&go, NULL, N_THREADS + 1);
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ fx->cache, href, &go, -1, NULL,
		    { { 0 } } };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
		    &w[i]), 0);
	}
	pthread_barrier_wait(&go);
	/* The download has begun; let its body through. */
	pthread_mutex_lock(&fx->srv.lock);
	deadline_in(&dl, WAIT_S);
	while (!fx->srv.holding && pthread_cond_timedwait(&fx->srv.cond,
	    &fx->srv.lock, &dl) == 0)
		;
	assert_true(fx->srv.holding);
	fx->srv.hold = false;
	pthread_cond_broadcast(&fx->srv.cond);
	pthread_mutex_unlock(&fx->srv.lock);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(w[i].r, 0);
		assert_string_equal(w[i].path, w[0].path);
	}
	assert_content(w[0].path, "one image for all");
	for (int i = 0; i < N_THREADS; i++)
		free(w[i].path);
	assert_int_equal(lb_image_cache_downloads(fx->cache), 1);
	assert_int_equal(fx->srv.n200, 1);
	print_message("shared: %u of %d threads waited on the one download\n",
	    N_THREADS - fx->srv.n304 - 1, N_THREADS);
	/* Any thread that came after the download only asked "changed?". */
	assert_int_equal(fx->srv.requests, 1 + fx->srv.n304);
	assert_int_equal(data_files(fx), 1);
}

/* ---- placing ---- */

static void
test_place_links_and_replaces(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char src[400], href[420], dest[400], *p = NULL;
	struct dirent **list;
	struct stat cs, ds;
	int n;

	snprintf(src, sizeof(src), "%s/kernel", fx->root);
	write_file(src, "placed kernel");
	snprintf(href, sizeof(href), "file://%s", src);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    0);
	snprintf(dest, sizeof(dest), "%s/node-kernel", fx->root);
	write_file(dest, "stale kernel of another rescue");
	assert_int_equal(lb_image_place(p, dest, &err), 0);
	assert_int_equal(stat(p, &cs), 0);
	assert_int_equal(stat(dest, &ds), 0);
	assert_int_equal(cs.st_ino, ds.st_ino);
	assert_int_equal(cs.st_dev, ds.st_dev);
	assert_int_equal(cs.st_nlink, 2);
	assert_content(dest, "placed kernel");
	/* Placing it again changes nothing and leaves no temporary name. */
	assert_int_equal(lb_image_place(p, dest, &err), 0);
	assert_int_equal(stat(p, &cs), 0);
	assert_int_equal(cs.st_nlink, 2);
	free(p);
	/* Only ".", "..", cache, kernel and node-kernel. */
	n = scandir(fx->root, &list, NULL, alphasort);
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	assert_int_equal(n, 5);
}

static void
test_place_errors(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char cached[400], dest[400], want[900];

	snprintf(cached, sizeof(cached), "%s/gone", fx->root);
	snprintf(dest, sizeof(dest), "%s/dest", fx->root);
	assert_int_equal(lb_image_place(cached, dest, &err), -ENOENT);
	snprintf(want, sizeof(want), "cannot place image at '%s': cached file "
	    "'%s': No such file or directory", dest, cached);
	assert_string_equal(err.msg, want);
	write_file(cached, "x");
	snprintf(dest, sizeof(dest), "%s/no/such/dir/dest", fx->root);
	assert_int_equal(lb_image_place(cached, dest, &err), -EIO);
	snprintf(want, sizeof(want), "cannot place image '%s' at '%s': No such "
	    "file or directory", cached, dest);
	assert_string_equal(err.msg, want);
}

/* Across file systems (when /dev/shm is another one) it copies. */
static void
test_place_copies_across_devices(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char cached[400], dest[64];
	struct stat cs, ds;

	snprintf(cached, sizeof(cached), "%s/img", fx->root);
	write_file(cached, "copied image");
	assert_int_equal(stat(cached, &cs), 0);
	if (stat("/dev/shm", &ds) != 0 || ds.st_dev == cs.st_dev) {
		skip();
		return;
	}
	snprintf(dest, sizeof(dest), "/dev/shm/lb-place-%ld", (long)getpid());
	assert_int_equal(lb_image_place(cached, dest, &err), 0);
	assert_content(dest, "copied image");
	assert_int_equal(stat(dest, &ds), 0);
	assert_int_equal(ds.st_mode & 0777, 0644);
	assert_int_equal(unlink(dest), 0);
}

/* ---- href spellings: one parser for the check and the open ---- */

/* fx->root/{images,images2,outside} and the links the tests need. */
static void
make_tree(struct fixture *fx)
{
	char p[400], q[400];

	snprintf(p, sizeof(p), "%s/images", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/images2", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/outside", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/images/k", fx->root);
	write_file(p, "allowed kernel");
	snprintf(p, sizeof(p), "%s/images2/k", fx->root);
	write_file(p, "sibling kernel");
	snprintf(p, sizeof(p), "%s/outside/secret", fx->root);
	write_file(p, "not for publishing");
	snprintf(p, sizeof(p), "%s/images/sneaky", fx->root);
	snprintf(q, sizeof(q), "%s/outside/secret", fx->root);
	assert_int_equal(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/images/sub", fx->root);
	snprintf(q, sizeof(q), "%s/outside", fx->root);
	assert_int_equal(symlink(q, p), 0);
	snprintf(p, sizeof(p), "%s/images/rel", fx->root);
	assert_int_equal(symlink("../outside/secret", p), 0);
}

/* Only fx->root/images is allowed (configured with a trailing slash). */
static void
allow_images(struct fixture *fx)
{
	char dir[400], *dirs[] = { dir };
	struct lb_image_cache_opts o = { .allowed = dirs, .nallowed = 1 };
	struct lb_err err = { { 0 } };

	snprintf(dir, sizeof(dir), "%s/images/", fx->root);
	assert_int_equal(lb_image_cache_configure(fx->cache, &o, &err), 0);
}

static void
test_href_spellings_allowed(void **state)
{
	static const char *const good[] = {
		"file://%s/images/k",
		"FILE://%s/images/k",
		"File://localhost%s/images/k",
		"file://LOCALHOST%s/images/k",
		"file://%s/images/./k",
		"file://%s//images///k",
		"file://%s/images/nope/../k",
		"file://%s/%%69mages/%%6B",
		"file://%s/images/%%2e/k",
	};
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[600], want[PATH_MAX], path[400], *canon, *p, *first = NULL;

	make_tree(fx);
	allow_images(fx);
	snprintf(path, sizeof(path), "%s/images/k", fx->root);
	assert_non_null(realpath(path, want));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(href, sizeof(href), good[i], fx->root);
		canon = NULL;
		assert_int_equal(lb_image_cache_check(fx->cache, "rescue_kernel",
		    href, &canon, &err), 0);
		assert_string_equal(canon, want);
		free(canon);
		p = NULL;
		assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p,
		    &err), 0);
		assert_content(p, "allowed kernel");
		/* Every spelling of the one file is one cache entry. */
		if (first == NULL)
			first = strdup(p);
		assert_string_equal(p, first);
		lb_image_cache_unpin(fx->cache, p);
		free(p);
	}
	free(first);
	assert_int_equal(data_files(fx), 1);
}

static void
test_href_spellings_refused(void **state)
{
	static const struct {
		const char *href;
		int r;
		const char *msg;	/* NULL: "... is not below ..." */
	} bad[] = {
		{ "FILE://%s/outside/secret", -EINVAL, NULL },
		{ "file://localhost%s/outside/secret", -EINVAL, NULL },
		{ "file://%s/images/../outside/secret", -EINVAL, NULL },
		{ "file://%s/images/%%2e%%2e/outside/secret", -EINVAL, NULL },
		{ "file://%s/images/%%2E%%2E/%%2E%%2E/images2/k", -EINVAL, NULL },
		{ "file://%s/images/.%%2e/outside/secret", -EINVAL, NULL },
		{ "file://%s/images2/k", -EINVAL, NULL },
		{ "file://%s/images/sneaky", -EINVAL, NULL },
		{ "file://%s/images/rel", -EINVAL, NULL },
		{ "file://%s/images/sub/secret", -EINVAL, NULL },
		/* ".." is read as text: this names images/images/k. */
		{ "file://%s/images/sub/../images/k", -ENOENT, "not found" },
		/* No existence oracle: outside is "not below" whether or not. */
		{ "file://%s/outside/nothing-here", -EINVAL, NULL },
		{ "file://%s/images/nothing-here", -ENOENT, "not found" },
		{ "file://otherhost%s/images/k", -EINVAL, "must name an "
		    "absolute local path" },
		{ "file://%s/images/k%%00", -EINVAL, "control" },
		{ "file://%s/images/k%%0a", -EINVAL, "control" },
		{ "file://%s/images/k%%zz", -EINVAL, "percent-encoding" },
		{ "file://%s/images/k%%2", -EINVAL, "percent-encoding" },
		{ "file://%s/images/k?x=1", -EINVAL, "query" },
		{ "file://%s/images/k#frag", -EINVAL, "query" },
		{ "FtP://%s/images/k", -EINVAL, "unsupported image href "
		    "scheme 'ftp'" },
		{ "gopher://%s/images/k", -EINVAL, "unsupported" },
	};
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char href[600], *p;
	int r;

	make_tree(fx);
	allow_images(fx);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(href, sizeof(href), bad[i].href, fx->root);
		for (int get = 0; get < 2; get++) {
			err.msg[0] = '\0';
			p = NULL;
			r = get ? lb_image_cache_get(fx->cache, href, NULL, &p,
			    &err) : lb_image_cache_check(fx->cache,
			    "rescue_kernel", href, NULL, &err);
			if (r != bad[i].r)
				fail_msg("%s: %d, want %d (%s)", href, r,
				    bad[i].r, err.msg);
			assert_null(p);
			assert_non_null(strstr(err.msg, bad[i].msg ?
			    bad[i].msg : "is not below any of [conductor] "
			    "file_url_allowed_paths"));
			assert_null(strstr(err.msg, "not for publishing"));
		}
	}
	assert_int_equal(cache_files(fx, NULL), 0);
}

/* Without allowed directories no file:// href is fetched at all. */
static void
test_href_nothing_allowed(void **state)
{
	struct fixture *fx = *state;
	struct lb_image_cache_opts o = { .nallowed = 0 };
	struct lb_err err = { { 0 } };
	char href[600], *p = NULL;

	make_tree(fx);
	assert_int_equal(lb_image_cache_configure(fx->cache, &o, &err), 0);
	snprintf(href, sizeof(href), "file://%s/images/k", fx->root);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "file_url_allowed_paths"));
	assert_int_equal(cache_files(fx, NULL), 0);
}

/* ---- eviction ---- */

/* A file of 'size' bytes of 'c' at fx->root/name; its file:// href. */
static void
source(struct fixture *fx, const char *name, size_t size, char c,
    char *href, size_t hsize)
{
	char path[400], *buf = malloc(size + 1);

	assert_non_null(buf);
	memset(buf, c, size);
	buf[size] = '\0';
	snprintf(path, sizeof(path), "%s/%s", fx->root, name);
	write_file(path, buf);
	free(buf);
	snprintf(href, hsize, "file://%s", path);
}

/* Sets when the cached copy at 'cached' was last used, 'ago' s back. */
static void
used_ago(const char *cached, time_t ago)
{
	char index[PATH_MAX];
	struct timespec ts[2];
	const char *base = strrchr(cached, '/') + 1;

	snprintf(index, sizeof(index), "%.*s%.64s.json",
	    (int)(base - cached), cached, base);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= ago;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, index, ts, 0), 0);
}

static char *
get_ok(struct lb_image_cache *c, const char *href)
{
	struct lb_err err = { { 0 } };
	char *p = NULL;

	if (lb_image_cache_get(c, href, NULL, &p, &err) != 0)
		fail_msg("get %s: %s", href, err.msg);
	return p;
}

static void
test_evict_by_size_lru(void **state)
{
	struct fixture *fx = *state;
	char ha[500], hb[500], hc[500], hd[500], dest[400];
	char *a, *b, *c, *d;
	struct lb_err err = { { 0 } };

	allow(fx, 3000, 0);
	source(fx, "a", 1000, 'a', ha, sizeof(ha));
	source(fx, "b", 1000, 'b', hb, sizeof(hb));
	source(fx, "c", 1000, 'c', hc, sizeof(hc));
	source(fx, "d", 1000, 'd', hd, sizeof(hd));
	a = get_ok(fx->cache, ha);
	b = get_ok(fx->cache, hb);
	c = get_ok(fx->cache, hc);
	lb_image_cache_unpin(fx->cache, a);
	lb_image_cache_unpin(fx->cache, b);
	lb_image_cache_unpin(fx->cache, c);
	/* b is the least recently used, then a, then c. */
	used_ago(a, 200);
	used_ago(b, 300);
	used_ago(c, 100);
	d = get_ok(fx->cache, hd);
	assert_false(exists(b));
	assert_true(exists(a) && exists(c) && exists(d));
	assert_int_equal(data_files(fx), 3);
	assert_int_equal(cache_files(fx, ".json"), 3);
	/* a is staged (linked into a root): never evicted, even when over. */
	snprintf(dest, sizeof(dest), "%s/staged-a", fx->root);
	assert_int_equal(lb_image_place(a, dest, &err), 0);
	allow(fx, 1, 0);
	assert_true(exists(a));
	assert_false(exists(c));
	/* d is still pinned: handed out and not yet linked. */
	assert_true(exists(d));
	lb_image_cache_unpin(fx->cache, d);
	lb_image_cache_clean(fx->cache);
	assert_false(exists(d));
	assert_true(exists(a));
	/* Unstaged, a goes too. */
	assert_int_equal(unlink(dest), 0);
	lb_image_cache_clean(fx->cache);
	assert_false(exists(a));
	assert_int_equal(cache_files(fx, NULL), 0);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void
test_evict_by_age(void **state)
{
	struct fixture *fx = *state;
	char ha[500], hb[500], hc[500], *a, *b, *c;

	allow(fx, 0, 3600);
	source(fx, "a", 10, 'a', ha, sizeof(ha));
	source(fx, "b", 10, 'b', hb, sizeof(hb));
	source(fx, "c", 10, 'c', hc, sizeof(hc));
	a = get_ok(fx->cache, ha);
	b = get_ok(fx->cache, hb);
	lb_image_cache_unpin(fx->cache, a);
	used_ago(a, 7200);
	used_ago(b, 7200);	/* old, but still pinned */
	c = get_ok(fx->cache, hc);
	assert_false(exists(a));
	assert_true(exists(b));
	assert_true(exists(c));
	/* Used again: the clock starts over. */
	lb_image_cache_unpin(fx->cache, b);
	free(b);
	b = get_ok(fx->cache, hb);
	lb_image_cache_unpin(fx->cache, b);
	lb_image_cache_clean(fx->cache);
	assert_true(exists(b));
	used_ago(b, 3500);
	lb_image_cache_clean(fx->cache);
	assert_true(exists(b));
	used_ago(b, 3700);
	lb_image_cache_clean(fx->cache);
	assert_false(exists(b));
	assert_int_equal(cache_files(fx, ".json"), 1);
	lb_image_cache_unpin(fx->cache, c);
	free(a);
	free(b);
	free(c);
}

/* Each new query string is a new URL: the size limit still holds. */
static void
test_evict_query_strings(void **state)
{
	struct fixture *fx = *state;
	char body[1001], u[256], q[300], *p;

	memset(body, 'q', 1000);
	body[1000] = '\0';
	allow(fx, 2500, 0);
	server_set(&fx->srv, "/img", body, NULL, NULL);
	url(fx, "/img", u, sizeof(u));
	for (int i = 0; i < 20; i++) {
		snprintf(q, sizeof(q), "%s?v=%d", u, i);
		p = get_ok(fx->cache, q);
		assert_true(exists(p));
		lb_image_cache_unpin(fx->cache, p);
		free(p);
		assert_true(data_files(fx) <= 2);
	}
	assert_int_equal(fx->srv.n200, 20);
}

/* ---- a full disk ---- */

/* Everything in 'dir' but "." and "..", dot files included. */
static int
entries_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* An index that cannot be written leaves no copy without one behind. */
static void
test_index_failure_keeps_nothing(void **state)
{
	struct fixture *fx = *state;
	struct lb_err err = { { 0 } };
	char src[400], real[PATH_MAX], keyed[PATH_MAX + 8], key[65];
	char index[500], href[500], *p = NULL;

	source(fx, "k", 100, 'k', href, sizeof(href));
	snprintf(src, sizeof(src), "%s/k", fx->root);
	assert_non_null(realpath(src, real));
	snprintf(keyed, sizeof(keyed), "file://%s", real);
	sha_of(keyed, key);
	/* A directory where <key>.json goes: rename() onto it fails. */
	snprintf(index, sizeof(index), "%s/%s.json", fx->dir, key);
	assert_int_equal(mkdir(index, 0700), 0);
	assert_int_equal(lb_image_cache_get(fx->cache, href, NULL, &p, &err),
	    -EIO);
	assert_non_null(strstr(err.msg, "cannot write the image cache index"));
	assert_null(p);
	assert_int_equal(entries_in(fx->dir), 1);	/* the directory */
	assert_int_equal(rmdir(index), 0);
	p = get_ok(fx->cache, href);
	lb_image_cache_unpin(fx->cache, p);
	free(p);
	assert_int_equal(entries_in(fx->dir), 2);
}


/*
 * The cache on a 1 MiB tmpfs that a filler has nearly filled: copies and
 * downloads fail cleanly (no temporary, no half entry, a message that says
 * so) and work again once the filler is gone.  Needs root for mount(2).
 */
static void
test_full_disk(void **state)
{
	struct fixture *fx = *state;
	struct lb_image_cache *c = NULL;
	struct lb_err err = { { 0 } };
	char mnt[400], dir[420], filler[420], href[500], u[256], *p = NULL;
	char *body, *dirs[] = { fx->root };
	struct lb_image_cache_opts o = { .allowed = dirs, .nallowed = 1 };
	int fd;

	snprintf(mnt, sizeof(mnt), "%s/small", fx->root);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("lb-test", mnt, "tmpfs", 0, "size=1m,mode=0700") != 0) {
		print_message("no tmpfs mount (%s): skipped\n",
		    strerror(errno));
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/cache", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	assert_int_equal(lb_image_cache_new(dir, &c, &err), 0);
	assert_int_equal(lb_image_cache_configure(c, &o, &err), 0);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(posix_fallocate(fd, 0, 900 << 10), 0);
	close(fd);
	source(fx, "big", 300 << 10, 'b', href, sizeof(href));
	body = malloc((300 << 10) + 1);
	memset(body, 'h', 300 << 10);
	body[300 << 10] = '\0';
	server_set(&fx->srv, "/big", body, "\"e1\"", NULL);
	free(body);
	url(fx, "/big", u, sizeof(u));
	assert_int_equal(lb_image_cache_get(c, href, NULL, &p, &err), -EIO);
	assert_non_null(strstr(err.msg, "No space left on device"));
	assert_null(p);
	assert_int_equal(lb_image_cache_get(c, u, NULL, &p, &err), -EIO);
	assert_non_null(strstr(err.msg, "No space left on device"));
	assert_null(strstr(err.msg, "4 GiB"));
	/* Nothing left behind: no entry, no index, no temporary. */
	assert_int_equal(entries_in(dir), 0);
	/* Space returns: the same gets work. */
	assert_int_equal(unlink(filler), 0);
	p = get_ok(c, href);
	lb_image_cache_unpin(c, p);
	free(p);
	p = get_ok(c, u);
	lb_image_cache_unpin(c, p);
	free(p);
	assert_int_equal(entries_in(dir), 4);
	lb_image_cache_free(c);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_creates_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_changed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_missing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_hrefs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_href_spellings_allowed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_href_spellings_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_href_nothing_allowed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_by_size_lru, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_evict_by_age, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_evict_query_strings,
		    setup_http, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup_http,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_index_failure_keeps_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checksum_ok, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checksum_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checksum_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_download_then_304,
		    setup_http, teardown),
		cmocka_unit_test_setup_teardown(test_http_last_modified,
		    setup_http, teardown),
		cmocka_unit_test_setup_teardown(test_http_new_etag, setup_http,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_errors, setup_http,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_secrets_not_shown,
		    setup_http, teardown),
		cmocka_unit_test_setup_teardown(test_http_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_checksum, setup_http,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_redirects,
		    setup_http, teardown),
		cmocka_unit_test_setup_teardown(
		    test_http_many_threads_one_download, setup_http, teardown),
		cmocka_unit_test_setup_teardown(test_place_links_and_replaces,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_place_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_place_copies_across_devices, setup, teardown),
	};

	/* The test server is on loopback; a proxy from the environment is not. */
	setenv("no_proxy", "127.0.0.1", 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
