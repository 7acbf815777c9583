/*
 * test_vclock.c - the tests' virtual clock: time stands still until
 * advanced, an unsignalled wait moves it to the waiter's deadline (never
 * back), a signalled wait returns at once without moving it.  Test thread
 * plus one signalling thread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "vclock.h"

static void
test_time_moves_only_when_advanced(void **state)
{
	struct vclock vc;
	const struct lb_clock *c = &vc.clock;

	(void)state;
	vclock_init(&vc, 100, 1700000000);
	assert_true(c->monotonic(c) == 100);
	usleep(30000);
	assert_true(c->monotonic(c) == 100);
	assert_true(c->realtime(c) == 1700000000);
	vclock_advance(&vc, 61.5);
	assert_true(c->monotonic(c) == 161.5);
	assert_true(c->realtime(c) == 1700000061.5);
	vclock_advance(&vc, -5);	/* never backwards */
	assert_true(c->monotonic(c) == 161.5);
	vclock_release(&vc);
}

static void
test_unsignalled_wait_jumps_to_its_deadline(void **state)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	struct vclock vc;
	const struct lb_clock *c = &vc.clock;
	double t0 = lb_monotonic();

	(void)state;
	lb_cond_init_monotonic(&cond);
	vclock_init(&vc, 0, 1700000000);
	vc.grace_ns = 20000000L;	/* whatever LB_VCLOCK_GRACE_MS says */
	pthread_mutex_lock(&lock);
	assert_int_equal(c->wait_for(c, &cond, &lock, 3600), ETIMEDOUT);
	assert_true(c->monotonic(c) == 3600);
	assert_true(c->realtime(c) == 1700003600);
	/* Another thread moved time past this waiter's deadline meanwhile:
	 * the wait times out without moving it back. */
	vclock_advance(&vc, 100);
	assert_int_equal(c->wait_for(c, &cond, &lock, 0), ETIMEDOUT);
	assert_true(c->monotonic(c) == 3700);
	pthread_mutex_unlock(&lock);
	/* An hour of virtual time took well under a second of real time. */
	assert_true(lb_monotonic() - t0 < 1.0);
	pthread_cond_destroy(&cond);
	vclock_release(&vc);
}

struct signaller {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int flag;
};

static void *
signal_main(void *arg)
{
	struct signaller *s = arg;

	pthread_mutex_lock(&s->lock);
	s->flag = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* One wait that another thread signals; its result and the time after. */
static int
signalled_wait(double *after)
{
	struct signaller s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct vclock vc;
	const struct lb_clock *c = &vc.clock;
	pthread_t t;
	int r;

	lb_cond_init_monotonic(&s.cond);
	vclock_init(&vc, 5, 1700000000);
	pthread_mutex_lock(&s.lock);
	assert_int_equal(pthread_create(&t, NULL, signal_main, &s), 0);
	/* The lock is held until the wait: the signal comes during it. */
	r = c->wait_for(c, &s.cond, &s.lock, 3600);
	pthread_mutex_unlock(&s.lock);
	pthread_join(t, NULL);
	*after = c->monotonic(c);
	pthread_cond_destroy(&s.cond);
	vclock_release(&vc);
	return r;
}

static void
test_signalled_wait_leaves_time_alone(void **state)
{
	double after = 0;
	int r = ETIMEDOUT;

	(void)state;
	/* The signaller has 20 ms of real time; on a loaded machine a try
	 * may miss it (and then the time jumps, as it should). */
	for (int i = 0; i < 20 && r != 0; i++) {
		r = signalled_wait(&after);
		assert_true(after == (r == 0 ? 5 : 3605));
	}
	assert_int_equal(r, 0);
	assert_true(after == 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_moves_only_when_advanced),
		cmocka_unit_test(test_unsignalled_wait_jumps_to_its_deadline),
		cmocka_unit_test(test_signalled_wait_leaves_time_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
