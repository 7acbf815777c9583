/*
 * boot_vmedia.h - the `redfish-virtual-media` boot interface (rescue from
 * an ISO inserted through the BMC); see boot_vmedia.c.
 */
#ifndef LB_BOOT_VMEDIA_H
#define LB_BOOT_VMEDIA_H

#include "boot/boot.h"

extern const struct lb_boot_ops lb_boot_vmedia;

#endif
