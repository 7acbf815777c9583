/*
 * api_console.c - /v1/nodes/{node}/states/console: what `openstack
 * baremetal node console enable|disable|show` use (contract wave 2,
 * section 1).  The engine checks and queues; the job starts or stops the
 * console.  API threads.
 */
#include <stdio.h>

#include "conductor/api_internal.h"
#include "conductor/console_verbs.h"
#include "conductor/util/banned.h"

int
lb_api_node_console_get(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	json_t *out = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_req_check_node_ident(req, args[0], err);
	if (r == 0)
		r = lb_engine_console_get(req->ctx->engine, args[0], &out, err);
	if (r < 0)
		return r;
	return lb_resp_json_value(resp, 200, out, err);
}

int
lb_api_node_console_set(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	const char *query = lb_req_query(req, "enabled");
	json_t *body = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_req_check_node_ident(req, args[0], err);
	/* The CLI sends a body; Ironic also takes ?enabled= alone. */
	if (r == 0 && req->body_len > 0)
		r = lb_req_json(req, &body, err);
	if (r == 0)
		r = lb_engine_console_set(req->ctx->engine, args[0], body,
		    query, err);
	json_decref(body);
	if (r < 0)
		return r;
	snprintf(resp->location, sizeof(resp->location),
	    "%s/v1/nodes/%s/states/console", req->base_url, args[0]);
	lb_resp_empty(resp, 202);
	return 0;
}
