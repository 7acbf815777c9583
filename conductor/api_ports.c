/*
 * api_ports.c - /v1/ports and /v1/nodes/{node}/ports: list, show, create
 * (MACs normalised; duplicates refused), patch and delete.  API threads.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/api_list.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

static int
port_collection(struct lb_req *req, const char *node_ident, bool detail,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_port_query q = { 0 };
	struct lb_port_list list;
	struct lb_node *node = NULL;
	struct lb_paging pg;
	struct lb_render rd;
	struct lb_buf b;
	char mac[LB_MAC_LEN + 1];
	const char *v;
	int r, want_detail;

	r = lb_paging_parse(req, &pg, lb_port_fields_parse, err);
	if (r < 0)
		return r;
	r = lb_req_query_bool(req, "detail", &want_detail, err);
	if (r < 0)
		return r;
	if (want_detail >= 0) {
		r = lb_req_need(req, 43, err);
		if (r < 0)
			return r;
		detail = detail || want_detail == 1;
	}
	if (detail && pg.fields != NULL)
		return lb_err_set(err, -EINVAL, "Can not specify ?detail=True "
		    "and fields in the same request.");
	if (node_ident == NULL)
		node_ident = lb_req_query(req, "node");
	if (node_ident == NULL)
		node_ident = lb_req_query(req, "node_uuid");
	v = lb_req_query(req, "address");
	if (v != NULL) {
		if (lb_mac_normalize(v, mac) < 0)
			return lb_err_set(err, -EINVAL, "Expected a MAC "
			    "address but received %s.", v);
		q.address = mac;
	}
	if (lb_req_query(req, "portgroup") != NULL)
		return lb_err_set(err, -EINVAL, "Port group %s could not be "
		    "found.", lb_req_query(req, "portgroup"));
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	if (node_ident != NULL) {
		r = lb_store_node_get(req->ctx->store, node_ident, &node, err);
		if (r < 0)
			return r;
		q.node_uuid = node->uuid;
	}
	q.sort_key = pg.sort_key;
	q.sort_desc = pg.sort_desc;
	q.marker = pg.marker;
	q.limit = pg.limit;
	r = lb_store_port_list(req->ctx->store, &q, &list, err);
	lb_node_free(node);
	if (r < 0)
		return r;
	lb_req_render(req, &rd);
	rd.detail = detail;
	rd.fields = pg.fields;
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"ports\":[");
	for (size_t i = 0; i < list.n; i++) {
		if (i > 0)
			lb_buf_addc(&b, ',');
		lb_port_render(list.items[i], &rd, &b);
	}
	lb_buf_addc(&b, ']');
	lb_paging_next(req, &pg, list.n,
	    list.n ? list.items[list.n - 1]->uuid : NULL, &b);
	lb_buf_addc(&b, '}');
	lb_port_list_release(&list);
	return lb_resp_json(resp, 200, &b, err);
}

int
lb_api_port_list(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	(void)args;
	return port_collection(req, NULL, false, resp, err);
}

int
lb_api_port_detail(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	(void)args;
	return port_collection(req, NULL, true, resp, err);
}

int
lb_api_node_ports(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	return port_collection(req, args[0], false, resp, err);
}

int
lb_api_node_ports_detail(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	return port_collection(req, args[0], true, resp, err);
}

static int
render_port(struct lb_req *req, const struct lb_port *port,
    const uint64_t *fields, int status, struct lb_resp *resp,
    struct lb_err *err)
{
	struct lb_render rd;
	struct lb_buf b;

	lb_req_render(req, &rd);
	rd.detail = true;
	rd.fields = fields;
	lb_buf_init(&b);
	lb_port_render(port, &rd, &b);
	return lb_resp_json(resp, status, &b, err);
}

int
lb_api_port_show(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_port *port = NULL;
	const uint64_t *fields;
	uint64_t bits;
	int r;

	r = lb_req_fields(req, lb_port_fields_parse, &bits, &fields, err);
	if (r == 0)
		r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_store_port_get(req->ctx->store, args[0], &port, err);
	if (r == 0)
		r = render_port(req, port, fields, 200, resp, err);
	lb_port_free(port);
	return r;
}

int
lb_api_port_create(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_port *port;
	json_t *body = NULL;
	int r;

	(void)args;
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_json(req, &body, err);
	if (r < 0)
		return r;
	port = lb_port_new();
	if (port == NULL) {
		json_decref(body);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	r = lb_port_from_create(port, body, req->minor, err);
	json_decref(body);
	if (r == 0)
		r = lb_store_port_create(req->ctx->store, port, err);
	if (r == 0) {
		log_info("port %s (%s) created on node %s", port->uuid,
		    port->address, port->node_uuid);
		snprintf(resp->location, sizeof(resp->location),
		    "%s/v1/ports/%s", req->base_url, port->uuid);
		r = render_port(req, port, NULL, 201, resp, err);
	}
	lb_port_free(port);
	return r;
}

struct port_patch_args {
	const json_t *patch;
	int minor;
};

/*
 * A port may change only while its node is neither locked nor in a
 * rescue: the staged boot files are named by its MAC and its switch
 * port's way back to the tenant VLAN is recorded under that MAC, so a
 * change then would strand both (409, as Ironic refuses port changes it
 * cannot carry out safely).  Checked in the store's transaction.
 */
static int
check_port_change(struct lb_port *port, const struct lb_node *node,
    void *arg, struct lb_err *err)
{
	const char *verb = arg;

	if (node->reservation != NULL)
		return lb_err_set(err, -EBUSY, "Node %s is locked by host %s, "
		    "please retry after the current operation is completed.",
		    node->uuid, node->reservation);
	if (lb_state_locks_ports(node->provision_state))
		return lb_err_set(err, -EBUSY, "Port %s can not be %s while "
		    "node %s is in state \"%s\".", port->uuid, verb,
		    node->uuid, node->provision_state);
	return 0;
}

static int
patch_port(struct lb_port *port, const struct lb_node *node, void *arg,
    struct lb_err *err)
{
	const struct port_patch_args *pa = arg;
	int r;

	r = check_port_change(port, node, (void *)"updated", err);
	if (r < 0)
		return r;
	return lb_port_patch(port, pa->patch, pa->minor, err);
}

int
lb_api_port_patch(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct port_patch_args pa = { NULL, req->minor };
	struct lb_port *port = NULL;
	json_t *patch = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_json(req, &patch, err);
	if (r < 0)
		return r;
	pa.patch = patch;
	r = lb_store_port_update(req->ctx->store, args[0], patch_port, &pa,
	    &port, err);
	json_decref(patch);
	if (r < 0)
		return r;
	log_info("port %s updated", port->uuid);
	r = render_port(req, port, NULL, 200, resp, err);
	lb_port_free(port);
	return r;
}

/* Ironic keeps a port that holds a tenant VIF, unless in maintenance. */
static int
check_port_delete(struct lb_port *port, const struct lb_node *node,
    void *arg, struct lb_err *err)
{
	const char *vif = json_string_value(json_object_get(
	    port->internal_info, "tenant_vif_port_id"));

	(void)arg;
	if (vif != NULL && !node->maintenance)
		return lb_err_set(err, -EBUSY, "Cannot delete the port %s as "
		    "it is bound to VIF %s for tenant use.", port->uuid, vif);
	return check_port_change(port, node, (void *)"deleted", err);
}

int
lb_api_port_delete(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_store_port_delete(req->ctx->store, args[0], check_port_delete,
	    NULL, err);
	if (r < 0)
		return r;
	log_info("port %s deleted", args[0]);
	lb_resp_empty(resp, 204);
	return 0;
}
