/*
 * network_registry.c - names every network implementation; the only place
 * that does.  noop needs nothing; flat and neutron are known, not built.
 * Read-only; any thread.
 */
#include "network/registry.h"
#include "conductor/util/banned.h"

const struct lb_iface_impl lb_network_impls[] = {
	{ "noop", NULL, NULL, LB_IMPL_BUILT },
	{ "flat", NULL, NULL, 0 },
	{ "neutron", NULL, NULL, 0 },
};
const size_t lb_network_nimpls = sizeof(lb_network_impls) /
    sizeof(lb_network_impls[0]);
