/*
 * api.c - the HTTP front of lifeboatd: listening socket, request bodies,
 * the route table, microversion negotiation, HTTP basic auth, deferred
 * requests and the replies, with Ironic's error documents.  Runs on
 * libmicrohttpd's thread pool, deferred work on threads of its own.  The
 * handlers it calls live in api_root.c, api_nodes.c, api_ports.c and
 * api_mgmt.c; their request helpers in api_req.c.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conductor/api_internal.h"
#include "conductor/engine.h"
#include "conductor/history.h"
#include "conductor/http_guard.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/version.h"
#include "conductor/util/banned.h"

/* Bodies past the limit are read and dropped up to this, then cut off. */
#define BODY_DISCARD_MAX (64L * 1024 * 1024)
#define MAX_SEGMENTS 8

/* Seconds a kept-alive client may idle between requests. */
#define API_IDLE_TIMEOUT 60
/* The API's percentage of the descriptors for HTTP (the boot root's 25). */
#define API_FD_PERCENT 75

/* Deferred requests (lb_resp.defer) in flight at most; more get 503. */
#define DEFERRED_MAX 64

struct lb_api {
	const struct lb_api_ctx *ctx;
	struct MHD_Daemon *daemon;
	struct lb_http_guard *guard;
	int listen_fd;

	pthread_mutex_t lock;
	pthread_cond_t idle;		/* signalled when 'deferred' drops */
	int deferred;			/* threads running deferred work */
};

struct conn_state {
	struct lb_buf body;
	bool too_large;
	size_t dropped;			/* bytes read past the limit */
	struct timespec start;

	/* A deferred request: suspended until its thread has the answer. */
	struct lb_api *api;
	struct MHD_Connection *conn;
	const char *method, *path;	/* libmicrohttpd's, live as cs does */
	const char *route;		/* the route table's */
	int minor;
	bool with_current;
	bool done;
	int r;
	struct lb_resp resp;
	struct lb_err err;
};

struct route {
	const char *method;
	const char *pattern;		/* segments, '*' matches one */
	lb_handler_fn fn;
	bool public;			/* reachable without credentials */
};

static const struct route routes[] = {
	{ "GET", "", lb_api_root, true },
	{ "GET", "v1", lb_api_v1, true },
	{ "GET", "v1/nodes", lb_api_node_list, false },
	{ "POST", "v1/nodes", lb_api_node_create, false },
	{ "GET", "v1/nodes/detail", lb_api_node_detail, false },
	{ "GET", "v1/nodes/*", lb_api_node_show, false },
	{ "PATCH", "v1/nodes/*", lb_api_node_patch, false },
	{ "DELETE", "v1/nodes/*", lb_api_node_delete, false },
	{ "GET", "v1/nodes/*/maintenance", lb_api_node_maintenance_get, false },
	{ "PUT", "v1/nodes/*/maintenance", lb_api_node_maintenance_set, false },
	{ "DELETE", "v1/nodes/*/maintenance", lb_api_node_maintenance_unset,
	  false },
	{ "GET", "v1/nodes/*/states", lb_api_node_states, false },
	{ "PUT", "v1/nodes/*/states/provision", lb_api_node_provision, false },
	{ "PUT", "v1/nodes/*/states/power", lb_api_node_power, false },
	{ "GET", "v1/nodes/*/states/console", lb_api_node_console_get, false },
	{ "PUT", "v1/nodes/*/states/console", lb_api_node_console_set, false },
	{ "GET", "v1/nodes/*/validate", lb_api_node_validate, false },
	{ "GET", "v1/nodes/*/management/boot_device",
	  lb_api_node_boot_device_get, false },
	{ "PUT", "v1/nodes/*/management/boot_device",
	  lb_api_node_boot_device_set, false },
	{ "GET", "v1/nodes/*/management/boot_device/supported",
	  lb_api_node_boot_device_supported, false },
	{ "GET", "v1/nodes/*/vifs", lb_api_node_vifs, false },
	{ "POST", "v1/nodes/*/vifs", lb_api_node_vif_attach, false },
	{ "DELETE", "v1/nodes/*/vifs/*", lb_api_node_vif_detach, false },
	{ "GET", "v1/nodes/*/history", lb_api_node_history, false },
	{ "GET", "v1/nodes/*/history/*", lb_api_node_history_event, false },
	{ "GET", "v1/nodes/*/ports", lb_api_node_ports, false },
	{ "GET", "v1/nodes/*/ports/detail", lb_api_node_ports_detail, false },
	{ "GET", "v1/ports", lb_api_port_list, false },
	{ "POST", "v1/ports", lb_api_port_create, false },
	{ "GET", "v1/ports/detail", lb_api_port_detail, false },
	{ "GET", "v1/ports/*", lb_api_port_show, false },
	{ "PATCH", "v1/ports/*", lb_api_port_patch, false },
	{ "DELETE", "v1/ports/*", lb_api_port_delete, false },
	{ "GET", "v1/lookup", lb_api_lookup, true },
	{ "POST", "v1/heartbeat/*", lb_api_heartbeat, true },
	{ "GET", "v1/chassis", lb_api_chassis_list, false },
	{ "GET", "v1/chassis/detail", lb_api_chassis_detail, false },
	{ "GET", "v1/chassis/*", lb_api_chassis_show, false },
	{ "GET", "v1/drivers", lb_api_driver_list, false },
	{ "GET", "v1/drivers/*", lb_api_driver_show, false },
	{ "GET", "v1/drivers/*/properties", lb_api_driver_properties, false },
	{ "GET", "v1/conductors", lb_api_conductor_list, false },
	{ "GET", "v1/conductors/*", lb_api_conductor_show, false },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/*
 * The routes that queue jobs or call drivers: once a graceful stop began
 * they answer 503 (reads still answer; heartbeats are refused by the
 * engine only when they would start a job).
 */
static const struct {
	const char *method;
	const char *pattern;
} work_routes[] = {
	{ "POST", "v1/nodes" },
	{ "PATCH", "v1/nodes/*" },
	{ "DELETE", "v1/nodes/*" },
	{ "PUT", "v1/nodes/*/states/provision" },
	{ "PUT", "v1/nodes/*/states/power" },
	{ "PUT", "v1/nodes/*/states/console" },
	{ "PUT", "v1/nodes/*/management/boot_device" },
	{ "POST", "v1/nodes/*/vifs" },
	{ "DELETE", "v1/nodes/*/vifs/*" },
};

static bool
refused_while_stopping(const struct lb_req *req, const struct route *rt)
{
	if (req->ctx->engine == NULL || !lb_engine_stopping(req->ctx->engine))
		return false;
	for (size_t i = 0; i < sizeof(work_routes) / sizeof(work_routes[0]);
	    i++)
		if (strcmp(work_routes[i].method, rt->method) == 0 &&
		    strcmp(work_routes[i].pattern, rt->pattern) == 0)
			return true;
	return false;
}

/* ---- microversions ---- */

static int
negotiate(struct MHD_Connection *conn, int *ret_minor, struct lb_err *err)
{
	return lb_version_parse(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, "X-OpenStack-Ironic-API-Version"),
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "OpenStack-API-Version"), LB_API_MIN_MINOR, LB_API_MAX_MINOR,
	    ret_minor, err);
}

/* ---- routing ---- */

static size_t
split_path(char *path, char **segs)
{
	size_t n = 0;
	char *p = path, *slash;

	while (*p == '/')
		p++;
	while (*p != '\0' && n < MAX_SEGMENTS + 1) {
		slash = strchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		segs[n++] = p;
		if (slash == NULL)
			break;
		p = slash + 1;
		while (*p == '/')
			p++;
	}
	return n;
}

/* Matches; fills args with the segments that stood for '*'. */
static bool
route_matches(const struct route *rt, char **segs, size_t nsegs,
    const char **args)
{
	char pattern[64], *pp[MAX_SEGMENTS + 1];
	size_t np, nargs = 0;

	snprintf(pattern, sizeof(pattern), "%s", rt->pattern);
	np = split_path(pattern, pp);
	if (np != nsegs)
		return false;
	for (size_t i = 0; i < np; i++) {
		if (strcmp(pp[i], "*") == 0)
			args[nargs++] = segs[i];
		else if (strcmp(pp[i], segs[i]) != 0)
			return false;
	}
	args[nargs] = NULL;
	return true;
}

static enum MHD_Result
collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct lb_req *req = cls;

	(void)kind;
	if (req->nquery == LB_QUERY_MAX)
		return MHD_NO;
	req->query[req->nquery].key = key;
	req->query[req->nquery].value = value ? value : "";
	req->query[req->nquery].used = false;
	req->nquery++;
	return MHD_YES;
}

static void
set_base_url(struct lb_req *req, struct MHD_Connection *conn)
{
	const struct lb_config *cfg = req->ctx->cfg;
	const char *host;
	size_t n;

	if (cfg->api_public_endpoint != NULL) {
		snprintf(req->base_url, sizeof(req->base_url), "%s",
		    cfg->api_public_endpoint);
	} else {
		host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_HOST);
		/* A Host that is not a plain host[:port] is not echoed. */
		if (host == NULL || strlen(host) > 255 ||
		    strpbrk(host, "\"\\/ <>{}") != NULL)
			snprintf(req->base_url, sizeof(req->base_url),
			    "http://%s:%d", cfg->api_host_ip, cfg->api_port);
		else
			snprintf(req->base_url, sizeof(req->base_url),
			    "http://%s", host);
	}
	n = strlen(req->base_url);
	while (n > 0 && req->base_url[n - 1] == '/')
		req->base_url[--n] = '\0';
}

/* The client's address as text, or NULL; failed logins are counted by it. */
static const char *
client_address(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;

	if (sa == NULL || getnameinfo(sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), buf,
	    size, NULL, 0, NI_NUMERICHOST) != 0)
		return NULL;
	return buf;
}

/*
 * The user the request's history events name: with http_basic, the user
 * name of the credentials just checked; none with noauth (as Ironic's).
 */
static void
set_user(const struct lb_req *req, struct MHD_Connection *conn, bool public)
{
	char user[LB_HISTORY_USER_MAX];

	lb_history_user_set(NULL);
	if (public || req->ctx->htpasswd == NULL)
		return;
	if (lb_htpasswd_user(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), user,
	    sizeof(user)) == 0)
		lb_history_user_set(user);
	explicit_bzero(user, sizeof(user));
}

/*
 * Finds the route and calls it.  Returns the handler's result; 404/405 are
 * errors like any other.  *ret_versioned says whether version headers go
 * on the reply.
 */
static int
dispatch(struct lb_req *req, struct MHD_Connection *conn, const char *method,
    const char *url, struct lb_resp *resp, bool *ret_public,
    struct lb_err *err)
{
	char path[1024], *segs[MAX_SEGMENTS + 1], source[64];
	const char *args[MAX_SEGMENTS + 1];
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	bool path_known = false;
	size_t nsegs;
	int r;

	if (strlen(url) >= sizeof(path))
		return lb_err_set(err, -ENOENT, "The resource could not be "
		    "found.");
	snprintf(path, sizeof(path), "%s", url);
	nsegs = split_path(path, segs);
	if (nsegs > MAX_SEGMENTS)
		return lb_err_set(err, -ENOENT, "The resource could not be "
		    "found.");
	for (size_t i = 0; i < NROUTES; i++) {
		if (!route_matches(&routes[i], segs, nsegs, args))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, want) != 0)
			continue;
		*ret_public = routes[i].public;
		req->route = routes[i].pattern;
		if (!routes[i].public && req->ctx->htpasswd != NULL &&
		    lb_htpasswd_check(req->ctx->htpasswd,
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_AUTHORIZATION), client_address(conn,
		    source, sizeof(source))) < 0)
			return lb_err_set(err, -EACCES, "Authentication "
			    "required: this endpoint needs valid HTTP basic "
			    "credentials.");
		if (refused_while_stopping(req, &routes[i]))
			return lb_engine_stopping_err(req->ctx->engine, err);
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND,
		    collect_query, req);
		/* A peer's request is this conductor's; others may not be. */
		r = lb_api_forwarded(req, err);
		if (r == 0 && nsegs > 2 &&
		    (r = lb_api_forward(req, args[0], resp, err)) == 0)
			return 0;
		if (r < 0)
			return r;
		set_user(req, conn, routes[i].public);
		r = routes[i].fn(req, args, resp, err);
		lb_history_user_set(NULL);
		if (r == 0 && resp->status == 0)
			resp->status = 200;
		return r;
	}
	if (path_known)
		return lb_err_set(err, -ENOSYS, "The method %s is not allowed "
		    "for the resource.", method);
	return lb_err_set(err, -ENOENT, "The resource could not be found.");
}

/* ---- the libmicrohttpd side ---- */

static void
add_version_headers(struct MHD_Response *r, int minor, bool with_current)
{
	char v[16];

	snprintf(v, sizeof(v), "1.%d", LB_API_MIN_MINOR);
	MHD_add_response_header(r, "X-OpenStack-Ironic-API-Minimum-Version", v);
	snprintf(v, sizeof(v), "1.%d", LB_API_MAX_MINOR);
	MHD_add_response_header(r, "X-OpenStack-Ironic-API-Maximum-Version", v);
	if (with_current) {
		snprintf(v, sizeof(v), "1.%d", minor);
		MHD_add_response_header(r, "X-OpenStack-Ironic-API-Version", v);
	}
}

static double
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1e3 +
	    (now.tv_nsec - start->tv_nsec) / 1e6;
}

/*
 * Counted by method, route pattern and status: label values from fixed
 * sets only, never the path (a node's UUID) or a stranger's method.
 */
static void
count_request(const struct lb_req *req, int status, double ms)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", NULL
	};
	const char *method = "other", *route;
	char code[8];

	for (size_t i = 0; methods[i] != NULL; i++)
		if (req->method != NULL && strcmp(req->method, methods[i]) == 0)
			method = methods[i];
	route = req->route == NULL ? "unmatched" :
	    req->route[0] == '\0' ? "/" : req->route;
	snprintf(code, sizeof(code), "%d", status);
	LB_METRIC_INC(LB_M_API_REQUESTS, method, route, code);
	LB_METRIC_OBSERVE(LB_M_API_SECONDS, ms / 1e3, method, route);
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct lb_req *req,
    struct lb_resp *resp, bool with_current, const struct conn_state *cs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char request_id[48] = "req-";
	double ms;

	if (resp->body != NULL)
		r = MHD_create_response_from_buffer(resp->body_len,
		    resp->body, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(resp->body);
		return MHD_NO;
	}
	if (resp->body != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/json");
	add_version_headers(r, req->minor, with_current);
	if (lb_uuid_generate(request_id + 4) == 0)
		MHD_add_response_header(r, "Openstack-Request-Id", request_id);
	if (resp->location[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION,
		    resp->location);
	if (resp->status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Basic realm=\"Baremetal API\"");
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	ms = elapsed_ms(&cs->start);
	count_request(req, resp->status, ms);
	if (resp->status >= 500)
		log_error("%s %s -> %d (%.1f ms)", req->method, req->path,
		    resp->status, ms);
	else if (resp->status >= 400)
		log_info("%s %s -> %d (%.1f ms)", req->method, req->path,
		    resp->status, ms);
	else
		log_debug("%s %s -> %d (%.1f ms)", req->method, req->path,
		    resp->status, ms);
	return ret;
}

static void
error_reply(struct lb_resp *resp, int r, const struct lb_err *err)
{
	resp->status = lb_err_http_status(r);
	free(resp->body);
	resp->body = lb_api_error_body(resp->status, err->msg,
	    &resp->body_len);
}

static void *
deferred_thread(void *arg)
{
	struct conn_state *cs = arg;
	struct lb_api *api = cs->api;

	cs->r = cs->resp.defer(cs->resp.defer_arg, &cs->resp, &cs->err);
	free(cs->resp.defer_arg);
	cs->resp.defer_arg = NULL;
	/* This thread ends here: its database connection goes back now. */
	lb_store_thread_release(api->ctx->store);
	cs->done = true;
	/* From here on cs belongs to libmicrohttpd again (it may be freed). */
	MHD_resume_connection(cs->conn);
	pthread_mutex_lock(&api->lock);
	api->deferred--;
	pthread_cond_broadcast(&api->idle);
	pthread_mutex_unlock(&api->lock);
	return NULL;
}

/*
 * Suspends the connection and runs resp->defer on a thread; the answer goes
 * out from access_handler when the connection is resumed.
 */
static enum MHD_Result
start_deferred(struct lb_api *api, struct MHD_Connection *conn,
    struct lb_req *req, struct lb_resp *resp, bool with_current,
    struct conn_state *cs)
{
	struct lb_err err = { "" };
	pthread_attr_t attr;
	pthread_t thread;
	int r = 0;

	pthread_mutex_lock(&api->lock);
	if (api->deferred >= DEFERRED_MAX)
		r = lb_err_set(&err, -EAGAIN, "%d requests are already waiting "
		    "for BMCs or other conductors; retry shortly",
		    DEFERRED_MAX);
	else
		api->deferred++;
	pthread_mutex_unlock(&api->lock);
	if (r < 0) {
		free(resp->defer_arg);
		resp->defer_arg = NULL;
		error_reply(resp, r, &err);
		return send_reply(conn, req, resp, with_current, cs);
	}
	cs->api = api;
	cs->conn = conn;
	cs->method = req->method;
	cs->path = req->path;
	cs->route = req->route;
	cs->minor = req->minor;
	cs->with_current = with_current;
	cs->resp = *resp;
	MHD_suspend_connection(conn);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, deferred_thread, cs) != 0) {
		/* Answer on this thread instead: slow, but answered. */
		deferred_thread(cs);
	}
	pthread_attr_destroy(&attr);
	return MHD_YES;
}

/* The answer of a deferred request, once its connection is resumed. */
static enum MHD_Result
finish_deferred(struct MHD_Connection *conn, struct conn_state *cs)
{
	struct lb_req req = { 0 };
	struct lb_resp resp = cs->resp;

	req.method = cs->method;
	req.path = cs->path;
	req.route = cs->route;
	req.minor = cs->minor;
	memset(&cs->resp, 0, sizeof(cs->resp));
	if (cs->r < 0)
		error_reply(&resp, cs->r, &cs->err);
	else if (resp.status == 0)
		resp.status = 200;
	return send_reply(conn, &req, &resp, cs->with_current, cs);
}

static enum MHD_Result
handle_request(struct lb_api *api, struct MHD_Connection *conn,
    const char *url, const char *method, struct conn_state *cs)
{
	struct lb_req req = { 0 };
	struct lb_resp resp = { 0 };
	struct lb_err err = { "" };
	bool is_public = false, with_current = true;
	int r;

	req.ctx = api->ctx;
	req.conn = conn;
	req.method = method;
	req.path = url;
	req.minor = LB_API_MIN_MINOR;
	set_base_url(&req, conn);
	if (cs->body.len > 0) {
		lb_buf_addc(&cs->body, '\0');
		if (lb_buf_failed(&cs->body)) {
			r = lb_err_set(&err, -ENOMEM, "out of memory");
			goto fail;
		}
		req.body = cs->body.data;
		req.body_len = cs->body.len - 1;
	}
	r = negotiate(conn, &req.minor, &err);
	if (r < 0) {
		/* A 406 carries the range but not a version it was served at. */
		with_current = false;
		req.minor = LB_API_MIN_MINOR;
		/* "/" and "/v1" answer whatever version was asked for. */
		if (strcmp(url, "/") != 0 && strcmp(url, "/v1") != 0 &&
		    strcmp(url, "/v1/") != 0)
			goto fail;
	}
	if (cs->too_large) {
		r = lb_err_set(&err, -EMSGSIZE, "Request is too large: the "
		    "body exceeds %ld bytes ([oslo_middleware] "
		    "max_request_body_size).",
		    api->ctx->cfg->max_request_body_size);
		goto fail;
	}
	r = dispatch(&req, conn, method, url, &resp, &is_public, &err);
	if (r < 0)
		goto fail;
	if (resp.defer != NULL)
		return start_deferred(api, conn, &req, &resp, with_current, cs);
	return send_reply(conn, &req, &resp, with_current, cs);
fail:
	error_reply(&resp, r, &err);
	if (resp.status == 406)
		with_current = false;
	return send_reply(conn, &req, &resp, with_current, cs);
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct lb_api *api = cls;
	struct conn_state *cs = *con_cls;
	long limit = api->ctx->cfg->max_request_body_size;

	(void)version;
	if (cs != NULL && cs->api != NULL)
		return cs->done ? finish_deferred(conn, cs) : MHD_YES;
	if (cs == NULL) {
		const char *cl;

		lb_http_guard_head_done(conn);
		cs = calloc(1, sizeof(*cs));
		if (cs == NULL)
			return MHD_NO;
		/* A body may hold a password: it is zeroed when freed. */
		lb_buf_init_secret(&cs->body);
		clock_gettime(CLOCK_MONOTONIC, &cs->start);
		*con_cls = cs;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoll(cl, NULL, 10) > limit)
			cs->too_large = true;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!cs->too_large &&
		    cs->body.len + *upload_data_size > (size_t)limit) {
			cs->too_large = true;
			lb_buf_release(&cs->body);
		}
		if (!cs->too_large) {
			lb_buf_add(&cs->body, upload_data, *upload_data_size);
		} else {
			/* Read on so the client sees the 413, within reason. */
			cs->dropped += *upload_data_size;
			if (cs->dropped > (size_t)BODY_DISCARD_MAX)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return handle_request(api, conn, url, method, cs);
}

static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls;
	(void)toe;
	lb_http_guard_request_done(conn);
	if (cs == NULL)
		return;
	lb_buf_release(&cs->body);
	free(cs->resp.body);		/* a deferred answer never sent */
	free(cs);
	*con_cls = NULL;
}

int
lb_api_listen(const char *section, const char *host, int port_number,
    int *ret_fd, struct lb_err *err)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char port[16];
	int fd, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", port_number);
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0)
		return lb_err_set(err, -EINVAL, "invalid [%s] host_ip '%s': "
		    "%s", section, host, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return lb_err_set(err, -errno, "cannot create a socket: %s",
		    strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0) {
		rc = -errno;
		close(fd);
		freeaddrinfo(ai);
		return lb_err_set(err, rc, "cannot listen on %s port %d "
		    "([%s] host_ip, port): %s", host, port_number, section,
		    strerror(-rc));
	}
	freeaddrinfo(ai);
	*ret_fd = fd;
	return 0;
}

int
lb_api_start(const struct lb_api_ctx *ctx, struct lb_api **ret,
    struct lb_err *err)
{
	struct lb_api *api;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = ctx->cfg->api_workers > 0 ?
	    (unsigned)ctx->cfg->api_workers : (unsigned)(ncpu > 0 ? ncpu : 1);
	unsigned int limit;
	int r;

	api = calloc(1, sizeof(*api));
	if (api == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	api->ctx = ctx;
	r = lb_api_listen("api", ctx->cfg->api_host_ip, ctx->cfg->api_port,
	    &api->listen_fd, err);
	if (r < 0) {
		free(api);
		return r;
	}
	r = lb_http_guard_new("API", ctx->cfg->api_head_timeout,
	    API_IDLE_TIMEOUT, &api->guard, err);
	if (r < 0) {
		close(api->listen_fd);
		free(api);
		return r;
	}
	pthread_mutex_init(&api->lock, NULL);
	pthread_cond_init(&api->idle, NULL);
	/*
	 * One address cannot take every connection, and a connection must
	 * send its head within request_head_timeout (the guard's deadline).
	 */
	limit = lb_http_conn_limit(API_FD_PERCENT);
	api->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0,
	    NULL, NULL,
	    access_handler, api,
	    MHD_OPTION_EXTERNAL_LOGGER, lb_http_guard_log, api->guard,
	    MHD_OPTION_LISTEN_SOCKET, api->listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)ctx->cfg->api_head_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)ctx->cfg->api_max_conns_per_ip,
	    MHD_OPTION_NOTIFY_CONNECTION, lb_http_guard_notify, api->guard,
	    MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
	    MHD_OPTION_END);
	if (api->daemon == NULL) {
		lb_http_guard_free(api->guard);
		close(api->listen_fd);
		free(api);
		return lb_err_set(err, -EIO, "cannot start the HTTP server");
	}
	log_info("API listening on %s:%d with %u threads, at most %u "
	    "connections (%d per address)", ctx->cfg->api_host_ip,
	    ctx->cfg->api_port, threads, limit,
	    ctx->cfg->api_max_conns_per_ip);
	*ret = api;
	return 0;
}

void
lb_api_stop(struct lb_api *api)
{
	if (api == NULL)
		return;
	/* Deferred work resumes its connection: wait for it first. */
	pthread_mutex_lock(&api->lock);
	while (api->deferred > 0)
		pthread_cond_wait(&api->idle, &api->lock);
	pthread_mutex_unlock(&api->lock);
	MHD_stop_daemon(api->daemon);
	lb_http_guard_free(api->guard);
	close(api->listen_fd);
	pthread_cond_destroy(&api->idle);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
