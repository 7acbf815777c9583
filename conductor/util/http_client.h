/*
 * http_client.h - the one libcurl helper: global init once, one request
 * with bounded time and size, TLS options, redirects, a reply buffer or a
 * streaming sink, and error text with every secret masked.  Any thread; a
 * struct lb_http belongs to the thread using it.  Built only with libcurl.
 */
#ifndef LB_HTTP_CLIENT_H
#define LB_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/buf.h"

/* Room for error text, as curl's CURL_ERROR_SIZE. */
#define LB_HTTP_WHY_MAX 256
/* Listed secrets shorter than this cannot be masked safely (see why). */
#define LB_HTTP_SECRET_MIN 4
#define LB_HTTP_SECRETS_MAX 4

/* How a request failed, coarse enough for each caller's own errors. */
enum lb_http_fail {
	LB_HTTP_OK,
	LB_HTTP_NOMEM,
	LB_HTTP_CONNECT,	/* cannot resolve or connect */
	LB_HTTP_TIMEOUT,
	LB_HTTP_DROPPED,	/* nothing, or part of a reply, came back */
	LB_HTTP_TLS_VERIFY,	/* handshake or peer verification */
	LB_HTTP_TLS,		/* any other TLS failure */
	LB_HTTP_TOO_LARGE,	/* reply_max or max_file_size exceeded */
	LB_HTTP_REDIRECTS,	/* more than max_redirs */
	LB_HTTP_ABORTED,	/* the caller's write or header callback */
	LB_HTTP_OTHER,
};

/*
 * Streaming callbacks: return false to abort the transfer.  header() gets
 * each raw header line (status lines and the blank line included);
 * lb_http_status() tells the status of the reply being read.
 */
struct lb_http;
typedef bool (*lb_http_write_fn)(void *ctx, const char *data, size_t len);
typedef bool (*lb_http_header_fn)(struct lb_http *h, void *ctx,
    const char *line, size_t len);

struct lb_http_request {
	const char *method;	/* NULL or "GET"; "POST", "PATCH", ... */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines */
	const char *body;	/* sent as is; POST without one sends "" */
	long connect_timeout_s;
	long timeout_s;
	long low_speed_bytes;	/* abort below this many bytes/s ... */
	long low_speed_time_s;	/* ... for this long (0: never) */
	bool verify;		/* TLS peer and host name */
	const char *ca_file;	/* NULL: the system's trust store */
	bool ca_is_dir;		/* ca_file names a hashed directory */
	bool ca_only;		/* ca_file only, not the system store */
	const char *client_cert; /* PEM, optional */
	const char *client_key;
	const char *user;	/* HTTP basic, when not NULL */
	const char *password;
	long max_redirs;	/* 0: redirects are not followed */
	size_t reply_max;	/* buffered reply limit (no write callback) */
	unsigned long long max_file_size; /* 0: none */
	const char *user_agent;	/* NULL: none */
	lb_http_write_fn write;	/* NULL: the body goes to reply->body */
	lb_http_header_fn header;
	void *ctx;
	/* Masked wherever they appear in the error text (see why). */
	const char *secrets[LB_HTTP_SECRETS_MAX];
};

struct lb_http_reply {
	long status;		/* 0 when no HTTP reply came */
	struct lb_buf body;	/* without a write callback */
	enum lb_http_fail fail;
	/*
	 * Safe to show: curl's detail with secrets masked (lb_http_redact()
	 * and the request's secrets), or curl's generic text for the failure
	 * when a listed secret is too short to mask.
	 */
	char why[LB_HTTP_WHY_MAX];
	const char *generic;	/* curl's generic text, never a secret */
};

/* curl_global_init, once per process (thread-safe).  0 or -EIO. */
int lb_http_global_init(void);

/* A reusable handle.  -ENOMEM, -EIO. */
int lb_http_new(struct lb_http **ret);
void lb_http_free(struct lb_http *h);

/*
 * Performs one request.  0 when an HTTP reply arrived (any status); else
 * -1 with reply->fail and reply->why set.  reply->body is initialised
 * here and must be released by the caller (lb_buf_release) in any case.
 */
int lb_http_perform(struct lb_http *h, const struct lb_http_request *rq,
    struct lb_http_reply *reply);

/* The status of the reply being read (from a header callback). */
long lb_http_status(struct lb_http *h);

/* url with every character outside RFC 3986's unreserved set escaped. */
char *lb_http_escape(struct lb_http *h, const char *s);
void lb_http_free_string(char *s);

/*
 * Masks in msg, in place: the userinfo of any URL (user:password before an @),
 * the query of any URL ("?******"), the values of Authorization and
 * X-Auth-Token headers, and every occurrence of each non-NULL secret of
 * 3 characters or more.  The one place error text loses its secrets.
 */
void lb_http_redact(char *msg, size_t size, const char *const *secrets,
    size_t nsecrets);

#endif
