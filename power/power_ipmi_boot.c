/*
 * power_ipmi_boot.c - the IPMI driver's boot device: Get/Set System Boot
 * Options (boot flags with the EFI/BIOS boot type, the 60 s timeout and the
 * boot info acknowledge, as ipmitool and Ironic send them), and with
 * ipmi_force_boot_device Ironic's memory of a persistent device in
 * driver_internal_info.  Conductor worker threads, each on its own
 * connection; no shared state.
 */
#include "power/power_ipmi_boot.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "conductor/util/banned.h"

/* driver_internal_info keys: Ironic's two, and one of lifeboat's own. */
#define KEY_PERSISTENT_DEVICE	"persistent_boot_device"
#define KEY_NEXT_PERSISTENT	"is_next_boot_persistent"
#define KEY_PERSISTENT_MODE	"ipmi_persistent_boot_mode"

/* libfreeipmi's boot option names do not fit in 80 columns. */
#define BOOT_DEV(x)	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_##x
#define BOOT_TYPE(x)	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_##x
#define BOOT_FLAG(x)	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_##x
#define UNLOCKED	IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED
#define MUX_DEFAULT \
	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAGS_SET_MUX_TO_RECOMENDED_AT_END_OF_POST

static const char *const boot_device_names[] = {
	[LB_BOOT_DEV_PXE] = "pxe",
	[LB_BOOT_DEV_DISK] = "disk",
	[LB_BOOT_DEV_CDROM] = "cdrom",
	[LB_BOOT_DEV_BIOS] = "bios",
};

static const uint8_t boot_device_codes[] = {
	[LB_BOOT_DEV_PXE] = BOOT_DEV(FORCE_PXE),
	[LB_BOOT_DEV_DISK] = BOOT_DEV(FORCE_HARD_DRIVE),
	[LB_BOOT_DEV_CDROM] = BOOT_DEV(FORCE_CD_DVD),
	[LB_BOOT_DEV_BIOS] = BOOT_DEV(FORCE_BIOS_SETUP),
};

/* A refusal (not a timeout) of an optional boot options step is ignored. */
static bool
refused(struct lb_ipmi_conn *c)
{
	int errnum = ipmi_ctx_errnum(c->ctx);

	return errnum == IPMI_ERR_BAD_COMPLETION_CODE ||
	    errnum == IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED;
}

/*
 * Get System Boot Options, parameter 5.  *ret_valid false means no
 * override is set (the other fields are then left alone).
 */
static int
get_boot_flags(struct lb_ipmi_conn *c, bool *ret_valid, uint8_t *ret_device,
    bool *ret_persistent, bool *ret_efi, struct lb_err *err)
{
	uint64_t valid = 0, device = 0, persistent = 0, efi = 0;
	fiid_obj_t rs;
	int r;

	r = lb_ipmi_cmd_begin(c, tmpl_cmd_get_system_boot_options_boot_flags_rs,
	    &rs, err);
	if (r < 0)
		return r;
	if (ipmi_cmd_get_system_boot_options_boot_flags(c->ctx,
	    IPMI_SYSTEM_BOOT_OPTIONS_NO_SET_SELECTOR,
	    IPMI_SYSTEM_BOOT_OPTIONS_NO_BLOCK_SELECTOR, rs) < 0)
		r = lb_ipmi_fail_cmd(c, "Get System Boot Options (boot flags)",
		    rs, IPMI_NET_FN_CHASSIS_RQ, err);
	else if (fiid_obj_get(rs, "boot_flags_valid", &valid) != 1 ||
	    fiid_obj_get(rs, "boot_device", &device) != 1 ||
	    fiid_obj_get(rs, "boot_flags_persistent", &persistent) != 1 ||
	    fiid_obj_get(rs, "bios_boot_type", &efi) != 1)
		r = lb_err_set(err, -EIO, "BMC %s sent a malformed boot flags "
		    "reply", c->where);
	fiid_obj_destroy(rs);
	if (r < 0)
		return r;
	*ret_valid = valid != 0 && device != BOOT_DEV(NO_OVERRIDE);
	if (*ret_valid) {
		*ret_device = (uint8_t)device;
		*ret_persistent = persistent != 0;
		*ret_efi = efi == BOOT_TYPE(EFI);
	}
	return 0;
}

/* The boot type bit to send: asked for, or else what the BMC has now. */
static int
boot_type(struct lb_ipmi_conn *c, enum lb_boot_mode mode, uint8_t *ret_type,
    struct lb_err *err)
{
	bool valid = false, persistent, efi = false;
	uint8_t device;
	int r;

	*ret_type = mode == LB_BOOT_MODE_UEFI ? BOOT_TYPE(EFI) :
	    BOOT_TYPE(PC_COMPATIBLE);
	if (mode != LB_BOOT_MODE_UNSET)
		return 0;
	r = get_boot_flags(c, &valid, &device, &persistent, &efi, err);
	if (r < 0 && !refused(c))
		return r;
	if (r == 0 && valid && efi)
		*ret_type = BOOT_TYPE(EFI);
	return 0;
}

static void
set_in_progress(struct lb_ipmi_conn *c, uint8_t state, fiid_obj_t rs)
{
	ipmi_cmd_set_system_boot_options_set_in_progress(c->ctx, UNLOCKED,
	    state, rs);
}

/*
 * What "ipmitool chassis bootdev" and Ironic do: keep the flags from
 * expiring 60 s after being set (the raw 0x00 0x08 0x03 0x08 Ironic sends),
 * mark the boot info unacknowledged for the BIOS, and write the boot flags,
 * inside set-in-progress / commit-write / set-complete where the BMC has it.
 */
static int
set_boot(struct lb_ipmi_conn *c, enum lb_boot_device device, bool persistent,
    enum lb_boot_mode mode, struct lb_err *err)
{
	/*
	 * Boot info acknowledge: write mask "BIOS/POST" only, set (as
	 * ipmitool does); libfreeipmi's own helper also sets reserved bits.
	 */
	static const uint8_t ack[] = { 0x01, 0x01 };
	uint8_t type;
	bool in_progress = false;
	fiid_obj_t rs;
	int r;

	r = boot_type(c, mode, &type, err);
	if (r == 0)
		r = lb_ipmi_cmd_begin(c, tmpl_cmd_set_system_boot_options_rs,
		    &rs, err);
	if (r < 0)
		return r;
	if (c->info.disable_boot_timeout &&
	    ipmi_cmd_set_system_boot_options_BMC_boot_flag_valid_bit_clearing(
	    c->ctx, UNLOCKED, 0, 0, 0,
	    IPMI_SYSTEM_BOOT_OPTION_DONT_CLEAR_VALID_BIT, 0, rs) < 0) {
		r = lb_ipmi_fail_cmd(c, "disabling the 60 s boot flags timeout "
		    "(set ipmi_disable_boot_timeout to false for BMCs without "
		    "it)", rs, IPMI_NET_FN_CHASSIS_RQ, err);
		goto out;
	}
	if (ipmi_cmd_set_system_boot_options_set_in_progress(c->ctx, UNLOCKED,
	    IPMI_SYSTEM_BOOT_OPTION_SET_IN_PROGRESS, rs) == 0)
		in_progress = true;
	else if (!refused(c))
		goto fail;
	if (ipmi_cmd_set_system_boot_options(c->ctx,
	    IPMI_SYSTEM_BOOT_OPTION_PARAMETER_BOOT_INFO_ACKNOWLEDGE, UNLOCKED,
	    ack, sizeof(ack), rs) < 0 && !refused(c))
		goto fail;
	if (ipmi_cmd_set_system_boot_options_boot_flags(c->ctx, UNLOCKED, type,
	    persistent ? BOOT_FLAG(VALID_PERSISTENTLY) :
	    BOOT_FLAG(VALID_FOR_NEXT_BOOT), BOOT_FLAG(VALID), 0, 0,
	    boot_device_codes[device], 0, 0,
	    BOOT_FLAG(CONSOLE_REDIRECTION_DEFAULT), 0, 0, 0,
	    BOOT_FLAG(FIRMWARE_BIOS_VERBOSITY_DEFAULT), 0, MUX_DEFAULT, 0, 0,
	    rs) < 0)
		goto fail;
	if (in_progress)
		set_in_progress(c, IPMI_SYSTEM_BOOT_OPTION_SET_COMMIT_WRITE,
		    rs);
	goto out;
fail:
	r = lb_ipmi_fail_cmd(c, "Set System Boot Options", rs,
	    IPMI_NET_FN_CHASSIS_RQ, err);
out:
	if (in_progress)
		set_in_progress(c, IPMI_SYSTEM_BOOT_OPTION_SET_COMPLETE, rs);
	fiid_obj_destroy(rs);
	return r;
}

static const char *
boot_mode_name(enum lb_boot_mode mode)
{
	return mode == LB_BOOT_MODE_UEFI ? "uefi" :
	    mode == LB_BOOT_MODE_BIOS ? "bios" : NULL;
}

/*
 * Ironic's driver_utils.ensure_next_boot_device(): with
 * ipmi_force_boot_device, re-send the persistent boot device before every
 * power on, for BMCs that forget it; a one-time device was sent already.
 */
int
lb_ipmi_ensure_boot_device(struct lb_ipmi_conn *c, struct lb_err *err)
{
	enum lb_boot_mode mode = LB_BOOT_MODE_UNSET;
	const char *name, *mode_name;

	if (!c->info.force_boot_device || c->internal == NULL)
		return 0;
	if (json_is_false(json_object_get(c->internal, KEY_NEXT_PERSISTENT))) {
		json_object_del(c->internal, KEY_NEXT_PERSISTENT);
		return 0;
	}
	name = json_string_value(json_object_get(c->internal,
	    KEY_PERSISTENT_DEVICE));
	mode_name = json_string_value(json_object_get(c->internal,
	    KEY_PERSISTENT_MODE));
	if (name == NULL)
		return 0;
	if (mode_name != NULL && strcmp(mode_name, "uefi") == 0)
		mode = LB_BOOT_MODE_UEFI;
	else if (mode_name != NULL && strcmp(mode_name, "bios") == 0)
		mode = LB_BOOT_MODE_BIOS;
	for (int d = LB_BOOT_DEV_PXE; d <= LB_BOOT_DEV_BIOS; d++)
		if (strcmp(name, boot_device_names[d]) == 0)
			return set_boot(c, (enum lb_boot_device)d, false, mode,
			    err);
	return 0;
}

/* The lifeboat device for a boot device selector, or -1. */
static int
device_from_code(uint8_t code)
{
	switch (code) {
	case BOOT_DEV(FORCE_PXE):
		return LB_BOOT_DEV_PXE;
	case BOOT_DEV(FORCE_HARD_DRIVE):
	case BOOT_DEV(FORCE_HARD_DRIVE_SAFE_MODE):
	case BOOT_DEV(FORCE_REMOTELY_CONNECTED_HARD_DRIVE):
		return LB_BOOT_DEV_DISK;
	case BOOT_DEV(FORCE_CD_DVD):
	case BOOT_DEV(FORCE_REMOTELY_CONNECTED_CD_DVD):
	case BOOT_DEV(FORCE_PRIMARY_REMOTE_MEDIA):
		return LB_BOOT_DEV_CDROM;
	case BOOT_DEV(FORCE_BIOS_SETUP):
		return LB_BOOT_DEV_BIOS;
	default:
		return -1;
	}
}


/*
 * With ipmi_force_boot_device the device is remembered in
 * driver_internal_info as Ironic does (and re-sent at power on), and the
 * BMC is only ever given a one-time device.
 */
int
lb_ipmi_set_boot(struct lb_ipmi_conn *c, enum lb_boot_device device,
    bool persistent, enum lb_boot_mode mode, struct lb_err *err)
{
	bool remember = c->info.force_boot_device && c->internal != NULL;
	int r;

	r = set_boot(c, device, persistent && !c->info.force_boot_device, mode,
	    err);
	if (r == 0 && remember && persistent) {
		json_object_del(c->internal, KEY_NEXT_PERSISTENT);
		json_object_set_new(c->internal, KEY_PERSISTENT_DEVICE,
		    json_string(boot_device_names[device]));
		if (boot_mode_name(mode) != NULL)
			json_object_set_new(c->internal, KEY_PERSISTENT_MODE,
			    json_string(boot_mode_name(mode)));
		else
			json_object_del(c->internal, KEY_PERSISTENT_MODE);
	} else if (r == 0 && remember) {
		json_object_set_new(c->internal, KEY_NEXT_PERSISTENT,
		    json_false());
	}
	return r;
}

/*
 * -ENODATA when no override is set (Ironic shows boot_device null then):
 * the BMC then boots by its own order, which no lb_boot_device names.
 */
int
lb_ipmi_get_boot(struct lb_ipmi_conn *c, enum lb_boot_device *ret_device,
    bool *ret_persistent, struct lb_err *err)
{
	bool valid = false, persistent = false, efi = false;
	const char *name;
	uint8_t code = 0;
	int r = 0, dev = -1;

	/* Ironic answers from driver_internal_info in this case. */
	name = json_string_value(json_object_get(c->internal,
	    KEY_PERSISTENT_DEVICE));
	if (c->info.force_boot_device && name != NULL &&
	    !json_is_false(json_object_get(c->internal, KEY_NEXT_PERSISTENT))) {
		for (int d = LB_BOOT_DEV_PXE; d <= LB_BOOT_DEV_BIOS; d++)
			if (strcmp(name, boot_device_names[d]) == 0)
				dev = d;
		persistent = true;
		valid = dev >= 0;
	}
	if (dev < 0) {
		r = get_boot_flags(c, &valid, &code, &persistent, &efi, err);
		dev = valid ? device_from_code(code) : -1;
	}
	if (r == 0 && !valid)
		r = lb_err_set(err, -ENODATA, "BMC %s has no boot device "
		    "override set", c->where);
	else if (r == 0 && dev < 0)
		r = lb_err_set(err, -ENODATA, "BMC %s boots from boot device "
		    "selector 0x%x, which lifeboat has no name for", c->where,
		    code);
	if (r == 0) {
		*ret_device = (enum lb_boot_device)dev;
		*ret_persistent = persistent;
	}
	return r;
}
