/*
 * test_timing.c - the deadline heap and the per-BMC limiter, with time
 * given to them directly (nothing sleeps), and the worker pool's admission.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conductor/pool.h"
#include "conductor/util/bmclimit.h"
#include "conductor/util/heap.h"

static void
nop(void *arg)
{
	(void)arg;
}

static void
test_heap_order(void **state)
{
	struct lb_heap h;
	struct lb_deadline d;
	double last = -1;
	int tags[200];

	(void)state;
	lb_heap_init(&h);
	srand(7);
	for (int i = 0; i < 200; i++) {
		tags[i] = i;
		assert_int_equal(lb_heap_push(&h, rand() % 50, nop, &tags[i]),
		    0);
	}
	assert_int_equal(h.n, 200);
	for (int i = 0; i < 200; i++) {
		const struct lb_deadline *peek = lb_heap_peek(&h);

		assert_non_null(peek);
		assert_int_equal(lb_heap_pop(&h, &d), 0);
		assert_true(d.when >= last);
		last = d.when;
	}
	assert_null(lb_heap_peek(&h));
	assert_int_equal(lb_heap_pop(&h, &d), -ENOENT);
	lb_heap_release(&h);
}

static void
test_heap_ties_keep_insertion_order(void **state)
{
	struct lb_heap h;
	struct lb_deadline d;
	int a = 1, b = 2, c = 3;

	(void)state;
	lb_heap_init(&h);
	lb_heap_push(&h, 5, nop, &a);
	lb_heap_push(&h, 5, nop, &b);
	lb_heap_push(&h, 1, nop, &c);
	lb_heap_pop(&h, &d);
	assert_ptr_equal(d.arg, &c);
	lb_heap_pop(&h, &d);
	assert_ptr_equal(d.arg, &a);
	lb_heap_pop(&h, &d);
	assert_ptr_equal(d.arg, &b);
	lb_heap_release(&h);
}

static void
test_bmc_spacing_and_concurrency(void **state)
{
	struct lb_bmc_limit l;
	struct lb_bmc_policy ipmi = { 1, 5.0 }, fast = { 2, 0 };

	(void)state;
	lb_bmc_limit_init(&l);
	/* First call goes at once; a second one waits for the first. */
	assert_true(lb_bmc_limit_try(&l, "ipmi:a", &ipmi, 100.0) == 0);
	assert_true(lb_bmc_limit_try(&l, "ipmi:a", &ipmi, 100.5) > 0);
	/* Another BMC is not held up. */
	assert_true(lb_bmc_limit_try(&l, "ipmi:b", &ipmi, 100.5) == 0);
	lb_bmc_limit_done(&l, "ipmi:a", 101.0);
	/* Spaced 5 s from the end of the last call. */
	assert_true(lb_bmc_limit_try(&l, "ipmi:a", &ipmi, 103.0) == 3.0);
	assert_true(lb_bmc_limit_try(&l, "ipmi:a", &ipmi, 106.0) == 0);
	lb_bmc_limit_done(&l, "ipmi:a", 106.0);
	/* Two at once where the policy allows, not three. */
	assert_true(lb_bmc_limit_try(&l, "rf:x", &fast, 1.0) == 0);
	assert_true(lb_bmc_limit_try(&l, "rf:x", &fast, 1.0) == 0);
	assert_true(lb_bmc_limit_try(&l, "rf:x", &fast, 1.0) > 0);
	lb_bmc_limit_done(&l, "rf:x", 1.0);
	assert_true(lb_bmc_limit_try(&l, "rf:x", &fast, 1.0) == 0);
	lb_bmc_limit_release_all(&l);
}

/* What is in flight, per BMC and over all (bench/scale's debug lines). */
static void
test_bmc_inflight_counts(void **state)
{
	struct lb_bmc_limit l;
	struct lb_bmc_policy two = { 2, 0 };
	int all = -1;

	(void)state;
	lb_bmc_limit_init(&l);
	assert_int_equal(lb_bmc_limit_inflight(&l, "a", &all), 0);
	assert_int_equal(all, 0);
	assert_true(lb_bmc_limit_try(&l, "a", &two, 1.0) == 0);
	assert_true(lb_bmc_limit_try(&l, "a", &two, 1.0) == 0);
	assert_true(lb_bmc_limit_try(&l, "a", &two, 1.0) > 0);
	assert_true(lb_bmc_limit_try(&l, "b", &two, 1.0) == 0);
	assert_int_equal(lb_bmc_limit_inflight(&l, "a", &all), 2);
	assert_int_equal(all, 3);
	lb_bmc_limit_done(&l, "a", 2.0);
	lb_bmc_limit_done(&l, "nobody", 2.0);	/* never taken: no change */
	assert_int_equal(lb_bmc_limit_inflight(&l, "b", &all), 1);
	assert_int_equal(all, 2);
	lb_bmc_limit_release_all(&l);
}

static void
test_bmc_acquire_times_out(void **state)
{
	struct lb_bmc_limit l;
	struct lb_bmc_policy one = { 1, 0 };

	(void)state;
	lb_bmc_limit_init(&l);
	assert_int_equal(lb_bmc_limit_acquire(&l, "k", &one, &lb_clock_system,
	    lb_monotonic() + 1), 0);
	/* Held: a second acquire with a deadline already due fails. */
	assert_int_equal(lb_bmc_limit_acquire(&l, "k", &one, &lb_clock_system,
	    lb_monotonic()), -ETIMEDOUT);
	lb_bmc_limit_done(&l, "k", lb_monotonic());
	assert_int_equal(lb_bmc_limit_acquire(&l, "k", &one, &lb_clock_system,
	    lb_monotonic()), 0);
	lb_bmc_limit_release_all(&l);
}

static void
test_pool_admission(void **state)
{
	struct lb_pool p;

	(void)state;
	assert_int_equal(lb_pool_start(&p, 1, 3), 0);
	assert_int_equal(lb_pool_reserve(&p, 0), 0);
	/* Periodic work keeps a margin free for requests. */
	assert_int_equal(lb_pool_reserve(&p, 2), -EAGAIN);
	assert_int_equal(lb_pool_reserve(&p, 0), 0);
	assert_int_equal(lb_pool_reserve(&p, 0), 0);
	assert_int_equal(lb_pool_reserve(&p, 0), -EAGAIN);
	lb_pool_unreserve(&p);
	assert_int_equal(lb_pool_reserve(&p, 0), 0);
	lb_pool_unreserve(&p);
	lb_pool_unreserve(&p);
	lb_pool_unreserve(&p);
	lb_pool_stop(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_order),
		cmocka_unit_test(test_heap_ties_keep_insertion_order),
		cmocka_unit_test(test_bmc_spacing_and_concurrency),
		cmocka_unit_test(test_bmc_inflight_counts),
		cmocka_unit_test(test_bmc_acquire_times_out),
		cmocka_unit_test(test_pool_admission),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
