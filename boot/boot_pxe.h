/*
 * boot_pxe.h - the `pxe` (pxelinux for BIOS, grub for UEFI, over TFTP) and
 * `ipxe` (iPXE scripts and images over HTTP) boot interfaces.  Named by
 * boot_registry.c; called on conductor worker threads.
 */
#ifndef LB_BOOT_PXE_H
#define LB_BOOT_PXE_H

#include "boot/boot.h"

extern const struct lb_boot_ops lb_boot_pxe;
extern const struct lb_boot_ops lb_boot_ipxe;

#endif
