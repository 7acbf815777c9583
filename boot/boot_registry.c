/*
 * boot_registry.c - names every boot implementation; the only place that
 * does.  pxe, ipxe and redfish-virtual-media are known and validated here;
 * their staging code lands with the rescue flow.  Read-only; any thread.
 */
#include "boot/registry.h"
#include "conductor/util/banned.h"

static int
validate_ports(const struct lb_task *task, struct lb_err *err)
{
	if (task->nports == 0)
		return lb_err_set(err, -EINVAL, "Node %s does not have any "
		    "port associated with it.", task->node_uuid);
	return 0;
}

const struct lb_iface_impl lb_boot_impls[] = {
	{ "pxe", NULL, validate_ports, 0 },
	{ "ipxe", NULL, validate_ports, 0 },
	{ "redfish-virtual-media", NULL, NULL, 0 },
	{ "fake", NULL, NULL, LB_IMPL_BUILT },
};
const size_t lb_boot_nimpls = sizeof(lb_boot_impls) / sizeof(lb_boot_impls[0]);
