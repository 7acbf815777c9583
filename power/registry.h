/*
 * registry.h - the power and management implementations lifeboat knows.
 * Read-only tables; any thread.
 */
#ifndef LB_POWER_REGISTRY_H
#define LB_POWER_REGISTRY_H

#include <stddef.h>

#include "conductor/util/task.h"

extern const struct lb_iface_impl lb_power_impls[];
extern const size_t lb_power_nimpls;
extern const struct lb_iface_impl lb_management_impls[];
extern const size_t lb_management_nimpls;

/* Releases what drivers hold at the BMCs (Redfish sessions).  Once, at exit. */
void lb_power_shutdown(void);

#endif
