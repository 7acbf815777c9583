/*
 * api_mgmt.c - /v1/nodes/{node}/management/boot_device: what `openstack
 * baremetal node boot device show|set` use.  The engine calls the BMC
 * while the request waits, as Ironic's conductor does; the request is
 * deferred (lb_resp.defer), so the wait holds no API thread.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/api_internal.h"
#include "conductor/engine.h"
#include "conductor/util/banned.h"

/* What a boot device call needs once the request is suspended. */
struct bd_call {
	struct lb_engine *engine;
	bool set;
	struct lb_engine_boot_device bd;
	char ident[];
};

/* Runs on the API's deferred thread: the BMC may take its time. */
static int
bd_run(void *arg, struct lb_resp *resp, struct lb_err *err)
{
	struct bd_call *c = arg;
	json_t *out;
	int r;

	r = lb_engine_boot_device(c->engine, c->ident, c->set, &c->bd, err);
	if (r < 0)
		return r;
	if (c->set) {
		lb_resp_empty(resp, 204);
		return 0;
	}
	if (c->bd.known)
		out = json_pack("{s:s, s:b}", "boot_device",
		    lb_boot_device_name(c->bd.device), "persistent",
		    c->bd.persistent);
	else
		out = json_pack("{s:n, s:n}", "boot_device", "persistent");
	return lb_resp_json_value(resp, 200, out, err);
}

static int
bd_defer(const struct lb_req *req, const char *ident, bool set,
    const struct lb_engine_boot_device *bd, struct lb_resp *resp,
    struct lb_err *err)
{
	size_t n = strlen(ident) + 1;
	struct bd_call *c = malloc(sizeof(*c) + n);

	if (c == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	c->engine = req->ctx->engine;
	c->set = set;
	c->bd = *bd;
	memcpy(c->ident, ident, n);
	resp->defer = bd_run;
	resp->defer_arg = c;
	return 0;
}

int
lb_api_node_boot_device_get(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_engine_boot_device bd = { 0 };
	int r;

	r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_req_check_node_ident(req, args[0], err);
	if (r == 0)
		r = bd_defer(req, args[0], false, &bd, resp, err);
	return r;
}

/* The body Ironic takes: {"boot_device": NAME, "persistent": BOOL}. */
static int
parse_set(const json_t *body, struct lb_engine_boot_device *bd,
    struct lb_err *err)
{
	const json_t *device, *persistent;
	const char *key;
	json_t *value;

	if (!json_is_object(body))
		return lb_err_set(err, -EINVAL, "Invalid input: the request "
		    "body must be a JSON object");
	json_object_foreach((json_t *)body, key, value) {
		if (strcmp(key, "boot_device") != 0 &&
		    strcmp(key, "persistent") != 0)
			return lb_err_set(err, -EINVAL, "Unknown argument: "
			    "\"%.100s\"", key);
	}
	device = json_object_get(body, "boot_device");
	if (device == NULL)
		return lb_err_set(err, -EINVAL, "Missing argument: "
		    "\"boot_device\"");
	if (!json_is_string(device))
		return lb_err_set(err, -EINVAL, "Invalid input for field/"
		    "attribute boot_device. Expected 'string'");
	if (lb_boot_device_parse(json_string_value(device), &bd->device) < 0)
		return lb_err_set(err, -EINVAL, "Invalid boot device %.100s "
		    "specified.", json_string_value(device));
	persistent = json_object_get(body, "persistent");
	if (persistent != NULL && !json_is_boolean(persistent))
		return lb_err_set(err, -EINVAL, "Invalid input for field/"
		    "attribute persistent. Expected 'boolean'");
	bd->persistent = json_is_true(persistent);
	return 0;
}

int
lb_api_node_boot_device_set(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_engine_boot_device bd = { 0 };
	json_t *body = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_req_check_node_ident(req, args[0], err);
	if (r == 0)
		r = lb_req_json(req, &body, err);
	if (r == 0)
		r = parse_set(body, &bd, err);
	json_decref(body);
	if (r == 0)
		r = bd_defer(req, args[0], true, &bd, resp, err);
	return r;
}

int
lb_api_node_boot_device_supported(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	struct lb_node *node = NULL;
	json_t *list, *out;
	int r;

	r = lb_req_check_query(req, err);
	if (r == 0)
		r = lb_req_check_node_ident(req, args[0], err);
	if (r == 0)
		r = lb_store_node_get(req->ctx->store, args[0], &node, err);
	if (r < 0)
		return r;
	lb_node_free(node);
	/* Every device lifeboat names; each management interface sets all. */
	list = json_array();
	for (int d = LB_BOOT_DEV_PXE; list != NULL && d <= LB_BOOT_DEV_BIOS; d++)
		json_array_append_new(list, json_string(
		    lb_boot_device_name((enum lb_boot_device)d)));
	out = json_pack("{s:o*}", "supported_boot_devices", list);
	return lb_resp_json_value(resp, 200, out, err);
}
