/*
 * network.h - network interfaces: where a node's NICs are attached while it
 * boots the rescue ramdisk and afterwards.  One const ops struct per
 * implementation (network_noop.c: noop and flat; network_switch.c), named
 * by network_registry.c.  Worker threads; idempotent calls.
 */
#ifndef LB_NETWORK_H
#define LB_NETWORK_H

#include <stdbool.h>

#include "conductor/util/config.h"
#include "conductor/util/task.h"

struct lb_network_ops {
	const char *name;
	/*
	 * After rescue the node sits on a tenant network whose own DHCP
	 * serves it (the switch's tenant VLAN, Neutron's): lifeboat's dnsmasq
	 * may then ignore its MACs, as Ironic does.  False where the node
	 * stays on the one network lifeboat's dnsmasq serves (noop, flat):
	 * that dnsmasq must keep answering it, without boot options.
	 */
	bool tenant_dhcp;
	/*
	 * Attached VIFs are kept as Ironic's flat keeps them, in a port's
	 * internal_info "tenant_vif_port_id" (flat, switch).  False: as
	 * Ironic's noop, attach and detach do nothing and none are listed.
	 */
	bool keeps_vifs;
	/* Checks what rescue needs (a rescuing network, ...); no I/O. */
	int (*validate_rescue)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*unconfigure_tenant)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*add_rescuing)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*remove_rescuing)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*configure_tenant)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
};

#endif
