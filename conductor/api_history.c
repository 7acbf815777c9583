/*
 * api_history.c - /v1/nodes/{node}/history (API 1.78): a node's events a
 * page at a time, one event, and .../history/detail as ?detail=true (what
 * the CLI's --long asks for).  Runs on API threads.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/api_internal.h"
#include "conductor/api_list.h"
#include "conductor/engine.h"
#include "conductor/store.h"
#include "conductor/util/oslo.h"
#include "conductor/util/banned.h"

#define HISTORY_MINOR 78
/* Characters of an event a list without detail shows (then "..."). */
#define EVENT_SHORT_MAX 255
#define EVENT_SHORT_KEEP 251

/* Ironic's "Unexpected arguments: a, b" for what no lookup asked about. */
static int
check_args(const struct lb_req *req, struct lb_err *err)
{
	char names[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < req->nquery; i++) {
		if (req->query[i].used)
			continue;
		len += (size_t)snprintf(names + len, len < sizeof(names) ?
		    sizeof(names) - len : 0, "%s%s", len ? ", " : "",
		    req->query[i].key);
		if (len >= sizeof(names))
			len = sizeof(names) - 1;
	}
	if (names[0] != '\0')
		return lb_err_set(err, -EINVAL, "Unexpected arguments: %s",
		    names);
	return 0;
}

/* Ironic's args.boolean: oslo's strict boolean, or 400. */
static int
parse_detail(const char *v, bool *ret, struct lb_err *err)
{
	if (lb_oslo_bool(v, ret) == 0)
		return 0;
	return lb_err_set(err, -EINVAL, "Invalid detail: Unrecognized value "
	    "'%.64s', acceptable values are: " LB_OSLO_BOOL_VALUES, v);
}

struct history_params {
	bool detail;
	size_t limit;
	const char *marker;
};

static int
list_params(struct lb_req *req, struct history_params *p, struct lb_err *err)
{
	char uuid[LB_UUID_LEN + 1];
	const char *v;
	int r;

	v = lb_req_query(req, "detail");
	if (v != NULL && (r = parse_detail(v, &p->detail, err)) < 0)
		return r;
	r = lb_paging_limit(req, &p->limit, err);
	if (r < 0)
		return r;
	p->marker = lb_req_query(req, "marker");
	if (p->marker != NULL && lb_uuid_normalize(p->marker, uuid) < 0)
		return lb_err_set(err, -EINVAL, "Expected UUID for marker: %s",
		    p->marker);
	return check_args(req, err);
}

/* The first 251 characters (not bytes) and "..." past 255. */
static json_t *
short_event(const char *event)
{
	size_t chars = 0, cut = 0, i;
	json_t *v;
	char *s;

	for (i = 0; event[i] != '\0'; i++) {
		if (((unsigned char)event[i] & 0xc0) == 0x80)
			continue;
		if (chars == EVENT_SHORT_KEEP)
			cut = i;
		chars++;
	}
	if (chars <= EVENT_SHORT_MAX)
		return json_string(event);
	s = malloc(cut + 4);
	if (s == NULL)
		return NULL;
	memcpy(s, event, cut);
	memcpy(s + cut, "...", 4);
	v = json_string(s);
	free(s);
	return v;
}

static json_t *
event_json(const struct lb_req *req, const struct lb_history_event *ev,
    bool detail)
{
	char href[1024];
	json_t *o;

	snprintf(href, sizeof(href), "%s/v1/nodes/%s/history/%s",
	    req->base_url, ev->node_uuid, ev->uuid);
	o = json_pack("{s:s, s:s, s:s}", "uuid", ev->uuid, "created_at",
	    ev->created_at, "severity", ev->severity);
	if (o == NULL)
		return NULL;
	if (detail) {
		json_object_set_new(o, "event_type",
		    json_string(ev->event_type));
		json_object_set_new(o, "event", json_string(ev->event));
		json_object_set_new(o, "conductor",
		    json_string(ev->conductor));
		json_object_set_new(o, "user", ev->user != NULL ?
		    json_string(ev->user) : json_null());
	} else {
		json_object_set_new(o, "event", short_event(ev->event));
	}
	json_object_set_new(o, "links", json_pack("[{s:s, s:s}]", "href",
	    href, "rel", "self"));
	return o;
}

/* The node the URL names, resolved to its UUID. */
static int
node_uuid(struct lb_req *req, const char *ident, char out[LB_UUID_LEN + 1],
    struct lb_err *err)
{
	struct lb_node *node = NULL;
	int r;

	r = lb_req_check_node_ident(req, ident, err);
	if (r == 0)
		r = lb_store_node_get(req->ctx->store, ident, &node, err);
	if (r == 0)
		snprintf(out, LB_UUID_LEN + 1, "%s", node->uuid);
	lb_node_free(node);
	return r;
}

/* ,"next" only when a row beyond this page exists. */
static void
add_next(const struct lb_req *req, const char *node,
    const struct history_params *p, const char *last, json_t *doc)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/v1/nodes/%s/history?limit=%zu&"
	    "marker=%s%s", req->base_url, node, p->limit, last,
	    p->detail ? "&detail=True" : "");
	json_object_set_new(doc, "next", json_string(url));
}

static int
history_list(struct lb_req *req, const char *ident, bool detail,
    struct lb_resp *resp, struct lb_err *err)
{
	struct history_params p = { .detail = detail };
	struct lb_history_query q = { 0 };
	struct lb_history_list list;
	char uuid[LB_UUID_LEN + 1];
	json_t *doc, *items;
	size_t shown;
	int r;

	r = list_params(req, &p, err);
	if (r == 0)
		r = node_uuid(req, ident, uuid, err);
	if (r < 0)
		return r;
	p.detail = p.detail || detail;
	q.node_uuid = uuid;
	q.marker = p.marker;
	q.limit = p.limit + 1;		/* one more says whether "next" */
	r = lb_store_history_list(req->ctx->store, &q, &list, err);
	if (r < 0)
		return r;
	shown = list.n > p.limit ? p.limit : list.n;
	items = json_array();
	for (size_t i = 0; i < shown; i++)
		json_array_append_new(items, event_json(req, &list.items[i],
		    p.detail));
	doc = json_pack("{s:o}", "history", items);
	if (doc != NULL && list.n > p.limit)
		add_next(req, uuid, &p, list.items[shown - 1].uuid, doc);
	lb_history_list_release(&list);
	return lb_resp_json_value(resp, 200, doc, err);
}

int
lb_api_node_history(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	if (req->minor < HISTORY_MINOR)
		return lb_resp_pecan_not_found(resp, err);
	return history_list(req, args[0], false, resp, err);
}

int
lb_api_node_history_event(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_history_event ev;
	char uuid[LB_UUID_LEN + 1];
	int r;

	if (req->minor < HISTORY_MINOR)
		return lb_resp_pecan_not_found(resp, err);
	if (strcmp(args[1], "detail") == 0)
		return history_list(req, args[0], true, resp, err);
	r = check_args(req, err);
	if (r == 0)
		r = node_uuid(req, args[0], uuid, err);
	if (r == 0)
		r = lb_store_history_get(req->ctx->store, uuid, args[1], &ev,
		    err);
	if (r < 0)
		return r;
	r = lb_resp_json_value(resp, 200, event_json(req, &ev, true), err);
	lb_history_event_release(&ev);
	return r;
}
