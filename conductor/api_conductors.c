/*
 * api_conductors.c - /v1/conductors and /v1/conductors/{hostname} (API
 * 1.49): the store's conductor rows with Ironic's fields, alive computed
 * from the heartbeat against [conductor] heartbeat_timeout; and the
 * conductor side of node documents: their conductor field and the node
 * list's ?conductor= filter.  API threads.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/api_list.h"
#include "conductor/ring.h"
#include "conductor/record.h"
#include "conductor/store.h"
#include "conductor/util/clock.h"
#include "conductor/util/banned.h"

enum { F_ALIVE, F_GROUP, F_CREATED, F_DRIVERS, F_HOSTNAME, F_LINKS,
	F_UPDATED };

/* Names only: what ?fields= may ask for (record.c parses the list). */
#define CF(nm) { nm, LB_FT_STR, 0, 49, 0, 0, NULL, NULL, NULL }
static const struct lb_field conductor_fields[] = {
	[F_ALIVE] = CF("alive"),
	[F_GROUP] = CF("conductor_group"),
	[F_CREATED] = CF("created_at"),
	[F_DRIVERS] = CF("drivers"),
	[F_HOSTNAME] = CF("hostname"),
	[F_LINKS] = CF("links"),
	[F_UPDATED] = CF("updated_at"),
};

static const struct lb_record_type conductor_doc = {
	.kind = "conductor",
	.plural = "conductors",
	.fields = conductor_fields,
	.nfields = sizeof(conductor_fields) / sizeof(conductor_fields[0]),
};

#define BIT(f) ((uint64_t)1 << (f))
#define SUMMARY (BIT(F_HOSTNAME) | BIT(F_GROUP) | BIT(F_ALIVE) | BIT(F_LINKS))
#define DETAIL (SUMMARY | BIT(F_CREATED) | BIT(F_UPDATED) | BIT(F_DRIVERS))

static int
fields_parse(const char *list, int minor, uint64_t *ret_bits,
    struct lb_err *err)
{
	return lb_record_fields_parse(&conductor_doc, list, minor, ret_bits,
	    err);
}

/* Ironic: updated_at no older than heartbeat_timeout; online ignored. */
static bool
is_alive(const struct lb_req *req, const struct lb_conductor *c)
{
	double at, now = lb_clock_system.realtime(&lb_clock_system);

	if (lb_time_parse_iso(c->updated_at, &at) < 0)
		return false;
	return now - at <= req->ctx->cfg->heartbeat_timeout;
}

static json_t *
links(const struct lb_req *req, const char *hostname)
{
	char self[1024], bookmark[1024];

	snprintf(self, sizeof(self), "%s/v1/conductors/%s", req->base_url,
	    hostname);
	snprintf(bookmark, sizeof(bookmark), "%s/conductors/%s",
	    req->base_url, hostname);
	return json_pack("[{s:s,s:s},{s:s,s:s}]", "href", self, "rel", "self",
	    "href", bookmark, "rel", "bookmark");
}

static json_t *
conductor_json(const struct lb_req *req, const struct lb_conductor *c,
    uint64_t bits)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (bits & BIT(F_HOSTNAME))
		json_object_set_new(o, "hostname", json_string(c->hostname));
	if (bits & BIT(F_GROUP))
		json_object_set_new(o, "conductor_group",
		    json_string(c->conductor_group));
	if (bits & BIT(F_ALIVE))
		json_object_set_new(o, "alive", json_boolean(is_alive(req, c)));
	if (bits & BIT(F_DRIVERS))
		json_object_set(o, "drivers", c->drivers);
	if (bits & BIT(F_CREATED))
		json_object_set_new(o, "created_at",
		    json_string(c->created_at));
	if (bits & BIT(F_UPDATED))
		json_object_set_new(o, "updated_at",
		    json_string(c->updated_at));
	if (bits & BIT(F_LINKS))
		json_object_set_new(o, "links", links(req, c->hostname));
	return o;
}

/* Below 1.49 the resource does not exist (Ironic's NotFound). */
static int
need_conductors(const struct lb_req *req, struct lb_err *err)
{
	if (req->minor < 49)
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	return 0;
}

/* detail and fields, as Ironic's conductor controller reads them. */
static int
collection_params(struct lb_req *req, struct lb_paging *pg, uint64_t *bits,
    struct lb_err *err)
{
	int r, detail;

	r = lb_paging_parse(req, pg, fields_parse, err);
	if (r == 0)
		r = lb_req_query_bool(req, "detail", &detail, err);
	if (r < 0)
		return r;
	if (detail == 1 && pg->fields != NULL)
		return lb_err_set(err, -EINVAL, "Can not specify ?detail=True "
		    "and fields in the same request.");
	*bits = pg->fields != NULL ? *pg->fields : detail == 1 ? DETAIL :
	    SUMMARY;
	return lb_req_check_query(req, err);
}

int
lb_api_conductor_list(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_conductor_query q;
	struct lb_conductor_list list;
	struct lb_paging pg;
	struct lb_buf b;
	uint64_t bits = 0;
	json_t *doc;
	char *item;
	int r;

	(void)args;
	r = need_conductors(req, err);
	if (r == 0)
		r = collection_params(req, &pg, &bits, err);
	if (r < 0)
		return r;
	q = (struct lb_conductor_query){ .sort_key = pg.sort_key,
	    .sort_desc = pg.sort_desc, .marker = pg.marker,
	    .limit = pg.limit };
	r = lb_store_conductor_list(req->ctx->store, &q, &list, err);
	if (r < 0)
		return r;
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"conductors\":[");
	for (size_t i = 0; i < list.n; i++) {
		doc = conductor_json(req, &list.items[i], bits);
		item = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		if (i > 0)
			lb_buf_addc(&b, ',');
		lb_buf_adds(&b, item != NULL ? item : "null");
		free(item);
	}
	lb_buf_addc(&b, ']');
	lb_paging_next(req, &pg, list.n,
	    list.n ? list.items[list.n - 1].hostname : NULL, &b);
	lb_buf_addc(&b, '}');
	lb_conductor_list_release(&list);
	return lb_resp_json(resp, 200, &b, err);
}

int
lb_api_conductor_show(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_conductor c;
	const uint64_t *fields;
	uint64_t bits;
	int r;

	r = need_conductors(req, err);
	if (r == 0)
		r = lb_req_fields(req, fields_parse, &bits, &fields, err);
	if (r == 0)
		r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_store_conductor_get(req->ctx->store, args[0], &c, err);
	if (r < 0)
		return r;
	r = lb_resp_json_value(resp, 200, conductor_json(req, &c,
	    fields != NULL ? *fields : DETAIL), err);
	lb_conductor_release(&c);
	return r;
}

const char *
lb_api_node_conductor(const struct lb_req *req, const struct lb_node *node,
    char buf[LB_RING_HOST_MAX])
{
	return lb_conductor_of(req->ctx->engine, node, buf);
}

int
lb_api_conductor_filter(struct lb_req *req, const char **ret,
    struct lb_err *err)
{
	*ret = lb_req_query(req, "conductor");
	if (*ret != NULL && req->minor < 49)
		return lb_err_set(err, -ENOTSUP, "Request not acceptable. The "
		    "minimal required API version should be 1.49");
	return 0;
}

/* As Ironic: the filter thins the store's page (short pages). */
void
lb_api_nodes_render(const struct lb_req *req, const struct lb_node_list *list,
    const char *conductor, struct lb_render *rd, struct lb_buf *b)
{
	char host[LB_RING_HOST_MAX];
	size_t shown = 0;

	for (size_t i = 0; i < list->n; i++) {
		rd->conductor = lb_api_node_conductor(req, list->items[i],
		    host);
		if (conductor != NULL && (rd->conductor == NULL ||
		    strcmp(rd->conductor, conductor) != 0))
			continue;
		lb_buf_adds(b, shown++ > 0 ? "," : "");
		lb_node_render(list->items[i], rd, b);
	}
}
