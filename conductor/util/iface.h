/*
 * iface.h - the kinds of driver interface a node has, in the order Ironic
 * lists them, with the names users see ("boot_interface", ...).  Any thread.
 */
#ifndef LB_IFACE_H
#define LB_IFACE_H

enum lb_iface_kind {
	LB_IFACE_BIOS,
	LB_IFACE_BOOT,
	LB_IFACE_CONSOLE,
	LB_IFACE_DEPLOY,
	LB_IFACE_INSPECT,
	LB_IFACE_MANAGEMENT,
	LB_IFACE_NETWORK,
	LB_IFACE_POWER,
	LB_IFACE_RAID,
	LB_IFACE_RESCUE,
	LB_IFACE_STORAGE,
	LB_IFACE_VENDOR,
	LB_IFACE_COUNT,
};

/* "bios", "boot", ... */
const char *lb_iface_kind_name(enum lb_iface_kind kind);

#endif
