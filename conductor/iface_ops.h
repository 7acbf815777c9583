/*
 * iface_ops.h - the ops of the interface kinds that live in the conductor
 * itself: rescue (agent, fake) and deploy (fake).  Their registry rows are
 * in iface_registry.c; task.c is the only caller.  Worker threads.
 */
#ifndef LB_IFACE_OPS_H
#define LB_IFACE_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

struct lb_node_task;
struct lb_finish;

struct lb_rescue_ops {
	const char *name;
	/* What the rescue needs of the node, checked before anything
	 * changes (no BMC traffic). */
	int (*validate)(struct lb_node_task *t, struct lb_err *err);
	/*
	 * The rescue job (the node is in rescuing, locked): fills 'f' with
	 * the event ("wait", "done" or "fail") and what else the end
	 * writes; a failure's message goes to msg.
	 */
	void (*rescue)(struct lb_node_task *t, struct lb_finish *f, char *msg,
	    size_t msgsize);
	/* The unrescue job, the same way ("done" or "fail"). */
	void (*unrescue)(struct lb_node_task *t, struct lb_finish *f,
	    char *msg, size_t msgsize);
	/*
	 * Every way out of a rescue: undoes what rescue staged (powering
	 * off first when asked); NULL where nothing is staged.  The caller
	 * has 'f' drop the password and agent either way.
	 */
	void (*leave)(struct lb_node_task *t, bool power_off,
	    struct lb_finish *f);
	/*
	 * A node in rescue wait this conductor takes over from a dead one
	 * (locked): stages again here what rescue staged on the dead one's
	 * disk, so its ramdisk boots from this conductor and the clean-up
	 * finds it here; NULL where nothing is staged.
	 */
	int (*take_over)(struct lb_node_task *t, struct lb_err *err);
};

struct lb_deploy_ops {
	const char *name;
	/* Deploys the node's instance: 0 when it is active. */
	int (*deploy)(struct lb_node_task *t, struct lb_err *err);
};

/* rescue_flow.c */
extern const struct lb_rescue_ops lb_rescue_agent;
extern const struct lb_rescue_ops lb_rescue_fake;

#endif
