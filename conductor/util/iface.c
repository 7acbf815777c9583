/*
 * iface.c - interface kind names.  Any thread.
 */
#include "iface.h"

#include "conductor/util/banned.h"

static const char *const kind_names[LB_IFACE_COUNT] = {
	[LB_IFACE_BIOS] = "bios",
	[LB_IFACE_BOOT] = "boot",
	[LB_IFACE_CONSOLE] = "console",
	[LB_IFACE_DEPLOY] = "deploy",
	[LB_IFACE_INSPECT] = "inspect",
	[LB_IFACE_MANAGEMENT] = "management",
	[LB_IFACE_NETWORK] = "network",
	[LB_IFACE_POWER] = "power",
	[LB_IFACE_RAID] = "raid",
	[LB_IFACE_RESCUE] = "rescue",
	[LB_IFACE_STORAGE] = "storage",
	[LB_IFACE_VENDOR] = "vendor",
};

const char *
lb_iface_kind_name(enum lb_iface_kind kind)
{
	return kind < LB_IFACE_COUNT ? kind_names[kind] : "unknown";
}
