/*
 * power_recovery.c - Ironic's power-failure recovery: every [conductor]
 * power_failure_recovery_interval the timer thread lists the nodes in
 * maintenance with fault "power failure" (put there by power_sync.c) and
 * queues a read of each on the worker pool; a BMC that answers takes its
 * node out of maintenance, last_error kept.  Maintenance set by hand or
 * for another fault is never touched.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/power_recovery.h"
#include "conductor/power_sync.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

static int
recover_update(struct lb_node *node, void *arg, struct lb_err *err)
{
	const char *state = arg;

	/* Taken out by hand meanwhile, or busy: nothing to do. */
	if (!node->maintenance || node->fault == NULL ||
	    strcmp(node->fault, LB_FAULT_POWER_FAILURE) != 0 ||
	    node->reservation != NULL || node->target_power_state != NULL)
		return lb_err_set(err, -EBUSY, "busy");
	free(node->power_state);
	node->power_state = strdup(state);
	if (node->power_state == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	node->maintenance = false;
	free(node->maintenance_reason);
	node->maintenance_reason = NULL;
	free(node->fault);
	node->fault = NULL;
	return 0;
}

/* On a worker; any failure waits for the next period. */
static int
recover_node(struct lb_engine *e, const char *uuid, bool unset, int count)
{
	struct lb_err err = { "" };
	enum lb_power_state st;
	const char *state;

	(void)unset;
	(void)count;
	if (lb_power_read(e, uuid, &st, &err) < 0) {
		log_debug("node %s: BMC still not answering: %s", uuid,
		    err.msg);
		return -1;
	}
	state = lb_power_state_name(st);
	if (lb_store_node_update(e->store, uuid, recover_update,
	    (void *)state, NULL, &err) < 0)
		return -1;
	log_info("node %s: BMC answers again (%s), out of power failure "
	    "maintenance", uuid, state);
	lb_history_record(e, uuid, LB_HISTORY_INFO, "monitoring", NULL,
	    "maintenance unset: the BMC answers again (power %s)", state);
	return 0;
}

/* Ironic's recovery leaves enroll alone, as the sync does. */
static bool
recover_skips(const struct lb_node *n)
{
	return strcmp(n->provision_state, LB_STATE_ENROLL) == 0;
}

static void
power_recovery_fire(void *arg)
{
	struct lb_node_query q = { .maintenance = 1, .associated = -1,
	    .retired = -1, .reservation = "",
	    .fault = LB_FAULT_POWER_FAILURE };

	lb_power_read_each(arg, &q, recover_skips, recover_node,
	    "power failure recovery");
}

int
lb_power_recovery_register(struct lb_engine *e)
{
	return lb_timers_add(&e->timers,
	    e->cfg->power_failure_recovery_interval, power_recovery_fire, e);
}
