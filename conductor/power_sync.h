/*
 * power_sync.h - the periodic power-state sync (power_sync.c).  Registered
 * at engine start; runs on the timer thread and the worker pool.
 */
#ifndef LB_POWER_SYNC_H
#define LB_POWER_SYNC_H

struct lb_engine;

/* Sets up the sync's bookkeeping and registers it with the timers. */
int lb_power_sync_start(struct lb_engine *e);
/* Frees the bookkeeping; only once no sync job can run. */
void lb_power_sync_free(struct lb_engine *e);

#endif
