/*
 * task.h - what an interface implementation sees of a node during one call
 * (validate, power, boot, ...), and the row every interface registry is made
 * of.  Plain data; any thread.
 */
#ifndef LB_TASK_H
#define LB_TASK_H

#include <jansson.h>
#include <stddef.h>

#include "conductor/util/err.h"

struct lb_config;

/*
 * All borrowed for the call's duration.  A driver may add or change keys in
 * driver_internal_info (the engine saves it afterwards); it must not keep
 * pointers into any of these after returning.
 */
struct lb_task {
	const char *node_uuid;
	const char *driver;		/* the hardware type's name */
	const json_t *driver_info;
	json_t *driver_internal_info;
	const json_t *properties;
	const json_t *instance_info;
	const char *const *port_macs;	/* pxe-enabled ports' MACs */
	const json_t *const *port_llcs;	/* and their local_link_connection */
	size_t nports;
	/* The daemon's settings (timeouts, retries); NULL: the defaults. */
	const struct lb_config *cfg;
	/*
	 * Writes driver_internal_info to the store now, before the driver
	 * changes something outside lifeboat that only that record can
	 * undo (a switch port's VLAN).  NULL where nothing is stored (unit
	 * tests, API-thread validation).
	 */
	int (*save)(const struct lb_task *task, struct lb_err *err);
};

/* One driver_info key an implementation takes, as GET /v1/drivers/{name}/
 * properties documents it; a table of them ends with a NULL name. */
struct lb_property {
	const char *name;
	const char *doc;
};

#define LB_IMPL_BUILT	0x1	/* implemented in this lifeboatd */
#define LB_IMPL_NONE	0x2	/* "no-rescue" and the like: says "none" */

/*
 * One implementation of one interface kind, as its registry names it.  ops
 * points at the kind's ops struct (NULL where there is nothing to call, as
 * for noop).  A row without LB_IMPL_BUILT is known but not built into this
 * lifeboatd, and says so rather than "unknown".  validate checks what the
 * node gives the implementation (no I/O); NULL means nothing to check.
 * properties lists the driver_info keys it takes (NULL: none).
 */
struct lb_iface_impl {
	const char *name;
	const void *ops;
	int (*validate)(const struct lb_task *task, struct lb_err *err);
	unsigned flags;
	const struct lb_property *properties;
};

#endif
