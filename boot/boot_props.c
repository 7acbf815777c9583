/*
 * boot_props.c - the driver_info keys the boot interfaces take (the rescue
 * images, read by the rescue flow, and kernel_append_params, read by
 * boot_common.c), as GET /v1/drivers/{name}/properties documents them.
 * Read-only data; any thread.
 */
#include <stddef.h>

#include "conductor/util/task.h"
#include "conductor/util/banned.h"

#define RESCUE_KERNEL	{ "rescue_kernel", "URL (file://, http://, " \
	"https://) of the rescue kernel. Required for rescue over PXE/iPXE." }
#define RESCUE_RAMDISK	{ "rescue_ramdisk", "URL of the rescue " \
	"ramdisk. Required for rescue over PXE/iPXE." }
#define APPEND_PARAMS	{ "kernel_append_params", "Extra kernel " \
	"parameters for the rescue ramdisk. Optional." }

/* pxe and ipxe boot the rescue kernel and ramdisk. */
const struct lb_property lb_boot_pxe_properties[] = {
	RESCUE_KERNEL,
	RESCUE_RAMDISK,
	APPEND_PARAMS,
	{ NULL, NULL },
};

/* Virtual media boots rescue_iso, or an ISO built of kernel and ramdisk. */
const struct lb_property lb_boot_vmedia_properties[] = {
	RESCUE_KERNEL,
	RESCUE_RAMDISK,
	{ "rescue_iso", "URL of a prebuilt rescue ISO for virtual media. "
	  "Optional." },
	APPEND_PARAMS,
	{ NULL, NULL },
};
