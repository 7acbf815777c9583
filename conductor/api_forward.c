/*
 * api_forward.c - any conductor's API, the owner acts: a request that
 * needs the conductor the hash ring gives its node to (a verb, a
 * heartbeat, a boot device or console call) is handed to that conductor's
 * API as it came, signed with the cluster's secret from the store, and
 * its answer goes back unchanged.  Decided on the API thread, sent from
 * the API's deferred thread (the connection waits suspended).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "conductor/api.h"
#include "conductor/api_internal.h"
#include "conductor/engine_ctx.h"
#include "conductor/ring.h"
#include "conductor/util/http_client.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/banned.h"

/* How far a signature's time may be from this conductor's clock. */
#define SKEW_S 300
/* A forwarded call: connecting, and the owner's whole answer. */
#define CONNECT_S 5
#define ANSWER_S 180
#define REPLY_MAX (4L << 20)
#define HEADERS_MAX 8

/*
 * The routes whose work the node's owner does, and the status of
 * Ironic's NoValidHost on each when no conductor serves the node (a
 * NotFound, which some of Ironic's controllers turn into a 400).
 */
static const struct {
	const char *method;
	const char *pattern;
	int no_host;
} owner_routes[] = {
	{ "DELETE", "v1/nodes/*", 400 },
	{ "PUT", "v1/nodes/*/maintenance", 400 },
	{ "DELETE", "v1/nodes/*/maintenance", 400 },
	{ "PUT", "v1/nodes/*/states/provision", 404 },
	{ "PUT", "v1/nodes/*/states/power", 404 },
	{ "GET", "v1/nodes/*/states/console", 404 },
	{ "PUT", "v1/nodes/*/states/console", 404 },
	{ "GET", "v1/nodes/*/validate", 404 },
	{ "GET", "v1/nodes/*/management/boot_device", 404 },
	{ "PUT", "v1/nodes/*/management/boot_device", 404 },
	{ "GET", "v1/nodes/*/management/boot_device/supported", 404 },
	{ "GET", "v1/nodes/*/vifs", 400 },
	{ "POST", "v1/nodes/*/vifs", 400 },
	{ "DELETE", "v1/nodes/*/vifs/*", 400 },
	{ "POST", "v1/heartbeat/*", 400 },
};

/* Headers handed on as they came (Host: the owner builds the same links). */
static const char *const passed_headers[] = {
	"Authorization", "Content-Type", "Host",
	"X-OpenStack-Ironic-API-Version", "OpenStack-API-Version",
};

/* One forwarded request: every string in data[], one allocation. */
struct fwd {
	const char *method;
	const char *url;
	const char *peer;
	const char *headers[HEADERS_MAX + 1];
	const char *body;
	size_t body_len;
	char data[];
};

/* The route's NoValidHost status, or 0 when it is not an owner's. */
static int
owner_route(const char *method, const char *pattern)
{
	for (size_t i = 0; i < sizeof(owner_routes) / sizeof(owner_routes[0]);
	    i++)
		if (strcmp(owner_routes[i].method, method) == 0 &&
		    strcmp(owner_routes[i].pattern, pattern) == 0)
			return owner_routes[i].no_host;
	return 0;
}

int
lb_api_no_valid_host(const struct lb_node *node, int status,
    struct lb_err *err)
{
	return lb_err_set(err, status == 400 ? -EINVAL : -ENOENT, "No valid "
	    "host was found. Reason: No conductor service registered which "
	    "supports driver %s for conductor group \"%s\".", node->driver,
	    node->conductor_group != NULL ? node->conductor_group : "");
}

/* The signature of (method, path, host, time, body) in base64url. */
static int
sign(const char *secret, const char *method, const char *path,
    const char *host, long long at, const char *body, size_t body_len,
    char out[64])
{
	unsigned char md[EVP_MAX_MD_SIZE], *msg;
	char head[1024 + 512];
	unsigned int mdlen = 0;
	size_t hlen;
	int r = -ENOMEM;

	hlen = (size_t)snprintf(head, sizeof(head), "%s\n%s\n%s\n%lld\n",
	    method, path, host, at);
	if (hlen >= sizeof(head))
		return -E2BIG;
	msg = malloc(hlen + body_len + 1);
	if (msg == NULL)
		return r;
	memcpy(msg, head, hlen);
	if (body_len > 0)
		memcpy(msg + hlen, body, body_len);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), msg,
	    hlen + body_len, md, &mdlen) != NULL &&
	    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen) > 0)
		r = 0;
	explicit_bzero(msg, hlen + body_len);
	free(msg);
	return r;
}

/*
 * X-Lifeboat-Forwarded: "HOST TIME SIGNATURE".  0 when absent, 1 when
 * valid (the request was forwarded by a peer: it is not forwarded again),
 * -EPERM when present and not valid.
 */
int
lb_api_forwarded(const struct lb_req *req, struct lb_err *err)
{
	const char *v = MHD_lookup_connection_value(req->conn,
	    MHD_HEADER_KIND, LB_FORWARD_HEADER);
	char host[LB_RING_HOST_MAX], got[64], want[64];
	long long at;
	int n = 0;

	if (v == NULL)
		return 0;
	if (strlen(v) < 400 && sscanf(v, "%255s %lld %63s%n", host, &at, got,
	    &n) == 3 && v[n] == '\0' && llabs((long long)time(NULL) - at) <=
	    SKEW_S && sign(req->ctx->engine->secret, req->method, req->path,
	    host, at, req->body, req->body != NULL ? req->body_len : 0,
	    want) == 0 && strlen(got) == strlen(want) &&
	    CRYPTO_memcmp(got, want, strlen(want)) == 0)
		return 1;
	return lb_err_set(err, -EPERM, "The request's %s header is not a "
	    "valid signature of a lifeboat conductor.", LB_FORWARD_HEADER);
}

/* ---- building the forwarded request ---- */

static void
add_query(struct lb_buf *b, struct lb_http *h, const struct lb_req *req)
{
	for (size_t i = 0; i < req->nquery; i++) {
		char *k = lb_http_escape(h, req->query[i].key);
		char *v = lb_http_escape(h, req->query[i].value);

		if (k == NULL || v == NULL) {
			b->failed = true;
		} else {
			lb_buf_addc(b, i == 0 ? '?' : '&');
			lb_buf_addf(b, "%s=%s", k, v);
		}
		lb_http_free_string(k);
		lb_http_free_string(v);
	}
}

/*
 * All of the request's strings, NUL-separated, in the order
 * fwd_unpack reads them: method, URL, peer, headers, "", body.
 */
static int
fwd_pack(const struct lb_req *req, const struct lb_ring_peer *peer,
    struct lb_buf *b)
{
	const char *self = req->ctx->cfg->host;
	struct lb_http *h = NULL;
	long long at = (long long)time(NULL);
	char sig[64];
	int r;

	r = lb_http_new(&h);
	if (r < 0)
		return r;
	lb_buf_adds(b, req->method);
	lb_buf_addc(b, '\0');
	lb_buf_addf(b, "%s%s", peer->url, req->path);
	add_query(b, h, req);
	lb_buf_addc(b, '\0');
	lb_buf_adds(b, peer->host);
	lb_buf_addc(b, '\0');
	lb_http_free(h);
	for (size_t i = 0; i < sizeof(passed_headers) /
	    sizeof(passed_headers[0]); i++) {
		const char *v = MHD_lookup_connection_value(req->conn,
		    MHD_HEADER_KIND, passed_headers[i]);

		if (v != NULL)
			lb_buf_addf(b, "%s: %s%c", passed_headers[i], v, '\0');
	}
	r = sign(req->ctx->engine->secret, req->method, req->path, self, at,
	    req->body, req->body != NULL ? req->body_len : 0, sig);
	if (r < 0)
		return r;
	lb_buf_addf(b, "%s: %s %lld %s%c%c", LB_FORWARD_HEADER, self, at, sig,
	    '\0', '\0');
	if (req->body != NULL)
		lb_buf_add(b, req->body, req->body_len);
	return lb_buf_failed(b) ? -ENOMEM : 0;
}

static struct fwd *
fwd_unpack(struct lb_buf *b)
{
	struct fwd *f = malloc(sizeof(*f) + b->len + 1);
	const char *p, *end;
	size_t n = 0;

	if (f == NULL)
		return NULL;
	memcpy(f->data, b->data, b->len);
	f->data[b->len] = '\0';
	end = f->data + b->len;
	p = f->data;
	f->method = p;
	p += strlen(p) + 1;
	f->url = p;
	p += strlen(p) + 1;
	f->peer = p;
	p += strlen(p) + 1;
	while (*p != '\0' && n < HEADERS_MAX) {
		f->headers[n++] = p;
		p += strlen(p) + 1;
	}
	f->headers[n] = NULL;
	p++;
	f->body = p < end ? p : NULL;
	f->body_len = p < end ? (size_t)(end - p) : 0;
	return f;
}

/* ---- sending it (the deferred thread) ---- */

static bool
take_location(struct lb_http *h, void *ctx, const char *line, size_t len)
{
	struct lb_resp *resp = ctx;
	size_t n = strlen("Location:");

	(void)h;
	if (len > n && strncasecmp(line, "Location:", n) == 0) {
		line += n;
		len -= n;
		while (len > 0 && (*line == ' ' || *line == '\t')) {
			line++;
			len--;
		}
		while (len > 0 && (line[len - 1] == '\r' ||
		    line[len - 1] == '\n'))
			len--;
		if (len < sizeof(resp->location)) {
			memcpy(resp->location, line, len);
			resp->location[len] = '\0';
		}
	}
	return true;
}

static int
fwd_run(void *arg, struct lb_resp *resp, struct lb_err *err)
{
	struct fwd *f = arg;
	struct lb_http_request rq = {
		.method = f->method, .url = f->url, .headers = f->headers,
		.body = f->body, .connect_timeout_s = CONNECT_S,
		.timeout_s = ANSWER_S, .reply_max = REPLY_MAX,
		.header = take_location, .ctx = resp,
	};
	struct lb_http_reply reply = { 0 };
	struct lb_http *h = NULL;
	int r;

	r = lb_http_new(&h);
	if (r == 0 && lb_http_perform(h, &rq, &reply) < 0)
		r = lb_err_set(err, -EAGAIN, "Conductor %s, which manages this "
		    "node, could not be reached (%s); retry shortly: a "
		    "conductor silent for [conductor] heartbeat_timeout hands "
		    "its nodes to the others.", f->peer, reply.why);
	else if (r < 0)
		lb_err_set(err, r, "out of memory");
	LB_METRIC_INC(LB_M_HANDED_OVER, r == 0 ? "answered" : "unreachable");
	if (r == 0) {
		resp->status = (int)reply.status;
		if (reply.body.len > 0)
			resp->body = lb_buf_steal(&reply.body, &resp->body_len);
	}
	if (r < 0)
		log_debug("%s %s: not handed to conductor %s: %s", f->method,
		    f->url, f->peer, err->msg);
	lb_buf_release(&reply.body);
	lb_http_free(h);
	if (f->body != NULL)
		explicit_bzero((char *)f->body, f->body_len);
	return r;
}

/*
 * 1: this conductor handles the request.  0: it goes to the node's
 * owner (resp->defer set).  Negative: an error to answer.
 */
int
lb_api_forward(struct lb_req *req, const char *ident, struct lb_resp *resp,
    struct lb_err *err)
{
	const struct lb_engine *e = req->ctx->engine;
	struct lb_ring_peer peer;
	struct lb_node *node = NULL;
	struct lb_err ignored = { "" };
	struct lb_buf b;
	struct fwd *f;
	int no_host = owner_route(req->method, req->route), r;

	if (e == NULL || no_host == 0)
		return 1;
	/* Not found, or a bad ident: this conductor says so, as the owner. */
	if (lb_req_check_node_ident(req, ident, &ignored) < 0 ||
	    lb_store_node_get(req->ctx->store, ident, &node, &ignored) < 0)
		return 1;
	r = lb_ring_peer_of(e, node, &peer);
	if (r == -ENOENT)
		r = lb_api_no_valid_host(node, no_host, err);
	lb_node_free(node);
	if (r <= 0)
		return r == 0 ? 1 : r;
	lb_buf_init_secret(&b);
	r = fwd_pack(req, &peer, &b);
	f = r == 0 ? fwd_unpack(&b) : NULL;
	lb_buf_release(&b);
	if (f == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	log_debug("%s %s: handed to conductor %s, which manages the node",
	    req->method, req->path, peer.host);
	resp->defer = fwd_run;
	resp->defer_arg = f;
	return 0;
}
