/*
 * stop.h - the process-wide "a graceful stop began" flag, and a sleep that
 * it cuts short: the long waits inside jobs (a soft power-off, a power
 * state poll) end early at these safe points instead of holding the stop
 * to graceful_shutdown_timeout.  Any thread.
 */
#ifndef LB_STOP_H
#define LB_STOP_H

#include <stdbool.h>

#include "conductor/util/clock.h"

/* Sets the flag and wakes every lb_stop_sleep(); the main thread. */
void lb_stop_request(void);
bool lb_stop_requested(void);
/* Sleeps 'seconds' of clock 'c'; -ECANCELED at once when a stop began or
 * begins meanwhile, else 0. */
int lb_stop_sleep(const struct lb_clock *c, double seconds);

#endif
