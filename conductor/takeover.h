/*
 * takeover.h - a dead conductor's nodes go on under their new owners
 * (locks, interrupted transitions and power actions, consoles).  See
 * takeover.c for the threads.
 */
#ifndef LB_TAKEOVER_H
#define LB_TAKEOVER_H

#include "conductor/engine.h"

struct lb_takeover;

/* Adds the check to the timers (every heartbeat_interval).  Engine start. */
int lb_takeover_register(struct lb_engine *e);
/* Frees its bookkeeping (the timers have stopped).  Engine stop. */
void lb_takeover_free(struct lb_engine *e);

#endif
