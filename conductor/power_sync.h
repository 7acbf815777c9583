/*
 * power_sync.h - the periodic power-state sync (power_sync.c) and the
 * BMC reads it shares with the power-failure recovery
 * (power_recovery.c).  Registered at engine start; runs on the timer
 * thread and the worker pool.
 */
#ifndef LB_POWER_SYNC_H
#define LB_POWER_SYNC_H

#include <stdbool.h>

#include "power/power.h"

struct lb_engine;
struct lb_err;
struct lb_node;

/* The fault of a node the sync put into maintenance (Ironic's). */
#define LB_FAULT_POWER_FAILURE "power failure"

/* Sets up the sync's bookkeeping and registers it with the timers. */
int lb_power_sync_start(struct lb_engine *e);
/* Frees the bookkeeping; only once no sync job can run. */
void lb_power_sync_free(struct lb_engine *e);

/*
 * One read of the node's power through its BMC's slot, giving way
 * (-EAGAIN) when the BMC is busy; a state the driver cannot tell is an
 * error (-EIO).  -ENOENT for a node gone, the driver's checks' error.
 */
int lb_power_read(struct lb_engine *e, const char *uuid,
    enum lb_power_state *ret, struct lb_err *err);

/*
 * Runs on a worker: reads and records; 'unset' when the node had no power
 * state when listed, 'count' its failed syncs so far.  Returns the new
 * count (< 0: unchanged).
 */
typedef int (*lb_power_read_fn)(struct lb_engine *e, const char *uuid,
    bool unset, int count);
/*
 * On the timer thread: lists the nodes q matches (a page at a time) into
 * fn's round, those with no power action pending that skip() does not
 * leave out, and queues fn for them on the worker pool, one read per node
 * at a time and at most half the pool at once, each read that ends
 * queueing the next; logs "<what>: N of M nodes queued".  While fn's last
 * round still has nodes to read, it goes on instead.
 */
struct lb_node_query;
void lb_power_read_each(struct lb_engine *e, const struct lb_node_query *q,
    bool (*skip)(const struct lb_node *n), lb_power_read_fn fn,
    const char *what);

#endif
