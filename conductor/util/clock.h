/*
 * clock.h - the one clock lifeboat measures and waits with: CLOCK_MONOTONIC,
 * so that setting the wall clock (NTP stepping it, an operator's `date -s`)
 * neither stretches nor cuts a wait.  Any thread.
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

#endif
