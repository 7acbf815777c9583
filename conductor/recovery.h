/*
 * recovery.h - settling what a previous run left (recovery.c).  The main
 * thread, at engine start.
 */
#ifndef LB_RECOVERY_H
#define LB_RECOVERY_H

#include "conductor/util/err.h"
#include "conductor/util/ident.h"

struct lb_engine;

/* Releases this conductor's locks and settles interrupted transitions. */
int lb_recovery_run(struct lb_engine *e, struct lb_err *err);
/*
 * Queues the rescue clean-up (no power action) for every node that
 * recovery left locked by this conductor in rescue failed, unrescue
 * failed or error (its rescue, unrescue or undeploy was cut short); once
 * the pool has started.
 */
void lb_recovery_clean_up(struct lb_engine *e);
/*
 * The take-over of a dead conductor's locks, for the nodes the ring now
 * gives this conductor: each lock released, or kept by this conductor for
 * the clean-up it queues, as at a restart ("Conductor X went offline ..."
 * in last_error).  *ret_power (lb_uuid_set_free) gets the nodes whose
 * power action it cut short, to be read from their BMCs again.  Returns
 * how many nodes it changed.  Once the pool runs (the timer thread).
 */
int lb_recovery_take_over(struct lb_engine *e, const char *gone,
    struct lb_uuid_set *ret_power);

#endif
