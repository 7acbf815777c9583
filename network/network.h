/*
 * network.h - network interfaces: where a node's NICs are attached while it
 * boots the rescue ramdisk and afterwards.  One const ops struct per
 * implementation (network_noop.c; the switch flip of a later issue), named
 * by network_registry.c.  Worker threads; idempotent calls.
 */
#ifndef LB_NETWORK_H
#define LB_NETWORK_H

#include "conductor/util/config.h"
#include "conductor/util/task.h"

struct lb_network_ops {
	const char *name;
	/* Checks what rescue needs (a rescuing network, ...); no I/O. */
	int (*validate_rescue)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*unconfigure_tenant)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*add_rescuing)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*remove_rescuing)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
	int (*configure_tenant)(const struct lb_config *cfg,
	    const struct lb_task *task, struct lb_err *err);
};

#endif
