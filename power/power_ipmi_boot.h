/*
 * power_ipmi_boot.h - the IPMI driver's boot device (power_ipmi_boot.c):
 * the System Boot Options boot flags, and Ironic's memory of a persistent
 * device in driver_internal_info.  Conductor worker threads, each on its
 * own connection.
 */
#ifndef LB_POWER_IPMI_BOOT_H
#define LB_POWER_IPMI_BOOT_H

#include <stdbool.h>

#include "conductor/util/err.h"
#include "power/power.h"
#include "power/power_ipmi_session.h"

/*
 * Sets the next (or every, if persistent) boot's device and, unless mode is
 * LB_BOOT_MODE_UNSET, its BIOS/UEFI mode.  device must be a valid one.
 */
int lb_ipmi_set_boot(struct lb_ipmi_conn *c, enum lb_boot_device device,
    bool persistent, enum lb_boot_mode mode, struct lb_err *err);
/* The boot device override in effect; -ENODATA if none lifeboat can name. */
int lb_ipmi_get_boot(struct lb_ipmi_conn *c, enum lb_boot_device *ret_device,
    bool *ret_persistent, struct lb_err *err);
/* Before a power on: re-sends a remembered device (ipmi_force_boot_device). */
int lb_ipmi_ensure_boot_device(struct lb_ipmi_conn *c, struct lb_err *err);

#endif
