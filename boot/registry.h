/*
 * registry.h - the boot implementations lifeboat knows.  Read-only tables;
 * any thread.
 */
#ifndef LB_BOOT_REGISTRY_H
#define LB_BOOT_REGISTRY_H

#include <stddef.h>

#include "conductor/util/task.h"

extern const struct lb_iface_impl lb_boot_impls[];
extern const size_t lb_boot_nimpls;

#endif
