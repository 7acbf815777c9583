/*
 * http_boot.c - a read-only file server for the HTTP boot root, one
 * libmicrohttpd daemon per listening address ([deploy] http_url, and
 * external_http_url, which serves only the virtual-media directory).
 * Paths are resolved below the root with openat() one component at a time
 * (O_NOFOLLOW|O_NONBLOCK, symlinks walked by hand), refusing "..", hidden
 * names and links that leave the root; only regular files are served, and
 * single byte ranges are answered with 206.  Runs on MHD's threads.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_vmedia.h"
#include "conductor/http_boot.h"
#include "conductor/http_guard.h"
#include "conductor/util/httpurl.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Seconds a transfer may stall, or a kept-alive client idle. */
#define IDLE_TIMEOUT 120
/* This server's percentage of the descriptors for HTTP (the API's 75). */
#define FD_PERCENT 25

/* One listening address with its own daemon, guard and limits. */
struct listener {
	struct lb_http_boot *hb;
	const char *option;		/* "http_url", "external_http_url" */
	const char *url;		/* borrowed from the configuration */
	/* Served only below this (a real path): the root, or its
	 * virtual-media directory for external_http_url. */
	char base[1024 + sizeof("/" LB_VMEDIA_DIR)];
	struct MHD_Daemon *daemon;
	struct lb_http_guard *guard;
	int listen_fd;
};

struct lb_http_boot {
	struct listener listeners[2];
	int n;
	int root_fd;
	char root[1024];
};

static enum MHD_Result
reply_status(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text),
	    (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Symlinks followed in one request, and directories deep, at most. */
#define LINKS_MAX 8
#define DEPTH_MAX 16

/* The fds of the directories walked so far; [0] is the root's. */
struct walk {
	int fd[DEPTH_MAX + 1];
	int depth;
	int links;
};

/*
 * Takes the next '/'-separated name off *rest into 'name': 1, or 0 at the
 * end, -1 for a name too long.
 */
static int
next_name(char **rest, char *name, size_t size)
{
	char *p = *rest;
	size_t n;

	while (*p == '/')
		p++;
	if (*p == '\0')
		return 0;
	n = strcspn(p, "/");
	if (n >= size)
		return -1;
	memcpy(name, p, n);
	name[n] = '\0';
	*rest = p + n;
	return 1;
}

/*
 * Opens 'path' (URL path, already unescaped by MHD) below the root.  Every
 * open is O_NOFOLLOW|O_NONBLOCK, so no name is followed and nothing (a
 * FIFO, a device) blocks the thread; a symlink is read and walked here
 * instead, as long as it is relative and stays below the root (per-MAC
 * links are "../<uuid>/config").  The URL itself may not use "." names.
 * Returns the fd, or -1.
 */
static int
open_below(int root_fd, const char *path)
{
	char todo[2048], name[256], target[1024], *rest = todo;
	size_t url_from = 0;		/* todo holds URL names from here */
	struct walk w = { .depth = 0 };
	bool from_url;
	ssize_t n;
	int fd = -1, got;

	if (strlen(path) >= sizeof(todo))
		return -1;
	w.fd[0] = root_fd;
	snprintf(todo, sizeof(todo), "%s", path);
	for (;;) {
		while (*rest == '/')
			rest++;
		from_url = (size_t)(rest - todo) >= url_from;
		got = next_name(&rest, name, sizeof(name));
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		if (fd >= 0) {
			/* The last open was no directory, yet names follow. */
			goto fail;
		}
		if (strchr(name, '\\') != NULL ||
		    (name[0] == '.' && (from_url || (strcmp(name, ".") != 0 &&
		    strcmp(name, "..") != 0))))
			goto fail;
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (w.depth == 0)
				goto fail;
			close(w.fd[w.depth--]);
			continue;
		}
		fd = openat(w.fd[w.depth], name, O_RDONLY | O_NONBLOCK |
		    O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && errno == ELOOP) {
			/* A symlink: its target takes the place of its name. */
			n = readlinkat(w.fd[w.depth], name, target,
			    sizeof(target) - 1);
			if (n <= 0 || ++w.links > LINKS_MAX)
				goto fail;
			target[n] = '\0';
			if (target[0] == '/' ||
			    strlen(target) + 1 + strlen(rest) >= sizeof(todo))
				goto fail;
			/* rest moves up; the target goes before it */
			memmove(todo + n + 1, rest, strlen(rest) + 1);
			memcpy(todo, target, n);
			todo[n] = '/';
			rest = todo;
			url_from = n + 1;
			continue;
		}
		if (fd < 0)
			goto fail;
		if (rest[strspn(rest, "/")] != '\0' &&
		    w.depth < DEPTH_MAX) {
			struct stat st;

			/* More names follow: this must be a directory. */
			if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
				goto fail;
			w.fd[++w.depth] = fd;
			fd = -1;
		}
	}
	while (w.depth > 0)
		close(w.fd[w.depth--]);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	while (w.depth > 0)
		close(w.fd[w.depth--]);
	return -1;
}

/* A symlink must not lead out of 'base': compare real paths. */
static bool
inside(const char *base, int fd)
{
	char link[64], real[PATH_MAX];
	ssize_t n;
	size_t len = strlen(base);

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0)
		return false;
	real[n] = '\0';
	return strncmp(real, base, len) == 0 &&
	    (real[len] == '/' || real[len] == '\0');
}

/*
 * A single "bytes=A-B", "bytes=A-" or "bytes=-N" range within 'size'.
 * 1 with the range, 0 when there is no Range header, -1 when it cannot be
 * satisfied (416).  Multiple ranges are answered with the whole file.
 */
static int
parse_range(const char *h, off_t size, off_t *ret_from, off_t *ret_len)
{
	long long a = -1, b = -1;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 ||
	    strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoll(h + 1, &end, 10);
		if (*end != '\0' || b <= 0)
			return -1;
		a = b >= size ? 0 : size - b;
		b = size - 1;
	} else {
		a = strtoll(h, &end, 10);
		if (end == h || *end != '-')
			return -1;
		h = end + 1;
		b = *h == '\0' ? size - 1 : strtoll(h, &end, 10);
		if (*h != '\0' && *end != '\0')
			return -1;
		if (b >= size)
			b = size - 1;
	}
	if (a < 0 || a >= size || b < a)
		return -1;
	*ret_from = a;
	*ret_len = b - a + 1;
	return 1;
}

/*
 * How much of a request path a log line may show: the file name of a
 * rescue ISO under redfish/ is its secret (it carries the agent token).
 */
static int
shown_len(const char *url)
{
	int n = (int)strnlen(url, 512);
	const char *p = url + strspn(url, "/");	/* "//redfish/" too */

	if (strncmp(p, LB_VMEDIA_DIR "/", sizeof(LB_VMEDIA_DIR)) != 0)
		return n;
	while (n > 0 && url[n - 1] != '/')
		n--;
	return n;
}

/* The file 'path' names, if it may be served: a regular file inside the
 * root and inside 'base'.  Its fd (with *st filled in), or -ENOENT. */
static int
open_served(int root_fd, const char *base, const char *path, struct stat *st)
{
	int fd = open_below(root_fd, path);

	if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    !inside(base, fd)) {
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	return fd;
}

static enum MHD_Result
serve(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char range[96];
	off_t from = 0, len;
	struct stat st;
	int fd, want;

	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = l;	/* first call: headers only */
		lb_http_guard_head_done(conn);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* Read and drop a body, so the client sees the answer. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	fd = open_served(l->hb->root_fd, l->base, url, &st);
	if (fd < 0) {
		log_debug("http boot (%s): %s %.*s%s -> 404", l->option, method,
		    shown_len(url), url, url[shown_len(url)] ? "\u2026" : "");
		return reply_status(conn, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	len = st.st_size;
	want = parse_range(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_RANGE), st.st_size, &from, &len);
	if (want < 0) {
		close(fd);
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		snprintf(range, sizeof(range), "bytes */%lld",
		    (long long)st.st_size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, range);
		ret = MHD_queue_response(conn,
		    MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
		MHD_destroy_response(r);
		return ret;
	}
	r = MHD_create_response_from_fd_at_offset64(len, fd, from);
	if (r == NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/octet-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (want > 0) {
		snprintf(range, sizeof(range), "bytes %lld-%lld/%lld",
		    (long long)from, (long long)(from + len - 1),
		    (long long)st.st_size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, range);
	}
	ret = MHD_queue_response(conn, want > 0 ? MHD_HTTP_PARTIAL_CONTENT :
	    MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	log_debug("http boot (%s): %s %.*s%s -> %d (%lld bytes)", l->option,
	    method, shown_len(url), url, url[shown_len(url)] ? "\u2026" : "",
	    want > 0 ? 206 : 200, (long long)len);
	return ret;
}

static void
request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)con_cls;
	(void)toe;
	lb_http_guard_request_done(conn);
}

static int
listen_on(const struct lb_http_url *u, int *ret_fd, struct lb_err *err)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	int fd, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST;
	/* A name is not necessarily ours to bind: then listen everywhere. */
	rc = getaddrinfo(u->is_name ? NULL : u->host, u->port, &hints, &ai);
	if (rc != 0)
		return lb_err_set(err, -EINVAL, "cannot resolve '%s': %s",
		    u->host, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 128) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return lb_err_set(err, rc, "cannot serve the HTTP boot root on "
		    "%s port %s: %s", u->is_name ? "every address" : u->host,
		    u->port, strerror(-rc));
	}
	freeaddrinfo(ai);
	*ret_fd = fd;
	return 0;
}

static void
listener_stop(struct listener *l)
{
	/* A started daemon owns the listening socket and closes it. */
	if (l->daemon != NULL)
		MHD_stop_daemon(l->daemon);
	else if (l->listen_fd >= 0)
		close(l->listen_fd);
	lb_http_guard_free(l->guard);
}

/*
 * Starts 'l' on its URL with 'limit' connections.  Each listener has its
 * own guard, head timeout and per-address limit, so a flood on one network
 * does not starve the other.
 */
static int
listener_start(const struct lb_config *cfg, struct listener *l,
    const struct lb_http_url *u, unsigned int limit, struct lb_err *err)
{
	char name[64];
	int r;

	l->listen_fd = -1;
	r = listen_on(u, &l->listen_fd, err);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "HTTP boot (%s)", l->option);
	r = lb_http_guard_new(name, cfg->deploy_http_head_timeout,
	    IDLE_TIMEOUT, &l->guard, err);
	if (r < 0)
		return r;
	l->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, serve, l,
	    MHD_OPTION_EXTERNAL_LOGGER, lb_http_guard_log, l->guard,
	    MHD_OPTION_LISTEN_SOCKET, l->listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)cfg->deploy_http_head_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)cfg->deploy_http_max_conns_per_ip,
	    MHD_OPTION_NOTIFY_CONNECTION, lb_http_guard_notify, l->guard,
	    MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
	    MHD_OPTION_END);
	if (l->daemon == NULL)
		return lb_err_set(err, -EIO, "cannot start the HTTP boot "
		    "server for [deploy] %s", l->option);
	log_info("HTTP boot root %s served at %s ([deploy] %s), at most %u "
	    "connections (%d per address)", l->base, l->url, l->option, limit,
	    cfg->deploy_http_max_conns_per_ip);
	return 0;
}

/* The listeners the configuration asks for: http_url, and
 * external_http_url unless it is the same socket. */
static int
plan(const struct lb_config *cfg, struct lb_http_boot *hb,
    struct lb_http_url *urls, struct lb_err *err)
{
	const char *want[2][2] = {
		{ "http_url", cfg->deploy_http_url },
		{ "external_http_url", cfg->deploy_external_http_url },
	};
	struct lb_err why;
	int r;

	for (int i = 0; i < 2; i++) {
		struct listener *l = &hb->listeners[hb->n];

		if (want[i][1] == NULL)
			continue;
		r = lb_http_url_parse(want[i][1], &urls[hb->n], &why);
		if (r < 0)
			return lb_err_set(err, r, "[deploy] %s '%s' %s",
			    want[i][0], want[i][1], why.msg);
		if (hb->n == 1 && lb_http_url_same_listener(&urls[0],
		    &urls[1])) {
			/* One socket serves both, the whole root. */
			hb->listeners[0].option = "http_url, external_http_url";
			continue;
		}
		l->hb = hb;
		l->option = want[i][0];
		l->url = want[i][1];
		l->listen_fd = -1;
		/* BMCs fetch ISOs, and nothing else, from their network. */
		snprintf(l->base, sizeof(l->base), "%s%s", hb->root,
		    i == 1 ? "/" LB_VMEDIA_DIR : "");
		hb->n++;
	}
	if (hb->n == 2 && lb_http_url_clash(&urls[0], &urls[1]))
		return lb_err_set(err, -EINVAL, "[deploy] http_url '%s' and "
		    "external_http_url '%s' cannot both be listened on",
		    hb->listeners[0].url, hb->listeners[1].url);
	return 0;
}

int
lb_http_boot_start(const struct lb_config *cfg, struct lb_http_boot **ret,
    struct lb_err *err)
{
	struct lb_http_boot *hb;
	struct lb_http_url urls[2];
	unsigned int limit;
	int r;

	hb = calloc(1, sizeof(*hb));
	if (hb == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	hb->root_fd = -1;
	if (mkdir(cfg->deploy_http_root, 0755) < 0 && errno != EEXIST) {
		r = lb_err_set(err, -errno, "cannot create [deploy] http_root "
		    "'%s': %s", cfg->deploy_http_root, strerror(errno));
		goto fail;
	}
	if (realpath(cfg->deploy_http_root, hb->root) == NULL ||
	    (hb->root_fd = open(hb->root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		r = lb_err_set(err, -errno, "cannot open [deploy] http_root "
		    "'%s': %s", cfg->deploy_http_root, strerror(errno));
		goto fail;
	}
	r = plan(cfg, hb, urls, err);
	if (r < 0)
		goto fail;
	/* The listeners share this server's part of the descriptors. */
	limit = lb_http_conn_limit(FD_PERCENT / (hb->n ? hb->n : 1));
	for (int i = 0; i < hb->n; i++) {
		r = listener_start(cfg, &hb->listeners[i], &urls[i], limit,
		    err);
		if (r < 0)
			goto fail;
	}
	*ret = hb;
	return 0;
fail:
	lb_http_boot_stop(hb);
	return r;
}

void
lb_http_boot_stop(struct lb_http_boot *hb)
{
	if (hb == NULL)
		return;
	for (int i = 0; i < hb->n; i++)
		listener_stop(&hb->listeners[i]);
	if (hb->root_fd >= 0)
		close(hb->root_fd);
	free(hb);
}

/* ---- the pure parts, for the fuzz target (tests/fuzz/fuzz_http_boot.c) ---- */

int
lb_http_boot_resolve(const char *root, int root_fd, const char *path)
{
	struct stat st;

	return open_served(root_fd, root, path, &st);
}

int
lb_http_boot_parse_range(const char *h, off_t size, off_t *ret_from,
    off_t *ret_len)
{
	return parse_range(h, size, ret_from, ret_len);
}
