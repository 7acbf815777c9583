/*
 * agent_http.c - bounded HTTP/1.1 over plain sockets and OpenSSL: message
 * parsing, connections with deadlines, replies, the listening socket and
 * the count of connections per peer (URLs are agent_url.c, the client is
 * agent_http_client.c).  Any thread; a connection belongs to one thread.
 */
#include "agent_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conductor/util/buf.h"
#include "conductor/util/banned.h"

/* ---- messages ---- */

void
ra_http_msg_release(struct ra_http_msg *m)
{
	free(m->buf);
	free(m->body_buf);
	memset(m, 0, sizeof(*m));
}

const char *
ra_http_header(const struct ra_http_msg *m, const char *name)
{
	for (size_t i = 0; i < m->n_headers; i++) {
		if (strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	}
	return NULL;
}

static bool
token_char(char c)
{
	return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

/* Cuts the next line off *p; NULL at the end. */
static char *
next_line(char **p)
{
	char *line = *p, *nl;

	if (line == NULL)
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	if (nl != NULL && nl > line && nl[-1] == '\r')
		nl[-1] = '\0';
	return line;
}

static int
parse_start_line(char *line, bool request, struct ra_http_msg *m)
{
	char *sp1, *sp2;

	sp1 = strchr(line, ' ');
	if (sp1 == NULL)
		return -EINVAL;
	*sp1 = '\0';
	if (request) {
		sp2 = strchr(sp1 + 1, ' ');
		if (sp2 == NULL || sp1 == line || sp1[1] != '/')
			return -EINVAL;
		*sp2 = '\0';
		if (strcmp(sp2 + 1, "HTTP/1.1") != 0 &&
		    strcmp(sp2 + 1, "HTTP/1.0") != 0)
			return -EINVAL;
		for (char *c = line; *c; c++) {
			if (!isupper((unsigned char)*c))
				return -EINVAL;
		}
		for (char *c = sp1 + 1; *c; c++) {
			if ((unsigned char)*c <= ' ' || *c == 0x7f)
				return -EINVAL;
		}
		m->method = line;
		m->target = sp1 + 1;
		return 0;
	}
	if (strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)
	    sp1[1]) || !isdigit((unsigned char)sp1[2]) ||
	    !isdigit((unsigned char)sp1[3]) ||
	    (sp1[4] != '\0' && sp1[4] != ' '))
		return -EINVAL;
	m->status = (sp1[1] - '0') * 100 + (sp1[2] - '0') * 10 +
	    (sp1[3] - '0');
	return m->status >= 100 ? 0 : -EINVAL;
}

int
ra_http_parse_head(char *head, bool request, struct ra_http_msg *m)
{
	char *p = head, *line, *colon, *v, *e;

	m->n_headers = 0;
	line = next_line(&p);
	if (line == NULL || parse_start_line(line, request, m) < 0)
		return -EINVAL;
	while ((line = next_line(&p)) != NULL) {
		if (*line == '\0')
			break;
		/* Obsolete line folding is a smuggling vector: refuse it. */
		if (*line == ' ' || *line == '\t')
			return -EINVAL;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return -EINVAL;
		*colon = '\0';
		for (char *c = line; *c; c++) {
			if (!token_char(*c))
				return -EINVAL;
		}
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		for (char *c = v; *c; c++) {
			if ((unsigned char)*c < ' ' && *c != '\t')
				return -EINVAL;
		}
		if (m->n_headers == RA_HTTP_MAX_HEADERS)
			return -EINVAL;
		m->headers[m->n_headers].name = line;
		m->headers[m->n_headers].value = v;
		m->n_headers++;
	}
	return 0;
}

/* ---- connections ---- */

int64_t
ra_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ra_conn_wait(struct ra_conn *c, short events)
{
	int64_t left = c->deadline - ra_now_ms();
	struct pollfd p = { .fd = c->fd, .events = events };
	int r;

	if (left <= 0)
		return -ETIMEDOUT;
	r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int
ra_conn_ssl_wait(struct ra_conn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return ra_conn_wait(c, POLLIN);
	case SSL_ERROR_WANT_WRITE:
		return ra_conn_wait(c, POLLOUT);
	case SSL_ERROR_ZERO_RETURN:
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

static ssize_t
conn_read(struct ra_conn *c, void *buf, size_t len)
{
	ssize_t n;
	int r;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_read(c->ssl, buf, (int)len);
			if (n > 0)
				return n;
			if (SSL_get_error(c->ssl, (int)n) ==
			    SSL_ERROR_ZERO_RETURN)
				return 0;
			r = ra_conn_ssl_wait(c, (int)n);
		} else {
			n = recv(c->fd, buf, len, 0);
			if (n >= 0)
				return n;
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				return -errno;
			r = ra_conn_wait(c, POLLIN);
		}
		if (r < 0)
			return r;
	}
}

int
ra_conn_write_all(struct ra_conn *c, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;
	int r;

	while (len > 0) {
		size_t chunk = len > INT_MAX ? INT_MAX : len;

		if (c->ssl != NULL) {
			ERR_clear_error();
			n = SSL_write(c->ssl, p, (int)chunk);
			if (n <= 0) {
				r = ra_conn_ssl_wait(c, (int)n);
				if (r < 0)
					return r;
				continue;
			}
		} else {
			n = send(c->fd, p, chunk, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != EINTR)
					return -errno;
				r = ra_conn_wait(c, POLLOUT);
				if (r < 0)
					return r;
				continue;
			}
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int
ra_conn_accept(struct ra_conn *c, int fd, SSL_CTX *ssl_ctx, int timeout_ms,
    struct lb_err *err)
{
	int rc, r;

	c->fd = fd;
	c->ssl = NULL;
	c->deadline = ra_now_ms() + timeout_ms;
	c->body_deadline = 0;
	if (set_nonblock(fd) < 0)
		return lb_err_set(err, -EIO, "cannot set up the connection");
	if (ssl_ctx == NULL)
		return 0;
	c->ssl = SSL_new(ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1)
		return lb_err_set(err, -ENOMEM, "cannot set up TLS");
	for (;;) {
		ERR_clear_error();
		rc = SSL_accept(c->ssl);
		if (rc == 1)
			return 0;
		r = ra_conn_ssl_wait(c, rc);
		if (r < 0) {
			unsigned long e = ERR_peek_error();

			return lb_err_set(err, r, "TLS handshake failed: %s",
			    e ? ERR_reason_error_string(e) : strerror(-r));
		}
	}
}

void
ra_conn_linger(struct ra_conn *c, int timeout_ms)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	if (c->fd < 0)
		return;
	if (c->ssl != NULL)
		SSL_shutdown(c->ssl);
	shutdown(c->fd, SHUT_WR);
	c->deadline = ra_now_ms() + timeout_ms;
	/* Raw bytes: whatever the peer still sends is thrown away. */
	while (total < 256 * 1024) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n < 0 && ra_conn_wait(c, POLLIN) < 0)
			break;
		if (n > 0)
			total += n;
	}
}

void
ra_conn_close(struct ra_conn *c)
{
	if (c->ssl != NULL) {
		/* Best effort close_notify; never wait for the peer's. */
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* ---- reading a message ---- */

static int
content_length(const struct ra_http_msg *m, long *ret)
{
	long n = -1;

	for (size_t i = 0; i < m->n_headers; i++) {
		const char *v = m->headers[i].value;
		long x = 0;

		if (strcasecmp(m->headers[i].name, "Content-Length") != 0)
			continue;
		if (*v == '\0' || strlen(v) > 12)
			return -EINVAL;
		for (; *v; v++) {
			if (!isdigit((unsigned char)*v))
				return -EINVAL;
			x = x * 10 + (*v - '0');
		}
		if (n >= 0 && n != x)
			return -EINVAL;
		n = x;
	}
	*ret = n;
	return 0;
}

static char *
find_head_end(char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++) {
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return buf + i;
	}
	return NULL;
}

/* Reads the body after 'have' bytes already read past the head. */
static int
read_body(struct ra_conn *c, struct ra_http_msg *m, const char *extra,
    size_t have, long want, struct lb_err *err)
{
	size_t cap = want >= 0 ? (size_t)want : 4096, len;
	ssize_t n;
	char *b;

	if (want >= 0 && have > (size_t)want)
		have = want;
	if (cap < have)
		cap = have;
	b = malloc(cap + 1);
	if (b == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	memcpy(b, extra, have);
	len = have;
	while (want < 0 || len < (size_t)want) {
		if (len == cap) {
			char *nb;

			if (cap >= RA_HTTP_BODY_MAX) {
				free(b);
				return lb_err_set(err, -E2BIG, "the body is "
				    "longer than %d bytes", RA_HTTP_BODY_MAX);
			}
			cap = cap * 2 > RA_HTTP_BODY_MAX ? RA_HTTP_BODY_MAX :
			    cap * 2;
			nb = realloc(b, cap + 1);
			if (nb == NULL) {
				free(b);
				return lb_err_set(err, -ENOMEM, "out of "
				    "memory");
			}
			b = nb;
		}
		n = conn_read(c, b + len, cap - len);
		if (n == 0 && want < 0)
			break;
		if (n <= 0) {
			free(b);
			return lb_err_set(err, n == 0 ? -EPROTO : (int)n,
			    "the connection ended inside the body");
		}
		len += n;
	}
	b[len] = '\0';
	m->body_buf = b;
	m->body = b;
	m->body_len = len;
	return 0;
}

int
ra_http_read_msg(struct ra_conn *c, bool request, bool head_only,
    struct ra_http_msg *ret, struct lb_err *err)
{
	struct ra_http_msg m = { 0 };
	size_t len = 0, head_len;
	char *end = NULL;
	long want;
	ssize_t n;
	int r;

	m.buf = malloc(RA_HTTP_HEAD_MAX + 1);
	if (m.buf == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	while (end == NULL) {
		if (len == RA_HTTP_HEAD_MAX) {
			r = lb_err_set(err, -EMSGSIZE, "the head is longer "
			    "than %d bytes", RA_HTTP_HEAD_MAX);
			goto fail;
		}
		n = conn_read(c, m.buf + len, RA_HTTP_HEAD_MAX - len);
		if (n <= 0) {
			r = lb_err_set(err, n == 0 ? (len ? -EPROTO :
			    -ECONNRESET) : (int)n, "the connection ended "
			    "before a complete head");
			goto fail;
		}
		/* Look again a little before the new bytes. */
		end = find_head_end(m.buf + (len > 3 ? len - 3 : 0),
		    len + n - (len > 3 ? len - 3 : 0));
		len += n;
	}
	head_len = end - m.buf;
	if (c->body_deadline > c->deadline)
		c->deadline = c->body_deadline;
	if (memchr(m.buf, '\0', head_len) != NULL) {
		r = lb_err_set(err, -EINVAL, "NUL byte in the head");
		goto fail;
	}
	m.buf[head_len] = '\0';
	if (ra_http_parse_head(m.buf, request, &m) < 0) {
		r = lb_err_set(err, -EINVAL, "malformed HTTP head");
		goto fail;
	}
	if (ra_http_header(&m, "Transfer-Encoding") != NULL) {
		r = lb_err_set(err, -ENOTSUP, "only Content-Length bodies "
		    "are supported");
		goto fail;
	}
	if (content_length(&m, &want) < 0) {
		r = lb_err_set(err, -EINVAL, "bad Content-Length");
		goto fail;
	}
	if (want > RA_HTTP_BODY_MAX) {
		r = lb_err_set(err, -E2BIG, "the body is longer than %d "
		    "bytes", RA_HTTP_BODY_MAX);
		goto fail;
	}
	if (request && want < 0)
		want = 0;
	if (!request && (head_only || m.status < 200 || m.status == 204 ||
	    m.status == 304))
		want = 0;
	r = read_body(c, &m, end + 4, len - head_len - 4, want, err);
	if (r < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	ra_http_msg_release(&m);
	return r;
}

/* ---- writing a reply ---- */

const char *
ra_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "ACCEPTED";
	case 308: return "PERMANENT REDIRECT";
	case 400: return "BAD REQUEST";
	case 401: return "UNAUTHORIZED";
	case 404: return "NOT FOUND";
	case 405: return "METHOD NOT ALLOWED";
	case 409: return "CONFLICT";
	case 413: return "REQUEST ENTITY TOO LARGE";
	case 431: return "REQUEST HEADER FIELDS TOO LARGE";
	case 501: return "NOT IMPLEMENTED";
	case 503: return "SERVICE UNAVAILABLE";
	default: return "INTERNAL SERVER ERROR";
	}
}

int
ra_http_write_reply(struct ra_conn *c, int status, const char *content_type,
    const char *extra, const char *body, size_t body_len, bool head)
{
	char date[64];
	struct lb_buf b;
	struct tm tm;
	time_t now = time(NULL);
	int r;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	lb_buf_init(&b);
	lb_buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sDate: %s\r\nConnection: close\r\n\r\n",
	    status, ra_http_reason(status), content_type, body_len,
	    extra ? extra : "", date);
	if (!head && body_len > 0)
		lb_buf_add(&b, body, body_len);
	if (lb_buf_failed(&b)) {
		lb_buf_release(&b);
		return -ENOMEM;
	}
	r = ra_conn_write_all(c, b.data, b.len);
	lb_buf_release(&b);
	return r;
}

/* ---- listening ---- */

int
ra_http_listen(const char *host, int port, int *ret_fd, int *ret_port,
    struct lb_err *err)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	socklen_t len;
	int fd, one = 1, zero = 0;

	if (host == NULL || *host == '\0' || strcmp(host, "::") == 0) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		return lb_err_set(err, -EINVAL, "listen address '%s' is not "
		    "an IP address", host);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && (host == NULL ||
	    *host == '\0' || strcmp(host, "::") == 0)) {
		/* A kernel without IPv6: every IPv4 address instead. */
		memset(&ss, 0, sizeof(ss));
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons(port);
		len = sizeof(*s4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return lb_err_set(err, -errno, "cannot create a socket: %s",
		    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		close(fd);
		return lb_err_set(err, -e, "cannot listen on port %d: %s",
		    port, strerror(e));
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return lb_err_set(err, -EIO, "cannot read the bound port");
	}
	*ret_port = ntohs(ss.ss_family == AF_INET6 ? s6->sin6_port :
	    s4->sin_port);
	*ret_fd = fd;
	return 0;
}

/* ---- connections per peer ---- */

void
ra_peers_init(struct ra_peers *p, int per_peer)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->per_peer = per_peer;
}

static int
peer_key(const struct sockaddr *sa, struct ra_peer_key *key)
{
	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET6) {
		memcpy(key->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    16);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		memcpy(key->addr + 12,
		    &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int
ra_peers_take(struct ra_peers *p, const struct sockaddr *sa,
    struct ra_peer_key *ret_key)
{
	struct ra_peer_key key;
	int free_slot = -1, r = -EBUSY;

	if (peer_key(sa, &key) < 0)
		return -EAFNOSUPPORT;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < RA_PEERS_MAX; i++) {
		if (p->slots[i].n == 0) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (memcmp(&p->slots[i].key, &key, sizeof(key)) != 0)
			continue;
		if (p->slots[i].n < p->per_peer) {
			p->slots[i].n++;
			r = 0;
		}
		goto out;
	}
	if (free_slot >= 0 && p->per_peer > 0) {
		p->slots[free_slot].key = key;
		p->slots[free_slot].n = 1;
		r = 0;
	}
out:
	pthread_mutex_unlock(&p->lock);
	if (r == 0)
		*ret_key = key;
	return r;
}

void
ra_peers_put(struct ra_peers *p, const struct ra_peer_key *key)
{
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < RA_PEERS_MAX; i++) {
		if (p->slots[i].n > 0 &&
		    memcmp(&p->slots[i].key, key, sizeof(*key)) == 0) {
			p->slots[i].n--;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
}
