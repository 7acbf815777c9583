/*
 * registry.h - the console implementations lifeboat knows.  Read-only
 * tables; any thread.
 */
#ifndef LB_CONSOLE_REGISTRY_H
#define LB_CONSOLE_REGISTRY_H

#include <stddef.h>

#include "conductor/util/task.h"

extern const struct lb_iface_impl lb_console_impls[];
extern const size_t lb_console_nimpls;

/* Stops every console and capture this process serves.  Once, at exit. */
void lb_console_shutdown(void);

#endif
