/*
 * notify.h - lifeboatd's side of systemd's notify protocol: READY=1,
 * STATUS=, STOPPING=1, and WATCHDOG=1 from a watchdog thread while the
 * engine is healthy.  Without NOTIFY_SOCKET (not under systemd) every
 * call does nothing.  The main thread calls these.
 */
#ifndef LB_NOTIFY_H
#define LB_NOTIFY_H

#include "conductor/engine.h"

struct lb_watchdog;

/* READY=1 with a STATUS= line: call once the API listens. */
void lb_notify_ready(const char *status);
/* STOPPING=1 with a STATUS= line. */
void lb_notify_stopping(const char *status);
void lb_notify_status(const char *status);

/*
 * When systemd asked for a watchdog (WATCHDOG_USEC, sd_watchdog_enabled),
 * starts a thread that sends WATCHDOG=1 every half interval for as long
 * as lb_engine_health() passes, and logs when it stops and resumes.
 * *ret is NULL when no watchdog is wanted.  0, or -errno.
 */
int lb_watchdog_start(struct lb_engine *e, struct lb_watchdog **ret);
/* Stops and frees the thread; NULL does nothing. */
void lb_watchdog_stop(struct lb_watchdog *w);

#endif
