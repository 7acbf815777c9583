/*
 * redfish_client.c - Redfish requests for the drivers: connections, one
 * authenticated request with retries and re-login, and the node's System.
 * Sessions live in redfish_session.c, one exchange in redfish_http.c.  Any
 * thread; a connection belongs to the thread that made it.
 */
#include "power/redfish_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/config.h"
#include "conductor/util/task.h"
#include "conductor/util/banned.h"

/* ---- connections ---- */

int
lb_redfish_conn_new(const json_t *driver_info,
    struct lb_redfish_conn **ret, struct lb_err *err)
{
	struct lb_redfish_conn *c;
	int r;

	if (lb_http_global_init() < 0)
		return lb_err_set(err, -EIO, "cannot initialise libcurl");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = lb_redfish_info_parse(driver_info, &c->info, err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->session = lb_redfish_session_get(c->info);
	if (c->session == NULL || lb_http_new(&c->http) < 0) {
		lb_redfish_conn_free(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

void
lb_redfish_conn_budget(struct lb_redfish_conn *c, const struct lb_config *cfg,
    double seconds)
{
	c->deadline = seconds > 0 ? lb_redfish_now() + seconds : 0;
	if (cfg != NULL) {
		c->attempts = cfg->redfish_connection_attempts;
		c->retry_s = (unsigned int)cfg->redfish_connection_retry_interval;
	}
}

void
lb_redfish_conn_extend(struct lb_redfish_conn *c, double seconds)
{
	double end = lb_redfish_now() + seconds;

	if (c->deadline > 0 && end > c->deadline)
		c->deadline = end;
}

int
lb_redfish_conn_open(const struct lb_task *task, double seconds,
    struct lb_redfish_conn **ret, struct lb_err *err)
{
	int r = lb_redfish_conn_new(task->driver_info, ret, err);

	if (r == 0 && seconds <= 0 && task->cfg != NULL)
		seconds = task->cfg->power_state_change_timeout;
	if (r == 0)
		lb_redfish_conn_budget(*ret, task->cfg, seconds);
	return r;
}

int
lb_redfish_attempts(const struct lb_redfish_conn *c)
{
	return c->attempts > 0 ? c->attempts : LB_REDFISH_GET_ATTEMPTS;
}

bool
lb_redfish_retry_wait(const struct lb_redfish_conn *c, unsigned int attempt)
{
	unsigned int s = c->retry_s > 0 ? c->retry_s : attempt;

	if (c->deadline > 0 && lb_redfish_now() + s >= c->deadline)
		return false;
	lb_redfish_sleep(s);
	return true;
}

void
lb_redfish_conn_free(struct lb_redfish_conn *c)
{
	if (c == NULL)
		return;
	lb_http_free(c->http);
	lb_redfish_info_free(c->info);
	lb_redfish_free_secret(c->token);
	free(c);
}

const struct lb_redfish_info *
lb_redfish_conn_info(const struct lb_redfish_conn *c)
{
	return c->info;
}

void
lb_redfish_reply_release(struct lb_redfish_reply *reply)
{
	if (reply == NULL)
		return;
	free(reply->body);
	free(reply->etag);
	free(reply->location);
	free(reply->allow);
	memset(reply, 0, sizeof(*reply));
}

/* ---- requests ---- */

static bool
idempotent(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0;
}

static bool
retryable_status(long status)
{
	return status == 500 || status == 502 || status == 503 ||
	    status == 504;
}

int
lb_redfish_request(struct lb_redfish_conn *c, const char *method,
    const char *path, const json_t *body, const char *if_match,
    struct lb_redfish_reply *reply, struct lb_err *err)
{
	struct lb_redfish_cred cred;
	struct lb_redfish_tls tls;
	struct lb_redfish_req rq;
	char *text = NULL;
	bool relogged = false, retry;
	int r, attempts;

	memset(reply, 0, sizeof(*reply));
	if (!lb_redfish_path_is_valid(path))
		return lb_err_set(err, -EINVAL, "invalid Redfish path '%.200s'",
		    path != NULL ? path : "");
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
	}
	attempts = idempotent(method) ? lb_redfish_attempts(c) : 1;
	for (;;) {
		r = lb_redfish_credentials(c, &cred, err);
		if (r < 0)
			break;
		lb_redfish_free_secret(c->token);
		c->token = cred.token;
		lb_redfish_req_init(&rq, c, &tls);
		rq.method = method;
		rq.path = path;
		rq.body = text;
		rq.if_match = if_match;
		rq.auth = cred.kind;
		rq.token = cred.token;
		for (int attempt = 1; ; attempt++) {
			r = lb_redfish_http_do(c->http, &rq, reply, NULL,
			    &retry, err);
			if (attempt >= attempts || !(retry ||
			    (r == 0 && retryable_status(reply->status))) ||
			    !lb_redfish_retry_wait(c, (unsigned int)attempt))
				break;
		}
		if (r < 0)
			break;
		if (reply->status == 401 &&
		    cred.kind == LB_REDFISH_SEND_TOKEN &&
		    !relogged) {
			/* The session expired or was deleted: log in again. */
			lb_redfish_session_invalidate(c->session,
			    cred.generation);
			relogged = true;
			continue;
		}
		if (!lb_redfish_is_2xx(reply->status))
			r = lb_redfish_status_error(c, method, path, reply,
			    err);
		break;
	}
	free(text);
	return r;
}

int
lb_redfish_get_system(struct lb_redfish_conn *c, const char *path,
    struct lb_redfish_system **ret, struct lb_err *err)
{
	struct lb_redfish_reply reply;
	struct lb_redfish_system *sys;
	int r;

	r = lb_redfish_request(c, "GET", path, NULL, NULL, &reply, err);
	if (r == -ENOENT)
		r = lb_err_set(err, -ENOENT, "Redfish system '%.200s' not found "
		    "at %s", path, c->info->address.base);
	if (r == 0)
		r = lb_redfish_system_parse(reply.body, reply.len, &sys, err);
	/* The header is what If-Match compares against. */
	if (r == 0 && reply.etag != NULL) {
		free(sys->etag);
		sys->etag = reply.etag;
		reply.etag = NULL;
	}
	lb_redfish_reply_release(&reply);
	if (r == 0)
		*ret = sys;
	return r;
}


int
lb_redfish_system_path(struct lb_redfish_conn *c, char *out, size_t size,
    struct lb_err *err)
{
	const char *id = c->info->system_id;
	struct lb_redfish_collection *coll;
	struct lb_redfish_reply reply;
	char systems[LB_REDFISH_PATH_MAX];
	size_t n;
	int r;

	if (id != NULL && id[0] == '/') {
		if ((size_t)snprintf(out, size, "%s", id) >= size)
			return lb_err_set(err, -EINVAL, "Redfish path too long");
		return 0;
	}
	r = lb_redfish_systems_collection(c, systems, sizeof(systems), err);
	if (r < 0)
		return r;
	if (id != NULL) {
		n = strlen(systems);
		if ((size_t)snprintf(out, size, "%s%s%s", systems,
		    systems[n - 1] == '/' ? "" : "/", id) >= size)
			return lb_err_set(err, -EINVAL, "Redfish path too long");
		return 0;
	}
	r = lb_redfish_request(c, "GET", systems, NULL, NULL, &reply, err);
	if (r == 0)
		r = lb_redfish_collection_parse(reply.body, reply.len, &coll,
		    err);
	lb_redfish_reply_release(&reply);
	if (r < 0)
		return r;
	if (coll->members.n == 1) {
		if ((size_t)snprintf(out, size, "%s", coll->members.v[0]) >=
		    size)
			r = lb_err_set(err, -EINVAL, "Redfish path too long");
	} else if (coll->members.n == 0) {
		r = lb_err_set(err, -ENOENT, "Redfish BMC at %s lists no "
		    "systems", c->info->address.base);
	} else {
		r = lb_err_set(err, -EINVAL, "Redfish BMC at %s has %zu "
		    "systems; set driver_info/redfish_system_id to one of them "
		    "(first: %.200s, %.200s)", c->info->address.base,
		    coll->members.n, coll->members.v[0], coll->members.v[1]);
	}
	lb_redfish_collection_free(coll);
	return r;
}
