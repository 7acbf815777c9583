/*
 * boot_registry.c - names every boot implementation; the only place that
 * does.  pxe and ipxe (boot_pxe.c), redfish-virtual-media (boot_vmedia.c)
 * and fake (boot_fake.c) are built.
 * Read-only; any thread.
 */
#include "boot/registry.h"
#include "boot/boot_pxe.h"

extern const struct lb_boot_ops lb_boot_fake;
extern const struct lb_property lb_boot_pxe_properties[];
extern const struct lb_property lb_boot_vmedia_properties[];
#include "boot/boot_vmedia.h"
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
	{ "pxe", &lb_boot_pxe, validate_ports, LB_IMPL_BUILT,
	  lb_boot_pxe_properties },
	{ "ipxe", &lb_boot_ipxe, validate_ports, LB_IMPL_BUILT,
	  lb_boot_pxe_properties },
	{ "redfish-virtual-media", &lb_boot_vmedia, NULL, LB_IMPL_BUILT,
	  lb_boot_vmedia_properties },
	{ "fake", &lb_boot_fake, NULL, LB_IMPL_BUILT, NULL },
};
const size_t lb_boot_nimpls = sizeof(lb_boot_impls) / sizeof(lb_boot_impls[0]);
