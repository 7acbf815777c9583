/*
 * power_redfish.c - the "redfish" power and management interfaces: Reset
 * actions, PowerState polling and the Boot override of a ComputerSystem,
 * with Ironic's quirks (409 on power on, Continuous refused, If-Match) and
 * the vendor quirks of redfish_quirks.c; virtual media is in
 * redfish_vmedia.c.  Conductor worker threads; blocks for up to the
 * caller's timeout.
 */
#include "power/redfish_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "power/redfish_quirks.h"
#include "power/redfish_vmedia.h"
#include "conductor/util/log.h"
#include "conductor/util/stop.h"
#include "conductor/util/banned.h"

/* A power on refused with 409 Conflict is retried for the row's window. */
#define POWER_ON_CONFLICT_DELAY_MAX_S 8
#define POWER_POLL_INTERVAL_S 1
/* Used when the caller passes no timeout. */
#define POWER_DEFAULT_TIMEOUT_S 60
#define BOOT_DEVICE_KEY "redfish_boot_device"

static int
redfish_validate(const struct lb_task *task, struct lb_err *err)
{
	struct lb_redfish_info *info = NULL;
	int r;

	r = lb_redfish_info_parse(task->driver_info, &info, err);
	lb_redfish_info_free(info);
	return r < 0 ? r : 0;
}

static int
redfish_bmc_key(const struct lb_task *task, char *buf, size_t size)
{
	return lb_redfish_bmc_key(task->driver_info, buf, size);
}

/*
 * A connection and the node's System path, for one driver call, and the
 * BMC's quirks once looked up.
 */
struct call {
	struct lb_redfish_conn *conn;
	char path[LB_REDFISH_PATH_MAX];
	json_t *internal;		/* driver_internal_info, may be NULL */
	bool have_quirks;
	struct lb_redfish_quirks quirks;
};

static int
call_open(const struct lb_task *task, struct call *call, struct lb_err *err)
{
	int r;

	memset(call, 0, sizeof(*call));
	call->internal = task->driver_internal_info;
	r = lb_redfish_conn_new(task->driver_info, &call->conn, err);
	if (r < 0)
		return r;
	r = lb_redfish_system_path(call->conn, call->path, sizeof(call->path),
	    err);
	if (r < 0) {
		lb_redfish_conn_free(call->conn);
		call->conn = NULL;
	}
	return r;
}

static void
call_close(struct call *call)
{
	lb_redfish_conn_free(call->conn);
	call->conn = NULL;
}

/* The BMC's quirks; 'sys' is the System if the caller has it read. */
static const struct lb_redfish_quirks *
call_quirks(struct call *call, const struct lb_redfish_system *sys)
{
	struct lb_redfish_system *own = NULL;
	struct lb_err err;

	if (call->have_quirks)
		return &call->quirks;
	if (sys == NULL &&
	    lb_redfish_get_system(call->conn, call->path, &own, &err) == 0)
		sys = own;
	if (sys != NULL) {
		lb_redfish_quirks_lookup(call->conn, sys, &call->quirks);
		call->have_quirks = true;
	} else {
		/* Unreadable now: the defaults, and another try next time. */
		struct lb_redfish_ident none = { NULL, NULL };

		lb_redfish_quirks_match(&none, 1, &call->quirks);
	}
	lb_redfish_system_free(own);
	return &call->quirks;
}

static void
call_note(struct call *call, unsigned int flag)
{
	if (lb_redfish_quirk_note(call->internal, flag) == 0)
		log_debug("redfish: %s: quirk %s", call->path,
		    lb_redfish_quirk_name(flag));
}

static int
redfish_get_state(const struct lb_task *task, enum lb_power_state *ret_state,
    struct lb_err *err)
{
	struct lb_redfish_system *sys;
	struct call call;
	int r;

	r = call_open(task, &call, err);
	if (r < 0)
		return r;
	r = lb_redfish_get_system(call.conn, call.path, &sys, err);
	if (r == 0) {
		*ret_state = sys->power_state;
		lb_redfish_system_free(sys);
	}
	call_close(&call);
	return r;
}

/* ---- boot override ---- */

/*
 * PATCHes {"Boot": {...}} with If-Match when the System has an ETag, once
 * more with a fresh ETag on 412.  'enabled' and 'mode' may be NULL.
 */
static int
boot_patch(struct call *call, struct lb_redfish_system **sysp,
    const char *target, const char *enabled, const char *mode,
    long *ret_status, struct lb_err *err)
{
	struct lb_redfish_reply reply;
	json_t *body, *boot;
	int r;

	boot = json_object();
	body = json_pack("{s:o}", "Boot", boot);
	if (body == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (target != NULL)
		json_object_set_new(boot, "BootSourceOverrideTarget",
		    json_string(target));
	if (enabled != NULL)
		json_object_set_new(boot, "BootSourceOverrideEnabled",
		    json_string(enabled));
	if (mode != NULL)
		json_object_set_new(boot, "BootSourceOverrideMode",
		    json_string(mode));
	for (int attempt = 0; ; attempt++) {
		r = lb_redfish_request(call->conn, "PATCH", call->path, body,
		    (*sysp)->etag, &reply, err);
		*ret_status = reply.status;
		lb_redfish_reply_release(&reply);
		if (r == 0 || *ret_status != 412 || attempt > 0)
			break;
		/* Someone changed the System since we read it. */
		lb_redfish_system_free(*sysp);
		*sysp = NULL;
		r = lb_redfish_get_system(call->conn, call->path, sysp, err);
		if (r < 0)
			break;
	}
	json_decref(body);
	return r;
}

static int
boot_mode_set(struct call *call, struct lb_redfish_system **sysp,
    enum lb_boot_mode mode, struct lb_err *err)
{
	const char *want = lb_redfish_boot_mode_name(mode);
	struct lb_redfish_system *sys = *sysp;
	long status;
	int r;

	if (want == NULL || (sys->boot_mode != NULL &&
	    strcmp(sys->boot_mode, want) == 0))
		return 0;
	if (sys->boot_mode_allowed.n > 0 &&
	    !lb_redfish_strv_contains(&sys->boot_mode_allowed, want))
		return lb_err_set(err, -EOPNOTSUPP, "Redfish system '%s' does "
		    "not support boot mode %s", call->path, want);
	r = boot_patch(call, sysp, NULL, NULL, want, &status, err);
	if (r < 0)
		return r;
	/* The ETag and maybe the override changed: read it again. */
	lb_redfish_system_free(*sysp);
	*sysp = NULL;
	return lb_redfish_get_system(call->conn, call->path, sysp, err);
}

/*
 * Sets target with BootSourceOverrideEnabled 'want', leaving the latter out
 * when the System already has it (some BMCs refuse to rewrite it), unless
 * the vendor's quirks say otherwise.  'mode' (NULL: the System's current
 * one) is sent only with send_override_mode.
 */
static int
boot_target_set(struct call *call, struct lb_redfish_system **sysp,
    const char *target, const char *want, const char *mode,
    bool *ret_sent_enabled, struct lb_err *err)
{
	const struct lb_redfish_system *sys = *sysp;
	unsigned int flags = call_quirks(call, sys)->flags;
	const char *cur = sys->boot_enabled;
	const char *enabled = want;
	long status;

	if (cur != NULL && strcmp(cur, want) == 0) {
		if (flags & LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED)
			call_note(call, LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED);
		else
			enabled = NULL;
	}
	if ((flags & LB_RFQ_USBCD_INSTEAD_OF_CD) && strcmp(target, "Cd") == 0 &&
	    lb_redfish_strv_contains(&sys->boot_target_allowed, "UsbCd")) {
		target = "UsbCd";
		call_note(call, LB_RFQ_USBCD_INSTEAD_OF_CD);
	}
	if (flags & LB_RFQ_SEND_OVERRIDE_MODE) {
		mode = mode != NULL ? mode : sys->boot_mode;
		if (mode != NULL)
			call_note(call, LB_RFQ_SEND_OVERRIDE_MODE);
	} else {
		mode = NULL;
	}
	*ret_sent_enabled = enabled != NULL;
	return boot_patch(call, sysp, target, enabled, mode, &status, err);
}

static int
boot_device_apply(struct call *call, struct lb_redfish_system **sysp,
    json_t *internal, enum lb_boot_device device, bool persistent,
    enum lb_boot_mode mode, struct lb_err *err)
{
	const char *target = lb_redfish_boot_target_name(device);
	const char *mode_name = lb_redfish_boot_mode_name(mode);
	struct lb_redfish_system *sys;
	bool sent_enabled;
	int r;

	if (target == NULL)
		return lb_err_set(err, -EINVAL, "unknown boot device %d",
		    (int)device);
	r = boot_mode_set(call, sysp, mode, err);
	if (r < 0)
		return r;
	sys = *sysp;
	if (sys->boot_target_allowed.n > 0 &&
	    !lb_redfish_strv_contains(&sys->boot_target_allowed, target))
		return lb_err_set(err, -EINVAL, "Redfish system '%s' does not "
		    "support boot device %s (BootSourceOverrideTarget %s)",
		    call->path, lb_boot_device_name(device), target);
	if (json_is_object(internal))
		json_object_del(internal, BOOT_DEVICE_KEY);
	r = boot_target_set(call, sysp, target,
	    persistent ? "Continuous" : "Once", mode_name, &sent_enabled, err);
	if (r == 0 || !persistent || !sent_enabled)
		return r;
	/*
	 * Continuous was refused (Redfish deprecated it and some BMCs dropped
	 * it): set Once and remember the device, so that it is set again
	 * before every power on.
	 */
	log_debug("redfish: %s refused a Continuous boot override, using Once",
	    call->path);
	lb_redfish_system_free(*sysp);
	*sysp = NULL;
	r = lb_redfish_get_system(call->conn, call->path, sysp, err);
	if (r < 0)
		return r;
	r = boot_target_set(call, sysp, target, "Once", mode_name,
	    &sent_enabled, err);
	if (r == 0 && json_is_object(internal))
		json_object_set_new(internal, BOOT_DEVICE_KEY,
		    json_string(target));
	return r;
}

/*
 * Before a power on: if a persistent device had to be emulated with Once,
 * set it again.  Best effort, like Ironic: a failure does not stop the power
 * action.
 */
static void
boot_device_restore(const struct lb_task *task, struct call *call)
{
	const json_t *saved;
	struct lb_redfish_system *sys = NULL;
	struct lb_err err = { .msg = "" };
	bool sent_enabled;

	saved = json_object_get(task->driver_internal_info, BOOT_DEVICE_KEY);
	if (!json_is_string(saved))
		return;
	if (lb_redfish_get_system(call->conn, call->path, &sys, &err) < 0 ||
	    boot_target_set(call, &sys, json_string_value(saved), "Once", NULL,
	    &sent_enabled, &err) < 0)
		log_debug("redfish: cannot restore boot device on %s: %s",
		    call->path, err.msg);
	lb_redfish_system_free(sys);
}

static int
redfish_set_boot_device(const struct lb_task *task,
    enum lb_boot_device device, bool persistent, enum lb_boot_mode mode,
    struct lb_err *err)
{
	struct lb_redfish_system *sys = NULL;
	struct call call;
	int r;

	r = call_open(task, &call, err);
	if (r < 0)
		return r;
	r = lb_redfish_get_system(call.conn, call.path, &sys, err);
	if (r == 0)
		r = boot_device_apply(&call, &sys, task->driver_internal_info,
		    device, persistent, mode, err);
	lb_redfish_system_free(sys);
	call_close(&call);
	return r;
}

/*
 * The System's override; a device we emulate as persistent reads back as
 * persistent.  -ENODATA when no override is set (Ironic shows null).
 */
static int
redfish_get_boot_device(const struct lb_task *task,
    enum lb_boot_device *ret_device, bool *ret_persistent,
    struct lb_err *err)
{
	struct lb_redfish_system *sys;
	const json_t *saved;
	const char *saved_target = NULL;
	enum lb_boot_device dev;
	struct call call;
	bool active;
	int r;

	saved = json_object_get(task->driver_internal_info, BOOT_DEVICE_KEY);
	if (json_is_string(saved))
		saved_target = json_string_value(saved);
	r = call_open(task, &call, err);
	if (r < 0)
		return r;
	r = lb_redfish_get_system(call.conn, call.path, &sys, err);
	call_close(&call);
	if (r < 0)
		return r;
	active = sys->boot_enabled == NULL ||
	    strcmp(sys->boot_enabled, "Disabled") != 0;
	if (active && lb_redfish_boot_target_parse(sys->boot_target,
	    &dev) == 0) {
		*ret_device = dev;
		*ret_persistent = (sys->boot_enabled != NULL &&
		    strcmp(sys->boot_enabled, "Continuous") == 0) ||
		    (saved_target != NULL &&
		    strcmp(saved_target, sys->boot_target) == 0);
	} else if (lb_redfish_boot_target_parse(saved_target, &dev) == 0) {
		*ret_device = dev;
		*ret_persistent = true;
	} else {
		r = lb_err_set(err, -ENODATA, "no boot device override is set "
		    "on Redfish system '%s'", sys->odata_id != NULL ?
		    sys->odata_id : "");
	}
	lb_redfish_system_free(sys);
	return r;
}

/* ---- power ---- */

static int
power_state_now(struct call *call, enum lb_power_state *ret,
    char *raw, size_t size, struct lb_err *err)
{
	struct lb_redfish_system *sys;
	int r;

	r = lb_redfish_get_system(call->conn, call->path, &sys, err);
	if (r < 0)
		return r;
	*ret = sys->power_state;
	if (raw != NULL)
		snprintf(raw, size, "%s", sys->power_state_raw != NULL ?
		    sys->power_state_raw : "(none)");
	lb_redfish_system_free(sys);
	return 0;
}

/* POSTs the Reset action once; *ret_status is the HTTP status. */
static int
reset_post(struct call *call, const char *type, long *ret_status,
    struct lb_err *err)
{
	struct lb_redfish_system *sys;
	struct lb_redfish_reply reply;
	json_t *body;
	int r;

	*ret_status = 0;
	r = lb_redfish_get_system(call->conn, call->path, &sys, err);
	if (r < 0)
		return r;
	if (sys->reset_target == NULL) {
		r = lb_err_set(err, -EIO, "Redfish system '%s' has no "
		    "ComputerSystem.Reset action", call->path);
	} else if (sys->reset_allowed.n > 0 &&
	    !lb_redfish_strv_contains(&sys->reset_allowed, type)) {
		r = lb_err_set(err, -EOPNOTSUPP, "Redfish system '%s' does not "
		    "support ResetType %s", call->path, type);
	} else {
		body = json_pack("{s:s}", "ResetType", type);
		r = lb_redfish_request(call->conn, "POST", sys->reset_target,
		    body, NULL, &reply, err);
		*ret_status = reply.status;
		lb_redfish_reply_release(&reply);
		json_decref(body);
	}
	lb_redfish_system_free(sys);
	return r;
}

/*
 * Asks for ResetType 'type' whose outcome is 'target'.  A 400/409 is fine
 * when the System is in 'target' already (BMCs refuse On when on); a 409
 * to On is retried for a while (BMCs refuse it while still powering off).
 */
static int
reset(struct call *call, const char *type, enum lb_power_state target,
    struct lb_err *err)
{
	double deadline = -1;
	unsigned int delay = 1;
	enum lb_power_state state;
	struct lb_err err2;
	long status;
	int r;

	for (;;) {
		r = reset_post(call, type, &status, err);
		if (r == 0 || (status != 400 && status != 409))
			return r;
		if (power_state_now(call, &state, NULL, 0, &err2) == 0 &&
		    state == target)
			return 0;
		if (status != 409 || target != LB_POWER_ON)
			return r;
		if (deadline < 0)
			deadline = lb_redfish_now() +
			    call_quirks(call, NULL)->power_on_409_window_s;
		if (lb_redfish_now() + delay > deadline)
			return r;
		call_note(call, LB_RFQ_POWER_ON_409_RETRY);
		log_debug("redfish: %s answered 409 to %s, retrying in %u s",
		    call->path, type, delay);
		lb_redfish_sleep(delay);
		delay = delay * 2 > POWER_ON_CONFLICT_DELAY_MAX_S ?
		    POWER_ON_CONFLICT_DELAY_MAX_S : delay * 2;
	}
}

static int
wait_state(struct call *call, enum lb_power_state target, int timeout_s,
    struct lb_err *err)
{
	double deadline = lb_redfish_now() + timeout_s;
	enum lb_power_state state;
	char raw[64];
	int r;

	for (;;) {
		r = power_state_now(call, &state, raw, sizeof(raw), err);
		if (r < 0)
			return r;
		if (state == target)
			return 0;
		if (lb_redfish_now() >= deadline)
			return lb_err_set(err, -ETIMEDOUT, "Redfish system '%s' "
			    "did not reach '%s' within %d s (PowerState %s)",
			    call->path, (lb_power_state_name(target) ? lb_power_state_name(target) : "unknown"),
			    timeout_s, raw);
		if (lb_stop_requested())
			return lb_err_set(err, -ECANCELED, "Redfish system '%s' "
			    "not confirmed in '%s': lifeboatd stopped waiting",
			    call->path, lb_power_state_name(target));
		lb_redfish_sleep(POWER_POLL_INTERVAL_S);
	}
}

static int
power_to(struct call *call, const char *type, enum lb_power_state target,
    int timeout_s, struct lb_err *err)
{
	int r;

	r = reset(call, type, target, err);
	if (r < 0)
		return r;
	return wait_state(call, target, timeout_s, err);
}

static int
redfish_set_state(const struct lb_task *task, enum lb_power_action action,
    int timeout_s, struct lb_err *err)
{
	enum lb_power_state state;
	struct call call;
	int r;

	if (timeout_s <= 0)
		timeout_s = POWER_DEFAULT_TIMEOUT_S;
	r = call_open(task, &call, err);
	if (r < 0)
		return r;
	switch (action) {
	case LB_POWER_ACTION_ON:
		boot_device_restore(task, &call);
		r = power_to(&call, "On", LB_POWER_ON, timeout_s, err);
		break;
	case LB_POWER_ACTION_OFF:
		r = power_to(&call, "ForceOff", LB_POWER_OFF, timeout_s, err);
		break;
	case LB_POWER_ACTION_SOFT_OFF:
		r = power_to(&call, "GracefulShutdown", LB_POWER_OFF, timeout_s,
		    err);
		break;
	case LB_POWER_ACTION_SOFT_REBOOT:
		boot_device_restore(task, &call);
		r = power_to(&call, "GracefulRestart", LB_POWER_ON, timeout_s,
		    err);
		break;
	case LB_POWER_ACTION_REBOOT:
		/* ForceOff then On (not ForceRestart), as Ironic does. */
		r = power_state_now(&call, &state, NULL, 0, err);
		if (r == 0 && state != LB_POWER_OFF)
			r = power_to(&call, "ForceOff", LB_POWER_OFF, timeout_s,
			    err);
		if (r == 0) {
			boot_device_restore(task, &call);
			r = power_to(&call, "On", LB_POWER_ON, timeout_s, err);
		}
		break;
	default:
		r = lb_err_set(err, -EINVAL, "unknown power action %d",
		    (int)action);
		break;
	}
	call_close(&call);
	return r;
}

const struct lb_power_ops lb_power_redfish = {
	.name = "redfish",
	.validate = redfish_validate,
	.bmc_key = redfish_bmc_key,
	.get_state = redfish_get_state,
	.set_state = redfish_set_state,
	.bmc_policy = lb_bmc_policy_redfish,
};

const struct lb_management_ops lb_management_redfish = {
	.name = "redfish",
	.validate = redfish_validate,
	.set_boot_device = redfish_set_boot_device,
	.get_boot_device = redfish_get_boot_device,
	.insert_cd = lb_redfish_insert_cd,
	.eject_cd = lb_redfish_eject_cd,
};
