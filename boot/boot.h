/*
 * boot.h - boot interfaces: how a node is made to boot the rescue ramdisk
 * and how that is undone.  One const ops struct per implementation
 * (boot_pxe.c for `pxe` and `ipxe`, boot_vmedia.c for
 * `redfish-virtual-media`, boot_fake.c for `fake`), named by
 * boot_registry.c.
 *
 * Called on conductor worker threads; must be safe for different nodes at
 * once.  Every file is written atomically (temporary file + rename) and
 * only below the configured roots; names come only from validated UUIDs
 * and MACs.  prepare and clean_up are idempotent: clean-up of a node that
 * has nothing staged succeeds.
 */
#ifndef LB_BOOT_H
#define LB_BOOT_H

#include <stdbool.h>

#include "conductor/util/config.h"
#include "conductor/util/task.h"
#include "power/power.h"

/* What every boot call needs to know about this conductor; borrowed. */
struct lb_boot_env {
	const struct lb_config *cfg;
	const char *api_url;		/* ipa-api-url, e.g. http://10.0.0.1:6385 */
	const char *http_url;		/* effective [deploy] http_url, no slash */
	const char *tftp_server;	/* effective [pxe] tftp_server */
	/*
	 * Virtual media, reached only through the engine (which takes the
	 * BMC's slot): NULL where the node's management interface has none.
	 * insert ejects whatever the CD slots hold and inserts the image at
	 * 'url'; eject succeeds when nothing is inserted.
	 */
	int (*media_insert)(void *arg, const char *url, struct lb_err *err);
	int (*media_eject)(void *arg, struct lb_err *err);
	void *media_arg;
	/*
	 * The node's network interface moves it to a tenant network with its
	 * own DHCP after rescue (struct lb_network_ops tenant_dhcp): clean-up
	 * then has the DHCP provider ignore its MACs; otherwise it keeps
	 * answering them, without boot options.
	 */
	bool tenant_dhcp;
	/* [deploy] external_http_url, no slash; NULL or "": http_url */
	const char *external_http_url;
};

/* The rescue images, already fetched and verified: local file paths. */
struct lb_boot_images {
	const char *kernel;
	const char *ramdisk;
	const char *iso;		/* driver_info rescue_iso, or NULL */
};

#define LB_BOOT_NEEDS_HTTP	0x1	/* serves from [deploy] http_url */
#define LB_BOOT_MEDIA		0x2	/* virtual media: an ISO the BMC fetches */

struct lb_boot_ops {
	const char *name;
	unsigned flags;			/* LB_BOOT_* */
	/* The one-time boot device prepare_ramdisk wants (pxe, cdrom). */
	enum lb_boot_device device;
	/*
	 * Stages the rescue ramdisk for the node: links the images into place,
	 * writes its boot configuration and per-MAC links, and the DHCP
	 * provider's per-node files.  'request_id' goes to the kernel as
	 * ipa-global-request-id; 'extra_params' (may be NULL) are appended
	 * (the virtual-media token, for example).
	 */
	int (*prepare_ramdisk)(const struct lb_boot_env *env,
	    const struct lb_task *task, const struct lb_boot_images *images,
	    const char *request_id, const char *extra_params,
	    struct lb_err *err);
	/* Removes everything prepare_ramdisk made for the node. */
	int (*clean_up_ramdisk)(const struct lb_boot_env *env,
	    const struct lb_task *task, struct lb_err *err);
	/*
	 * What `node validate` says of a node whose boot interface is
	 * valid: the firmware mode(s) it will be served, into 'buf'.  NULL:
	 * nothing to say.
	 */
	void (*describe)(const struct lb_config *cfg,
	    const struct lb_task *task, char *buf, size_t size);
};

/*
 * The node's boot mode from properties.capabilities ("boot_mode:bios" in
 * a "k:v,k:v" string or a dict).  LB_BOOT_MODE_UNSET when it names none
 * (or neither bios nor uefi): then pxe and ipxe serve both modes by the
 * DHCP client's architecture, and the BMC is told a boot device without a
 * mode, so the machine boots in whatever mode its firmware is in.
 */
enum lb_boot_mode lb_boot_mode_of(const struct lb_task *task);

/* [deploy] default_boot_mode: the mode a client that does not say gets. */
enum lb_boot_mode lb_boot_mode_default(const struct lb_config *cfg);

/* "BIOS", "UEFI"; "" for LB_BOOT_MODE_UNSET. */
const char *lb_boot_mode_label(enum lb_boot_mode mode);

/*
 * The kernel command line for the rescue ramdisk: "selinux=0 troubleshoot=0
 * text", then driver_info kernel_append_params (with %default% expanded to
 * [pxe] kernel_append_params) or the configured default, then
 * ipa-debug=1 when debugging, ipa-api-url, ipa-global-request-id and
 * extra_params.  malloc'd.
 */
char *lb_boot_kernel_params(const struct lb_boot_env *env,
    const struct lb_task *task, const char *request_id,
    const char *extra_params);

#endif
