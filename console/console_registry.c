/*
 * console_registry.c - names every console implementation; the only place
 * that does.  Read-only; any thread.
 */
#include "console/console.h"
#include "console/registry.h"
#include "conductor/util/banned.h"

extern const struct lb_console_ops lb_console_fake;

const struct lb_iface_impl lb_console_impls[] = {
	{ "no-console", NULL, NULL, LB_IMPL_BUILT | LB_IMPL_NONE, NULL },
	{ "fake", &lb_console_fake, NULL, LB_IMPL_BUILT, NULL },
	{ "ipmitool-socat", NULL, NULL, 0, NULL },
};

const size_t lb_console_nimpls = sizeof(lb_console_impls) /
    sizeof(lb_console_impls[0]);

void
lb_console_shutdown(void)
{
}
