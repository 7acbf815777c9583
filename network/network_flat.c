/*
 * network_flat.c - the `flat` network interface without Neutron: the node
 * stays on one shared network (lifeboat's dnsmasq serves it before, during
 * and after the rescue), so there is nothing to move and every hook
 * succeeds without doing anything.  Any thread.
 */
#include "network/network.h"
#include "conductor/util/banned.h"

static int
flat_hook(const struct lb_config *cfg, const struct lb_task *task,
    struct lb_err *err)
{
	(void)cfg;
	(void)task;
	(void)err;
	return 0;
}

const struct lb_network_ops lb_network_flat = {
	.name = "flat",
	.tenant_dhcp = false,
	.validate_rescue = flat_hook,
	.unconfigure_tenant = flat_hook,
	.add_rescuing = flat_hook,
	.remove_rescuing = flat_hook,
	.configure_tenant = flat_hook,
};
