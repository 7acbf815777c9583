/*
 * switch_backend.h - what the `switch` network interface needs from a
 * switch: read and set the access VLAN of one port.  One const struct per
 * backend (switch_linux_bridge.c, switch_bridge_per_vlan.c; SSH-driven
 * vendor switches later).
 * Worker threads; every call stands alone, so any thread may make it.
 */
#ifndef LB_SWITCH_BACKEND_H
#define LB_SWITCH_BACKEND_H

#include <stdbool.h>

#include "conductor/util/config.h"
#include "conductor/util/err.h"
#include "conductor/util/task.h"

#define LB_VLAN_MIN	1
#define LB_VLAN_MAX	4094

/*
 * 'switch_info' and 'port_id' are a port's local_link_connection values,
 * as the operator wrote them; what they mean is the backend's business
 * (for linux-bridge: the bridge and its port's interface names).
 */
struct lb_switch_backend {
	const char *name;
	/* Whether the backend can address this port at all; no I/O. */
	int (*check_port)(const char *switch_info, const char *port_id,
	    struct lb_err *err);
	/* The port's access VLAN: the VLAN its untagged frames go to. */
	int (*get_access_vlan)(const char *switch_info, const char *port_id,
	    unsigned *ret_vid, struct lb_err *err);
	/*
	 * Makes 'vid' the port's access VLAN, untagged, and takes the port
	 * out of the access VLAN it had; tagged VLANs are left alone.
	 * Setting the VLAN the port already has changes nothing.
	 */
	int (*set_access_vlan)(const char *switch_info, const char *port_id,
	    unsigned vid, struct lb_err *err);
};

extern const struct lb_switch_backend lb_switch_linux_bridge;
extern const struct lb_switch_backend lb_switch_bridge_per_vlan;

/* The backend [switch] backend names (NULL: linux-bridge), or NULL. */
const struct lb_switch_backend *lb_switch_backend_find(const char *name);

/*
 * The `switch` network hooks with the backend given, rather than the one
 * [switch] backend names: lb_network_switch calls these, and the unit
 * tests drive them with a fake switch.  add_rescuing records each port's
 * tenant VLAN in driver_internal_info "switch_tenant_vlans" (keyed by MAC)
 * unless one is recorded already, has the task save that record to the
 * store (task->save), and only then moves the ports, so that a crash
 * after a move always leaves the way back on disk; restore_tenant moves
 * every recorded port back and, if 'drop_record', forgets what it restored.
 */
int lb_switch_validate_rescue(const struct lb_switch_backend *be,
    const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err);
int lb_switch_add_rescuing(const struct lb_switch_backend *be,
    const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err);
int lb_switch_restore_tenant(const struct lb_switch_backend *be,
    const struct lb_task *task, bool drop_record, struct lb_err *err);

#endif
