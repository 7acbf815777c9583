/*
 * agent_http.h - a minimal, bounded HTTP/1.1 client and server on plain
 * sockets, with OpenSSL for TLS.  One request per connection ("Connection:
 * close"), Content-Length bodies only, caps on the head and the body, and a
 * deadline on every connection.  Any thread (one connection per thread).
 */
#ifndef RA_HTTP_H
#define RA_HTTP_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conductor/util/err.h"

struct sockaddr;

#define RA_HTTP_HEAD_MAX (16 * 1024)
#define RA_HTTP_BODY_MAX (1024 * 1024)
#define RA_HTTP_MAX_HEADERS 64
#define RA_HOST_MAX 256

/* An http:// or https:// URL; path keeps everything after the authority. */
struct ra_url {
	bool tls;
	char host[RA_HOST_MAX];		/* IPv6 without [] */
	int port;
	char path[1024];		/* "" or starts with '/' */
};

/* -EINVAL unless 'text' is http(s)://host[:port][/path], no userinfo. */
int ra_url_parse(const char *text, struct ra_url *ret, struct lb_err *err);

struct ra_http_header {
	const char *name;
	const char *value;
};

/* A parsed request or reply; the pointers point into 'buf' (the head)
 * and 'body_buf'. */
struct ra_http_msg {
	char *buf;
	char *body_buf;
	const char *method;		/* requests */
	const char *target;		/* requests: path and query, raw */
	int status;			/* replies */
	struct ra_http_header headers[RA_HTTP_MAX_HEADERS];
	size_t n_headers;
	const char *body;		/* NUL-terminated, "" when empty */
	size_t body_len;
};

void ra_http_msg_release(struct ra_http_msg *m);
/* Case-insensitive; the first one wins; NULL when absent. */
const char *ra_http_header(const struct ra_http_msg *m, const char *name);

/*
 * Parses a message head (start line and header lines, without the blank
 * line) in place.  Pure, for tests and fuzzing.  -EINVAL when malformed.
 */
int ra_http_parse_head(char *head, bool request, struct ra_http_msg *m);

/*
 * A connection with a deadline (CLOCK_MONOTONIC, milliseconds).  A server
 * connection may give the TLS handshake and the request head a shorter
 * deadline than the whole request: once the head is in, 'deadline' moves
 * on to 'body_deadline' (0: stays).
 */
struct ra_conn {
	int fd;
	SSL *ssl;
	int64_t deadline;
	int64_t body_deadline;
};

int64_t ra_now_ms(void);
/* Takes ownership of 'fd' (made non-blocking); ssl_ctx may be NULL. */
int ra_conn_accept(struct ra_conn *c, int fd, SSL_CTX *ssl_ctx,
    int timeout_ms, struct lb_err *err);
void ra_conn_close(struct ra_conn *c);
/*
 * After an error reply sent before the whole request was read: half-close
 * and drain for up to 'timeout_ms', so that closing with unread bytes does
 * not reset the connection before the peer reads the reply.
 */
void ra_conn_linger(struct ra_conn *c, int timeout_ms);
int ra_conn_write_all(struct ra_conn *c, const void *data, size_t len);
/* Polls for 'events' until the deadline: 0, -ETIMEDOUT or -errno. */
int ra_conn_wait(struct ra_conn *c, short events);
/* After an SSL call returned 'rc' <= 0: waits for what it wants, or fails. */
int ra_conn_ssl_wait(struct ra_conn *c, int rc);

/*
 * Reads one message.  Requests: a body needs Content-Length (chunked is
 * -ENOTSUP).  Replies: Content-Length, or up to the end of the connection.
 * -EMSGSIZE for a head over RA_HTTP_HEAD_MAX, -E2BIG for a body over
 * RA_HTTP_BODY_MAX, -ETIMEDOUT at the deadline, -EINVAL when malformed.
 */
int ra_http_read_msg(struct ra_conn *c, bool request, bool head_only,
    struct ra_http_msg *ret, struct lb_err *err);

/* The reason phrase werkzeug sends ("NOT FOUND"). */
const char *ra_http_reason(int status);

/*
 * Writes a reply with Content-Type, Content-Length, Date and Connection:
 * close; 'extra' is "" or more header lines, each ending in CRLF.  With
 * 'head' the body is left out (a HEAD request).
 */
int ra_http_write_reply(struct ra_conn *c, int status,
    const char *content_type, const char *extra, const char *body,
    size_t body_len, bool head);

/* Client side: one TLS context, verification on unless 'insecure'. */
struct ra_http_client {
	SSL_CTX *ssl_ctx;		/* made on the first https:// call */
	bool insecure;
	int timeout_ms;
	const char *user_agent;
};

int ra_http_client_init(struct ra_http_client *c, bool insecure,
    int timeout_ms, struct lb_err *err);
void ra_http_client_release(struct ra_http_client *c);

/*
 * One request to 'url'.  'headers' is "" or header lines ending in CRLF;
 * a non-NULL body adds Content-Length.  The reply (any status) goes to
 * *ret.  -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -EPROTO (TLS or a bad
 * reply) on transport errors.
 */
int ra_http_fetch(struct ra_http_client *c, const char *method,
    const char *url, const char *headers, const char *body,
    struct ra_http_msg *ret, struct lb_err *err);

/*
 * Open connections per peer address, so that one peer cannot take every
 * connection slot.  At most RA_PEERS_MAX peers at a time (the agent serves
 * no more connections than that).  Any thread.
 */
#define RA_PEERS_MAX 64

struct ra_peer_key {
	unsigned char addr[16];		/* IPv4 as ::ffff:a.b.c.d */
};

struct ra_peers {
	pthread_mutex_t lock;
	int per_peer;
	struct {
		struct ra_peer_key key;
		int n;
	} slots[RA_PEERS_MAX];
};

void ra_peers_init(struct ra_peers *p, int per_peer);
/*
 * Counts one more connection from 'sa' (AF_INET or AF_INET6): 0 and
 * *ret_key, or -EBUSY when that peer has per_peer open already (or the
 * table is full), -EAFNOSUPPORT for another family.
 */
int ra_peers_take(struct ra_peers *p, const struct sockaddr *sa,
    struct ra_peer_key *ret_key);
void ra_peers_put(struct ra_peers *p, const struct ra_peer_key *key);

/*
 * Binds and listens on host:port (host NULL or "" = every address, IPv6
 * and IPv4).  Port 0 picks a free one; *ret_port says which.
 */
int ra_http_listen(const char *host, int port, int *ret_fd, int *ret_port,
    struct lb_err *err);

/* Appends s percent-encoded like Python's quote_plus to out. */
struct lb_buf;
void ra_url_quote_plus(struct lb_buf *out, const char *s);
/* Decodes %XX (and '+' when 'plus') in place; -EINVAL on a bad escape. */
int ra_url_unquote(char *s, bool plus);

#endif
