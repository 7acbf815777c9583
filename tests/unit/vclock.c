/*
 * vclock.c - the virtual clock (see vclock.h).  Any thread.  A wait gives
 * a signal up to 20 ms of real time (LB_VCLOCK_GRACE_MS) to arrive; when
 * none does, virtual time jumps to the waiter's deadline and the wait
 * times out.
 */
#include "vclock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Real time a waiter gives a signal before its virtual deadline passes. */
#define VCLOCK_GRACE_MS 20

static struct vclock *
of(const struct lb_clock *c)
{
	return c->arg;
}

double
vclock_now(struct vclock *vc)
{
	double t;

	pthread_mutex_lock(&vc->lock);
	t = vc->mono;
	pthread_mutex_unlock(&vc->lock);
	return t;
}

double
vclock_realtime(struct vclock *vc)
{
	double t;

	pthread_mutex_lock(&vc->lock);
	t = vc->mono + vc->real_offset;
	pthread_mutex_unlock(&vc->lock);
	return t;
}

/* Moves time to 'when' unless it is already later. */
static void
advance_to(struct vclock *vc, double when)
{
	pthread_mutex_lock(&vc->lock);
	if (when > vc->mono)
		vc->mono = when;
	pthread_mutex_unlock(&vc->lock);
}

void
vclock_advance(struct vclock *vc, double seconds)
{
	pthread_mutex_lock(&vc->lock);
	if (seconds > 0)
		vc->mono += seconds;
	pthread_mutex_unlock(&vc->lock);
}

static double
v_monotonic(const struct lb_clock *c)
{
	return vclock_now(of(c));
}

static double
v_realtime(const struct lb_clock *c)
{
	return vclock_realtime(of(c));
}

static int
v_wait_for(const struct lb_clock *c, pthread_cond_t *cond,
    pthread_mutex_t *lock, double seconds)
{
	struct vclock *vc = of(c);
	double deadline = vclock_now(vc) + (seconds > 0 ? seconds : 0);
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += vc->grace_ns;
	while (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	r = pthread_cond_timedwait(cond, lock, &ts);
	if (r != ETIMEDOUT)
		return 0;
	advance_to(vc, deadline);
	return ETIMEDOUT;
}

void
vclock_init(struct vclock *vc, double mono, double realtime)
{
	memset(vc, 0, sizeof(*vc));
	pthread_mutex_init(&vc->lock, NULL);
	vc->mono = mono;
	vc->real_offset = realtime - mono;
	vc->grace_ns = VCLOCK_GRACE_MS * 1000000L;
	if (getenv("LB_VCLOCK_GRACE_MS") != NULL &&
	    strtol(getenv("LB_VCLOCK_GRACE_MS"), NULL, 10) > 0)
		vc->grace_ns = strtol(getenv("LB_VCLOCK_GRACE_MS"), NULL, 10) *
		    1000000L;
	vc->clock.monotonic = v_monotonic;
	vc->clock.realtime = v_realtime;
	vc->clock.wait_for = v_wait_for;
	vc->clock.arg = vc;
}

void
vclock_release(struct vclock *vc)
{
	pthread_mutex_destroy(&vc->lock);
}
