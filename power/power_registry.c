/*
 * power_registry.c - names every power and management implementation; the
 * only place that does.  A driver whose library was missing at build time
 * keeps its row with NULL ops ("known, not built").  Read-only; any thread.
 */
#include "power/power.h"
#include "power/registry.h"
#ifdef LB_HAVE_REDFISH
#include "power/redfish_client.h"
#endif
#include "conductor/util/banned.h"

extern const struct lb_power_ops lb_power_fake;
extern const struct lb_management_ops lb_management_fake;
extern const struct lb_property lb_fake_properties[];
#ifdef LB_HAVE_IPMITOOL
extern const struct lb_power_ops lb_power_ipmitool;
extern const struct lb_management_ops lb_management_ipmitool;
#define IPMI_POWER &lb_power_ipmitool
#define IPMI_MGMT &lb_management_ipmitool
#define IPMI_POWER_VALIDATE ipmi_power_validate
#define IPMI_BUILT LB_IMPL_BUILT
#define IPMI_MGMT_VALIDATE ipmi_management_validate
extern const struct lb_property lb_ipmi_properties[];
#define IPMI_PROPS lb_ipmi_properties
#else
#define IPMI_POWER NULL
#define IPMI_MGMT NULL
#define IPMI_POWER_VALIDATE NULL
#define IPMI_BUILT 0
#define IPMI_MGMT_VALIDATE NULL
#define IPMI_PROPS NULL
#endif
#ifdef LB_HAVE_REDFISH
#define REDFISH_POWER &lb_power_redfish
#define REDFISH_MGMT &lb_management_redfish
#define REDFISH_POWER_VALIDATE redfish_power_validate
#define REDFISH_BUILT LB_IMPL_BUILT
#define REDFISH_MGMT_VALIDATE redfish_management_validate
extern const struct lb_property lb_redfish_properties[];
#define REDFISH_PROPS lb_redfish_properties
#else
#define REDFISH_POWER NULL
#define REDFISH_MGMT NULL
#define REDFISH_POWER_VALIDATE NULL
#define REDFISH_BUILT 0
#define REDFISH_MGMT_VALIDATE NULL
#define REDFISH_PROPS NULL
#endif

/* Registry rows need constant initialisers, so validate goes through these. */
#define VALIDATE_VIA(fn, ops) \
	static int \
	fn(const struct lb_task *task, struct lb_err *err) \
	{ \
		return (ops).validate ? (ops).validate(task, err) : 0; \
	}
VALIDATE_VIA(fake_power_validate, lb_power_fake)
#ifdef LB_HAVE_IPMITOOL
VALIDATE_VIA(ipmi_power_validate, lb_power_ipmitool)
VALIDATE_VIA(ipmi_management_validate, lb_management_ipmitool)
#endif
#ifdef LB_HAVE_REDFISH
VALIDATE_VIA(redfish_power_validate, lb_power_redfish)
VALIDATE_VIA(redfish_management_validate, lb_management_redfish)
#endif

const struct lb_iface_impl lb_power_impls[] = {
	{ "ipmitool", IPMI_POWER, IPMI_POWER_VALIDATE, IPMI_BUILT, IPMI_PROPS },
	{ "redfish", REDFISH_POWER, REDFISH_POWER_VALIDATE, REDFISH_BUILT,
	  REDFISH_PROPS },
	{ "fake", &lb_power_fake, fake_power_validate, LB_IMPL_BUILT,
	  lb_fake_properties },
};
const size_t lb_power_nimpls = sizeof(lb_power_impls) /
    sizeof(lb_power_impls[0]);

const struct lb_iface_impl lb_management_impls[] = {
	{ "ipmitool", IPMI_MGMT, IPMI_MGMT_VALIDATE, IPMI_BUILT, IPMI_PROPS },
	{ "redfish", REDFISH_MGMT, REDFISH_MGMT_VALIDATE, REDFISH_BUILT,
	  REDFISH_PROPS },
	{ "fake", &lb_management_fake, NULL, LB_IMPL_BUILT, NULL },
};
const size_t lb_management_nimpls = sizeof(lb_management_impls) /
    sizeof(lb_management_impls[0]);

void
lb_power_shutdown(void)
{
#ifdef LB_HAVE_REDFISH
	lb_redfish_shutdown();
#endif
}
