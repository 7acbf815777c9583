/*
 * timers.h - one deadline heap and the thread that fires it: the periodic
 * tasks of the engine (power sync, callback timeouts) register here with
 * their interval and run on the timer thread, or, with manual timers, on
 * whichever thread calls lb_timers_run_due().  Times are on the clock the
 * timers are given.  Thread-safe.
 */
#ifndef LB_TIMERS_H
#define LB_TIMERS_H

#include <pthread.h>
#include <stdbool.h>

#include "conductor/util/clock.h"
#include "conductor/util/err.h"
#include "conductor/util/heap.h"

struct lb_periodic;

struct lb_timers {
	const struct lb_clock *clock;
	bool manual;			/* no thread: lb_timers_run_due() */
	pthread_t thread;
	bool started;
	bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct lb_heap heap;
	struct lb_periodic *periodic;	/* what lb_timers_add() made */
};

void lb_timers_init(struct lb_timers *t, const struct lb_clock *clock,
    bool manual);
/*
 * Registers fn(arg) to run every 'interval' seconds, the first time one
 * interval from now; after each run it is re-armed at now + interval.
 * 0 or -ENOMEM; an interval <= 0 registers nothing.
 */
int lb_timers_add(struct lb_timers *t, double interval, void (*fn)(void *),
    void *arg);
/* Starts the timer thread (not with manual timers). */
int lb_timers_start(struct lb_timers *t, struct lb_err *err);
/* Runs, on this thread, everything due at or before the clock's now. */
void lb_timers_run_due(struct lb_timers *t);
/* Stops the thread and frees what was registered. */
void lb_timers_release(struct lb_timers *t);

#endif
