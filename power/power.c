/*
 * power.c - names of power states and boot devices, shared by drivers and
 * the engine.  Pure; any thread.
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
