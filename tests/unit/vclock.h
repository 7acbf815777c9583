/*
 * vclock.h - a virtual clock for tests (struct lb_clock): time moves only
 * when the test calls vclock_advance() or when a waiter's wait expires, so
 * timeouts of minutes pass in milliseconds and in a fixed order.
 * Thread-safe: the test thread advances, engine threads read and wait.
 */
#ifndef LB_TEST_VCLOCK_H
#define LB_TEST_VCLOCK_H

#include <pthread.h>

#include "conductor/util/clock.h"

struct vclock {
	struct lb_clock clock;	/* pass &vc->clock to the code under test */
	pthread_mutex_t lock;
	double mono;		/* virtual CLOCK_MONOTONIC */
	double real_offset;	/* realtime = mono + real_offset */
	long grace_ns;		/* real time a waiter gives a signal */
};

/*
 * Starts at monotonic 'mono' and realtime 'realtime' (seconds).  A waiter
 * gives a signal 20 ms of real time, or LB_VCLOCK_GRACE_MS when set (the
 * valgrind setup sets more: threads there wake far slower).
 */
void vclock_init(struct vclock *vc, double mono, double realtime);
void vclock_release(struct vclock *vc);
/* Moves both clocks forward by 'seconds' (>= 0). */
void vclock_advance(struct vclock *vc, double seconds);
/* The virtual monotonic and realtime seconds now. */
double vclock_now(struct vclock *vc);
double vclock_realtime(struct vclock *vc);

#endif
