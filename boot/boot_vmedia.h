/*
 * boot_vmedia.h - the `redfish-virtual-media` boot interface (rescue from
 * an ISO inserted through the BMC); see boot_vmedia.c.
 */
#ifndef LB_BOOT_VMEDIA_H
#define LB_BOOT_VMEDIA_H

#include "boot/boot.h"

/* The directory below [deploy] http_root that ISOs are published in: all
 * that BMCs fetch, and all that external_http_url serves. */
#define LB_VMEDIA_DIR "redfish"

extern const struct lb_boot_ops lb_boot_vmedia;

#endif
