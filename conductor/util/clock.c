/*
 * clock.c - monotonic time and timed waits on it (see clock.h).  Any thread.
 */
#include <math.h>
#include <time.h>

#include "conductor/util/clock.h"

#include "conductor/util/banned.h"

double
lb_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
lb_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int r;

	r = pthread_condattr_init(&attr);
	if (r != 0)
		return r;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return r;
}

int
lb_cond_wait_for(pthread_cond_t *cond, pthread_mutex_t *lock,
    double seconds)
{
	struct timespec ts;
	double whole;

	if (!(seconds > 0))
		seconds = 0;
	if (seconds > 86400.0 * 365)
		seconds = 86400.0 * 365;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(modf(seconds, &whole) * 1e9);
	ts.tv_sec += (time_t)whole;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(cond, lock, &ts);
}

static double
system_monotonic(const struct lb_clock *c)
{
	(void)c;
	return lb_monotonic();
}

static double
system_realtime(const struct lb_clock *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
system_wait_for(const struct lb_clock *c, pthread_cond_t *cond,
    pthread_mutex_t *lock, double seconds)
{
	(void)c;
	return lb_cond_wait_for(cond, lock, seconds);
}

const struct lb_clock lb_clock_system = {
	.monotonic = system_monotonic,
	.realtime = system_realtime,
	.wait_for = system_wait_for,
};
