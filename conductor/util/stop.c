/*
 * stop.c - the process-wide graceful-stop flag (see stop.h): set once by
 * the main thread, read and slept on by worker threads.
 */
#include "conductor/util/stop.h"

#include <errno.h>
#include <pthread.h>

#include "conductor/util/banned.h"

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond;
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;
static bool stop_flag;

static void
stop_init(void)
{
	lb_cond_init_monotonic(&stop_cond);
}

void
lb_stop_request(void)
{
	pthread_once(&stop_once, stop_init);
	pthread_mutex_lock(&stop_lock);
	__atomic_store_n(&stop_flag, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&stop_lock);
}

bool
lb_stop_requested(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE);
}

int
lb_stop_sleep(const struct lb_clock *c, double seconds)
{
	double end = c->monotonic(c) + seconds, left;
	int r = 0;

	pthread_once(&stop_once, stop_init);
	pthread_mutex_lock(&stop_lock);
	while (!(stop_flag) && (left = end - c->monotonic(c)) > 0)
		c->wait_for(c, &stop_cond, &stop_lock, left);
	if (stop_flag)
		r = -ECANCELED;
	pthread_mutex_unlock(&stop_lock);
	return r;
}
