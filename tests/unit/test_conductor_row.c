/*
 * test_conductor_row.c - this conductor's row, in virtual time: the engine
 * registers it at start, the heartbeat (a periodic timer) touches it, the
 * node's conductor is this host only while the last heartbeat is within
 * [conductor] heartbeat_timeout, and a stop marks the row offline.  A real
 * SQLite store, the virtual clock (vclock.h), manual timers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine_store.h"
#include "conductor/conductor_row.h"
#include "conductor/engine.h"
#include "vclock.h"

struct fixture {
	char dir[64];
	struct lb_config cfg;
	struct lb_store *store;
	struct lb_engine *engine;
	struct vclock vc;
};

static void
start(struct fixture *f)
{
	test_engine_start(&f->cfg, f->store, &f->vc.clock, &f->engine);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_store_open("lb-crow", f->dir, &f->cfg, &f->store);
	f->cfg.workers_pool_size = 2;
	f->cfg.heartbeat_interval = 10;
	f->cfg.heartbeat_timeout = 30;
	vclock_init(&f->vc, 1000.0, 1767225600.0);
	start(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	lb_engine_stop(f->engine);
	vclock_release(&f->vc);
	test_store_remove(f->dir, &f->cfg, f->store);
	free(f);
	return 0;
}

static void
row(struct fixture *f, struct lb_conductor *c)
{
	struct lb_err err = { "" };

	assert_int_equal(lb_store_conductor_get(f->store, f->cfg.host, c,
	    &err), 0);
}

static void
test_registered_and_heartbeat(void **state)
{
	struct fixture *f = *state;
	struct lb_conductor c;
	char before[LB_TIME_LEN];
	size_t i;
	json_t *v;
	bool fake = false;

	row(f, &c);
	assert_true(c.online);
	json_array_foreach(c.drivers, i, v)
		fake = fake || strcmp(json_string_value(v),
		    "fake-hardware") == 0;
	assert_true(fake);
	snprintf(before, sizeof(before), "%s", c.updated_at);
	lb_conductor_release(&c);

	/* Not due yet: nothing written. */
	vclock_advance(&f->vc, 9);
	lb_engine_run_timers(f->engine);
	row(f, &c);
	assert_string_equal(c.updated_at, before);
	lb_conductor_release(&c);
	/* Due: the heartbeat touches the row. */
	vclock_advance(&f->vc, 1);
	lb_engine_run_timers(f->engine);
	row(f, &c);
	assert_string_not_equal(c.updated_at, before);
	lb_conductor_release(&c);

	lb_engine_stop(f->engine);
	f->engine = NULL;
	row(f, &c);
	assert_false(c.online);
	lb_conductor_release(&c);
	start(f);
	row(f, &c);
	assert_true(c.online);
	lb_conductor_release(&c);
}

static void
test_node_conductor_follows_heartbeat(void **state)
{
	struct fixture *f = *state;
	struct lb_node *node = lb_node_new();

	node->driver = strdup("fake-hardware");
	assert_string_equal(lb_conductor_of(f->engine, node), f->cfg.host);

	/* No heartbeat for longer than heartbeat_timeout: no conductor. */
	vclock_advance(&f->vc, 30);
	assert_non_null(lb_conductor_of(f->engine, node));
	vclock_advance(&f->vc, 1);
	assert_null(lb_conductor_of(f->engine, node));
	/* The next heartbeat written brings it back. */
	lb_engine_run_timers(f->engine);
	assert_string_equal(lb_conductor_of(f->engine, node), f->cfg.host);

	/* Another conductor group, or a driver not enabled: nobody's. */
	free(node->conductor_group);
	node->conductor_group = strdup("g1");
	assert_null(lb_conductor_of(f->engine, node));
	free(node->conductor_group);
	node->conductor_group = strdup("");
	free(node->driver);
	node->driver = strdup("nosuch");
	assert_null(lb_conductor_of(f->engine, node));
	lb_node_free(node);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registered_and_heartbeat,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_node_conductor_follows_heartbeat, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
