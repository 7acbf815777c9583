/*
 * conductor_row.h - this conductor's row in the store's conductors table
 * (register, heartbeat, offline).  See conductor_row.c for the threads;
 * ring.h says which conductor manages a node.
 */
#ifndef LB_CONDUCTOR_ROW_H
#define LB_CONDUCTOR_ROW_H

#include "conductor/engine.h"
#include "conductor/node.h"
#include "conductor/util/err.h"

/*
 * Registers [DEFAULT] host with the enabled hardware types (taking over
 * a row an earlier run left, as Ironic does) and adds the heartbeat to the
 * engine's timers.  Engine start, before the timers run.
 */
int lb_conductor_row_register(struct lb_engine *e, struct lb_err *err);
/* The row goes offline (a graceful stop; the timers have stopped). */
void lb_conductor_row_offline(struct lb_engine *e);
#endif
