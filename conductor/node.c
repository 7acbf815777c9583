/*
 * node.c - the node and port field tables (one row per field, in the order
 * Ironic documents them) and the rules that are particular to each.
 * Pure functions; any thread.
 */
#include "node.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/record.h"
#include "conductor/util/config.h"
#include "power/ipmi_info.h"
#include "conductor/util/banned.h"

#define N(field) offsetof(struct lb_node, field)
#define P(field) offsetof(struct lb_port, field)
#define C LB_FF_CREATE
#define U LB_FF_PATCH
#define S LB_FF_SUMMARY
#define Z LB_FF_NULLABLE

static int
check_logical_name(const char *v, struct lb_err *err)
{
	/* {node} in a path is a UUID or a name: a UUID-shaped name is
	 * unreachable by name, so Ironic refuses it. */
	if (lb_uuid_is_valid(v))
		return lb_err_set(err, -EINVAL, "Expected a logical name but "
		    "received %s. A name can not be a UUID.", v);
	if (!lb_logical_name_is_valid(v))
		return lb_err_set(err, -EINVAL, "Expected a logical name but "
		    "received %s. Only unreserved characters (letters, digits, "
		    "'-', '.', '_', '~') are allowed.", v);
	return 0;
}

static int
check_uuid(const char *v, struct lb_err *err)
{
	if (!lb_uuid_is_valid(v))
		return lb_err_set(err, -EINVAL, "Expected a UUID but received "
		    "%s.", v);
	return 0;
}

static int
check_no_chassis(const char *v, struct lb_err *err)
{
	/* lifeboat has no chassis resource, so no chassis UUID can exist. */
	return lb_err_set(err, -EINVAL, "Chassis %s could not be found.", v);
}

static int
check_conductor_group(const char *v, struct lb_err *err)
{
	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && strchr("_-.", *p) == NULL)
			return lb_err_set(err, -EINVAL, "Invalid conductor "
			    "group %s. Only letters, digits, '_', '-' and "
			    "'.' are allowed.", v);
	}
	return 0;
}

static int
check_interface_name(const char *v, struct lb_err *err)
{
	if (v[0] == '\0')
		return lb_err_set(err, -EINVAL, "An interface name can not "
		    "be empty.");
	return 0;
}

static const char *const instance_info_mask[] = {
	"configdrive", "image_url", NULL,
};

#define IFACE(kind, nm, minor) \
	{ nm, LB_FT_STR, N(iface[kind]), minor, C | U, 0, \
	  check_interface_name, NULL, NULL }

static const struct lb_field node_fields[] = {
	{ "allocation_uuid", LB_FT_STR, N(allocation_uuid), 52, 0, 0, NULL, NULL, NULL },
	{ "automated_clean", LB_FT_TRIBOOL, N(automated_clean), 47, C | U | Z, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_BIOS, "bios_interface", 40),
	IFACE(LB_IFACE_BOOT, "boot_interface", 31),
	{ "boot_mode", LB_FT_STR, N(boot_mode), 75, 0, 0, NULL, NULL, NULL },
	{ "chassis_uuid", LB_FT_STR, N(chassis_uuid), 1, C | U | Z, 0, check_no_chassis, NULL, NULL },
	{ "clean_step", LB_FT_OBJ, N(clean_step), 7, 0, 0, NULL, NULL, NULL },
	{ "conductor", LB_FT_CONDUCTOR, 0, 49, 0, 0, NULL, NULL, NULL },
	{ "conductor_group", LB_FT_STR, N(conductor_group), 46, C | U | LB_FF_LOWER, 255, check_conductor_group, NULL, NULL },
	{ "console_enabled", LB_FT_BOOL, N(console_enabled), 1, 0, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_CONSOLE, "console_interface", 31),
	{ "created_at", LB_FT_STR, N(created_at), 1, 0, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_DEPLOY, "deploy_interface", 31),
	{ "deploy_step", LB_FT_OBJ, N(deploy_step), 44, 0, 0, NULL, NULL, NULL },
	{ "description", LB_FT_STR, N(description), 51, C | U | Z, 4096, NULL, NULL, NULL },
	{ "driver", LB_FT_STR, N(driver), 1, C | U | LB_FF_REQUIRED, 255, NULL, NULL, NULL },
	{ "driver_info", LB_FT_OBJ, N(driver_info), 1, C | U | LB_FF_SECRETS, 0, NULL, NULL, NULL },
	{ "driver_internal_info", LB_FT_OBJ, N(driver_internal_info), 3, LB_FF_SECRETS, 0, NULL, NULL, NULL },
	{ "extra", LB_FT_OBJ, N(extra), 1, C | U, 0, NULL, NULL, NULL },
	{ "fault", LB_FT_STR, N(fault), 42, 0, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_INSPECT, "inspect_interface", 31),
	{ "inspection_finished_at", LB_FT_STR, N(inspection_finished_at), 6, 0, 0, NULL, NULL, NULL },
	{ "inspection_started_at", LB_FT_STR, N(inspection_started_at), 6, 0, 0, NULL, NULL, NULL },
	{ "instance_info", LB_FT_OBJ, N(instance_info), 1, C | U | LB_FF_SECRETS, 0, NULL, NULL, instance_info_mask },
	{ "instance_uuid", LB_FT_STR, N(instance_uuid), 1, C | U | Z | S | LB_FF_LOWER, 36, check_uuid, NULL, NULL },
	{ "last_error", LB_FT_STR, N(last_error), 1, 0, 0, NULL, NULL, NULL },
	{ "lessee", LB_FT_STR, N(lessee), 65, C | U | Z, 255, NULL, NULL, NULL },
	{ "links", LB_FT_LINKS, 0, 1, S, 0, NULL, "", NULL },
	{ "maintenance", LB_FT_BOOL, N(maintenance), 1, U | S, 0, NULL, NULL, NULL },
	{ "maintenance_reason", LB_FT_STR, N(maintenance_reason), 1, 0, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_MANAGEMENT, "management_interface", 31),
	{ "name", LB_FT_STR, N(name), 5, C | U | Z | S, 255, check_logical_name, NULL, NULL },
	{ "network_data", LB_FT_OBJ, N(network_data), 66, C | U, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_NETWORK, "network_interface", 20),
	{ "owner", LB_FT_STR, N(owner), 50, C | U | Z, 255, NULL, NULL, NULL },
	{ "portgroups", LB_FT_LINKS, 0, 24, 0, 0, NULL, "portgroups", NULL },
	{ "ports", LB_FT_LINKS, 0, 1, 0, 0, NULL, "ports", NULL },
	IFACE(LB_IFACE_POWER, "power_interface", 31),
	{ "power_state", LB_FT_STR, N(power_state), 1, S, 0, NULL, NULL, NULL },
	{ "properties", LB_FT_OBJ, N(properties), 1, C | U, 0, NULL, NULL, NULL },
	{ "protected", LB_FT_BOOL, N(protected), 48, U, 0, NULL, NULL, NULL },
	{ "protected_reason", LB_FT_STR, N(protected_reason), 48, U | Z, 255, NULL, NULL, NULL },
	{ "provision_state", LB_FT_STR, N(provision_state), 1, S, 0, NULL, NULL, NULL },
	{ "provision_updated_at", LB_FT_STR, N(provision_updated_at), 1, 0, 0, NULL, NULL, NULL },
	{ "raid_config", LB_FT_OBJ, N(raid_config), 12, 0, 0, NULL, NULL, NULL },
	IFACE(LB_IFACE_RAID, "raid_interface", 31),
	IFACE(LB_IFACE_RESCUE, "rescue_interface", 38),
	{ "reservation", LB_FT_STR, N(reservation), 1, 0, 0, NULL, NULL, NULL },
	{ "resource_class", LB_FT_STR, N(resource_class), 21, C | U | Z, 80, NULL, NULL, NULL },
	{ "retired", LB_FT_BOOL, N(retired), 61, C | U, 0, NULL, NULL, NULL },
	{ "retired_reason", LB_FT_STR, N(retired_reason), 61, C | U | Z, 255, NULL, NULL, NULL },
	{ "secure_boot", LB_FT_TRIBOOL, N(secure_boot), 75, 0, 0, NULL, NULL, NULL },
	{ "states", LB_FT_LINKS, 0, 1, 0, 0, NULL, "states", NULL },
	IFACE(LB_IFACE_STORAGE, "storage_interface", 33),
	{ "target_power_state", LB_FT_STR, N(target_power_state), 1, 0, 0, NULL, NULL, NULL },
	{ "target_provision_state", LB_FT_STR, N(target_provision_state), 1, 0, 0, NULL, NULL, NULL },
	{ "target_raid_config", LB_FT_OBJ, N(target_raid_config), 12, 0, 0, NULL, NULL, NULL },
	{ "traits", LB_FT_LIST, N(traits), 37, 0, 0, NULL, NULL, NULL },
	{ "updated_at", LB_FT_STR, N(updated_at), 1, 0, 0, NULL, NULL, NULL },
	{ "uuid", LB_FT_STRBUF, N(uuid), 1, C | S | LB_FF_LOWER, 36, check_uuid, NULL, NULL },
	IFACE(LB_IFACE_VENDOR, "vendor_interface", 31),
	{ "volume", LB_FT_LINKS, 0, 32, 0, 0, NULL, "volume", NULL },
};

const struct lb_record_type lb_node_type = {
	"node", "nodes", node_fields,
	sizeof(node_fields) / sizeof(node_fields[0]), N(uuid),
};

static const struct lb_field port_fields[] = {
	{ "address", LB_FT_STRBUF, P(address), 1, C | U | S | LB_FF_MAC | LB_FF_REQUIRED, 17, NULL, NULL, NULL },
	{ "created_at", LB_FT_STR, P(created_at), 1, 0, 0, NULL, NULL, NULL },
	{ "extra", LB_FT_OBJ, P(extra), 1, C | U, 0, NULL, NULL, NULL },
	{ "internal_info", LB_FT_OBJ, P(internal_info), 18, 0, 0, NULL, NULL, NULL },
	{ "is_smartnic", LB_FT_BOOL, P(is_smartnic), 53, C | U, 0, NULL, NULL, NULL },
	{ "links", LB_FT_LINKS, 0, 1, S, 0, NULL, "", NULL },
	{ "local_link_connection", LB_FT_OBJ, P(local_link_connection), 19, C | U, 0, NULL, NULL, NULL },
	{ "node_uuid", LB_FT_STRBUF, P(node_uuid), 1, C | U | LB_FF_LOWER | LB_FF_REQUIRED | LB_FF_NOSTORE, 36, check_uuid, NULL, NULL },
	{ "physical_network", LB_FT_STR, P(physical_network), 34, C | U | Z, 64, NULL, NULL, NULL },
	{ "portgroup_uuid", LB_FT_STR, P(portgroup_uuid), 24, C | U | Z, 36, check_no_chassis, NULL, NULL },
	{ "pxe_enabled", LB_FT_BOOL, P(pxe_enabled), 19, C | U, 0, NULL, NULL, NULL },
	{ "updated_at", LB_FT_STR, P(updated_at), 1, 0, 0, NULL, NULL, NULL },
	{ "uuid", LB_FT_STRBUF, P(uuid), 1, C | S | LB_FF_LOWER, 36, check_uuid, NULL, NULL },
};

const struct lb_record_type lb_port_type = {
	"port", "ports", port_fields,
	sizeof(port_fields) / sizeof(port_fields[0]), P(uuid),
};

_Static_assert(sizeof(node_fields) / sizeof(node_fields[0]) <= 64,
    "field bits must fit a uint64_t");

struct lb_node *
lb_node_new(void)
{
	struct lb_node *node = calloc(1, sizeof(*node));

	if (node == NULL)
		return NULL;
	node->automated_clean = -1;
	node->secure_boot = -1;
	/* Every dict starts empty rather than null, as in Ironic. */
	for (size_t i = 0; i < lb_node_type.nfields; i++) {
		const struct lb_field *f = &node_fields[i];

		if (f->type == LB_FT_OBJ)
			*(json_t **)((char *)node + f->offset) = json_object();
		else if (f->type == LB_FT_LIST)
			*(json_t **)((char *)node + f->offset) = json_array();
	}
	node->conductor_group = strdup("");
	return node;
}

void
lb_node_free(struct lb_node *node)
{
	if (node == NULL)
		return;
	lb_record_release(&lb_node_type, node);
	free(node);
}

struct lb_port *
lb_port_new(void)
{
	struct lb_port *port = calloc(1, sizeof(*port));

	if (port == NULL)
		return NULL;
	port->pxe_enabled = true;
	port->extra = json_object();
	port->internal_info = json_object();
	port->local_link_connection = json_object();
	return port;
}

void
lb_port_free(struct lb_port *port)
{
	if (port == NULL)
		return;
	lb_record_release(&lb_port_type, port);
	free(port);
}

void
lb_node_render(const struct lb_node *node, const struct lb_render *r,
    struct lb_buf *b)
{
	lb_record_render(&lb_node_type, node, r, b);
}

void
lb_port_render(const struct lb_port *port, const struct lb_render *r,
    struct lb_buf *b)
{
	lb_record_render(&lb_port_type, port, r, b);
}

int
lb_node_fields_parse(const char *list, int minor, uint64_t *ret_bits,
    struct lb_err *err)
{
	return lb_record_fields_parse(&lb_node_type, list, minor, ret_bits, err);
}

int
lb_port_fields_parse(const char *list, int minor, uint64_t *ret_bits,
    struct lb_err *err)
{
	return lb_record_fields_parse(&lb_port_type, list, minor, ret_bits, err);
}

int
lb_node_field_index(const char *name)
{
	return lb_record_field_index(&lb_node_type, name);
}

int
lb_node_soft_off_timeout(const json_t *driver_info, int *ret_seconds,
    struct lb_err *err)
{
	const json_t *v = json_object_get(driver_info,
	    "rescue_soft_power_off_timeout");
	long long n = -1;
	char *shown;

	if (v == NULL)
		return -ENOENT;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);

		/* Digits only: no sign, space, base prefix or fraction. */
		if (len > 0 && len <= 9 && strspn(s, "0123456789") == len)
			n = strtoll(s, NULL, 10);
	}
	if (n >= 0 && n <= LB_SOFT_OFF_TIMEOUT_MAX) {
		*ret_seconds = (int)n;
		return 0;
	}
	/* ASCII-escaped, so nothing the client sent can break a log line. */
	shown = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	lb_err_set(err, -EINVAL, "Invalid driver_info "
	    "rescue_soft_power_off_timeout %.40s%s: expected a whole number of "
	    "seconds from 0 to %d (an integer, or a string of digits)",
	    shown ? shown : "?", shown && strlen(shown) > 40 ? "..." : "",
	    LB_SOFT_OFF_TIMEOUT_MAX);
	free(shown);
	return -EINVAL;
}

/*
 * The driver_info keys lifeboat itself reads (drivers check their own in
 * their validate), checked whenever driver_info is set.
 */
static int
check_soft_off(const json_t *driver_info, struct lb_err *err)
{
	int seconds;

	return lb_node_soft_off_timeout(driver_info, &seconds, err) ==
	    -EINVAL ? -EINVAL : 0;
}

static int (*const driver_info_checks[])(const json_t *, struct lb_err *) = {
	check_soft_off,
	lb_ipmi_wa_check_driver_info,	/* ipmi_workarounds, lifeboat's own */
};

int
lb_node_check_driver_info(const json_t *driver_info, struct lb_err *err)
{
	for (size_t i = 0; i < sizeof(driver_info_checks) /
	    sizeof(driver_info_checks[0]); i++) {
		int r = driver_info_checks[i](driver_info, err);

		if (r < 0)
			return r;
	}
	return 0;
}

int
lb_node_from_create(struct lb_node *node, const json_t *body, int minor,
    struct lb_err *err)
{
	int r;

	r = lb_record_from_create(&lb_node_type, node, body, minor, err);
	if (r < 0)
		return r;
	return lb_node_check_driver_info(node->driver_info, err);
}

int
lb_node_patch(struct lb_node *node, const json_t *patch, int minor,
    uint64_t *ret_changed, struct lb_err *err)
{
	uint64_t changed = 0;
	int r;

	r = lb_record_patch(&lb_node_type, node, patch, minor, &changed, err);
	if (r < 0)
		return r;
	if (ret_changed != NULL)
		*ret_changed = changed;
	/* A value stored before this check existed does not block others. */
	if ((changed >> lb_node_field_index("driver_info")) & 1)
		return lb_node_check_driver_info(node->driver_info, err);
	return 0;
}

int
lb_port_check_llc(const json_t *llc, struct lb_err *err)
{
	static const char *const allowed[] = {
		"switch_id", "port_id", "switch_info", "hostname",
		"network_type", NULL,
	};
	const char *key;
	json_t *value;
	char mac[LB_MAC_LEN + 1];

	json_object_foreach((json_t *)llc, key, value) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0)
				break;
		}
		if (allowed[i] == NULL)
			return lb_err_set(err, -EINVAL, "Invalid "
			    "local_link_connection: unknown key '%s'; valid "
			    "keys are switch_id, port_id, switch_info, "
			    "hostname, network_type", key);
		if (!json_is_string(value))
			return lb_err_set(err, -EINVAL, "Invalid "
			    "local_link_connection: '%s' must be a string",
			    key);
	}
	value = json_object_get(llc, "network_type");
	if (value != NULL && strcmp(json_string_value(value), "managed") != 0 &&
	    strcmp(json_string_value(value), "unmanaged") != 0)
		return lb_err_set(err, -EINVAL, "Invalid "
		    "local_link_connection: network_type must be 'managed' "
		    "or 'unmanaged'");
	value = json_object_get(llc, "switch_id");
	if (value != NULL &&
	    lb_mac_normalize(json_string_value(value), mac) < 0 &&
	    strncmp(json_string_value(value), "0x", 2) != 0)
		return lb_err_set(err, -EINVAL, "Invalid "
		    "local_link_connection: switch_id '%s' is neither a MAC "
		    "address nor an OpenFlow datapath ID (0x...)",
		    json_string_value(value));
	if (json_object_size(llc) > 0 &&
	    json_object_get(llc, "hostname") == NULL &&
	    (json_object_get(llc, "switch_id") == NULL ||
	    json_object_get(llc, "port_id") == NULL) &&
	    json_object_get(llc, "network_type") == NULL)
		return lb_err_set(err, -EINVAL, "Invalid "
		    "local_link_connection: switch_id and port_id are "
		    "required");
	return 0;
}

int
lb_port_from_create(struct lb_port *port, const json_t *body, int minor,
    struct lb_err *err)
{
	int r;

	r = lb_record_from_create(&lb_port_type, port, body, minor, err);
	if (r < 0)
		return r;
	return lb_port_check_llc(port->local_link_connection, err);
}

int
lb_port_patch(struct lb_port *port, const json_t *patch, int minor,
    struct lb_err *err)
{
	int r;

	r = lb_record_patch(&lb_port_type, port, patch, minor, NULL, err);
	if (r < 0)
		return r;
	return lb_port_check_llc(port->local_link_connection, err);
}
