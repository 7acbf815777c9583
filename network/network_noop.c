/*
 * network_noop.c - the `noop` and `flat` network interfaces, whose hooks
 * all succeed without doing anything.  noop: the node's network is managed
 * elsewhere (standalone and bifrost-style sites).  flat, Ironic's without
 * Neutron: the node stays on one shared network that lifeboat's dnsmasq
 * serves before, during and after the rescue, so there is nothing to move.
 * Neither hands the node to another DHCP server.  Any thread.
 */
#include "network/network.h"
#include "conductor/util/banned.h"

static int
noop_hook(const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err)
{
	(void)cfg;
	(void)task;
	(void)err;
	return 0;
}

const struct lb_network_ops lb_network_noop = {
	.name = "noop",
	.validate_rescue = noop_hook,
	.unconfigure_tenant = noop_hook,
	.add_rescuing = noop_hook,
	.remove_rescuing = noop_hook,
	.configure_tenant = noop_hook,
};

const struct lb_network_ops lb_network_flat = {
	.name = "flat",
	.tenant_dhcp = false,
	.keeps_vifs = true,
	.validate_rescue = noop_hook,
	.unconfigure_tenant = noop_hook,
	.add_rescuing = noop_hook,
	.remove_rescuing = noop_hook,
	.configure_tenant = noop_hook,
};
