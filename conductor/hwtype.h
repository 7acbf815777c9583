/*
 * hwtype.h - hardware types as data (for each interface kind, the names a
 * type allows, its preferred first) and how a node's interfaces are chosen
 * and checked against them and the configuration.  Read-only; any thread.
 */
#ifndef LB_HWTYPE_H
#define LB_HWTYPE_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/node.h"
#include "conductor/util/config.h"
#include "conductor/util/task.h"

struct lb_hwtype {
	const char *name;
	const char *const *supported[LB_IFACE_COUNT];	/* NULL-terminated */
};

const struct lb_hwtype *lb_hwtypes(size_t *ret_n);
const struct lb_hwtype *lb_hwtype_find(const char *name);
bool lb_hwtype_enabled(const struct lb_config *cfg, const char *name);

/* Every implementation of a kind, from the kind's registry. */
const struct lb_iface_impl *lb_iface_impls(enum lb_iface_kind kind,
    size_t *ret_n);
const struct lb_iface_impl *lb_iface_find(enum lb_iface_kind kind,
    const char *name);
bool lb_iface_enabled(const struct lb_config *cfg, enum lb_iface_kind kind,
    const char *name);

/* The names the configuration may use, from the hardware types and the
 * interface registries, and the IPMI driver's check of [ipmi] workarounds
 * (for lb_config_check()).  Read-only static data. */
void lb_hwtype_config_names(struct lb_config_names *ret);

/*
 * The interface a node of this type gets when none is asked for: the
 * configured default_<kind>_interface if the type allows it, else the
 * type's first allowed one that is enabled.  NULL if there is none.
 */
const char *lb_hwtype_default_iface(const struct lb_config *cfg,
    const struct lb_hwtype *hw, enum lb_iface_kind kind);

/*
 * Checks node->driver (a known, enabled hardware type), fills every unset
 * interface with its default and checks each: known, enabled, allowed by
 * the type.  400-class errors with Ironic's wording.
 */
int lb_hwtype_resolve_node(const struct lb_config *cfg, struct lb_node *node,
    struct lb_err *err);

#endif
