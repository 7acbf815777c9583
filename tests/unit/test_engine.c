/*
 * test_engine.c - the engine's verbs against a real SQLite store and fake
 * drivers: lock contention (409), invalid transitions (400), version
 * floors (406), jobs run to their end, recovery of locks and transient
 * states left by a previous run, the fake rescue interface, and the
 * engine's injected clock with manual timers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine_store.h"
#include "conductor/engine.h"
#include "conductor/hwtype.h"
#include "conductor/util/bmclimit.h"
#include "conductor/util/clock.h"

struct fixture {
	char dir[64];
	struct lb_config cfg;
	struct lb_store *store;
	struct lb_engine *engine;
	char uuid[LB_UUID_LEN + 1];
};

static int
set_str(struct lb_node *n, void *arg, struct lb_err *err)
{
	const char *const *kv = arg;

	(void)err;
	if (strcmp(kv[0], "reservation") == 0) {
		free(n->reservation);
		n->reservation = kv[1] ? strdup(kv[1]) : NULL;
	} else if (strcmp(kv[0], "provision_state") == 0) {
		free(n->provision_state);
		n->provision_state = strdup(kv[1]);
	} else if (strcmp(kv[0], "provision_updated_at") == 0) {
		free(n->provision_updated_at);
		n->provision_updated_at = strdup(kv[1]);
	} else if (strcmp(kv[0], "target_power_state") == 0) {
		free(n->target_power_state);
		n->target_power_state = strdup(kv[1]);
	}
	return 0;
}

static void
set_field(struct fixture *f, const char *key, const char *value)
{
	const char *kv[2] = { key, value };
	struct lb_err err = { "" };

	assert_int_equal(lb_store_node_update(f->store, f->uuid, set_str, kv,
	    NULL, &err), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_store_open("lb-engine", f->dir, &f->cfg, &f->store);
	f->cfg.workers_pool_size = 2;
	test_store_node(f->store, &f->cfg, f->uuid);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	lb_engine_stop(f->engine);
	test_store_remove(f->dir, &f->cfg, f->store);
	free(f);
	return 0;
}

static json_t *
verb(const char *target)
{
	return json_pack("{s:s}", "target", target);
}

/* Polls the store until the node reaches 'want' (bounded). */
static struct lb_node *
wait_state(struct fixture *f, const char *want)
{
	struct lb_err err = { "" };
	double deadline = lb_monotonic() + 10;
	struct lb_node *n = NULL;

	while (lb_monotonic() < deadline) {
		assert_int_equal(lb_store_node_get(f->store, f->uuid, &n,
		    &err), 0);
		if (strcmp(n->provision_state, want) == 0 &&
		    n->reservation == NULL)
			return n;
		lb_node_free(n);
		usleep(10000);
	}
	fail_msg("node never reached %s", want);
	return NULL;
}

static void
test_manage_runs_to_the_end(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	struct lb_node *n;
	json_t *b = verb("manage");

	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    0);
	json_decref(b);
	n = wait_state(f, "manageable");
	assert_null(n->target_provision_state);
	assert_null(n->last_error);
	assert_string_equal(n->power_state, "power off");
	lb_node_free(n);
}

static void
test_locked_node_is_409(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	json_t *b = verb("manage"), *p = verb("power on");

	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	set_field(f, "reservation", "other-host");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    -EBUSY);
	assert_non_null(strstr(err.msg, "is locked by host other-host"));
	assert_int_equal(lb_engine_power(f->engine, f->uuid, p, 78, &err),
	    -EBUSY);
	json_decref(b);
	json_decref(p);
	/* An invalid verb on a locked node is also 409, as in Ironic. */
	b = verb("provide");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    -EBUSY);
	json_decref(b);
}

static void
test_invalid_requests(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	char want[256];
	json_t *b;

	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	b = verb("provide");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    -EINVAL);
	snprintf(want, sizeof(want), "The requested action \"provide\" can "
	    "not be performed on node \"%s\" while it is in state "
	    "\"enroll\".", f->uuid);
	assert_string_equal(err.msg, want);
	json_decref(b);
	/* Unknown verbs get the same answer. */
	b = verb("bogus");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    -EINVAL);
	json_decref(b);
	/* Version floors: adopt needs 1.17, soft power 1.27. */
	b = verb("adopt");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 16, &err),
	    -ENOTSUP);
	json_decref(b);
	b = verb("soft power off");
	assert_int_equal(lb_engine_power(f->engine, f->uuid, b, 26, &err),
	    -ENOTSUP);
	json_decref(b);
	b = json_pack("{s:s, s:s}", "target", "manage", "rescue_password",
	    "x");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "\"rescue_password\" is only valid when "
	    "setting target provision state to rescue");
	json_decref(b);
	b = json_pack("{s:s, s:i}", "target", "power on", "timeout", 0);
	assert_int_equal(lb_engine_power(f->engine, f->uuid, b, 78, &err),
	    -EINVAL);
	json_decref(b);
	b = json_pack("{s:s}", "target", "on");
	assert_int_equal(lb_engine_power(f->engine, f->uuid, b, 78, &err),
	    -EINVAL);
	json_decref(b);
	b = json_pack("{s:s, s:b}", "target", "manage", "force", 1);
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    -EINVAL);
	json_decref(b);
}

static void
test_power_job_clears_target(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	struct lb_node *n;
	json_t *b = verb("power on");

	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	assert_int_equal(lb_engine_power(f->engine, f->uuid, b, 78, &err), 0);
	json_decref(b);
	n = wait_state(f, "enroll");
	assert_string_equal(n->power_state, "power on");
	assert_null(n->target_power_state);
	assert_null(n->last_error);
	lb_node_free(n);
}

static void
test_recovery_after_restart(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	struct lb_node *n = NULL;

	/* What a killed lifeboatd leaves: its lock and a transient state. */
	set_field(f, "provision_state", "verifying");
	set_field(f, "reservation", "test-host");
	set_field(f, "target_power_state", "power on");
	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_null(n->reservation);
	assert_null(n->target_power_state);
	assert_string_equal(n->provision_state, "enroll");
	assert_null(n->target_provision_state);
	assert_non_null(strstr(n->last_error, "Conductor test-host restarted "
	    "while the node was in state \"verifying\""));
	lb_node_free(n);
}

static void
test_recovery_leaves_other_hosts_alone(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	struct lb_node *n = NULL;

	set_field(f, "provision_state", "verifying");
	set_field(f, "reservation", "someone-else");
	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_string_equal(n->reservation, "someone-else");
	assert_string_equal(n->provision_state, "verifying");
	lb_node_free(n);
}

static void
test_lookup_issues_token_once(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	struct lb_port *p = lb_port_new();
	json_t *doc = NULL;
	const char *token;
	char *text;

	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	snprintf(p->address, sizeof(p->address), "52:54:00:12:34:56");
	memcpy(p->node_uuid, f->uuid, sizeof(p->node_uuid));
	assert_int_equal(lb_store_port_create(f->store, p, &err), 0);
	lb_port_free(p);
	/* Not in a lookup state: the same 404 as an unknown node. */
	assert_int_equal(lb_engine_lookup(f->engine, "52:54:00:12:34:56",
	    NULL, 62, "http://h", &doc, &err), -ENOENT);
	assert_string_equal(err.msg, "Resource could not be found.");
	set_field(f, "provision_state", "rescue wait");
	assert_int_equal(lb_engine_lookup(f->engine, "zz,52-54-00-12-34-56",
	    NULL, 62, "http://h", &doc, &err), 0);
	text = json_dumps(doc, 0);
	assert_non_null(text);
	free(text);
	token = json_string_value(json_object_get(json_object_get(doc,
	    "config"), "agent_token"));
	assert_int_equal(strlen(token), 43);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(doc, "node"), "driver_internal_info"),
	    "agent_secret_token")), "******");
	json_decref(doc);
	assert_int_equal(lb_engine_lookup(f->engine, NULL, f->uuid, 62,
	    "http://h", &doc, &err), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    doc, "config"), "agent_token")), "******");
	json_decref(doc);
	assert_int_equal(lb_engine_lookup(f->engine, "zz", NULL, 62,
	    "http://h", &doc, &err), -EINVAL);
}

/*
 * rescue_interface fake is Ironic's FakeRescue: rescuing -> rescue at once
 * (and unrescuing -> active), with no power, boot or network call: the
 * power state the node had stays as it was, and no images are needed.
 */
static void
test_fake_rescue_is_instant(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };
	struct lb_node *n = NULL;
	json_t *b = json_pack("{s:s, s:s}", "target", "rescue",
	    "rescue_password", "pw-not-kept");

	assert_int_equal(lb_engine_start(&f->cfg, f->store, NULL, &f->engine,
	    &err), 0);
	set_field(f, "provision_state", "active");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    0);
	json_decref(b);
	lb_engine_drain(f->engine);
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_string_equal(n->provision_state, "rescue");
	assert_null(n->target_provision_state);
	assert_null(n->reservation);
	assert_null(n->last_error);
	assert_null(n->power_state);
	assert_null(json_object_get(n->instance_info,
	    "hashed_rescue_password"));
	lb_node_free(n);
	b = verb("unrescue");
	assert_int_equal(lb_engine_provision(f->engine, f->uuid, b, 78, &err),
	    0);
	json_decref(b);
	lb_engine_drain(f->engine);
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_string_equal(n->provision_state, "active");
	assert_null(n->reservation);
	assert_null(n->power_state);
	lb_node_free(n);
}

/* A clock the test moves: the system's, shifted by 'shift' seconds. */
static double shift;

static double
shifted_monotonic(const struct lb_clock *c)
{
	(void)c;
	return lb_monotonic() + shift;
}

static double
shifted_realtime(const struct lb_clock *c)
{
	return lb_clock_system.realtime(c) + shift;
}

static int
shifted_wait_for(const struct lb_clock *c, pthread_cond_t *cond,
    pthread_mutex_t *lock, double seconds)
{
	return lb_clock_system.wait_for(c, cond, lock, seconds);
}

static const struct lb_clock shifted = {
	.monotonic = shifted_monotonic,
	.realtime = shifted_realtime,
	.wait_for = shifted_wait_for,
};

/*
 * The callback-timeout check runs when the engine's clock says it is due
 * (manual timers: on this thread) and compares provision_updated_at with
 * the engine's wall clock, not the system's.
 */
static void
test_callback_timeout_on_engine_clock(void **state)
{
	struct fixture *f = *state;
	struct lb_engine_opts opts = { .clock = &shifted,
	    .manual_timers = true };
	struct lb_err err = { "" };
	struct lb_node *n = NULL;
	char now[LB_TIME_LEN];

	shift = 0;
	f->cfg.rescue_callback_timeout = 60;
	f->cfg.check_rescue_state_interval = 10;
	set_field(f, "provision_state", "rescue wait");
	lb_time_now_iso(now);
	set_field(f, "provision_updated_at", now);
	assert_int_equal(lb_engine_start(&f->cfg, f->store, &opts,
	    &f->engine, &err), 0);
	/* Not due yet, then due but within the timeout: nothing moves. */
	lb_engine_run_timers(f->engine);
	shift = 30;
	lb_engine_run_timers(f->engine);
	lb_engine_drain(f->engine);
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_string_equal(n->provision_state, "rescue wait");
	lb_node_free(n);
	/* Past the timeout on the engine's clock: rescue failed. */
	shift = 120;
	lb_engine_run_timers(f->engine);
	lb_engine_drain(f->engine);
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_string_equal(n->provision_state, "rescue failed");
	assert_null(n->reservation);
	assert_non_null(strstr(n->last_error, "Timeout reached while waiting "
	    "for rescue ramdisk callback"));
	lb_node_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_manage_runs_to_the_end,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_node_is_409,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_requests,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_job_clears_target,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_after_restart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_leaves_other_hosts_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_issues_token_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_rescue_is_instant,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_callback_timeout_on_engine_clock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
