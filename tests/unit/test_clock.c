/*
 * test_clock.c - timed waits run on CLOCK_MONOTONIC: with the wall clock
 * an hour ahead of the kernel's (clock_gettime wrapped at link time, as if
 * NTP stepped the clock back while a wait was being armed), a condition
 * variable wait and the per-BMC limiter's spacing still take their real
 * time.  Single-threaded but for the waits themselves.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "conductor/util/bmclimit.h"
#include "conductor/util/clock.h"

#include "conductor/util/banned.h"

#define WALL_SKEW 3600		/* seconds the wall clock is ahead */

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);

int
__wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	int r = __real_clock_gettime(id, ts);

	if (r == 0 && id == CLOCK_REALTIME)
		ts->tv_sec += WALL_SKEW;
	return r;
}

static double
now(void)
{
	struct timespec ts;

	__real_clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_cond_wait_for(void **state)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	double t0, took;
	int r;

	(void)state;
	assert_int_equal(lb_cond_init_monotonic(&cond), 0);
	pthread_mutex_lock(&lock);
	t0 = now();
	do {
		r = lb_cond_wait_for(&cond, &lock, 0.2 - (now() - t0));
	} while (r == 0);
	took = now() - t0;
	pthread_mutex_unlock(&lock);
	assert_int_equal(r, ETIMEDOUT);
	assert_true(took >= 0.19);
	assert_true(took < 3.0);
	pthread_cond_destroy(&cond);
}

/* A BMC's next call waits its min_command_interval, not that plus an hour. */
static void
test_bmc_spacing_ignores_wall_clock(void **state)
{
	struct lb_bmc_limit l;
	struct lb_bmc_policy ipmi = { 1, 0.3 };
	double t0, took;

	(void)state;
	lb_bmc_limit_init(&l);
	assert_int_equal(lb_bmc_limit_acquire(&l, "ipmi:x", &ipmi,
	    &lb_clock_system, lb_monotonic() + 5), 0);
	lb_bmc_limit_done(&l, "ipmi:x", lb_monotonic());
	t0 = now();
	assert_int_equal(lb_bmc_limit_acquire(&l, "ipmi:x", &ipmi,
	    &lb_clock_system, lb_monotonic() + 5), 0);
	took = now() - t0;
	assert_true(took >= 0.25);
	assert_true(took < 3.0);
	lb_bmc_limit_done(&l, "ipmi:x", lb_monotonic());
	lb_bmc_limit_release_all(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cond_wait_for),
		cmocka_unit_test(test_bmc_spacing_ignores_wall_clock),
	};

	/* A wait on the wall clock would last an hour: fail instead. */
	alarm(30);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
