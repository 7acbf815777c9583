/*
 * registry.h - the network implementations lifeboat knows.  Read-only;
 * any thread.
 */
#ifndef LB_NETWORK_REGISTRY_H
#define LB_NETWORK_REGISTRY_H

#include <stddef.h>

#include "conductor/util/task.h"

extern const struct lb_iface_impl lb_network_impls[];
extern const size_t lb_network_nimpls;

#endif
