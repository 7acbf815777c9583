/*
 * network_registry.c - names every network implementation; the only place
 * that does.  noop needs nothing; flat is Ironic's flat without Neutron
 * (one shared network, nothing to move); switch flips VLANs on a switch
 * for sites without Neutron; neutron is known, not built.
 * Read-only; any thread.
 */
#include "network/network.h"
#include "network/registry.h"
#include "conductor/util/banned.h"

extern const struct lb_network_ops lb_network_noop;
extern const struct lb_network_ops lb_network_flat;
extern const struct lb_network_ops lb_network_switch;
extern const struct lb_property lb_network_switch_properties[];

const struct lb_iface_impl lb_network_impls[] = {
	{ "noop", &lb_network_noop, NULL, LB_IMPL_BUILT, NULL },
	{ "flat", &lb_network_flat, NULL, LB_IMPL_BUILT, NULL },
	{ "neutron", NULL, NULL, 0, NULL },
	{ "switch", &lb_network_switch, NULL, LB_IMPL_BUILT,
	  lb_network_switch_properties },
};
const size_t lb_network_nimpls = sizeof(lb_network_impls) /
    sizeof(lb_network_impls[0]);
