/*
 * api_req.c - the helpers the API's handler files call on one request:
 * query parameters, the body as JSON, the microversion a feature needs,
 * the reply's JSON body, and Ironic's error document.  API threads (and
 * the threads of deferred requests); no state of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/api_internal.h"
#include "conductor/util/ident.h"
#include "conductor/util/jsonbody.h"
#include "conductor/util/banned.h"

const char *
lb_req_query(struct lb_req *req, const char *key)
{
	const char *value = NULL;

	for (size_t i = 0; i < req->nquery; i++) {
		if (strcmp(req->query[i].key, key) == 0) {
			req->query[i].used = true;
			value = req->query[i].value;	/* the last wins */
		}
	}
	return value;
}

int
lb_req_check_node_ident(const struct lb_req *req, const char *ident,
    struct lb_err *err)
{
	if (req->minor < 5 && !lb_uuid_is_valid(ident))
		return lb_err_set(err, -EINVAL, "Expected a UUID but received "
		    "%s.", ident);
	return 0;
}

int
lb_req_check_query(const struct lb_req *req, struct lb_err *err)
{
	for (size_t i = 0; i < req->nquery; i++) {
		if (!req->query[i].used)
			return lb_err_set(err, -EINVAL, "Unknown argument: "
			    "\"%s\"", req->query[i].key);
	}
	return 0;
}

int
lb_req_query_bool(struct lb_req *req, const char *key, int *ret,
    struct lb_err *err)
{
	const char *v = lb_req_query(req, key);

	*ret = -1;
	if (v == NULL)
		return 0;
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "yes") == 0)
		*ret = 1;
	else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcasecmp(v, "no") == 0)
		*ret = 0;
	else
		return lb_err_set(err, -EINVAL, "Invalid value for %s: '%s' "
		    "is not a boolean", key, v);
	return 0;
}

int
lb_req_json(const struct lb_req *req, json_t **ret, struct lb_err *err)
{
	return lb_json_parse_body(req->body, req->body_len, ret, err);
}

int
lb_req_need(const struct lb_req *req, int minor, struct lb_err *err)
{
	if (req->minor < minor)
		return lb_err_set(err, -ENOTSUP, "Request not acceptable. "
		    "This needs API version 1.%d or later; the request "
		    "asked for 1.%d.", minor, req->minor);
	return 0;
}

int
lb_resp_json(struct lb_resp *resp, int status, struct lb_buf *b,
    struct lb_err *err)
{
	resp->body = lb_buf_steal(b, &resp->body_len);
	if (resp->body == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	resp->status = status;
	return 0;
}

int
lb_resp_json_value(struct lb_resp *resp, int status, json_t *v,
    struct lb_err *err)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (text == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	resp->status = status;
	resp->body = text;
	resp->body_len = strlen(text);
	return 0;
}

int
lb_req_fields(struct lb_req *req,
    int (*parse)(const char *, int, uint64_t *, struct lb_err *),
    uint64_t *ret_bits, const uint64_t **ret_fields, struct lb_err *err)
{
	const char *v = lb_req_query(req, "fields");
	int r;

	*ret_fields = NULL;
	if (v == NULL)
		return 0;
	r = lb_req_need(req, 8, err);
	if (r == 0)
		r = parse(v, req->minor, ret_bits, err);
	if (r == 0)
		*ret_fields = ret_bits;
	return r;
}

void
lb_resp_empty(struct lb_resp *resp, int status)
{
	resp->status = status;
	resp->body = NULL;
	resp->body_len = 0;
}

void
lb_req_render(const struct lb_req *req, struct lb_render *r)
{
	memset(r, 0, sizeof(*r));
	r->minor = req->minor;
	r->base_url = req->base_url;
	r->conductor = req->ctx->cfg->host;
}

/* ---- error documents ---- */

char *
lb_api_error_body(int status, const char *message, size_t *ret_len)
{
	char safe[LB_ERR_MSG_MAX];
	json_t *inner, *outer;
	char *inner_text, *text;

	inner = json_pack("{s:s, s:s, s:n}", "faultcode",
	    status >= 500 ? "Server" : "Client", "faultstring", message,
	    "debuginfo");
	if (inner == NULL) {
		/* Not UTF-8 (a query key echoed back): keep the ASCII. */
		snprintf(safe, sizeof(safe), "%s", message);
		for (char *c = safe; *c != '\0'; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
		inner = json_pack("{s:s, s:s, s:n}", "faultcode",
		    status >= 500 ? "Server" : "Client", "faultstring", safe,
		    "debuginfo");
	}
	inner_text = inner ? json_dumps(inner, JSON_COMPACT) : NULL;
	json_decref(inner);
	if (inner_text == NULL)
		return NULL;
	outer = json_pack("{s:s}", "error_message", inner_text);
	free(inner_text);
	text = outer ? json_dumps(outer, JSON_COMPACT) : NULL;
	json_decref(outer);
	if (text != NULL)
		*ret_len = strlen(text);
	return text;
}

int
lb_resp_pecan_not_found(struct lb_resp *resp, struct lb_err *err)
{
	static const char body[] = "{\"error_message\": \"{\\\"code\\\": 404, "
	    "\\\"title\\\": \\\"Not Found\\\", \\\"description\\\": "
	    "\\\"\\\"}\"}";
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_adds(&b, body);
	return lb_resp_json(resp, 404, &b, err);
}
