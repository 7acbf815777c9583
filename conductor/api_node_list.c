/*
 * api_node_list.c - GET /v1/nodes and /v1/nodes/detail: the filters with
 * the API version each needs (as Ironic 21.4.4 gates them), paging,
 * sorting and fields.  API threads.
 */
#include <stdbool.h>
#include <stddef.h>

#include "conductor/api_list.h"
#include "conductor/states.h"
#include "conductor/util/banned.h"

/*
 * The string filters of a node list and the version each needs, as
 * Ironic 21.4.4 gates them (provision_state with Ironic's bare message);
 * description_contains and project are ungated there, as here.
 */
static const struct {
	const char *param;
	int minor;
	bool bare;		/* 406 says only "Request not acceptable." */
	size_t offset;
} node_filters[] = {
#define F(name, minor, bare) \
	{ #name, minor, bare, offsetof(struct lb_node_query, name) }
	F(provision_state, 9, true),
	F(driver, 16, false),
	F(resource_class, 21, false),
	F(fault, 42, false),
	F(conductor_group, 46, false),
	F(owner, 50, false),
	F(lessee, 65, false),
	F(instance_uuid, 1, false),
	F(description_contains, 1, false),
	F(project, 1, false),
#undef F
};

static int
read_filters(struct lb_req *req, struct lb_node_query *q, struct lb_err *err)
{
	const char *chassis = lb_req_query(req, "chassis_uuid");
	int r;

	for (size_t i = 0; i < sizeof(node_filters) / sizeof(node_filters[0]);
	    i++) {
		const char *v = lb_req_query(req, node_filters[i].param);

		if (v != NULL && req->minor < node_filters[i].minor)
			return node_filters[i].bare ?
			    lb_err_set(err, -ENOTSUP, "Request not "
			    "acceptable.") :
			    lb_err_set(err, -ENOTSUP, "Request not "
			    "acceptable. The minimal required API version "
			    "should be 1.%d", node_filters[i].minor);
		*(const char **)((char *)q + node_filters[i].offset) = v;
	}
	if (q->provision_state != NULL &&
	    !lb_state_is_known(q->provision_state))
		return lb_err_set(err, -EINVAL, "Invalid provision state: "
		    "%s", q->provision_state);
	if ((r = lb_req_query_bool(req, "maintenance", &q->maintenance,
	    err)) < 0 ||
	    (r = lb_req_query_bool(req, "associated", &q->associated,
	    err)) < 0 ||
	    (r = lb_req_query_bool(req, "retired", &q->retired, err)) < 0)
		return r;
	/* Ironic looks the chassis up; lifeboat keeps none. */
	return chassis != NULL ? lb_api_chassis_not_found("chassis_uuid",
	    chassis, err) : 0;
}

static int
node_collection(struct lb_req *req, bool detail, struct lb_resp *resp,
    struct lb_err *err)
{
	struct lb_node_query q = {
		.maintenance = -1, .associated = -1, .retired = -1,
	};
	struct lb_paging pg;
	struct lb_node_list list;
	struct lb_render rd;
	struct lb_buf b;
	const char *conductor;
	int r;

	r = lb_paging_parse(req, &pg, lb_node_fields_parse, err);
	if (r < 0)
		return r;
	r = lb_paging_detail(req, &pg, &detail, err);
	if (r < 0)
		return r;
	r = read_filters(req, &q, err);
	if (r == 0)
		r = lb_api_conductor_filter(req, &conductor, err);
	if (r < 0)
		return r;
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	q.sort_key = pg.sort_key;
	q.sort_desc = pg.sort_desc;
	q.marker = pg.marker;
	q.limit = pg.limit;
	r = lb_store_node_list(req->ctx->store, &q, &list, err);
	if (r < 0)
		return r;
	lb_req_render(req, &rd);
	rd.detail = detail;
	rd.fields = pg.fields;
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"nodes\":[");
	lb_api_nodes_render(req, &list, conductor, &rd, &b);
	lb_buf_addc(&b, ']');
	lb_paging_next(req, &pg, list.n,
	    list.n ? list.items[list.n - 1]->uuid : NULL, &b);
	lb_buf_addc(&b, '}');
	lb_node_list_release(&list);
	return lb_resp_json(resp, 200, &b, err);
}

int
lb_api_node_list(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	(void)args;
	return node_collection(req, false, resp, err);
}

int
lb_api_node_detail(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	(void)args;
	return node_collection(req, true, resp, err);
}
