/*
 * api_root.c - the discovery documents ("/" and "/v1") and /v1/drivers,
 * which lists the hardware types and the interfaces each offers here.
 * API threads.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/api_internal.h"
#include "conductor/hwtype.h"
#include "conductor/util/banned.h"

static void
add_version_doc(struct lb_buf *b, const struct lb_req *req)
{
	lb_buf_addf(b, "{\"id\":\"v1\",\"links\":[{\"href\":\"%s/v1/\","
	    "\"rel\":\"self\"}],\"status\":\"CURRENT\","
	    "\"min_version\":\"1.%d\",\"version\":\"1.%d\"}", req->base_url,
	    LB_API_MIN_MINOR, LB_API_MAX_MINOR);
}

int
lb_api_root(struct lb_req *req, const char *const *args, struct lb_resp *resp,
    struct lb_err *err)
{
	struct lb_buf b;

	(void)args;
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"name\":\"OpenStack Ironic API\",\"description\":"
	    "\"lifeboat, a bare-metal rescue conductor that speaks the "
	    "Ironic API.\",\"default_version\":");
	add_version_doc(&b, req);
	lb_buf_adds(&b, ",\"versions\":[");
	add_version_doc(&b, req);
	lb_buf_adds(&b, "]}");
	return lb_resp_json(resp, 200, &b, err);
}

static void
add_link_pair(struct lb_buf *b, const struct lb_req *req, const char *name)
{
	lb_buf_addf(b, ",\"%s\":[{\"href\":\"%s/v1/%s/\",\"rel\":\"self\"},"
	    "{\"href\":\"%s/%s/\",\"rel\":\"bookmark\"}]", name,
	    req->base_url, name, req->base_url, name);
}

int
lb_api_v1(struct lb_req *req, const char *const *args, struct lb_resp *resp,
    struct lb_err *err)
{
	struct lb_buf b;

	(void)args;
	lb_buf_init(&b);
	lb_buf_addf(&b, "{\"id\":\"v1\",\"links\":[{\"href\":\"%s/v1/\","
	    "\"rel\":\"self\"},{\"href\":\"https://docs.openstack.org//"
	    "ironic/latest/contributor//webapi.html\",\"rel\":\"describedby\","
	    "\"type\":\"text/html\"}],\"media_types\":{\"base\":"
	    "\"application/json\",\"type\":"
	    "\"application/vnd.openstack.ironic.v1+json\"}", req->base_url);
	add_link_pair(&b, req, "chassis");
	add_link_pair(&b, req, "nodes");
	add_link_pair(&b, req, "ports");
	add_link_pair(&b, req, "drivers");
	if (req->minor >= 22) {
		add_link_pair(&b, req, "lookup");
		add_link_pair(&b, req, "heartbeat");
	}
	if (req->minor >= 49)
		add_link_pair(&b, req, "conductors");
	lb_buf_adds(&b, ",\"version\":");
	add_version_doc(&b, req);
	lb_buf_addc(&b, '}');
	return lb_resp_json(resp, 200, &b, err);
}

/* Driver documents show an interface kind from the version that added it. */
static int
kind_min_minor(enum lb_iface_kind kind)
{
	switch (kind) {
	case LB_IFACE_RESCUE:
		return 38;
	case LB_IFACE_BIOS:
		return 40;
	default:
		return 30;
	}
}

static void
render_driver(struct lb_buf *b, const struct lb_req *req,
    const struct lb_hwtype *hw, bool detail)
{
	const struct lb_config *cfg = req->ctx->cfg;

	lb_buf_adds(b, "{\"hosts\":[");
	lb_buf_add_json_string(b, cfg->host);
	lb_buf_adds(b, "],\"name\":");
	lb_buf_add_json_string(b, hw->name);
	lb_buf_addf(b, ",\"links\":[{\"href\":\"%s/v1/drivers/%s\",\"rel\":"
	    "\"self\"},{\"href\":\"%s/drivers/%s\",\"rel\":\"bookmark\"}]",
	    req->base_url, hw->name, req->base_url, hw->name);
	lb_buf_addf(b, ",\"properties\":[{\"href\":\"%s/v1/drivers/%s/"
	    "properties\",\"rel\":\"self\"},{\"href\":\"%s/drivers/%s/"
	    "properties\",\"rel\":\"bookmark\"}]", req->base_url, hw->name,
	    req->base_url, hw->name);
	if (req->minor >= 30)
		lb_buf_adds(b, ",\"type\":\"dynamic\"");
	if (!detail || req->minor < 30) {
		lb_buf_addc(b, '}');
		return;
	}
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		const char *const *names = hw->supported[k];
		bool first = true;

		if (req->minor < kind_min_minor(k))
			continue;
		lb_buf_addf(b, ",\"default_%s_interface\":",
		    lb_iface_kind_name(k));
		lb_buf_add_json_string(b, lb_hwtype_default_iface(cfg, hw, k));
		lb_buf_addf(b, ",\"enabled_%s_interfaces\":[",
		    lb_iface_kind_name(k));
		for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
			if (!lb_iface_enabled(cfg, k, names[i]))
				continue;
			if (!first)
				lb_buf_addc(b, ',');
			first = false;
			lb_buf_add_json_string(b, names[i]);
		}
		lb_buf_addc(b, ']');
	}
	lb_buf_addc(b, '}');
}

int
lb_api_driver_list(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	const struct lb_hwtype *hw = NULL;
	const char *type = lb_req_query(req, "type");
	struct lb_buf b;
	size_t n;
	int r, detail;
	bool first = true;

	(void)args;
	r = lb_req_query_bool(req, "detail", &detail, err);
	if (r < 0)
		return r;
	if (type != NULL && strcmp(type, "classic") != 0 &&
	    strcmp(type, "dynamic") != 0)
		return lb_err_set(err, -EINVAL, "Invalid type '%s': expected "
		    "'classic' or 'dynamic'.", type);
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	hw = lb_hwtypes(&n);
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"drivers\":[");
	/* Classic drivers are long gone from Ironic; lifeboat has none. */
	for (size_t i = 0; (type == NULL || strcmp(type, "dynamic") == 0) &&
	    i < n; i++) {
		if (!lb_hwtype_enabled(req->ctx->cfg, hw[i].name))
			continue;
		if (!first)
			lb_buf_addc(&b, ',');
		first = false;
		render_driver(&b, req, &hw[i], detail == 1);
	}
	lb_buf_adds(&b, "]}");
	return lb_resp_json(resp, 200, &b, err);
}

static int
find_driver(struct lb_req *req, const char *name,
    const struct lb_hwtype **ret, struct lb_err *err)
{
	const struct lb_hwtype *hw = lb_hwtype_find(name);

	if (hw == NULL || !lb_hwtype_enabled(req->ctx->cfg, name))
		return lb_err_set(err, -ENOENT, "Could not find the following "
		    "driver(s) or hardware type(s): %s.", name);
	*ret = hw;
	return 0;
}

int
lb_api_driver_show(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	const struct lb_hwtype *hw = NULL;
	struct lb_buf b;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = find_driver(req, args[0], &hw, err);
	if (r < 0)
		return r;
	lb_buf_init(&b);
	render_driver(&b, req, hw, true);
	return lb_resp_json(resp, 200, &b, err);
}

/*
 * Ironic's answer is the union of what the type's interfaces document;
 * here every interface the type supports and the configuration enables
 * counts (Ironic counts only each kind's default), as a node of the type
 * may use any of them.  Rows come from the interface registries.
 */
static json_t *
driver_properties(const struct lb_config *cfg, const struct lb_hwtype *hw)
{
	json_t *out = json_object();

	for (int k = 0; out != NULL && k < LB_IFACE_COUNT; k++) {
		const char *const *names = hw->supported[k];

		for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
			const struct lb_iface_impl *impl =
			    lb_iface_find((enum lb_iface_kind)k, names[i]);
			const struct lb_property *p;

			if (impl == NULL || !(impl->flags & LB_IMPL_BUILT) ||
			    !lb_iface_enabled(cfg, (enum lb_iface_kind)k,
			    names[i]))
				continue;
			for (p = impl->properties; p != NULL && p->name != NULL;
			    p++)
				json_object_set_new(out, p->name,
				    json_string(p->doc));
		}
	}
	return out;
}

int
lb_api_driver_properties(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	const struct lb_hwtype *hw = NULL;
	int r;

	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	r = find_driver(req, args[0], &hw, err);
	if (r < 0)
		return r;
	return lb_resp_json_value(resp, 200,
	    driver_properties(req->ctx->cfg, hw), err);
}
