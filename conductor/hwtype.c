/*
 * hwtype.c - the hardware types lifeboat knows, and interface resolution.
 * Read-only tables; any thread.
 */
#include "conductor/hwtype.h"

#include <stdlib.h>
#include <string.h>

#include "conductor/util/buf.h"
#include "power/ipmi_info.h"
#include "conductor/util/banned.h"

#define L(...) (const char *const[]){ __VA_ARGS__, NULL }

/* What every real (non-fake) type shares, Ironic's GenericHardware. */
#define GENERIC \
	[LB_IFACE_BIOS] = L("no-bios"), \
	[LB_IFACE_DEPLOY] = L("direct"), \
	[LB_IFACE_INSPECT] = L("no-inspect"), \
	[LB_IFACE_NETWORK] = L("noop", "flat", "neutron", "switch"), \
	[LB_IFACE_RAID] = L("no-raid"), \
	[LB_IFACE_RESCUE] = L("agent", "no-rescue"), \
	[LB_IFACE_STORAGE] = L("noop"), \
	[LB_IFACE_VENDOR] = L("no-vendor")

static const struct lb_hwtype hwtypes[] = {
	{ "ipmi", {
		GENERIC,
		[LB_IFACE_BOOT] = L("ipxe", "pxe"),
		/* no-console first: a new node has none unless asked. */
		[LB_IFACE_CONSOLE] = L("no-console", "ipmitool-socat",
		    "ipmitool-shellinabox"),
		[LB_IFACE_MANAGEMENT] = L("ipmitool"),
		[LB_IFACE_POWER] = L("ipmitool"),
	} },
	{ "redfish", {
		GENERIC,
		[LB_IFACE_BOOT] = L("ipxe", "pxe", "redfish-virtual-media"),
		[LB_IFACE_CONSOLE] = L("no-console"),
		[LB_IFACE_MANAGEMENT] = L("redfish"),
		[LB_IFACE_POWER] = L("redfish"),
	} },
	{ "fake-hardware", {
		[LB_IFACE_BIOS] = L("fake", "no-bios"),
		[LB_IFACE_BOOT] = L("fake", "pxe", "ipxe",
		    "redfish-virtual-media"),
		[LB_IFACE_CONSOLE] = L("fake", "no-console"),
		[LB_IFACE_DEPLOY] = L("fake", "direct"),
		[LB_IFACE_INSPECT] = L("fake", "no-inspect"),
		[LB_IFACE_MANAGEMENT] = L("fake"),
		[LB_IFACE_NETWORK] = L("noop", "flat", "neutron", "switch"),
		[LB_IFACE_POWER] = L("fake"),
		[LB_IFACE_RAID] = L("fake", "no-raid"),
		[LB_IFACE_RESCUE] = L("fake", "agent", "no-rescue"),
		[LB_IFACE_STORAGE] = L("fake", "noop"),
		[LB_IFACE_VENDOR] = L("fake", "no-vendor"),
	} },
};

const struct lb_hwtype *
lb_hwtypes(size_t *ret_n)
{
	*ret_n = sizeof(hwtypes) / sizeof(hwtypes[0]);
	return hwtypes;
}

const struct lb_hwtype *
lb_hwtype_find(const char *name)
{
	for (size_t i = 0; i < sizeof(hwtypes) / sizeof(hwtypes[0]); i++) {
		if (strcmp(hwtypes[i].name, name) == 0)
			return &hwtypes[i];
	}
	return NULL;
}

static bool
strlist_has(const struct lb_strlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i], name) == 0)
			return true;
	}
	return false;
}

static bool
names_have(const char *const *names, const char *name)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

bool
lb_hwtype_enabled(const struct lb_config *cfg, const char *name)
{
	return strlist_has(&cfg->enabled_hardware_types, name);
}

bool
lb_iface_enabled(const struct lb_config *cfg, enum lb_iface_kind kind,
    const char *name)
{
	return strlist_has(&cfg->enabled_interfaces[kind], name);
}

const char *
lb_hwtype_default_iface(const struct lb_config *cfg,
    const struct lb_hwtype *hw, enum lb_iface_kind kind)
{
	const char *const *names = hw->supported[kind];
	const char *want = cfg->default_interface[kind];

	if (want != NULL && names_have(names, want) &&
	    lb_iface_enabled(cfg, kind, want))
		return want;
	for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
		if (lb_iface_enabled(cfg, kind, names[i]))
			return names[i];
	}
	return NULL;
}

static void
add_names(struct lb_buf *b, const char *const *names)
{
	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		lb_buf_addf(b, "%s'%s'", i ? ", " : "", names[i]);
}

static int
check_iface(const struct lb_config *cfg, const struct lb_hwtype *hw,
    enum lb_iface_kind kind, const char *name, struct lb_err *err)
{
	const char *kname = lb_iface_kind_name(kind);
	struct lb_buf b;
	int r;

	if (lb_iface_find(kind, name) == NULL ||
	    !lb_iface_enabled(cfg, kind, name)) {
		const struct lb_strlist *en = &cfg->enabled_interfaces[kind];

		lb_buf_init(&b);
		for (size_t i = 0; i < en->n; i++)
			lb_buf_addf(&b, "%s'%s'", i ? ", " : "", en->items[i]);
		lb_buf_addc(&b, '\0');
		r = lb_err_set(err, -EINVAL, "Could not find the following "
		    "interface in the '%s' interfaces enabled here: %s. Valid "
		    "interfaces are [%s].", kname, name,
		    b.data ? b.data : "");
		lb_buf_release(&b);
		return r;
	}
	if (!names_have(hw->supported[kind], name)) {
		lb_buf_init(&b);
		add_names(&b, hw->supported[kind]);
		lb_buf_addc(&b, '\0');
		r = lb_err_set(err, -EINVAL, "%s interface implementation "
		    "'%s' is not supported by hardware type %s (it supports "
		    "%s).", kname, name, hw->name, b.data ? b.data : "");
		lb_buf_release(&b);
		return r;
	}
	return 0;
}

int
lb_hwtype_resolve_node(const struct lb_config *cfg, struct lb_node *node,
    struct lb_err *err)
{
	const struct lb_hwtype *hw = lb_hwtype_find(node->driver);
	int r;

	if (hw == NULL || !lb_hwtype_enabled(cfg, node->driver))
		return lb_err_set(err, -EINVAL, "No valid host was found. "
		    "Reason: No conductor service registered which supports "
		    "driver %s for conductor group \"%s\".", node->driver,
		    node->conductor_group ? node->conductor_group : "");
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		if (node->iface[k] == NULL) {
			const char *def = lb_hwtype_default_iface(cfg, hw, k);

			if (def == NULL)
				return lb_err_set(err, -EINVAL, "No default "
				    "value found for %s interface of hardware "
				    "type %s: none of its interfaces is "
				    "enabled.", lb_iface_kind_name(k),
				    hw->name);
			node->iface[k] = strdup(def);
			if (node->iface[k] == NULL)
				return lb_err_set(err, -ENOMEM,
				    "out of memory");
			continue;
		}
		r = check_iface(cfg, hw, k, node->iface[k], err);
		if (r < 0)
			return r;
	}
	return 0;
}

#define MAX_IMPLS 16

void
lb_hwtype_config_names(struct lb_config_names *ret)
{
	/* Built from the tables on each call into per-thread storage, so
	 * callers on different threads do not race. */
	static _Thread_local const char *hw[sizeof(hwtypes) /
	    sizeof(hwtypes[0]) + 1];
	static _Thread_local const char *names[LB_IFACE_COUNT][MAX_IMPLS + 1];

	for (size_t i = 0; i < sizeof(hwtypes) / sizeof(hwtypes[0]); i++)
		hw[i] = hwtypes[i].name;
	ret->hardware_types = hw;
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		size_t n;
		const struct lb_iface_impl *rows = lb_iface_impls(k, &n);

		for (size_t i = 0; i < n && i < MAX_IMPLS; i++)
			names[k][i] = rows[i].name;
		names[k][n < MAX_IMPLS ? n : MAX_IMPLS] = NULL;
		ret->interfaces[k] = names[k];
	}
	ret->ipmi_workarounds = lb_ipmi_wa_check;
}
