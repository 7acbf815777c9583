/*
 * power.c - names of power states and boot devices, shared by drivers and
 * the engine, and each kind of BMC's policy for the engine's limiter.
 * Pure; any thread.
 */
#include <string.h>

#include "power/power.h"
#include "conductor/util/banned.h"

const char *
lb_power_state_name(enum lb_power_state state)
{
	switch (state) {
	case LB_POWER_ON:
		return "power on";
	case LB_POWER_OFF:
		return "power off";
	default:
		return NULL;
	}
}

static const char *const device_names[] = {
	[LB_BOOT_DEV_PXE] = "pxe",
	[LB_BOOT_DEV_DISK] = "disk",
	[LB_BOOT_DEV_CDROM] = "cdrom",
	[LB_BOOT_DEV_BIOS] = "bios",
};

const char *
lb_boot_device_name(enum lb_boot_device device)
{
	if ((size_t)device >= sizeof(device_names) / sizeof(device_names[0]))
		return NULL;
	return device_names[device];
}

int
lb_boot_device_parse(const char *name, enum lb_boot_device *ret_device)
{
	for (size_t i = 0; i < sizeof(device_names) / sizeof(device_names[0]);
	    i++) {
		if (strcmp(device_names[i], name) == 0) {
			*ret_device = (enum lb_boot_device)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* IPMI BMCs get the configured care. */
void
lb_bmc_policy_ipmi(const struct lb_config *cfg, struct lb_bmc_policy *ret)
{
	ret->max_inflight = cfg->ipmi_max_concurrent_per_bmc;
	ret->min_interval = cfg->ipmi_min_command_interval;
}

void
lb_bmc_policy_redfish(const struct lb_config *cfg, struct lb_bmc_policy *ret)
{
	/* [redfish] options (defaults: 4 in flight, no interval) */
	ret->max_inflight = cfg->redfish_max_concurrent_per_bmc;
	ret->min_interval = cfg->redfish_min_command_interval;
}
