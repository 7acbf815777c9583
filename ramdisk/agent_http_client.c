/*
 * agent_http_client.c - the HTTP(S) client the agent calls Ironic with:
 * one request per connection, a deadline over connect, TLS and the reply,
 * certificate and host (or IP) checks unless ipa-insecure.  The calling
 * thread (main, then heartbeat).
 */
#include "agent_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conductor/util/buf.h"
#include "conductor/util/banned.h"

int
ra_http_client_init(struct ra_http_client *c, bool insecure, int timeout_ms,
    struct lb_err *err)
{
	(void)err;
	memset(c, 0, sizeof(*c));
	c->insecure = insecure;
	c->timeout_ms = timeout_ms;
	c->user_agent = "lifeboat-agent";
	return 0;
}

/*
 * The TLS context is made when an https:// API is first called: setting
 * OpenSSL up costs about a second under emulation, on the boot path of
 * every plain-http rescue otherwise.
 */
static int
client_ctx(struct ra_http_client *c, struct lb_err *err)
{
	if (c->ssl_ctx != NULL)
		return 0;
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (c->ssl_ctx == NULL)
		return lb_err_set(err, -ENOMEM, "cannot create a TLS context");
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(c->ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (c->insecure) {
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
		/* A missing CA store only matters for https:// APIs. */
		SSL_CTX_set_default_verify_paths(c->ssl_ctx);
	}
	return 0;
}

void
ra_http_client_release(struct ra_http_client *c)
{
	SSL_CTX_free(c->ssl_ctx);
	c->ssl_ctx = NULL;
}

static int
resolve(const struct ra_url *u, struct addrinfo **ret, struct lb_err *err)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%d", u->port);
	/* Literals never touch NSS (this binary is static). */
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(u->host, port, &hints, ret);
	if (rc != 0)
		return lb_err_set(err, -EHOSTUNREACH, "cannot resolve '%s': "
		    "%s", u->host, gai_strerror(rc));
	return 0;
}

static int
connect_one(const struct addrinfo *ai, struct ra_conn *c)
{
	socklen_t sl = sizeof(int);
	int fd, r, soerr = 0;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd < 0)
		return -errno;
	c->fd = fd;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	r = ra_conn_wait(c, POLLOUT);
	if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		r = -errno;
	if (r == 0 && soerr != 0)
		r = -soerr;
	if (r == 0)
		return 0;
fail:
	close(fd);
	c->fd = -1;
	return r;
}

static int
client_tls(struct ra_http_client *cl, struct ra_conn *c,
    const struct ra_url *u, struct lb_err *err)
{
	struct in6_addr a;
	bool literal = inet_pton(AF_INET, u->host, &a) == 1 ||
	    inet_pton(AF_INET6, u->host, &a) == 1;
	int rc, r;

	r = client_ctx(cl, err);
	if (r < 0)
		return r;
	c->ssl = SSL_new(cl->ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return lb_err_set(err, -ENOMEM, "cannot set up TLS");
	if (literal) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    u->host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, u->host);
		SSL_set1_host(c->ssl, u->host);
	}
	for (;;) {
		ERR_clear_error();
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		r = ra_conn_ssl_wait(c, rc);
		if (r == -ETIMEDOUT)
			return lb_err_set(err, r, "TLS handshake with '%s' "
			    "timed out", u->host);
		if (r < 0) {
			long v = SSL_get_verify_result(c->ssl);

			return lb_err_set(err, -EPROTO, "TLS with '%s' "
			    "failed: %s", u->host, v != X509_V_OK ?
			    X509_verify_cert_error_string(v) :
			    "handshake error");
		}
	}
}

int
ra_http_fetch(struct ra_http_client *cl, const char *method, const char *url,
    const char *headers, const char *body, struct ra_http_msg *ret,
    struct lb_err *err)
{
	struct ra_conn c = { .fd = -1 };
	struct addrinfo *ais = NULL;
	struct ra_url u;
	struct lb_buf req;
	int r = -EHOSTUNREACH;

	r = ra_url_parse(url, &u, err);
	if (r < 0)
		return r;
	r = resolve(&u, &ais, err);
	if (r < 0)
		return r;
	c.deadline = ra_now_ms() + cl->timeout_ms;
	for (struct addrinfo *ai = ais; ai != NULL; ai = ai->ai_next) {
		r = connect_one(ai, &c);
		if (r == 0 || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(ais);
	if (r < 0)
		return lb_err_set(err, r, "cannot connect to %s:%d: %s",
		    u.host, u.port, strerror(-r));
	if (u.tls && (r = client_tls(cl, &c, &u, err)) < 0)
		goto out;
	lb_buf_init(&req);
	lb_buf_addf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s", method,
	    u.path[0] ? u.path : "/", strchr(u.host, ':') ? "[" : "",
	    u.host, strchr(u.host, ':') ? "]" : "");
	if (u.port != (u.tls ? 443 : 80))
		lb_buf_addf(&req, ":%d", u.port);
	lb_buf_addf(&req, "\r\nUser-Agent: %s\r\nAccept-Encoding: identity"
	    "\r\n%s", cl->user_agent, headers ? headers : "");
	if (body != NULL)
		lb_buf_addf(&req, "Content-Length: %zu\r\n", strlen(body));
	lb_buf_adds(&req, "Connection: close\r\n\r\n");
	if (body != NULL)
		lb_buf_adds(&req, body);
	if (lb_buf_failed(&req))
		r = lb_err_set(err, -ENOMEM, "out of memory");
	else
		r = ra_conn_write_all(&c, req.data, req.len);
	lb_buf_release(&req);
	if (r < 0 && err != NULL && r != -ENOMEM)
		r = lb_err_set(err, r, "cannot send to %s:%d: %s", u.host,
		    u.port, strerror(-r));
	if (r == 0)
		r = ra_http_read_msg(&c, false, strcmp(method, "HEAD") == 0,
		    ret, err);
out:
	ra_conn_close(&c);
	return r;
}
