/*
 * history.h - node history (Ironic's node_history, API 1.78): what the
 * flows, the API and the periodic tasks call to record an event, the
 * request's user they carry to the jobs, and the purge timer.  Any thread.
 */
#ifndef LB_HISTORY_H
#define LB_HISTORY_H

#include <stdbool.h>

struct lb_engine;

/* Longest event text recorded (a longer one is cut). */
#define LB_HISTORY_EVENT_MAX 8192
/* Longest user name carried. */
#define LB_HISTORY_USER_MAX 128

enum lb_history_severity {
	LB_HISTORY_INFO,
	LB_HISTORY_ERROR,
};

/*
 * Records one event of node 'uuid' (nothing when [conductor] node_history
 * is false): 'event_type' as Ironic names it ("rescue", "console", ...;
 * NULL: "UNKNOWN"), 'user' the request's user or NULL.  A failure to
 * write is a warning in the log, never the caller's failure.
 */
void lb_history_record(struct lb_engine *e, const char *uuid,
    enum lb_history_severity severity, const char *event_type,
    const char *user, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * The user of the API request this thread serves (the API sets it around
 * each handler, NULL after): jobs made on this thread take a copy.
 */
void lb_history_user_set(const char *user);
const char *lb_history_user(void);

/* Registers the purge every [conductor] node_history_cleanup_interval. */
int lb_history_register(struct lb_engine *e);
/* One purge now (the timer's body); the rows deleted or negative errno. */
int lb_history_purge_now(struct lb_engine *e);

#endif
