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
#include "conductor/ring.h"
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
	char buf[LB_RING_HOST_MAX];

	node->driver = strdup("fake-hardware");
	assert_string_equal(lb_conductor_of(f->engine, node, buf), f->cfg.host);

	/* No heartbeat for longer than heartbeat_timeout: no conductor. */
	vclock_advance(&f->vc, 30);
	assert_non_null(lb_conductor_of(f->engine, node, buf));
	vclock_advance(&f->vc, 1);
	assert_null(lb_conductor_of(f->engine, node, buf));
	/* The next heartbeat written brings it back. */
	lb_engine_run_timers(f->engine);
	assert_string_equal(lb_conductor_of(f->engine, node, buf), f->cfg.host);

	/* Another conductor group, or a driver not enabled: nobody's. */
	free(node->conductor_group);
	node->conductor_group = strdup("g1");
	assert_null(lb_conductor_of(f->engine, node, buf));
	free(node->conductor_group);
	node->conductor_group = strdup("");
	free(node->driver);
	node->driver = strdup("nosuch");
	assert_null(lb_conductor_of(f->engine, node, buf));
	lb_node_free(node);
}

/* Another conductor's row, as its own lifeboatd would register it. */
static void
other_row(struct fixture *f, const char *host, const char *group)
{
	struct lb_conductor c = { .hostname = (char *)host,
	    .conductor_group = (char *)group };
	struct lb_err err = { "" };
	bool was_online;

	c.drivers = json_pack("[s]", "fake-hardware");
	assert_int_equal(lb_store_conductor_register(f->store, &c,
	    &was_online, &err), 0);
	json_decref(c.drivers);
}

/*
 * A second alive conductor of the group takes about half of the nodes
 * once the ring is rebuilt (hash_ring_reset_interval), the rest stay;
 * this conductor owns exactly the nodes the ring gives it; the other's
 * row going offline gives them back.
 */
static void
test_ring_shares_nodes(void **state)
{
	struct fixture *f = *state;
	struct lb_node *node = lb_node_new();
	char buf[LB_RING_HOST_MAX], other_owned[200];
	struct lb_err err = { "" };
	unsigned mine = 0, other = 0;

	node->driver = strdup("fake-hardware");
	other_row(f, "other-host", "");
	other_row(f, "grouped-host", "g1");
	/* Not before the ring is rebuilt. */
	snprintf(node->uuid, sizeof(node->uuid),
	    "00000000-0000-4000-8000-000000000000");
	vclock_advance(&f->vc, 14);
	lb_engine_run_timers(f->engine);
	for (int i = 0; i < 200; i++) {
		snprintf(node->uuid, sizeof(node->uuid),
		    "%08x-0000-4000-8000-%012x", i * 2654435761u, i);
		assert_string_equal(lb_conductor_of(f->engine, node, buf),
		    f->cfg.host);
	}
	vclock_advance(&f->vc, 1);
	lb_engine_run_timers(f->engine);
	for (int i = 0; i < 200; i++) {
		snprintf(node->uuid, sizeof(node->uuid),
		    "%08x-0000-4000-8000-%012x", i * 2654435761u, i);
		assert_non_null(lb_conductor_of(f->engine, node, buf));
		other_owned[i] = strcmp(buf, "other-host") == 0;
		if (!other_owned[i])
			assert_string_equal(buf, f->cfg.host);
		assert_true(lb_engine_owns(f->engine, node) == !other_owned[i]);
		mine += !other_owned[i];
		other += other_owned[i];
	}
	print_message("this conductor %u, other-host %u\n", mine, other);
	assert_in_range(mine, 40, 160);
	/* The group's own conductor takes every node of g1. */
	free(node->conductor_group);
	node->conductor_group = strdup("g1");
	assert_string_equal(lb_conductor_of(f->engine, node, buf),
	    "grouped-host");
	assert_false(lb_engine_owns(f->engine, node));
	free(node->conductor_group);
	node->conductor_group = strdup("");

	/* other-host stops: its nodes come back at the next rebuild. */
	assert_int_equal(lb_store_conductor_touch(f->store, "other-host",
	    false, &err), 0);
	vclock_advance(&f->vc, 15);
	lb_engine_run_timers(f->engine);
	for (int i = 0; i < 200; i++) {
		snprintf(node->uuid, sizeof(node->uuid),
		    "%08x-0000-4000-8000-%012x", i * 2654435761u, i);
		assert_true(lb_engine_owns(f->engine, node));
	}
	lb_node_free(node);
}

/* [conductor] conductor_group: this conductor serves only its group. */
static void
test_own_group(void **state)
{
	struct fixture *f = *state;
	struct lb_node *node = lb_node_new();
	char buf[LB_RING_HOST_MAX];

	lb_engine_stop(f->engine);
	f->cfg.conductor_group = strdup("rack1");
	start(f);
	node->driver = strdup("fake-hardware");
	assert_null(lb_conductor_of(f->engine, node, buf));
	assert_false(lb_engine_owns(f->engine, node));
	free(node->conductor_group);
	node->conductor_group = strdup("rack1");
	assert_string_equal(lb_conductor_of(f->engine, node, buf),
	    f->cfg.host);
	assert_true(lb_engine_owns(f->engine, node));
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
		cmocka_unit_test_setup_teardown(test_ring_shares_nodes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_group,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
