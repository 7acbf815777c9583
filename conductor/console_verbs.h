/*
 * console_verbs.h - the node console (contract wave 2, section 1): the
 * console verbs of the API, the enable and disable job, consoles started
 * again when lifeboatd starts, and the console's part in a rescue (the
 * capture, and its last lines in last_error).  API threads for the verbs,
 * worker threads for the jobs and the rescue hooks, the starting thread
 * for lb_console_restore().
 */
#ifndef LB_CONSOLE_VERBS_H
#define LB_CONSOLE_VERBS_H

#include <jansson.h>
#include <stdbool.h>

#include "conductor/util/err.h"

struct lb_engine;
struct lb_finish;
struct lb_node;
struct lb_node_task;

/*
 * PUT /v1/nodes/{ident}/states/console: 'body' (NULL when empty) or the
 * query's 'enabled' (NULL when absent) says what to do.  Checks in
 * Ironic's order, then queues the job (or does nothing when the console
 * already is as asked).  0: answer 202.
 */
int lb_engine_console_set(struct lb_engine *e, const char *ident,
    const json_t *body, const char *query_enabled, struct lb_err *err);

/* GET .../states/console: {"console_enabled": .., "console_info": ..}. */
int lb_engine_console_get(struct lb_engine *e, const char *ident,
    json_t **ret, struct lb_err *err);

/*
 * At start-up, once the pool runs: every node whose console was enabled
 * gets it started again (Ironic's words in last_error, and the console
 * disabled, when that fails), and a node waiting for its rescue ramdisk
 * has its console capture resumed.
 */
void lb_console_restore(struct lb_engine *e);
/*
 * The same for the nodes pick() chooses among them, and with take_over
 * (the nodes of a dead conductor, on the timer thread) every one in
 * rescue wait too, whose rescue interface first stages its ramdisk again
 * here (lb_task_rescue_take_over).
 */
typedef bool (*lb_console_pick_fn)(struct lb_engine *e,
    const struct lb_node *node, void *arg);
/* Told of each node picked but locked (by a clean-up): to try again. */
typedef void (*lb_console_busy_fn)(struct lb_engine *e, const char *uuid,
    void *arg);
void lb_console_take_over(struct lb_engine *e, lb_console_pick_fn pick,
    void *arg, bool take_over, lb_console_busy_fn busy);

/*
 * The rescue's hooks.  capture_begin starts recording the node's console
 * (when its interface can and [console] capture_during_rescue is on; a
 * failure is only logged: it never fails the rescue).  capture_end stops
 * it.  error_tail puts the log's last lines under f's error (or under the
 * node's last_error, when the job keeps it).
 */
void lb_console_capture_begin(struct lb_node_task *t, bool resume);
void lb_console_capture_end(struct lb_node_task *t);
void lb_console_error_tail(struct lb_node_task *t, struct lb_finish *f);
/*
 * "Last lines of the node's console:\n..." from the node's capture log
 * ([console] capture_error_lines of them), malloc'd; NULL when there is
 * nothing to say.  Any thread; reads a file.
 */
char *lb_console_failure_tail(struct lb_engine *e, const struct lb_node *node);

/*
 * Node 'uuid', whose console interface was 'iface', is deleted: its
 * console is stopped and its capture log removed (nothing to fail: the
 * delete is done, as Ironic's goes on whatever stop_console says).
 */
void lb_console_forget(struct lb_engine *e, const char *uuid,
    const char *iface);

#endif
