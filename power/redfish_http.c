/*
 * redfish_http.c - one Redfish exchange over the libcurl helper (or the
 * test transport): the headers a BMC wants, the few reply headers kept,
 * the session token kept apart, and transport and status failures as
 * errors for a client.  Any thread; the handle is the connection's.
 */
#include "power/redfish_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/log.h"

#include "conductor/util/banned.h"

#define HEADER_VALUE_MAX 4096
#define SUMMARY_MAX 512
#define N_HEADERS 8

/* What the header callback fills in. */
struct xfer {
	struct lb_redfish_reply *reply;
	char **token;		/* NULL: the token is not wanted */
	bool nomem;
};

void
lb_redfish_free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
header_set(char **dst, const char *v, size_t n, struct xfer *x)
{
	char *s;

	if (n > HEADER_VALUE_MAX)
		return;
	s = strndup(v, n);
	if (s == NULL) {
		x->nomem = true;
		return;
	}
	lb_redfish_free_secret(*dst);
	*dst = s;
}

/* Keeps ETag, Location and Allow, and X-Auth-Token when it is wanted. */
static bool
header_cb(struct lb_http *h, void *ctx, const char *data, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} keep[] = {
		{ "etag", offsetof(struct lb_redfish_reply, etag) },
		{ "location", offsetof(struct lb_redfish_reply, location) },
		{ "allow", offsetof(struct lb_redfish_reply, allow) },
	};
	struct xfer *x = ctx;
	const char *colon, *v, *end;
	size_t nlen;

	colon = memchr(data, ':', n);
	if (colon == NULL)
		return true;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	end = data + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* The session token, kept apart from the reply so it is never shown. */
	if (nlen == 12 && strncasecmp(data, "X-Auth-Token", 12) == 0) {
		if (x->token != NULL && end > v)
			header_set(x->token, v, (size_t)(end - v), x);
		return true;
	}
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (nlen == strlen(keep[i].name) &&
		    strncasecmp(data, keep[i].name, nlen) == 0)
			header_set((char **)((char *)x->reply + keep[i].off),
			    v, (size_t)(end - v), x);
	return true;
}

static int
transport_error(const struct lb_redfish_req *rq, long timeout_s,
    const struct lb_http_reply *rp, const struct xfer *x, bool *ret_retry,
    struct lb_err *err)
{
	const char *why = rp->why;

	*ret_retry = false;
	if (x->nomem || rp->fail == LB_HTTP_NOMEM)
		return lb_err_set(err, -ENOMEM, "out of memory reading a Redfish "
		    "reply");
	switch (rp->fail) {
	case LB_HTTP_TOO_LARGE:
		return lb_err_set(err, -EIO, "Redfish BMC at %s sent a reply "
		    "larger than %d bytes to %s %.200s", rq->base,
		    LB_REDFISH_REPLY_MAX, rq->method, rq->path);
	case LB_HTTP_CONNECT:
		return lb_err_set(err, -EHOSTUNREACH, "cannot reach Redfish BMC "
		    "at %s: %s", rq->base, why);
	case LB_HTTP_TIMEOUT:
		/* A BMC that stopped answering may answer again. */
		*ret_retry = true;
		return lb_err_set(err, -ETIMEDOUT, "Redfish BMC at %s timed out: "
		    "no answer to %s %.200s within %ld s (%s)", rq->base,
		    rq->method, rq->path, timeout_s, why);
	case LB_HTTP_DROPPED:
		*ret_retry = true;
		return lb_err_set(err, -EIO, "Redfish BMC at %s dropped the "
		    "connection on %s %.200s: %s", rq->base, rq->method,
		    rq->path, why);
	case LB_HTTP_TLS:
	case LB_HTTP_TLS_VERIFY:
		if (rq->tls->verify && rq->tls->ca_path != NULL) {
			/* curl's words may say whether the CA file exists. */
			log_debug("TLS failure talking to Redfish BMC at %s: "
			    "%s", rq->base, why);
			return lb_err_set(err, -EIO, "TLS failure talking to "
			    "Redfish BMC at %s: its certificate could not be "
			    "verified with driver_info/redfish_verify_ca",
			    rq->base);
		}
		return lb_err_set(err, -EIO, "TLS failure talking to "
		    "Redfish BMC at %s: %s", rq->base, why);
	default:
		return lb_err_set(err, -EIO, "Redfish request %s %.200s to %s "
		    "failed: %s", rq->method, rq->path, rq->base, why);
	}
}

/* Fills hdrs (NULL-terminated) from rq; lines holds the built ones. */
static void
request_headers(const struct lb_redfish_req *rq, const char **hdrs,
    char lines[2][HEADER_VALUE_MAX + 32])
{
	size_t n = 0;

	hdrs[n++] = "Accept: application/json";
	hdrs[n++] = "OData-Version: 4.0";
	hdrs[n++] = "Expect:";
	if (rq->body != NULL)
		hdrs[n++] = "Content-Type: application/json";
	if (rq->if_match != NULL && strlen(rq->if_match) < HEADER_VALUE_MAX &&
	    strpbrk(rq->if_match, "\r\n") == NULL) {
		snprintf(lines[0], sizeof(lines[0]), "If-Match: %s",
		    rq->if_match);
		hdrs[n++] = lines[0];
	}
	if (rq->auth == LB_REDFISH_SEND_TOKEN) {
		snprintf(lines[1], sizeof(lines[1]), "X-Auth-Token: %s",
		    rq->token);
		hdrs[n++] = lines[1];
	}
	hdrs[n] = NULL;
}

static int
transport_request(const struct lb_redfish_req *rq,
    struct lb_redfish_reply *reply, struct lb_err *err)
{
	const struct lb_redfish_transport *t = lb_redfish_transport_get();
	int r;

	r = t->request(t->ctx, rq->method, rq->path, rq->body, rq->if_match,
	    reply);
	return r < 0 ? lb_err_set(err, r, "Redfish transport failed on "
	    "%s %.200s", rq->method, rq->path) : 0;
}

/*
 * Caps the exchange's timeouts by the connection's deadline (whole
 * seconds, as curl takes them); false when the deadline has passed.
 */
static bool
within_deadline(const struct lb_redfish_req *rq, struct lb_http_request *hr)
{
	double left;

	if (rq->deadline <= 0)
		return true;
	left = rq->deadline - lb_redfish_now();
	if (left <= 0)
		return false;
	if (left < hr->timeout_s)
		hr->timeout_s = (long)(left + 0.999);
	if (hr->connect_timeout_s > hr->timeout_s)
		hr->connect_timeout_s = hr->timeout_s;
	return true;
}

int
lb_redfish_http_do(struct lb_http *http, const struct lb_redfish_req *rq,
    struct lb_redfish_reply *reply, char **ret_token, bool *ret_retry,
    struct lb_err *err)
{
	char url[sizeof(((struct lb_redfish_address *)0)->base) +
	    LB_REDFISH_PATH_MAX];
	char lines[2][HEADER_VALUE_MAX + 32];
	const char *hdrs[N_HEADERS];
	char *token = NULL;
	struct xfer x = { .reply = reply, .token = &token };
	struct lb_http_request hr = {
		.method = rq->method,
		.url = url,
		.headers = hdrs,
		.body = rq->body,
		.connect_timeout_s = LB_REDFISH_CONNECT_TIMEOUT_S,
		.timeout_s = rq->total_s,
		.verify = rq->tls->verify,
		.ca_file = rq->tls->ca_path,
		.ca_is_dir = rq->tls->ca_is_dir,
		.reply_max = LB_REDFISH_REPLY_MAX,
		.header = header_cb,
		.ctx = &x,
		.secrets = { rq->password, rq->token },
	};
	struct lb_http_reply rp;
	int r = 0;

	lb_redfish_reply_release(reply);
	*ret_retry = false;
	if (!within_deadline(rq, &hr))
		return lb_err_set(err, -ETIMEDOUT, "Redfish BMC at %s timed "
		    "out: no answer before %s %.200s could be sent", rq->base,
		    rq->method, rq->path);
	if (lb_redfish_transport_get() != NULL)
		return transport_request(rq, reply, err);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", rq->base, rq->path) >=
	    sizeof(url))
		return lb_err_set(err, -EINVAL, "Redfish path too long");
	if (rq->auth == LB_REDFISH_SEND_BASIC) {
		hr.user = rq->user;
		hr.password = rq->password != NULL ? rq->password : "";
	}
	request_headers(rq, hdrs, lines);
	if (lb_http_perform(http, &hr, &rp) < 0 || x.nomem) {
		if (rp.fail == LB_HTTP_OK)
			rp.fail = LB_HTTP_NOMEM;
		r = transport_error(rq, hr.timeout_s, &rp, &x, ret_retry,
		    err);
		lb_redfish_reply_release(reply);
	} else {
		reply->status = rp.status;
		if (rp.body.len > 0)
			reply->body = lb_buf_steal(&rp.body, &reply->len);
		if (reply->body == NULL)
			reply->len = 0;
	}
	explicit_bzero(lines[1], sizeof(lines[1]));
	lb_buf_release(&rp.body);
	if (r == 0 && ret_token != NULL)
		*ret_token = token;
	else
		lb_redfish_free_secret(token);
	return r;
}

int
lb_redfish_status_error(const struct lb_redfish_conn *c, const char *method,
    const char *path, const struct lb_redfish_reply *reply,
    struct lb_err *err)
{
	const struct lb_redfish_info *info = c->info;
	char summary[SUMMARY_MAX];
	const char *sep;
	int r;

	lb_redfish_error_summary(reply->body, reply->len, summary,
	    sizeof(summary));
	sep = summary[0] != '\0' ? ": " : "";
	if (reply->status == 401 || reply->status == 403)
		r = lb_err_set(err, -EACCES, "Redfish authentication failed at "
		    "%s for user '%.64s' (HTTP %ld on %s %.200s)%s%s",
		    info->address.base, info->username != NULL ?
		    info->username : "", reply->status, method, path, sep,
		    summary);
	else if (reply->status == 404)
		r = lb_err_set(err, -ENOENT, "Redfish resource '%.200s' not "
		    "found at %s%s%s", path, info->address.base, sep, summary);
	else
		r = lb_err_set(err, -EIO, "Redfish BMC at %s answered HTTP %ld "
		    "to %s %.200s%s%s", info->address.base, reply->status,
		    method, path, sep, summary);
	lb_http_redact(err != NULL ? err->msg : NULL, sizeof(err->msg),
	    (const char *const[]){ info->password, c->token }, 2);
	return r;
}

bool
lb_redfish_is_2xx(long status)
{
	return status >= 200 && status < 300;
}

void
lb_redfish_req_init(struct lb_redfish_req *rq,
    const struct lb_redfish_conn *c, struct lb_redfish_tls *tls)
{
	const struct lb_redfish_info *info = c->info;

	tls->verify = info->verify;
	tls->ca_path = info->ca_path;
	tls->ca_is_dir = info->ca_is_dir;
	memset(rq, 0, sizeof(*rq));
	rq->base = info->address.base;
	rq->tls = tls;
	rq->total_s = LB_REDFISH_TOTAL_TIMEOUT_S;
	rq->deadline = c->deadline;
	rq->user = info->username;
	rq->password = info->password;
}
