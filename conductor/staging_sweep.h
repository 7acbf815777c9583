/*
 * staging_sweep.h - the boot files of nodes no rescue needs any more,
 * removed from this conductor's roots.  See staging_sweep.c.
 */
#ifndef LB_STAGING_SWEEP_H
#define LB_STAGING_SWEEP_H

#include "conductor/engine.h"

/*
 * Adds the sweep to the timers (every [conductor]
 * check_rescue_state_interval).  Engine start.
 */
int lb_staging_sweep_register(struct lb_engine *e);

#endif
