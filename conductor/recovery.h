/*
 * recovery.h - settling what a previous run left (recovery.c).  The main
 * thread, at engine start.
 */
#ifndef LB_RECOVERY_H
#define LB_RECOVERY_H

#include "conductor/util/err.h"

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

#endif
