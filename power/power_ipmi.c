/*
 * power_ipmi.c - the "ipmitool" power and management interfaces, spoken
 * natively with libfreeipmi (IPMI 2.0 lanplus or 1.5 lan; no ipmitool
 * process): the driver's entry points and chassis power.  Conductor worker
 * threads call it concurrently: each call opens its own IPMI session
 * (power_ipmi_session.c), uses it and closes it; the boot device commands
 * are in power_ipmi_boot.c.
 */
#include "power/power_ipmi.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <freeipmi/freeipmi.h>

#include "power/ipmi_info.h"
#include "power/power_ipmi_boot.h"
#include "power/power_ipmi_session.h"
#include "conductor/util/stop.h"
#include "conductor/util/banned.h"

#define POLL_INTERVAL_S	1.0
/* Ironic's [conductor]power_state_change_timeout, for timeout_s <= 0. */
#define DEFAULT_WAIT_S		60

static int
get_power(struct lb_ipmi_conn *c, enum lb_power_state *ret_state,
    struct lb_err *err)
{
	fiid_obj_t rs;
	uint64_t on;
	int r;

	r = lb_ipmi_cmd_begin(c, tmpl_cmd_get_chassis_status_rs, &rs, err);
	if (r < 0)
		return r;
	if (ipmi_cmd_get_chassis_status(c->ctx, rs) < 0)
		r = lb_ipmi_fail_cmd(c, "Get Chassis Status", rs,
		    IPMI_NET_FN_CHASSIS_RQ, err);
	else if (fiid_obj_get(rs, "current_power_state.power_is_on", &on) != 1)
		r = lb_err_set(err, -EIO, "BMC %s sent a Get Chassis Status "
		    "reply without the power state", c->where);
	else
		*ret_state = on ? LB_POWER_ON : LB_POWER_OFF;
	fiid_obj_destroy(rs);
	return r;
}

static int
chassis_control(struct lb_ipmi_conn *c, uint8_t control, const char *what,
    struct lb_err *err)
{
	fiid_obj_t rs;
	int r;

	r = lb_ipmi_cmd_begin(c, tmpl_cmd_chassis_control_rs, &rs, err);
	if (r < 0)
		return r;
	if (ipmi_cmd_chassis_control(c->ctx, control, rs) < 0)
		r = lb_ipmi_fail_cmd(c, what, rs, IPMI_NET_FN_CHASSIS_RQ, err);
	fiid_obj_destroy(rs);
	return r;
}

/*
 * Polls the chassis status every second until it shows 'want', for at most
 * timeout_s.  A poll that times out or finds the BMC busy is not fatal: the
 * session is reopened for the next poll, as a BMC may drop sessions while
 * the host changes power state.
 */
static int
wait_power(struct lb_ipmi_conn *c, enum lb_power_state want, const char *what,
    const char *hint, int timeout_s, struct lb_err *err)
{
	double deadline = lb_monotonic() + timeout_s, left;
	enum lb_power_state state = LB_POWER_UNKNOWN;
	struct lb_err poll_err;
	int r;

	for (;;) {
		r = get_power(c, &state, &poll_err);
		if (r == 0 && state == want)
			return 0;
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN)
			break;
		if (r < 0)
			lb_ipmi_conn_close(c);
		left = deadline - lb_monotonic();
		if (left <= 0)
			break;
		/* A graceful stop ends the wait at once. */
		if (lb_stop_sleep(&lb_clock_system, left < POLL_INTERVAL_S ?
		    left : POLL_INTERVAL_S) < 0)
			return lb_err_set(err, -ECANCELED, "%s not confirmed: "
			    "lifeboatd stopped waiting for BMC %s", what,
			    c->where);
	}
	if (r < 0) {
		if (err != NULL)
			*err = poll_err;
		return r;
	}
	return lb_err_set(err, -ETIMEDOUT, "%s did not complete within %d s: "
	    "BMC %s still reports power %s%s", what, timeout_s, c->where,
	    state == LB_POWER_ON ? "on" : "off", hint);
}

/* Sends 'control' unless the power already is 'want', then waits. */
static int
power_to(struct lb_ipmi_conn *c, enum lb_power_state want, uint8_t control,
    const char *what, int timeout_s, struct lb_err *err)
{
	enum lb_power_state state;
	int r;

	r = get_power(c, &state, err);
	if (r < 0 || state == want)
		return r;
	r = chassis_control(c, control, what, err);
	if (r < 0)
		return r;
	return wait_power(c, want, what,
	    control == IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN ?
	    " (the operating system did not act on the ACPI power button)" :
	    "", timeout_s, err);
}

static int
power_on(struct lb_ipmi_conn *c, int timeout_s, struct lb_err *err)
{
	enum lb_power_state state;
	int r;

	r = get_power(c, &state, err);
	if (r < 0 || state == LB_POWER_ON)
		return r;
	r = lb_ipmi_ensure_boot_device(c, err);
	if (r < 0)
		return r;
	r = chassis_control(c, IPMI_CHASSIS_CONTROL_POWER_UP, "power on", err);
	if (r < 0)
		return r;
	return wait_power(c, LB_POWER_ON, "power on", "", timeout_s, err);
}

static int
ipmi_validate(const struct lb_task *task, struct lb_err *err)
{
	struct lb_ipmi_conn c;
	int r;

	r = lb_ipmi_conn_init(&c, task, err);
	if (r == 0)
		lb_ipmi_conn_release(&c);
	return r;
}

static int
ipmi_bmc_key(const struct lb_task *task, char *buf, size_t size)
{
	struct lb_ipmi_info info;
	int r;

	r = lb_ipmi_info_parse(task->driver_info, &info, NULL);
	if (r == 0)
		r = lb_ipmi_info_bmc_key(&info, buf, size);
	lb_ipmi_info_clear(&info);
	return r;
}

static int
ipmi_get_state(const struct lb_task *task, enum lb_power_state *ret_state,
    struct lb_err *err)
{
	struct lb_ipmi_conn c;
	int r;

	r = lb_ipmi_conn_init(&c, task, err);
	if (r < 0)
		return r;
	r = get_power(&c, ret_state, err);
	lb_ipmi_conn_release(&c);
	return r;
}

/*
 * Ironic's semantics: reboot is power off (if on) then power on, not a
 * reset; soft reboot is a soft power off then power on; each step waits up
 * to timeout_s.
 */
static int
ipmi_set_state(const struct lb_task *task, enum lb_power_action action,
    int timeout_s, struct lb_err *err)
{
	struct lb_ipmi_conn c;
	int r;

	r = lb_ipmi_conn_init(&c, task, err);
	if (r < 0)
		return r;
	if (timeout_s <= 0)
		timeout_s = DEFAULT_WAIT_S;
	/* An unanswering BMC must not hold the call past the caller's time. */
	if ((unsigned int)timeout_s * 1000 < c.session_ms)
		c.session_ms = (unsigned int)timeout_s * 1000;
	switch (action) {
	case LB_POWER_ACTION_ON:
		r = power_on(&c, timeout_s, err);
		break;
	case LB_POWER_ACTION_OFF:
		r = power_to(&c, LB_POWER_OFF, IPMI_CHASSIS_CONTROL_POWER_DOWN,
		    "power off", timeout_s, err);
		break;
	case LB_POWER_ACTION_REBOOT:
	case LB_POWER_ACTION_SOFT_REBOOT:
		if (action == LB_POWER_ACTION_REBOOT)
			r = power_to(&c, LB_POWER_OFF,
			    IPMI_CHASSIS_CONTROL_POWER_DOWN, "power off",
			    timeout_s, err);
		else
			r = power_to(&c, LB_POWER_OFF,
			    IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN,
			    "soft power off", timeout_s, err);
		if (r == 0)
			r = power_on(&c, timeout_s, err);
		break;
	case LB_POWER_ACTION_SOFT_OFF:
		r = power_to(&c, LB_POWER_OFF,
		    IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN,
		    "soft power off", timeout_s, err);
		break;
	default:
		r = lb_err_set(err, -EINVAL, "unknown power action %d",
		    (int)action);
		break;
	}
	lb_ipmi_conn_release(&c);
	return r;
}

static int
ipmi_set_boot_device(const struct lb_task *task, enum lb_boot_device device,
    bool persistent, enum lb_boot_mode mode, struct lb_err *err)
{
	struct lb_ipmi_conn c;
	int r;

	if (device < LB_BOOT_DEV_PXE || device > LB_BOOT_DEV_BIOS)
		return lb_err_set(err, -EINVAL, "unknown boot device %d",
		    (int)device);
	r = lb_ipmi_conn_init(&c, task, err);
	if (r < 0)
		return r;
	r = lb_ipmi_set_boot(&c, device, persistent, mode, err);
	lb_ipmi_conn_release(&c);
	return r;
}

static int
ipmi_get_boot_device(const struct lb_task *task,
    enum lb_boot_device *ret_device, bool *ret_persistent, struct lb_err *err)
{
	struct lb_ipmi_conn c;
	int r;

	r = lb_ipmi_conn_init(&c, task, err);
	if (r < 0)
		return r;
	r = lb_ipmi_get_boot(&c, ret_device, ret_persistent, err);
	lb_ipmi_conn_release(&c);
	return r;
}

const struct lb_power_ops lb_power_ipmitool = {
	.name = "ipmitool",
	.validate = ipmi_validate,
	.bmc_key = ipmi_bmc_key,
	.get_state = ipmi_get_state,
	.set_state = ipmi_set_state,
	.bmc_policy = lb_bmc_policy_ipmi,
};

const struct lb_management_ops lb_management_ipmitool = {
	.name = "ipmitool",
	.validate = ipmi_validate,
	.set_boot_device = ipmi_set_boot_device,
	.get_boot_device = ipmi_get_boot_device,
};
