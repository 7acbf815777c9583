/*
 * api_nodes.c - /v1/nodes: show, create, patch, delete, maintenance,
 * states, validate and a node's ports, with Ironic's rules on what may
 * change in which state.  API threads.
 */
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "conductor/api_list.h"
#include "conductor/console_verbs.h"
#include "conductor/history.h"
#include "conductor/hwtype.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* ---- reading ---- */

static int
get_node(struct lb_req *req, const char *ident, struct lb_node **ret,
    struct lb_err *err)
{
	int r = lb_req_check_node_ident(req, ident, err);

	return r < 0 ? r : lb_store_node_get(req->ctx->store, ident, ret, err);
}

static int
render_node(struct lb_req *req, const struct lb_node *node,
    const uint64_t *fields, int status, struct lb_resp *resp,
    struct lb_err *err)
{
	char host[LB_RING_HOST_MAX];
	struct lb_render rd;
	struct lb_buf b;

	lb_req_render(req, &rd);
	rd.detail = true;
	rd.fields = fields;
	rd.conductor = lb_api_node_conductor(req, node, host);
	lb_buf_init(&b);
	lb_node_render(node, &rd, &b);
	return lb_resp_json(resp, status, &b, err);
}

int
lb_api_node_show(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_node *node = NULL;
	const uint64_t *fields;
	uint64_t bits;
	int r;

	r = lb_req_fields(req, lb_node_fields_parse, &bits, &fields, err);
	if (r == 0)
		r = lb_req_check_query(req, err);
	if (r == 0)
		r = get_node(req, args[0], &node, err);
	if (r == 0)
		r = render_node(req, node, fields, 200, resp, err);
	lb_node_free(node);
	return r;
}

/* ---- create ---- */

int
lb_api_node_create(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_node *node;
	json_t *body = NULL;
	int r;

	(void)args;
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_json(req, &body, err);
	if (r < 0)
		return r;
	node = lb_node_new();
	if (node == NULL) {
		json_decref(body);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	r = lb_node_from_create(node, body, req->minor, err);
	json_decref(body);
	if (r < 0)
		goto out;
	r = lb_hwtype_resolve_node(req->ctx->cfg, node, err);
	if (r == 0 && !lb_ring_serves(req->ctx->engine, node))
		r = lb_api_no_valid_host(node, 400, err);
	if (r < 0)
		goto out;
	/* Before 1.11 new nodes were available at once. */
	node->provision_state = strdup(req->minor >= 11 ? LB_STATE_ENROLL :
	    LB_STATE_AVAILABLE);
	if (node->provision_state == NULL) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = lb_store_node_create(req->ctx->store, node, err);
	if (r < 0)
		goto out;
	log_info("node %s created (driver %s)", node->uuid, node->driver);
	snprintf(resp->location, sizeof(resp->location), "%s/v1/nodes/%s",
	    req->base_url, node->uuid);
	r = render_node(req, node, NULL, 201, resp, err);
out:
	lb_node_free(node);
	return r;
}

/* ---- update ---- */

static int
node_locked(const struct lb_node *node, struct lb_err *err)
{
	return lb_err_set(err, -EBUSY, "Node %s is locked by host %s, please "
	    "retry after the current operation is completed.", node->uuid,
	    node->reservation);
}

/* Ironic's NodeAssociated. */
static int
node_associated(const struct lb_node *node, const char *instance,
    struct lb_err *err)
{
	return lb_err_set(err, -EBUSY, "Node %s is associated with instance "
	    "%s.", node->uuid, instance);
}

struct patch_args {
	const json_t *patch;
	int minor;
	const struct lb_config *cfg;
	const struct lb_engine *engine;	/* the ring: who could act on it */
	const char *ident;		/* as the client named the node */
	bool was_maintenance;		/* out: before the patch */
};

static bool
iface_changed(uint64_t changed)
{
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		char name[32];

		snprintf(name, sizeof(name), "%s_interface",
		    lb_iface_kind_name(k));
		if ((changed >> lb_node_field_index(name)) & 1)
			return true;
	}
	return false;
}

static bool
changed_field(uint64_t changed, const char *name)
{
	return (changed >> lb_node_field_index(name)) & 1;
}

/* protected and retired: their reasons only with the flag, as Ironic. */
static int
check_flags(struct lb_node *node, uint64_t changed, struct lb_err *err)
{
	if (changed_field(changed, "protected") && node->protected &&
	    strcmp(node->provision_state, LB_STATE_ACTIVE) != 0)
		return lb_err_set(err, -EINVAL, "Protected can only be set in "
		    "provision state active; node %s is in state \"%s\".",
		    node->uuid, node->provision_state);
	if (!node->protected) {
		if (changed_field(changed, "protected_reason") &&
		    node->protected_reason != NULL)
			return lb_err_set(err, -EINVAL, "Cannot set "
			    "protected_reason when protected is false.");
		free(node->protected_reason);
		node->protected_reason = NULL;
	}
	if (!node->retired && changed_field(changed, "retired_reason") &&
	    node->retired_reason != NULL)
		return lb_err_set(err, -EINVAL, "Cannot set retired_reason "
		    "when retired is false.");
	return 0;
}

/* A maintenance change, with its reason, into the node's history. */
static void
maintenance_history(const struct lb_req *req, const struct lb_node *node)
{
	const char *user = lb_history_user();

	lb_history_record(req->ctx->engine, node->uuid, LB_HISTORY_INFO,
	    "maintenance", user, "maintenance %s by %s%s%s",
	    node->maintenance ? "set" : "unset", user ? user : "the API",
	    node->maintenance_reason ? ": " : "",
	    node->maintenance_reason ? node->maintenance_reason : "");
}

static int
patch_node(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct patch_args *pa = arg;
	bool was_maintenance = node->maintenance;
	char old_instance[LB_UUID_LEN + 1];
	uint64_t changed = 0;
	int r;

	if (node->reservation != NULL)
		return node_locked(node, err);
	pa->was_maintenance = was_maintenance;
	if (node->target_provision_state != NULL &&
	    !lb_state_allows_update_in_transition(node->provision_state))
		return lb_err_set(err, -EBUSY, "Node %s can not be updated "
		    "while a state transition is in progress.", node->uuid);
	snprintf(old_instance, sizeof(old_instance), "%s",
	    node->instance_uuid != NULL ? node->instance_uuid : "");
	r = lb_node_patch(node, pa->patch, pa->minor, &changed, err);
	if (r < 0)
		return r;
	if (changed == 0)
		return LB_STORE_UNCHANGED;	/* only "test" ops, or no-ops */
	/* Nova claims a node by setting it: a second claim must lose. */
	if (changed_field(changed, "instance_uuid") && old_instance[0] &&
	    node->instance_uuid != NULL)
		return node_associated(node, old_instance, err);
	/* A running console would be left behind by the old driver. */
	if (node->console_enabled && (changed_field(changed, "driver") ||
	    changed_field(changed, "console_interface")))
		return lb_err_set(err, -EBUSY, "Node %s can not update the %s "
		    "while the console is enabled. Please stop the console "
		    "first.", pa->ident, changed_field(changed, "driver") ?
		    "driver" : "console interface");
	if ((iface_changed(changed) || changed_field(changed, "driver")) &&
	    !was_maintenance &&
	    !lb_state_allows_interface_change(node->provision_state))
		return lb_err_set(err, -EBUSY, "Interfaces and the driver of "
		    "node %s can only be changed in maintenance mode or in one "
		    "of the states enroll, inspecting, inspect wait, "
		    "manageable, available; it is in state \"%s\".",
		    node->uuid, node->provision_state);
	if (changed_field(changed, "driver")) {
		/* Interfaces not chosen in the same patch follow the driver. */
		for (int k = 0; k < LB_IFACE_COUNT; k++) {
			char name[32];

			snprintf(name, sizeof(name), "%s_interface",
			    lb_iface_kind_name(k));
			if (changed_field(changed, name))
				continue;
			free(node->iface[k]);
			node->iface[k] = NULL;
		}
	}
	r = lb_hwtype_resolve_node(pa->cfg, node, err);
	if (r == 0 && !lb_ring_serves(pa->engine, node))
		r = lb_api_no_valid_host(node, 400, err);
	if (r < 0)
		return r;
	if (changed_field(changed, "maintenance") && !node->maintenance) {
		free(node->maintenance_reason);
		node->maintenance_reason = NULL;
		free(node->fault);
		node->fault = NULL;
	}
	return check_flags(node, changed, err);
}

int
lb_api_node_patch(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct patch_args pa = { .minor = req->minor, .cfg = req->ctx->cfg,
	    .engine = req->ctx->engine, .ident = args[0] };
	struct lb_node *node = NULL;
	json_t *patch = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_check_node_ident(req, args[0], err);
	if (r < 0)
		return r;
	r = lb_req_json(req, &patch, err);
	if (r < 0)
		return r;
	pa.patch = patch;
	r = lb_store_node_update(req->ctx->store, args[0], patch_node, &pa,
	    &node, err);
	json_decref(patch);
	if (r < 0)
		return r;
	log_info("node %s updated", node->uuid);
	if (node->maintenance != pa.was_maintenance)
		maintenance_history(req, node);
	r = render_node(req, node, NULL, 200, resp, err);
	lb_node_free(node);
	return r;
}

struct delete_args {
	const struct lb_config *cfg;
	char uuid[LB_UUID_LEN + 1];	/* out: the node deleted */
	char console[32];		/* out: its console interface */
};

static int
check_delete(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct delete_args *da = arg;
	const struct lb_config *cfg = da->cfg;

	if (node->protected)
		return lb_err_set(err, -EPERM, "Node %s is protected and "
		    "cannot be undeployed, rebuilt or deleted", node->uuid);
	if (node->reservation != NULL)
		return node_locked(node, err);
	if (node->instance_uuid != NULL)
		return node_associated(node, node->instance_uuid, err);
	if (!node->maintenance &&
	    !lb_state_allows_delete(node->provision_state,
	    cfg->allow_deleting_available_nodes))
		return lb_err_set(err, -EBUSY, "Can not delete node \"%s\" "
		    "while it is in provision state \"%s\". Valid provision "
		    "states to perform deletion are: %s, or set the node into "
		    "maintenance mode", node->uuid, node->provision_state,
		    cfg->allow_deleting_available_nodes ?
		    "\"manageable\", \"enroll\", \"adopt failed\", "
		    "\"available\"" :
		    "\"manageable\", \"enroll\", \"adopt failed\"");
	snprintf(da->uuid, sizeof(da->uuid), "%s", node->uuid);
	snprintf(da->console, sizeof(da->console), "%s",
	    node->iface[LB_IFACE_CONSOLE] ? node->iface[LB_IFACE_CONSOLE] : "");
	return 0;
}

int
lb_api_node_delete(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct delete_args da = { .cfg = req->ctx->cfg };
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_check_node_ident(req, args[0], err);
	if (r < 0)
		return r;
	r = lb_store_node_delete(req->ctx->store, args[0], check_delete, &da,
	    err);
	if (r < 0)
		return r;
	log_info("node %s deleted", args[0]);
	/* Its console and capture go too; a failure is only logged. */
	if (req->ctx->engine != NULL)
		lb_console_forget(req->ctx->engine, da.uuid, da.console);
	lb_resp_empty(resp, 204);
	return 0;
}

/* ---- maintenance ---- */

int
lb_api_node_maintenance_get(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_node *node = NULL;
	struct lb_buf b;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = get_node(req, args[0], &node, err);
	if (r < 0)
		return r;
	lb_buf_init(&b);
	lb_buf_addf(&b, "{\"maintenance\":%s,\"maintenance_reason\":",
	    node->maintenance ? "true" : "false");
	lb_buf_add_json_string(&b, node->maintenance_reason);
	lb_buf_adds(&b, ",\"fault\":");
	lb_buf_add_json_string(&b, node->fault);
	lb_buf_addc(&b, '}');
	lb_node_free(node);
	return lb_resp_json(resp, 200, &b, err);
}

struct maintenance_args {
	bool on;
	const char *reason;
};

static int
set_maintenance(struct lb_node *node, void *arg, struct lb_err *err)
{
	const struct maintenance_args *ma = arg;

	if (node->reservation != NULL)
		return node_locked(node, err);
	node->maintenance = ma->on;
	free(node->maintenance_reason);
	node->maintenance_reason = NULL;
	if (ma->on && ma->reason != NULL) {
		node->maintenance_reason = strdup(ma->reason);
		if (node->maintenance_reason == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
	}
	if (!ma->on) {
		free(node->fault);
		node->fault = NULL;
	}
	return 0;
}

static int
change_maintenance(struct lb_req *req, const char *ident,
    struct maintenance_args *ma, struct lb_resp *resp, struct lb_err *err)
{
	struct lb_node *node = NULL;
	int r;

	r = lb_req_check_node_ident(req, ident, err);
	if (r < 0)
		return r;
	r = lb_store_node_update(req->ctx->store, ident, set_maintenance, ma,
	    &node, err);
	if (r < 0)
		return r;
	log_info("node %s: maintenance %s", ident, ma->on ? "on" : "off");
	maintenance_history(req, node);
	lb_node_free(node);
	lb_resp_empty(resp, 202);
	return 0;
}

int
lb_api_node_maintenance_set(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct maintenance_args ma = { true, NULL };
	json_t *body = NULL, *reason;
	const char *key;
	json_t *value;
	int r;

	/* Old clients send the reason as a query parameter. */
	ma.reason = lb_req_query(req, "reason");
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	if (req->body_len > 0) {
		r = lb_req_json(req, &body, err);
		if (r < 0)
			return r;
		if (!json_is_object(body)) {
			json_decref(body);
			return lb_err_set(err, -EINVAL, "Invalid input: the "
			    "request body must be a JSON object");
		}
		json_object_foreach(body, key, value) {
			if (strcmp(key, "reason") != 0) {
				r = lb_err_set(err, -EINVAL, "Additional "
				    "properties are not allowed ('%s' was "
				    "unexpected)", key);
				json_decref(body);
				return r;
			}
		}
		reason = json_object_get(body, "reason");
		if (reason != NULL && !json_is_string(reason) &&
		    !json_is_null(reason)) {
			json_decref(body);
			return lb_err_set(err, -EINVAL, "Invalid input for "
			    "field/attribute reason. Wrong type. Expected "
			    "'string'");
		}
		if (json_is_string(reason))
			ma.reason = json_string_value(reason);
	}
	if (ma.reason != NULL && strlen(ma.reason) > 255) {
		json_decref(body);
		return lb_err_set(err, -EINVAL, "Invalid input for "
		    "field/attribute reason. Value is longer than 255 "
		    "characters");
	}
	r = change_maintenance(req, args[0], &ma, resp, err);
	json_decref(body);
	return r;
}

int
lb_api_node_maintenance_unset(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct maintenance_args ma = { false, NULL };
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	return change_maintenance(req, args[0], &ma, resp, err);
}

/* ---- states, validate ---- */

int
lb_api_node_states(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_node *node = NULL;
	json_t *v;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = get_node(req, args[0], &node, err);
	if (r < 0)
		return r;
	v = json_pack("{s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}",
	    "console_enabled", node->console_enabled,
	    "last_error", node->last_error,
	    "power_state", node->power_state,
	    "provision_state", node->provision_state,
	    "target_power_state", node->target_power_state,
	    "target_provision_state", node->target_provision_state,
	    "provision_updated_at", node->provision_updated_at);
	if (v != NULL && req->minor >= 12) {
		json_object_set(v, "raid_config", node->raid_config);
		json_object_set(v, "target_raid_config",
		    node->target_raid_config);
	}
	if (v != NULL && req->minor >= 75) {
		json_object_set_new(v, "boot_mode", node->boot_mode ?
		    json_string(node->boot_mode) : json_null());
		json_object_set_new(v, "secure_boot", node->secure_boot < 0 ?
		    json_null() : json_boolean(node->secure_boot));
	}
	lb_node_free(node);
	return lb_resp_json_value(resp, 200, v, err);
}

/* Validate reports these kinds, in Ironic's order (no vendor). */
static const enum lb_iface_kind validate_kinds[] = {
	LB_IFACE_BOOT, LB_IFACE_DEPLOY, LB_IFACE_MANAGEMENT, LB_IFACE_NETWORK,
	LB_IFACE_POWER, LB_IFACE_BIOS, LB_IFACE_CONSOLE, LB_IFACE_INSPECT,
	LB_IFACE_RAID, LB_IFACE_RESCUE, LB_IFACE_STORAGE,
};

/*
 * A valid boot interface says which firmware mode(s) it serves, in a
 * reason next to the true result (the CLI shows it in its Reason column).
 */
static json_t *
valid(const struct lb_config *cfg, enum lb_iface_kind kind,
    const struct lb_iface_impl *impl, const struct lb_task *task)
{
	char note[256] = "";

	if (kind == LB_IFACE_BOOT)
		lb_task_boot_describe(impl, cfg, task, note, sizeof(note));
	if (note[0] == '\0')
		return json_pack("{s:b}", "result", 1);
	return json_pack("{s:b, s:s}", "result", 1, "reason", note);
}

static json_t *
validate_one(const struct lb_config *cfg, const struct lb_node *node,
    enum lb_iface_kind kind, const struct lb_task *task)
{
	const struct lb_iface_impl *impl;
	const char *name = node->iface[kind];
	struct lb_err err = { "" };

	impl = name ? lb_iface_find(kind, name) : NULL;
	if (impl == NULL)
		lb_err_set(&err, -EINVAL, "Unknown %s interface '%s'.",
		    lb_iface_kind_name(kind), name ? name : "");
	else if (impl->flags & LB_IMPL_NONE)
		lb_err_set(&err, -EINVAL, "Driver %s does not support %s "
		    "(disabled or not implemented).", node->driver,
		    lb_iface_kind_name(kind));
	else if (!(impl->flags & LB_IMPL_BUILT))
		lb_err_set(&err, -EINVAL, "The %s interface '%s' is known "
		    "but not built into this lifeboatd.",
		    lb_iface_kind_name(kind), name);
	else if (impl->validate == NULL || impl->validate(task, &err) == 0)
		return valid(cfg, kind, impl, task);
	return json_pack("{s:b, s:s}", "result", 0, "reason", err.msg);
}

int
lb_api_node_validate(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_port_query pq = { 0 };
	struct lb_port_list ports = { 0 };
	struct lb_node *node = NULL;
	const char **macs = NULL;
	struct lb_task task;
	json_t *out;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = get_node(req, args[0], &node, err);
	if (r < 0)
		return r;
	pq.node_uuid = node->uuid;
	r = lb_store_port_list(req->ctx->store, &pq, &ports, err);
	if (r < 0)
		goto out;
	macs = calloc(ports.n + 1, sizeof(*macs));
	if (macs == NULL) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	memset(&task, 0, sizeof(task));
	for (size_t i = 0; i < ports.n; i++) {
		if (ports.items[i]->pxe_enabled)
			macs[task.nports++] = ports.items[i]->address;
	}
	task.node_uuid = node->uuid;
	task.driver = node->driver;
	task.driver_info = node->driver_info;
	task.driver_internal_info = node->driver_internal_info;
	task.properties = node->properties;
	task.instance_info = node->instance_info;
	task.port_macs = macs;
	out = json_object();
	for (size_t i = 0; out != NULL && i < sizeof(validate_kinds) /
	    sizeof(validate_kinds[0]); i++) {
		enum lb_iface_kind k = validate_kinds[i];

		if (k == LB_IFACE_RESCUE && req->minor < 38)
			continue;
		if (k == LB_IFACE_BIOS && req->minor < 40)
			continue;
		json_object_set_new(out, lb_iface_kind_name(k),
		    validate_one(req->ctx->cfg, node, k, &task));
	}
	r = lb_resp_json_value(resp, 200, out, err);
out:
	free(macs);
	lb_port_list_release(&ports);
	lb_node_free(node);
	return r;
}

/* ---- provision and power verbs (the engine does the work) ---- */

static int
state_verb(struct lb_req *req, const char *ident, struct lb_resp *resp,
    struct lb_err *err,
    int (*verb)(struct lb_engine *, const char *, const json_t *, int,
    struct lb_err *))
{
	json_t *body = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_check_node_ident(req, ident, err);
	if (r < 0)
		return r;
	r = lb_req_json(req, &body, err);
	if (r < 0)
		return r;
	r = verb(req->ctx->engine, ident, body, req->minor, err);
	json_decref(body);
	if (r < 0)
		return r;
	snprintf(resp->location, sizeof(resp->location),
	    "%s/v1/nodes/%s/states", req->base_url, ident);
	lb_resp_empty(resp, 202);
	return 0;
}

int
lb_api_node_provision(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	return state_verb(req, args[0], resp, err, lb_engine_provision);
}

int
lb_api_node_power(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	return state_verb(req, args[0], resp, err, lb_engine_power);
}

/* ---- the agent's endpoints (no credentials: the token is the check) ---- */

int
lb_api_lookup(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	const char *addresses = lb_req_query(req, "addresses");
	const char *node_uuid = lb_req_query(req, "node_uuid");
	json_t *doc = NULL;
	int r;

	(void)args;
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_engine_lookup(req->ctx->engine, addresses, node_uuid,
	    req->minor, req->base_url, &doc, err);
	if (r < 0)
		return r;
	return lb_resp_json_value(resp, 200, doc, err);
}

int
lb_api_heartbeat(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	json_t *body = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = lb_req_json(req, &body, err);
	if (r < 0)
		return r;
	r = lb_engine_heartbeat(req->ctx->engine, args[0], body, req->minor,
	    err);
	json_decref(body);
	if (r < 0)
		return r;
	lb_resp_empty(resp, 202);
	return 0;
}
