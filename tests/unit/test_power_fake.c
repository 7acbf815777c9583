/*
 * test_power_fake.c - unit tests of power/power_fake.c: the test knobs
 * (fake_fail_rate, fake_delay with fake_delay_jitter, their validation) on
 * a clock that jumps instead of sleeping, and the machine table at 20,000
 * nodes.  Single-threaded cmocka runner.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "power/power_fake.h"
#include "conductor/util/banned.h"

/* A clock whose waits return at once, having moved time on. */
static double now_s = 1000;

static double
jump_monotonic(const struct lb_clock *c)
{
	(void)c;
	return now_s;
}

static int
jump_wait_for(const struct lb_clock *c, pthread_cond_t *cond,
    pthread_mutex_t *lock, double seconds)
{
	(void)c;
	(void)cond;
	(void)lock;
	now_s += seconds;
	return ETIMEDOUT;
}

static const struct lb_clock jump_clock = {
	.monotonic = jump_monotonic,
	.realtime = jump_monotonic,
	.wait_for = jump_wait_for,
};

struct call {
	json_t *info;
	struct lb_task task;
};

static void
call_init(struct call *c, const char *uuid, const char *info_json)
{
	json_error_t jerr;

	c->info = json_loads(info_json, 0, &jerr);
	assert_non_null(c->info);
	memset(&c->task, 0, sizeof(c->task));
	c->task.node_uuid = uuid;
	c->task.driver = "fake-hardware";
	c->task.driver_info = c->info;
}

static int
get_state(struct call *c, double *ret_took, struct lb_err *err)
{
	enum lb_power_state st = LB_POWER_UNKNOWN;
	double before = now_s;
	int r;

	memset(err, 0, sizeof(*err));
	r = lb_power_fake.get_state(&c->task, &st, err);
	if (ret_took != NULL)
		*ret_took = now_s - before;
	if (r == 0)
		assert_true(st == LB_POWER_ON || st == LB_POWER_OFF);
	return r;
}

/* How many of n get_state calls fail with the injected failure. */
static int
failures(const char *info_json, int n)
{
	struct call c;
	struct lb_err err;
	int failed = 0, r;

	call_init(&c, "6d2b4e8c-0000-4000-8000-000000000001", info_json);
	for (int i = 0; i < n; i++) {
		r = get_state(&c, NULL, &err);
		if (r == 0)
			continue;
		assert_int_equal(r, -EIO);
		assert_non_null(strstr(err.msg, "fake BMC: injected failure "
		    "(fake_fail_rate "));
		failed++;
	}
	json_decref(c.info);
	return failed;
}

static void
test_fail_rate(void **state)
{
	int half;

	(void)state;
	lb_power_fake_seed(14);
	assert_int_equal(failures("{}", 2000), 0);
	assert_int_equal(failures("{\"fake_fail_rate\": 0}", 2000), 0);
	assert_int_equal(failures("{\"fake_fail_rate\": 1}", 2000), 2000);
	assert_int_equal(failures("{\"fake_fail_rate\": \"1.0\"}", 500), 500);
	/* Binomial(10000, 0.5): sd 50, so +-500 is ten of them. */
	half = failures("{\"fake_fail_rate\": 0.5}", 10000);
	assert_in_range(half, 4500, 5500);
	half = failures("{\"fake_fail_rate\": \"0.25\"}", 10000);
	assert_in_range(half, 2000, 3000);
	/* The same seed gives the same sequence. */
	lb_power_fake_seed(7);
	half = failures("{\"fake_fail_rate\": 0.5}", 1000);
	lb_power_fake_seed(7);
	assert_int_equal(failures("{\"fake_fail_rate\": 0.5}", 1000), half);
}

static void
test_fake_fail_wins(void **state)
{
	struct call c;
	struct lb_err err;

	(void)state;
	call_init(&c, "6d2b4e8c-0000-4000-8000-000000000002",
	    "{\"fake_fail\": \"no route\", \"fake_fail_rate\": 0}");
	assert_int_equal(get_state(&c, NULL, &err), -EIO);
	assert_string_equal(err.msg, "fake BMC: no route");
	json_decref(c.info);
}

static void
test_jitter_bounds(void **state)
{
	struct call c;
	struct lb_err err;
	double took, lo = 1e9, hi = 0, sum = 0;
	const int n = 2000;

	(void)state;
	lb_power_fake_set_clock(&jump_clock);
	lb_power_fake_seed(3);
	call_init(&c, "6d2b4e8c-0000-4000-8000-000000000003",
	    "{\"fake_delay\": 2, \"fake_delay_jitter\": \"3\"}");
	for (int i = 0; i < n; i++) {
		assert_int_equal(get_state(&c, &took, &err), 0);
		assert_true(took >= 2.0 && took <= 5.0);
		lo = took < lo ? took : lo;
		hi = took > hi ? took : hi;
		sum += took;
	}
	/* Uniform over [2, 5]: spread over the range, mean 3.5. */
	assert_true(lo < 2.1 && hi > 4.9);
	assert_true(sum / n > 3.3 && sum / n < 3.7);
	json_decref(c.info);

	/* Without jitter every call takes fake_delay exactly. */
	call_init(&c, "6d2b4e8c-0000-4000-8000-000000000003",
	    "{\"fake_delay\": 0.25, \"fake_delay_jitter\": 0}");
	for (int i = 0; i < 100; i++) {
		assert_int_equal(get_state(&c, &took, &err), 0);
		assert_true(took == 0.25);
	}
	json_decref(c.info);
	/* Jitter alone: within [0, jitter]. */
	call_init(&c, "6d2b4e8c-0000-4000-8000-000000000003",
	    "{\"fake_delay_jitter\": 0.5}");
	for (int i = 0; i < 100; i++) {
		assert_int_equal(get_state(&c, &took, &err), 0);
		assert_true(took >= 0 && took <= 0.5);
	}
	json_decref(c.info);
	lb_power_fake_set_clock(NULL);
}

static const struct {
	const char *info;
	const char *msg;
} bad[] = {
	{ "{\"fake_fail_rate\": 1.5}", "Invalid value for fake_fail_rate: 1.5 "
	  "(a number from 0 to 1 is required)" },
	{ "{\"fake_fail_rate\": -0.1}", "Invalid value for fake_fail_rate: "
	  "-0.10000000000000001 (a number from 0 to 1 is required)" },
	{ "{\"fake_fail_rate\": \"half\"}", "Invalid value for fake_fail_rate: "
	  "\"half\" (a number from 0 to 1 is required)" },
	{ "{\"fake_fail_rate\": \"nan\"}", "Invalid value for fake_fail_rate: "
	  "\"nan\" (a number from 0 to 1 is required)" },
	{ "{\"fake_fail_rate\": true}", "Invalid value for fake_fail_rate: "
	  "true (a number from 0 to 1 is required)" },
	{ "{\"fake_delay\": -1}", "Invalid value for fake_delay: -1 (a number "
	  "of seconds, 0 or more, is required)" },
	{ "{\"fake_delay\": \"1s\"}", "Invalid value for fake_delay: \"1s\" (a "
	  "number of seconds, 0 or more, is required)" },
	{ "{\"fake_delay_jitter\": [1]}", "Invalid value for fake_delay_jitter:"
	  " [1] (a number of seconds, 0 or more, is required)" },
	{ "{\"fake_delay_jitter\": \"\"}", "Invalid value for "
	  "fake_delay_jitter: \"\" (a number of seconds, 0 or more, is "
	  "required)" },
	{ "{\"fake_fail\": 5}", "Invalid value for fake_fail: 5 (a string is "
	  "required)" },
	{ "{\"fake_bmc\": {}}", "Invalid value for fake_bmc: {} (a string is "
	  "required)" },
	{ "{\"fake_soft_off\": \"yes\"}", "Invalid value for fake_soft_off: "
	  "\"yes\" (only \"ignore\" is known)" },
};

static void
test_validation(void **state)
{
	struct lb_fake_knobs k;
	struct lb_err err;
	struct call c;
	double took;

	(void)state;
	lb_power_fake_set_clock(&jump_clock);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		call_init(&c, "6d2b4e8c-0000-4000-8000-000000000004",
		    bad[i].info);
		memset(&err, 0, sizeof(err));
		assert_int_equal(lb_power_fake.validate(&c.task, &err),
		    -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
		/* A call with bad knobs fails the same way, at once. */
		assert_int_equal(get_state(&c, &took, &err), -EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
		assert_true(took == 0);
		json_decref(c.info);
	}
	call_init(&c, "6d2b4e8c-0000-4000-8000-000000000004",
	    "{\"fake_delay\": \"0.5 \", \"fake_delay_jitter\": 1, "
	    "\"fake_fail_rate\": \"0\", \"fake_bmc\": \"r1\", "
	    "\"fake_fail\": null, \"fake_soft_off\": \"ignore\"}");
	assert_int_equal(lb_power_fake_parse(c.info, &k, &err), 0);
	assert_true(k.delay == 0.5 && k.delay_jitter == 1 &&
	    k.fail_rate == 0);
	assert_string_equal(k.bmc, "r1");
	assert_null(k.fail);
	assert_true(k.soft_off_ignore);
	json_decref(c.info);
	lb_power_fake_set_clock(NULL);
}

static void
test_properties_documented(void **state)
{
	static const char *const keys[] = { "fake_bmc", "fake_fail",
	    "fake_fail_rate", "fake_delay", "fake_delay_jitter",
	    "fake_soft_off" };
	size_t n = 0;

	(void)state;
	for (; lb_fake_properties[n].name != NULL; n++) {
		assert_string_equal(lb_fake_properties[n].name, keys[n]);
		assert_non_null(strstr(lb_fake_properties[n].doc, "Test aid"));
	}
	assert_int_equal(n, sizeof(keys) / sizeof(keys[0]));
}

static void
test_many_machines(void **state)
{
	enum { N = 20000 };
	static char uuids[N][40];
	size_t before = lb_power_fake_machines();
	enum lb_power_state st;
	enum lb_boot_device dev;
	struct lb_task task = { .driver = "fake-hardware" };
	struct lb_err err;
	bool persistent;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(uuids[i], sizeof(uuids[i]),
		    "00000000-0000-4000-8000-%012d", i);
		task.node_uuid = uuids[i];
		assert_int_equal(lb_power_fake.set_state(&task, i % 3 ?
		    LB_POWER_ACTION_ON : LB_POWER_ACTION_OFF, 10, &err), 0);
		assert_int_equal(lb_management_fake.set_boot_device(&task,
		    i % 2 ? LB_BOOT_DEV_PXE : LB_BOOT_DEV_CDROM, i % 5 == 0,
		    LB_BOOT_MODE_UNSET, &err), 0);
	}
	assert_int_equal(lb_power_fake_machines(), before + N);
	/* Every machine kept its own state through the table's growth. */
	for (int i = N - 1; i >= 0; i--) {
		task.node_uuid = uuids[i];
		assert_int_equal(lb_power_fake.get_state(&task, &st, &err), 0);
		assert_int_equal(st, i % 3 ? LB_POWER_ON : LB_POWER_OFF);
		assert_int_equal(lb_management_fake.get_boot_device(&task,
		    &dev, &persistent, &err), 0);
		assert_int_equal(dev, i % 2 ? LB_BOOT_DEV_PXE :
		    LB_BOOT_DEV_CDROM);
		assert_int_equal(persistent, i % 5 == 0);
	}
	assert_int_equal(lb_power_fake_machines(), before + N);
	/* A new node starts off, booting from disk. */
	task.node_uuid = "ffffffff-0000-4000-8000-000000000000";
	assert_int_equal(lb_power_fake.get_state(&task, &st, &err), 0);
	assert_int_equal(st, LB_POWER_OFF);
	assert_int_equal(lb_power_fake_machines(), before + N + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_rate),
		cmocka_unit_test(test_fake_fail_wins),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_properties_documented),
		cmocka_unit_test(test_many_machines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
