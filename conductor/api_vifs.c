/*
 * api_vifs.c - /v1/nodes/{node}/vifs (API 1.28): attach, list and detach
 * the tenant network ports (VIFs) Nova gives a node.  lifeboat has no
 * Neutron: as Ironic's noop and flat interfaces do without it, a VIF is
 * only recorded, in one of the node's ports' internal_info
 * "tenant_vif_port_id" (the network interface's keeps_vifs says whether).
 * API threads.
 */
#include <string.h>

#include "conductor/api_internal.h"
#include "conductor/hwtype.h"
#include "conductor/util/ident.h"
#include "conductor/util/jsonbody.h"
#include "network/network.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define VIF_KEY "tenant_vif_port_id"
#define VIF_MINOR 28		/* the version that added the resource */

/* The VIF a port holds: Ironic's key, else its legacy extra one; or NULL. */
static const char *
port_vif(const struct lb_port *port)
{
	const char *v = json_string_value(json_object_get(port->internal_info,
	    VIF_KEY));

	return v != NULL ? v : json_string_value(json_object_get(port->extra,
	    "vif_port_id"));
}

/* The node, its ports and whether its network interface keeps VIFs. */
struct vif_ctx {
	struct lb_node *node;
	struct lb_port_list ports;
	bool keeps;
};

static void
vif_ctx_release(struct vif_ctx *c)
{
	lb_node_free(c->node);
	if (c->node != NULL && c->keeps)
		lb_port_list_release(&c->ports);
}

static int
vif_ctx_load(struct lb_req *req, const char *ident, struct vif_ctx *c,
    struct lb_err *err)
{
	struct lb_port_query q = { 0 };
	const struct lb_iface_impl *impl;
	const struct lb_network_ops *ops;
	int r;

	memset(c, 0, sizeof(*c));
	r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_req_check_node_ident(req, ident, err);
	if (r == 0)
		r = lb_store_node_get(req->ctx->store, ident, &c->node, err);
	if (r < 0)
		return r;
	impl = lb_iface_find(LB_IFACE_NETWORK,
	    c->node->iface[LB_IFACE_NETWORK]);
	ops = impl != NULL ? impl->ops : NULL;
	c->keeps = ops != NULL && ops->keeps_vifs;
	if (!c->keeps)
		return 0;
	q.node_uuid = c->node->uuid;
	r = lb_store_port_list(req->ctx->store, &q, &c->ports, err);
	if (r < 0) {
		c->keeps = false;	/* nothing to release */
		return r;
	}
	return 0;
}

int
lb_api_node_vifs(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct vif_ctx c;
	struct lb_buf b;
	int r, n = 0;

	if (req->minor < VIF_MINOR)
		return lb_resp_pecan_not_found(resp, err);
	r = vif_ctx_load(req, args[0], &c, err);
	if (r < 0) {
		vif_ctx_release(&c);
		return r;
	}
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"vifs\":[");
	for (size_t i = 0; c.keeps && i < c.ports.n; i++) {
		const char *vif = port_vif(c.ports.items[i]);

		if (vif == NULL)
			continue;
		lb_buf_adds(&b, n++ ? ",{\"id\":" : "{\"id\":");
		lb_buf_add_json_string(&b, vif);
		lb_buf_addc(&b, '}');
	}
	lb_buf_adds(&b, "]}");
	vif_ctx_release(&c);
	return lb_resp_json(resp, 200, &b, err);
}

/* What the port update does, checked again in the store's transaction. */
struct vif_change {
	const char *vif;
	bool attach;
};

static int
change_vif(struct lb_port *port, const struct lb_node *node, void *arg,
    struct lb_err *err)
{
	const struct vif_change *vc = arg;
	const char *held = port_vif(port);

	if (node->reservation != NULL)
		return lb_err_set(err, -EBUSY, "Node %s is locked by host %s, "
		    "please retry after the current operation is completed.",
		    node->uuid, node->reservation);
	if (vc->attach && held != NULL)	/* taken since the list was read */
		return lb_err_set(err, -EBUSY, "Unable to attach VIF because "
		    "VIF %s is already attached to Ironic Port %s", held,
		    port->uuid);
	if (!vc->attach && (held == NULL || strcmp(held, vc->vif) != 0))
		return lb_err_set(err, -EBUSY, "VIF %s left port %s meanwhile; "
		    "please retry.", vc->vif, port->uuid);
	if (!vc->attach) {
		json_object_del(port->internal_info, VIF_KEY);
		json_object_del(port->extra, "vif_port_id");
		return 0;
	}
	if (json_object_set_new(port->internal_info, VIF_KEY,
	    json_string(vc->vif)) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

/*
 * Ironic's conductor takes the node's lock for an attach or a detach, with
 * every network interface (noop included): a locked node is a 409 the CLI
 * retries.  The store's update checks it again.
 */
static int
check_unlocked(const struct vif_ctx *c, struct lb_err *err)
{
	if (c->node->reservation == NULL)
		return 0;
	return lb_err_set(err, -EBUSY, "Node %s is locked by host %s, please "
	    "retry after the current operation is completed.", c->node->uuid,
	    c->node->reservation);
}

/* Ironic's VIF body: an object with a string id, UUID- or name-like. */
static int
parse_vif_body(struct lb_req *req, json_t *body, const char **ret_id,
    const char **ret_port, struct lb_err *err)
{
	const json_t *id = json_object_get(body, "id");
	const char *port = NULL;

	char shown[256];

	if (!json_is_object(body) || (id != NULL && !json_is_string(id))) {
		lb_json_pyrepr(json_is_object(body) ? id : body, shown,
		    sizeof(shown));
		return lb_err_set(err, -EINVAL, "Schema error for vif: %s is "
		    "not of type '%s'", shown, json_is_object(body) ?
		    "string" : "object");
	}
	if (id == NULL)
		return lb_err_set(err, -EINVAL, "Schema error for vif: 'id' "
		    "is a required property");
	*ret_id = json_string_value(id);
	if (!lb_uuid_is_valid(*ret_id) && !lb_logical_name_is_valid(*ret_id))
		return lb_err_set(err, -EINVAL, "Expected UUID or name for "
		    "id: %s", *ret_id);
	if (req->minor >= 67) {
		if (json_object_get(body, "port_uuid") != NULL &&
		    json_object_get(body, "portgroup_uuid") != NULL)
			return lb_err_set(err, -EINVAL, "Cannot specify both "
			    "port_uuid and portgroup_uuid");
		port = json_string_value(json_object_get(body, "port_uuid"));
		/* lifeboat keeps no port groups: none is ever free */
		if (json_object_get(body, "portgroup_uuid") != NULL)
			port = "";
	}
	*ret_port = port;
	return 0;
}

/*
 * Ironic's free port: not holding a VIF (this one already held: 409), the
 * one asked for if any, PXE-enabled ones first; none: 400.
 */
static int
pick_port(const struct vif_ctx *c, const char *vif, const char *want,
    const struct lb_port **ret, struct lb_err *err)
{
	const struct lb_port *best = NULL;

	for (size_t i = 0; i < c->ports.n; i++) {
		const struct lb_port *p = c->ports.items[i];
		const char *held = port_vif(p);

		if (held != NULL && strcmp(held, vif) == 0)
			return lb_err_set(err, -EBUSY, "Unable to attach VIF "
			    "because VIF %s is already attached to Ironic "
			    "Port %s", vif, p->uuid);
		if (held != NULL || (want != NULL && strcmp(want, p->uuid)))
			continue;
		if (best == NULL || (p->pxe_enabled && !best->pxe_enabled))
			best = p;
	}
	if (best == NULL)
		return lb_err_set(err, -EINVAL, "Unable to attach VIF %s, not "
		    "enough free physical ports.", vif);
	*ret = best;
	return 0;
}

int
lb_api_node_vif_attach(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct vif_change vc = { NULL, true };
	const struct lb_port *port = NULL;
	const char *want = NULL;
	json_t *body = NULL;
	struct vif_ctx c;
	int r;

	if (req->minor < VIF_MINOR)
		return lb_resp_pecan_not_found(resp, err);
	r = vif_ctx_load(req, args[0], &c, err);
	if (r == 0 && req->body_len == 0)	/* no body: no 'id' */
		body = json_object();
	else if (r == 0)
		r = lb_req_json(req, &body, err);
	if (r == 0)
		r = parse_vif_body(req, body, &vc.vif, &want, err);
	if (r == 0)
		r = check_unlocked(&c, err);
	if (r == 0 && c.keeps)
		r = pick_port(&c, vc.vif, want, &port, err);
	if (r == 0 && c.keeps)
		r = lb_store_port_update(req->ctx->store, port->uuid,
		    change_vif, &vc, NULL, err);
	if (r == 0 && c.keeps)
		log_info("node %s: VIF %s attached to port %s", c.node->uuid,
		    vc.vif, port->uuid);
	json_decref(body);
	vif_ctx_release(&c);
	if (r < 0)
		return r;
	lb_resp_empty(resp, 204);
	return 0;
}

int
lb_api_node_vif_detach(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct vif_change vc = { args[1], false };
	const struct lb_port *port = NULL;
	struct vif_ctx c;
	int r;

	if (req->minor < VIF_MINOR)
		return lb_resp_pecan_not_found(resp, err);
	r = vif_ctx_load(req, args[0], &c, err);
	if (r == 0)
		r = check_unlocked(&c, err);
	for (size_t i = 0; r == 0 && c.keeps && i < c.ports.n; i++) {
		const char *held = port_vif(c.ports.items[i]);

		if (held != NULL && strcmp(held, vc.vif) == 0)
			port = c.ports.items[i];
	}
	if (r == 0 && c.keeps && port == NULL)
		r = lb_err_set(err, -EINVAL, "Unable to detach VIF %s from "
		    "node %s because it is not attached to it.", vc.vif,
		    c.node->uuid);
	if (r == 0 && c.keeps)
		r = lb_store_port_update(req->ctx->store, port->uuid,
		    change_vif, &vc, NULL, err);
	if (r == 0 && c.keeps)
		log_info("node %s: VIF %s detached from port %s", c.node->uuid,
		    vc.vif, port->uuid);
	vif_ctx_release(&c);
	if (r < 0)
		return r;
	lb_resp_empty(resp, 204);
	return 0;
}
