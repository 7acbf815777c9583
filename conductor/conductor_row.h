/*
 * conductor_row.h - this conductor's row in the store's conductors table
 * (register, heartbeat, offline) and the node's conductor as Ironic's hash
 * ring would name it with this conductor the only one.  See conductor_row.c
 * for the threads.
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
/*
 * The host that manages the node now: this one while its heartbeat is
 * within [conductor] heartbeat_timeout and the node's driver is enabled
 * here in the default conductor group; NULL otherwise.  Any thread.
 */
const char *lb_conductor_of(const struct lb_engine *e,
    const struct lb_node *node);

#endif
