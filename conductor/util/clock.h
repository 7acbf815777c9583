/*
 * clock.h - the one clock lifeboat measures and waits with: CLOCK_MONOTONIC,
 * so that setting the wall clock (NTP stepping it, an operator's `date -s`)
 * neither stretches nor cuts a wait.  The engine reads time through a
 * struct lb_clock, so tests can hand it a virtual one.  Any thread.
 */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

#include <pthread.h>

/* Seconds on CLOCK_MONOTONIC. */
double lb_monotonic(void);

/* pthread_cond_init() for a condition variable that times out on
 * CLOCK_MONOTONIC; every timed wait in lifeboat uses one. */
int lb_cond_init_monotonic(pthread_cond_t *cond);

/*
 * Waits on 'cond' (made by lb_cond_init_monotonic(), 'lock' held) for at
 * most 'seconds'.  Returns pthread_cond_timedwait()'s result.
 */
int lb_cond_wait_for(pthread_cond_t *cond, pthread_mutex_t *lock,
    double seconds);

/* A source of time and timed waits (the engine's; tests pass their own). */
struct lb_clock {
	/* Seconds on a monotonic clock. */
	double (*monotonic)(const struct lb_clock *c);
	/* Seconds since the epoch (the wall clock: provision_updated_at
	 * and the other stored times compare with this). */
	double (*realtime)(const struct lb_clock *c);
	/*
	 * Waits on 'cond' ('lock' held; cond made by
	 * lb_cond_init_monotonic) for at most 'seconds' of this clock's
	 * time.  Returns 0 when signalled, ETIMEDOUT at the deadline.
	 */
	int (*wait_for)(const struct lb_clock *c, pthread_cond_t *cond,
	    pthread_mutex_t *lock, double seconds);
	void *arg;
};

/* CLOCK_MONOTONIC, CLOCK_REALTIME, lb_cond_wait_for(). */
extern const struct lb_clock lb_clock_system;

#endif
