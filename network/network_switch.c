/*
 * network_switch.c - the `switch` network interface: for sites without
 * Neutron, moves each pxe-enabled port's switch port (its
 * local_link_connection) to the rescuing VLAN during rescue and back to
 * the tenant VLAN it had, which driver_internal_info remembers meanwhile.
 * Worker threads (validate_rescue: API threads too); idempotent.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "network/network.h"
#include "network/switch_backend.h"
#include "conductor/util/banned.h"

#define TENANT_VLANS	"switch_tenant_vlans"

static const struct lb_switch_backend *const backends[] = {
	&lb_switch_linux_bridge,
	&lb_switch_bridge_per_vlan,
};

const struct lb_switch_backend *
lb_switch_backend_find(const char *name)
{
	if (name == NULL)
		return &lb_switch_linux_bridge;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	}
	return NULL;
}

/* Decimal digits only: "0x10", " 10" and "+10" are not VLAN IDs. */
static int
parse_vid(const char *s, unsigned *ret_vid)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 4)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || v < LB_VLAN_MIN || v > LB_VLAN_MAX)
		return -EINVAL;
	*ret_vid = v;
	return 0;
}

/* driver_info rescuing_network (a string or a number), else [switch]. */
static int
rescuing_vid(const struct lb_config *cfg, const struct lb_task *task,
    unsigned *ret_vid, struct lb_err *err)
{
	const json_t *v = json_object_get(task->driver_info,
	    "rescuing_network");
	const char *s;

	if (v != NULL && !json_is_null(v)) {
		json_int_t n = json_integer_value(v);

		if (json_is_integer(v) && n >= LB_VLAN_MIN &&
		    n <= LB_VLAN_MAX) {
			*ret_vid = (unsigned)n;
			return 0;
		}
		s = json_string_value(v);
		if (s != NULL && parse_vid(s, ret_vid) == 0)
			return 0;
		if (json_is_integer(v))
			return lb_err_set(err, -EINVAL, "driver_info "
			    "rescuing_network '%" JSON_INTEGER_FORMAT "' is "
			    "not a vlan id (%d..%d)", n, LB_VLAN_MIN,
			    LB_VLAN_MAX);
		return lb_err_set(err, -EINVAL, "driver_info rescuing_network "
		    "'%.64s' is not a vlan id (%d..%d)", s ? s : "(not a "
		    "string)", LB_VLAN_MIN, LB_VLAN_MAX);
	}
	s = cfg->switch_rescuing_network;
	if (s == NULL || s[0] == '\0')
		return lb_err_set(err, -EINVAL, "no rescuing network for node "
		    "'%s': set driver_info rescuing_network or [switch] "
		    "rescuing_network to a vlan id", task->node_uuid);
	if (parse_vid(s, ret_vid) < 0)
		return lb_err_set(err, -EINVAL, "[switch] rescuing_network "
		    "'%.64s' is not a vlan id (%d..%d)", s, LB_VLAN_MIN,
		    LB_VLAN_MAX);
	return 0;
}

/* What GET /v1/drivers/{name}/properties says of the key read above. */
const struct lb_property lb_network_switch_properties[] = {
	{ "rescuing_network", "Network (VLAN) the node is moved to while it "
	  "boots the rescue ramdisk. Optional." },
	{ NULL, NULL },
};

/* Port i's switch and switch port, as its local_link_connection says. */
static int
port_link(const struct lb_switch_backend *be, const struct lb_task *task,
    size_t i, const char **ret_switch, const char **ret_port,
    struct lb_err *err)
{
	const char *mac = task->port_macs[i] ? task->port_macs[i] : "";
	const json_t *llc = task->port_llcs ? task->port_llcs[i] : NULL;
	const char *sw, *port;
	struct lb_err why = { "" };

	if (!json_is_object(llc) || json_object_size(llc) == 0)
		return lb_err_set(err, -EINVAL, "port '%s' has no "
		    "local_link_connection: the switch network interface "
		    "needs its switch_info and port_id", mac);
	sw = json_string_value(json_object_get(llc, "switch_info"));
	port = json_string_value(json_object_get(llc, "port_id"));
	if (sw == NULL || sw[0] == '\0')
		return lb_err_set(err, -EINVAL, "local_link_connection of port "
		    "'%s' has no switch_info (the switch)", mac);
	if (port == NULL || port[0] == '\0')
		return lb_err_set(err, -EINVAL, "local_link_connection of port "
		    "'%s' has no port_id (the switch port)", mac);
	if (be->check_port(sw, port, &why) < 0)
		return lb_err_set(err, -EINVAL, "local_link_connection of port "
		    "'%s': %s", mac, why.msg);
	*ret_switch = sw;
	*ret_port = port;
	return 0;
}

/* 1: recorded, 0: not, -EINVAL: something else is there. */
static int
recorded_vid(const json_t *rec, const char *mac, unsigned *ret_vid)
{
	const json_t *v = json_object_get(rec, mac);
	json_int_t n;

	if (v == NULL)
		return 0;
	n = json_integer_value(v);
	if (!json_is_integer(v) || n < LB_VLAN_MIN || n > LB_VLAN_MAX)
		return -EINVAL;
	*ret_vid = (unsigned)n;
	return 1;
}

static int
check(const struct lb_switch_backend *be, const struct lb_config *cfg,
    const struct lb_task *task, unsigned *ret_vid, struct lb_err *err)
{
	const char *sw, *port;
	int r;

	if (task->nports == 0)
		return lb_err_set(err, -EINVAL, "node '%s' has no pxe-enabled "
		    "port to move to the rescuing network", task->node_uuid);
	for (size_t i = 0; i < task->nports; i++) {
		r = port_link(be, task, i, &sw, &port, err);
		if (r < 0)
			return r;
	}
	return rescuing_vid(cfg, task, ret_vid, err);
}

int
lb_switch_validate_rescue(const struct lb_switch_backend *be,
    const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err)
{
	unsigned vid;

	return check(be, cfg, task, &vid, err);
}

/*
 * A port's tenant VLAN is recorded before it moves and never overwritten,
 * so a second add_rescuing (a retried rescue, a failure half-way) does
 * not take the rescuing VLAN for the tenant's.  Every record is saved
 * before the first port moves: a crash between the move and the end of
 * the job must not lose the only note of where the port belongs.
 */
int
lb_switch_add_rescuing(const struct lb_switch_backend *be,
    const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err)
{
	json_t *dii = task->driver_internal_info, *rec;
	const char *sw, *port;
	unsigned vid, tenant;
	bool added = false;
	int r;

	r = check(be, cfg, task, &vid, err);
	if (r < 0)
		return r;
	if (!json_is_object(dii))
		return lb_err_set(err, -EINVAL, "node '%s' has no "
		    "driver_internal_info to record its tenant vlans in",
		    task->node_uuid);
	rec = json_object_get(dii, TENANT_VLANS);
	if (rec != NULL && !json_is_object(rec))
		return lb_err_set(err, -EINVAL, "driver_internal_info "
		    TENANT_VLANS " of node '%s' is not an object",
		    task->node_uuid);
	for (size_t i = 0; i < task->nports; i++) {
		const char *mac = task->port_macs[i];

		r = port_link(be, task, i, &sw, &port, err);
		if (r < 0)
			return r;
		r = recorded_vid(rec, mac, &tenant);
		if (r < 0)
			return lb_err_set(err, -EINVAL, "the tenant vlan "
			    "recorded for port '%s' is not a vlan id", mac);
		if (r == 1)
			continue;
		r = be->get_access_vlan(sw, port, &tenant, err);
		if (r < 0)
			return r;
		if (rec == NULL) {
			rec = json_object();
			if (json_object_set_new(dii, TENANT_VLANS, rec) < 0)
				return lb_err_set(err, -ENOMEM, "out of "
				    "memory");
		}
		if (json_object_set_new(rec, mac, json_integer(tenant)) < 0)
			return lb_err_set(err, -ENOMEM, "out of memory");
		added = true;
	}
	if (added && task->save != NULL) {
		r = task->save(task, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < task->nports; i++) {
		r = port_link(be, task, i, &sw, &port, err);
		if (r == 0)
			r = be->set_access_vlan(sw, port, vid, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Best effort: every recorded port is tried, and the first failure is
 * returned.  A port that could not be restored keeps its record, so a
 * later unrescue can try again.
 */
int
lb_switch_restore_tenant(const struct lb_switch_backend *be,
    const struct lb_task *task, bool drop_record, struct lb_err *err)
{
	json_t *rec = json_object_get(task->driver_internal_info,
	    TENANT_VLANS);
	const char *sw = NULL, *port = NULL;
	struct lb_err scratch;
	unsigned vid = 0;
	int first = 0;

	if (rec == NULL)
		return 0;
	if (!json_is_object(rec))
		return lb_err_set(err, -EINVAL, "driver_internal_info "
		    TENANT_VLANS " of node '%s' is not an object",
		    task->node_uuid);
	for (size_t i = 0; i < task->nports; i++) {
		const char *mac = task->port_macs[i];
		struct lb_err *e = first < 0 ? &scratch : err;
		int r = recorded_vid(rec, mac, &vid);

		if (r == 0)
			continue;
		if (r < 0)
			r = lb_err_set(e, -EINVAL, "the tenant vlan recorded "
			    "for port '%s' is not a vlan id", mac);
		else
			r = port_link(be, task, i, &sw, &port, e);
		if (r == 0)
			r = be->set_access_vlan(sw, port, vid, e);
		if (r == 0 && drop_record)
			json_object_del(rec, mac);
		if (r < 0 && first == 0)
			first = r;
	}
	if (drop_record && json_object_size(rec) == 0)
		json_object_del(task->driver_internal_info, TENANT_VLANS);
	return first;
}

/* ---- the ops, with the backend [switch] backend names ---- */

static const struct lb_switch_backend *
configured(const struct lb_config *cfg, struct lb_err *err)
{
	const struct lb_switch_backend *be =
	    lb_switch_backend_find(cfg->switch_backend);

	if (be == NULL)
		lb_err_set(err, -EINVAL, "unknown [switch] backend '%s'",
		    cfg->switch_backend);
	return be;
}

static int
switch_validate_rescue(const struct lb_config *cfg,
    const struct lb_task *task, struct lb_err *err)
{
	const struct lb_switch_backend *be = configured(cfg, err);

	return be ? lb_switch_validate_rescue(be, cfg, task, err) : -EINVAL;
}

/* add_rescuing records the tenant VLAN and moves the port in one go. */
static int
switch_unconfigure_tenant(const struct lb_config *cfg,
    const struct lb_task *task, struct lb_err *err)
{
	(void)cfg;
	(void)task;
	(void)err;
	return 0;
}

static int
switch_add_rescuing(const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err)
{
	const struct lb_switch_backend *be = configured(cfg, err);

	return be ? lb_switch_add_rescuing(be, cfg, task, err) : -EINVAL;
}

/*
 * configure_tenant follows in every flow, but a port left on the rescuing
 * VLAN is the worse mistake: restore here too, and keep the record.
 */
static int
switch_remove_rescuing(const struct lb_config *cfg,
    const struct lb_task *task, struct lb_err *err)
{
	const struct lb_switch_backend *be = configured(cfg, err);

	return be ? lb_switch_restore_tenant(be, task, false, err) : -EINVAL;
}

static int
switch_configure_tenant(const struct lb_config *cfg,
    const struct lb_task *task, struct lb_err *err)
{
	const struct lb_switch_backend *be = configured(cfg, err);

	return be ? lb_switch_restore_tenant(be, task, true, err) : -EINVAL;
}

const struct lb_network_ops lb_network_switch = {
	.name = "switch",
	.tenant_dhcp = true,
	.keeps_vifs = true,
	.validate_rescue = switch_validate_rescue,
	.unconfigure_tenant = switch_unconfigure_tenant,
	.add_rescuing = switch_add_rescuing,
	.remove_rescuing = switch_remove_rescuing,
	.configure_tenant = switch_configure_tenant,
};
