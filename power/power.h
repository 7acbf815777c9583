/*
 * power.h - power and management interfaces: one const ops struct per
 * implementation (power_ipmi.c, power_redfish.c, power_fake.c), named by the
 * registry in power_registry.c.
 *
 * Drivers run on conductor worker threads and block; they must be safe to
 * call concurrently for different nodes (and for the same BMC: the engine
 * bounds and spaces calls per BMC, drivers need not).  They return 0 or a
 * negative errno and fill 'err' with a message safe to show a client; they
 * never log above debug and never log a secret.
 */
#ifndef LB_POWER_H
#define LB_POWER_H

#include <jansson.h>
#include <stdbool.h>

#include "conductor/util/bmclimit.h"
#include "conductor/util/config.h"
#include "conductor/util/err.h"
#include "conductor/util/task.h"

enum lb_power_state {
	LB_POWER_UNKNOWN = 0,	/* shown as null */
	LB_POWER_ON,		/* "power on" */
	LB_POWER_OFF,		/* "power off" */
};

enum lb_power_action {
	LB_POWER_ACTION_ON,
	LB_POWER_ACTION_OFF,
	LB_POWER_ACTION_REBOOT,
	LB_POWER_ACTION_SOFT_OFF,
	LB_POWER_ACTION_SOFT_REBOOT,
};

enum lb_boot_device {
	LB_BOOT_DEV_PXE,
	LB_BOOT_DEV_DISK,
	LB_BOOT_DEV_CDROM,
	LB_BOOT_DEV_BIOS,
};

enum lb_boot_mode {
	LB_BOOT_MODE_UNSET = 0,	/* leave the BMC's mode alone */
	LB_BOOT_MODE_BIOS,
	LB_BOOT_MODE_UEFI,
};

struct lb_power_ops {
	const char *name;	/* "ipmitool", "redfish", "fake" */
	/* Checks driver_info only (no BMC traffic). -EINVAL with the reason. */
	int (*validate)(const struct lb_task *task, struct lb_err *err);
	/*
	 * Writes a stable identifier of the BMC (e.g. "ipmi:10.0.0.5:623") for
	 * per-BMC concurrency limits into buf.  0 or -EINVAL.
	 */
	int (*bmc_key)(const struct lb_task *task, char *buf, size_t size);
	int (*get_state)(const struct lb_task *task,
	    enum lb_power_state *ret_state, struct lb_err *err);
	/*
	 * Requests the action and waits (up to timeout_s seconds) until the BMC
	 * reports the resulting state.  A soft off that does not finish in time
	 * is -ETIMEDOUT; the engine decides about falling back to hard off.
	 */
	int (*set_state)(const struct lb_task *task, enum lb_power_action action,
	    int timeout_s, struct lb_err *err);
	/*
	 * How this kind of BMC may be driven (calls in flight, spacing),
	 * from the configuration: the engine's limiter applies it to every
	 * call that reaches the BMC.
	 */
	void (*bmc_policy)(const struct lb_config *cfg,
	    struct lb_bmc_policy *ret);
};

/* The BMC policies of the power drivers (power.c). */
void lb_bmc_policy_ipmi(const struct lb_config *cfg,
    struct lb_bmc_policy *ret);
void lb_bmc_policy_redfish(const struct lb_config *cfg,
    struct lb_bmc_policy *ret);

struct lb_management_ops {
	const char *name;
	int (*validate)(const struct lb_task *task, struct lb_err *err);
	int (*set_boot_device)(const struct lb_task *task,
	    enum lb_boot_device device, bool persistent, enum lb_boot_mode mode,
	    struct lb_err *err);
	int (*get_boot_device)(const struct lb_task *task,
	    enum lb_boot_device *ret_device, bool *ret_persistent,
	    struct lb_err *err);
	/*
	 * Virtual media, NULL where the BMC has none.  insert_cd ejects
	 * whatever the node's CD slots hold, then inserts the image at 'url'
	 * (http:// or https://) into one; eject_cd ejects every CD and
	 * succeeds when nothing is inserted.  Vendor quirks that were
	 * applied are listed in driver_internal_info "redfish_quirks_applied"
	 * for the caller to log.
	 */
	int (*insert_cd)(const struct lb_task *task, const char *url,
	    struct lb_err *err);
	int (*eject_cd)(const struct lb_task *task, struct lb_err *err);
};

const char *lb_power_state_name(enum lb_power_state state);	/* NULL for unknown */
const char *lb_boot_device_name(enum lb_boot_device device);	/* "pxe", "disk", ... */
int lb_boot_device_parse(const char *name, enum lb_boot_device *ret_device);

#endif
