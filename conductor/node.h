/*
 * node.h - the node and port records and their API documents.
 *
 * One table row per field (node.c) drives everything a field takes part in:
 * the microversion that shows it, whether create or PATCH may set it, its
 * type check, secret masking and its store column.  Records are plain data
 * owned by whoever holds them; any thread.
 */
#ifndef LB_NODE_H
#define LB_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "conductor/util/buf.h"
#include "conductor/util/err.h"
#include "conductor/util/iface.h"
#include "conductor/util/ident.h"

struct lb_node {
	int64_t id;
	char uuid[LB_UUID_LEN + 1];
	char *name;
	char *driver;
	char *iface[LB_IFACE_COUNT];
	char *provision_state;
	char *target_provision_state;
	char *provision_updated_at;
	char *power_state;
	char *target_power_state;
	char *last_error;
	char *reservation;
	bool maintenance;
	char *maintenance_reason;
	char *fault;
	bool console_enabled;
	char *instance_uuid;
	char *chassis_uuid;
	char *resource_class;
	char *conductor_group;
	int automated_clean;		/* -1 null, 0 false, 1 true */
	bool protected;
	char *protected_reason;
	char *owner;
	char *lessee;
	char *description;
	bool retired;
	char *retired_reason;
	char *boot_mode;
	int secure_boot;		/* -1 null, 0 false, 1 true */
	char *inspection_started_at;
	char *inspection_finished_at;
	char *allocation_uuid;
	char *created_at;
	char *updated_at;
	json_t *driver_info;
	json_t *driver_internal_info;
	json_t *instance_info;
	json_t *properties;
	json_t *extra;
	json_t *clean_step;
	json_t *deploy_step;
	json_t *raid_config;
	json_t *target_raid_config;
	json_t *network_data;
	json_t *traits;			/* array of strings */
};

struct lb_port {
	int64_t id;
	char uuid[LB_UUID_LEN + 1];
	char address[LB_MAC_LEN + 1];
	int64_t node_id;
	char node_uuid[LB_UUID_LEN + 1];	/* filled by the store */
	bool pxe_enabled;
	bool is_smartnic;
	char *physical_network;
	char *portgroup_uuid;
	char *created_at;
	char *updated_at;
	json_t *extra;
	json_t *internal_info;
	json_t *local_link_connection;
};

/* The microversions lifeboat serves; requests without a header are 1.1. */
#define LB_API_MIN_MINOR 1
#define LB_API_MAX_MINOR 78

/* How a document is rendered for one request. */
struct lb_render {
	int minor;			/* negotiated microversion 1.<minor> */
	const char *base_url;		/* "http://host:port", no slash */
	const char *conductor;		/* this conductor's host name */
	bool detail;			/* full document, not the list summary */
	const uint64_t *fields;		/* bit per field, NULL = all */
};

/* Lifecycle.  _free accepts NULL. */
struct lb_node *lb_node_new(void);
void lb_node_free(struct lb_node *node);
struct lb_port *lb_port_new(void);
void lb_port_free(struct lb_port *port);

/* Appends the node's JSON document (masked) to b. */
void lb_node_render(const struct lb_node *node, const struct lb_render *r,
    struct lb_buf *b);
void lb_port_render(const struct lb_port *port, const struct lb_render *r,
    struct lb_buf *b);

/*
 * Parses a ?fields= list into one bit per known field.  -EINVAL (400) for a
 * name that is not a field at this version.
 */
int lb_node_fields_parse(const char *list, int minor, uint64_t *ret_bits,
    struct lb_err *err);
int lb_port_fields_parse(const char *list, int minor, uint64_t *ret_bits,
    struct lb_err *err);

/*
 * Sets the node's fields from a create request body (an object): types,
 * lengths, names, unknown members (400) and members newer than the
 * microversion (406) are checked; interfaces and the driver are checked by
 * the caller against the hardware types.
 */
int lb_node_from_create(struct lb_node *node, const json_t *body, int minor,
    struct lb_err *err);
int lb_port_from_create(struct lb_port *port, const json_t *body, int minor,
    struct lb_err *err);

/*
 * A port's node_uuid is checked for form only; the caller resolves it.
 *
 * Applies a JSON patch (Ironic's rules on what may change) to a copy of the
 * node and writes the fields that changed into 'node'.  *ret_changed gets a
 * bit per changed field (node field index), for the caller's state checks.
 */
int lb_node_patch(struct lb_node *node, const json_t *patch, int minor,
    uint64_t *ret_changed, struct lb_err *err);
int lb_port_patch(struct lb_port *port, const json_t *patch, int minor,
    struct lb_err *err);

/* Field index by name for lb_node_patch's change bits; -1 if unknown. */
int lb_node_field_index(const char *name);

/*
 * driver_info rescue_soft_power_off_timeout in seconds: a JSON integer or
 * a string of decimal digits (as `--driver-info key=value` sends it), 0 to
 * LB_SOFT_OFF_TIMEOUT_MAX.  -ENOENT when it is not set; -EINVAL with a
 * message for the client when it is not such a value.
 */
int lb_node_soft_off_timeout(const json_t *driver_info, int *ret_seconds,
    struct lb_err *err);

/*
 * The driver_info keys lifeboat reads itself (not a driver's): -EINVAL
 * with the reason for a bad value.  Create and patch call it.
 */
int lb_node_check_driver_info(const json_t *driver_info, struct lb_err *err);

/* Validates a local_link_connection object (Ironic's keys and rules). */
int lb_port_check_llc(const json_t *llc, struct lb_err *err);

#endif
