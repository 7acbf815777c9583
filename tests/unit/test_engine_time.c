/*
 * test_engine_time.c - the engine's timers and timeouts in virtual time:
 * a real SQLite store, the fake drivers (with their driver_info knobs,
 * power_fake.h), the virtual clock (vclock.h) and manual timers.  The
 * rescue callback timeout, the power-state sync (out-of-band changes,
 * failure counting into maintenance, the power-failure recovery, enroll
 * left alone), and an operator's
 * power action on a BMC the sync keeps busy.  The test thread advances
 * time and runs the timers; jobs run on the engine's worker pool.
 * The starvation case runs LB_STARVE_RUNS times (default 10): a sync
 * that waited for the BMC instead of giving way would lose the race for
 * a slot in most runs, not all.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine_store.h"
#include "conductor/engine.h"
#include "conductor/hwtype.h"
#include "conductor/util/log.h"
#include "power/power_fake.h"
#include "vclock.h"

#define T0_MONO 1000.0
#define T0_REAL 1767225600.0	/* 2026-01-01T00:00:00Z */

#define TIMEOUT_MSG "Timeout reached while waiting for rescue ramdisk " \
	"callback for node"

struct fixture {
	char dir[64];
	char log[96];
	int saved_stderr;
	FILE *old_stderr;	/* cmocka's messages still reach the terminal */
	struct lb_config cfg;
	struct lb_store *store;
	struct lb_engine *engine;
	struct vclock vc;
};

/* ---- fixture ---- */

/* The engine's log goes to a file the test reads (stderr, one write). */
static void
capture_log(struct fixture *f)
{
	int fd;

	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	f->old_stderr = stderr;
	stderr = fdopen(dup(f->saved_stderr), "w");
	assert_non_null(stderr);
	setvbuf(stderr, NULL, _IONBF, 0);
	lb_log_set_level(LB_LOG_DEBUG);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_store_open("lb-etime", f->dir, &f->cfg, &f->store);
	f->cfg.workers_pool_size = 8;
	f->cfg.rescue_callback_timeout = 0;
	vclock_init(&f->vc, T0_MONO, T0_REAL);
	lb_power_fake_set_clock(&f->vc.clock);
	capture_log(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	lb_engine_stop(f->engine);
	lb_power_fake_set_clock(NULL);
	fclose(stderr);
	stderr = f->old_stderr;
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	vclock_release(&f->vc);
	test_store_remove(f->dir, &f->cfg, f->store);
	free(f);
	return 0;
}

static void
start(struct fixture *f)
{
	test_engine_start(&f->cfg, f->store, &f->vc.clock, &f->engine);
}

/* Moves virtual time, runs what is due, waits for the jobs it queued. */
static void
tick(struct fixture *f, double seconds)
{
	vclock_advance(&f->vc, seconds);
	lb_engine_run_timers(f->engine);
	lb_engine_drain(f->engine);
}

/* ---- nodes and machines ---- */

static void
iso_at(double t, char out[LB_TIME_LEN])
{
	time_t s = (time_t)floor(t);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, LB_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, lround((t - floor(t)) * 1e6) % 1000000);
}

/* A fake-hardware node with the agent rescue interface in 'state' with
 * 'driver_info' (JSON text). */
static void
make_node(struct fixture *f, const char *state, const char *power,
    const char *driver_info, char uuid[LB_UUID_LEN + 1])
{
	struct lb_err err = { "" };
	struct lb_node *n = lb_node_new();
	char now[LB_TIME_LEN];

	n->driver = strdup("fake-hardware");
	/* The agent's rescue: fake-hardware's default, fake, is instant. */
	n->iface[LB_IFACE_RESCUE] = strdup("agent");
	n->provision_state = strdup(state);
	n->power_state = power ? strdup(power) : NULL;
	iso_at(vclock_realtime(&f->vc), now);
	n->provision_updated_at = strdup(now);
	json_decref(n->driver_info);
	n->driver_info = json_loads(driver_info, 0, NULL);
	assert_non_null(n->driver_info);
	assert_int_equal(lb_hwtype_resolve_node(&f->cfg, n, &err), 0);
	assert_int_equal(lb_store_node_create(f->store, n, &err), 0);
	memcpy(uuid, n->uuid, LB_UUID_LEN + 1);
	lb_node_free(n);
}

static struct lb_node *
get(struct fixture *f, const char *uuid)
{
	struct lb_err err = { "" };
	struct lb_node *n = NULL;

	assert_int_equal(lb_store_node_get(f->store, uuid, &n, &err), 0);
	return n;
}

/* The fake machine's power, read or set behind lifeboat's back. */
static enum lb_power_state
machine(const char *uuid, int action)
{
	json_t *info = json_object();
	struct lb_task task = { .node_uuid = uuid, .driver_info = info };
	struct lb_err err = { "" };
	enum lb_power_state s = LB_POWER_UNKNOWN;

	if (action >= 0)
		assert_int_equal(lb_power_fake.set_state(&task, action, 1,
		    &err), 0);
	assert_int_equal(lb_power_fake.get_state(&task, &s, &err), 0);
	json_decref(info);
	return s;
}

/* ---- the log ---- */

/* Everything logged since the start (NUL-terminated, caller frees). */
static char *
log_text(struct fixture *f)
{
	FILE *fp = fopen(f->log, "r");
	char *text = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(fp);
	n = fread(text, 1, (1 << 20) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

static int
count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static int
log_count(struct fixture *f, const char *needle)
{
	char *text = log_text(f);
	int n = count(text, needle);

	free(text);
	return n;
}

/* ---- (a) the rescue callback timeout ---- */

struct rescue_fields {
	const char *lookup_at;		/* agent_lookup_at, or NULL */
	const char *heartbeat_at;	/* agent_url and its last heartbeat */
};

static int
set_rescue_fields(struct lb_node *n, void *arg, struct lb_err *err)
{
	const struct rescue_fields *rf = arg;
	json_t *dii = n->driver_internal_info;

	(void)err;
	free(n->target_provision_state);
	n->target_provision_state = strdup("rescue");
	json_object_set_new(n->instance_info, "hashed_rescue_password",
	    json_string("$6$salt$hash"));
	json_object_set_new(dii, "agent_secret_token", json_string("tok"));
	if (rf->lookup_at != NULL)
		json_object_set_new(dii, "agent_lookup_at",
		    json_string(rf->lookup_at));
	if (rf->heartbeat_at != NULL) {
		json_object_set_new(dii, "agent_url",
		    json_string("http://127.0.0.1:9999"));
		json_object_set_new(dii, "agent_last_heartbeat",
		    json_string(rf->heartbeat_at));
	}
	return 0;
}

static int
set_maintenance(struct lb_node *n, void *arg, struct lb_err *err)
{
	(void)arg;
	(void)err;
	n->maintenance = true;
	return 0;
}

/* A node in rescue wait since now whose ramdisk got as far as 'rf'. */
static void
rescue_wait_node(struct fixture *f, const struct rescue_fields *rf,
    char uuid[LB_UUID_LEN + 1])
{
	struct lb_err err = { "" };

	make_node(f, "rescue wait", "power on", "{}", uuid);
	assert_int_equal(lb_store_node_update(f->store, uuid,
	    set_rescue_fields, (void *)rf, NULL, &err), 0);
	assert_int_equal(machine(uuid, LB_POWER_ACTION_ON), LB_POWER_ON);
}

/*
 * Runs the check every second up to the timeout and one second past it;
 * returns the seconds after entering rescue wait at which the node left
 * it (the check fires for a node older than the timeout).
 */
static int
run_to_timeout(struct fixture *f, const char *uuid, int timeout)
{
	struct lb_node *n;
	int s;

	tick(f, timeout - 2);
	for (s = timeout - 1; s <= timeout + 1; s++) {
		tick(f, 1);
		n = get(f, uuid);
		if (strcmp(n->provision_state, "rescue wait") != 0) {
			lb_node_free(n);
			break;
		}
		/* Not one virtual second early. */
		assert_true(s <= timeout);
		assert_null(n->last_error);
		assert_string_equal(n->power_state, "power on");
		lb_node_free(n);
	}
	assert_true(s >= timeout && s <= timeout + 1);
	return s;
}

/* The node after the timeout: failed, cleaned up, powered off. */
static struct lb_node *
assert_timed_out(struct fixture *f, const char *uuid)
{
	struct lb_node *n = get(f, uuid);
	char want[128];

	assert_string_equal(n->provision_state, "rescue failed");
	assert_null(n->reservation);
	assert_string_equal(n->power_state, "power off");
	assert_int_equal(machine(uuid, -1), LB_POWER_OFF);
	assert_null(json_object_get(n->instance_info,
	    "hashed_rescue_password"));
	assert_null(json_object_get(n->driver_internal_info,
	    "agent_secret_token"));
	assert_null(json_object_get(n->driver_internal_info,
	    "agent_lookup_at"));
	assert_null(json_object_get(n->driver_internal_info, "agent_url"));
	assert_non_null(n->last_error);
	assert_int_equal(strncmp(n->last_error, TIMEOUT_MSG ": ",
	    strlen(TIMEOUT_MSG) + 2), 0);
	snprintf(want, sizeof(want), "node %s: rescue wait -> rescue failed "
	    "(timeout after %d s)", uuid, f->cfg.rescue_callback_timeout);
	assert_int_equal(log_count(f, want), 1);
	snprintf(want, sizeof(want), "node %s: timeout clean-up done in ",
	    uuid);
	assert_int_equal(log_count(f, want), 1);
	return n;
}

/*
 * A node whose ramdisk got as far as 'rf', through the whole timeout
 * with the check every second; the node after it, and *at, the second
 * it timed out at.
 */
static struct lb_node *
time_out(struct fixture *f, const struct rescue_fields *rf, int timeout,
    int *at)
{
	char uuid[LB_UUID_LEN + 1];

	f->cfg.rescue_callback_timeout = timeout;
	f->cfg.check_rescue_state_interval = 1;
	start(f);
	rescue_wait_node(f, rf, uuid);
	*at = run_to_timeout(f, uuid, timeout);
	return assert_timed_out(f, uuid);
}

static void
test_callback_timeout_never_looked_up(void **state)
{
	struct fixture *f = *state;
	struct rescue_fields rf = { NULL, NULL };
	char want[256];
	struct lb_node *n;
	int at;

	n = time_out(f, &rf, 1800, &at);
	snprintf(want, sizeof(want), ": the rescue ramdisk never looked up "
	    "(no lookup with any of the node's MACs since it was powered on "
	    "for the rescue, %d s ago). Check that the ramdisk has a driver "
	    "for the node's NIC", at);
	assert_non_null(strstr(n->last_error, want));
	assert_non_null(strstr(n->last_error, "'lifeboat-ramdisk: no "
	    "driver for PCI'"));
	assert_non_null(strstr(n->last_error, "DHCP on the rescuing network "
	    "answers the node"));
	lb_node_free(n);
}

static void
test_callback_timeout_after_lookup(void **state)
{
	struct fixture *f = *state;
	struct rescue_fields rf = { "2026-01-01T00:00:07.250000", NULL };
	struct lb_node *n;
	int at;

	n = time_out(f, &rf, 300, &at);
	assert_non_null(strstr(n->last_error, ": the rescue ramdisk looked "
	    "the node up (at 2026-01-01T00:00:07.250000) but none of its "
	    "heartbeats arrived. Check that the ramdisk can reach "));
	assert_non_null(strstr(n->last_error, " and that its agent token is "
	    "accepted (lifeboatd's log shows rejected heartbeats); the "
	    "agent's log is on the node's console."));
	lb_node_free(n);
}

static void
test_callback_timeout_after_heartbeat(void **state)
{
	struct fixture *f = *state;
	struct rescue_fields rf = { "2026-01-01T00:00:07.250000",
	    "2026-01-01T00:00:09.500000" };
	struct lb_node *n;
	int at;

	n = time_out(f, &rf, 60, &at);
	assert_non_null(strstr(n->last_error, ": the rescue ramdisk's agent "
	    "heartbeated (last at 2026-01-01T00:00:09.500000) but the rescue "
	    "did not finish"));
	lb_node_free(n);
}

/* A node in maintenance is left in rescue wait, however long. */
static void
test_callback_timeout_spares_maintenance(void **state)
{
	struct fixture *f = *state;
	struct rescue_fields rf = { NULL, NULL };
	char uuid[LB_UUID_LEN + 1];
	struct lb_err err = { "" };
	struct lb_node *n;

	f->cfg.rescue_callback_timeout = 60;
	f->cfg.check_rescue_state_interval = 1;
	start(f);
	rescue_wait_node(f, &rf, uuid);
	assert_int_equal(lb_store_node_update(f->store, uuid, set_maintenance,
	    NULL, NULL, &err), 0);
	tick(f, 3600);
	n = get(f, uuid);
	assert_string_equal(n->provision_state, "rescue wait");
	assert_int_equal(machine(uuid, -1), LB_POWER_ON);
	lb_node_free(n);
}

/* ---- (b) the power-state sync ---- */

/* An out-of-band change is seen at the next round, not before. */
static void
test_sync_sees_change_at_next_round(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1], want[160];
	struct lb_node *n;

	f->cfg.sync_power_state_interval = 60;
	start(f);
	make_node(f, "active", "power on", "{}", uuid);
	machine(uuid, LB_POWER_ACTION_ON);
	tick(f, 60);
	assert_int_equal(log_count(f, "power state sync: 1 of 1 nodes "
	    "queued"), 1);
	machine(uuid, LB_POWER_ACTION_OFF);	/* behind lifeboat's back */
	tick(f, 59.5);
	n = get(f, uuid);
	assert_string_equal(n->power_state, "power on");
	lb_node_free(n);
	tick(f, 0.5);
	n = get(f, uuid);
	assert_string_equal(n->power_state, "power off");
	assert_null(n->last_error);
	assert_null(n->reservation);
	assert_string_equal(n->provision_state, "active");
	lb_node_free(n);
	snprintf(want, sizeof(want), "node %s: power state changed outside "
	    "lifeboat: power on -> power off", uuid);
	assert_int_equal(log_count(f, want), 1);
	/* The sync only reads: the machine stays as it was put. */
	assert_int_equal(machine(uuid, -1), LB_POWER_OFF);
	machine(uuid, LB_POWER_ACTION_ON);
	tick(f, 60);
	n = get(f, uuid);
	assert_string_equal(n->power_state, "power on");
	lb_node_free(n);
	snprintf(want, sizeof(want), "node %s: power state changed outside "
	    "lifeboat: power off -> power on", uuid);
	assert_int_equal(log_count(f, want), 1);
}

static bool
get_maintenance(struct fixture *f, const char *uuid)
{
	struct lb_node *n = get(f, uuid);
	bool m = n->maintenance;

	lb_node_free(n);
	return m;
}

static int
set_driver_info(struct lb_node *n, void *arg, struct lb_err *err)
{
	(void)err;
	json_decref(n->driver_info);
	n->driver_info = json_loads(arg, 0, NULL);
	return n->driver_info ? 0 : -EINVAL;
}

#define MAX_RETRIES_MSG "During sync_power_state, max retries exceeded " \
	"for node %s, node state %s does not match expected state '%s'. " \
	"Updating DB state to '%s' Switching node to maintenance mode.%s"

/* Asserts a node the sync has not put into maintenance (yet). */
static void
assert_in_service(struct fixture *f, const char *uuid, const char *power)
{
	struct lb_node *n = get(f, uuid);

	assert_false(n->maintenance);
	assert_null(n->fault);
	assert_null(n->maintenance_reason);
	assert_null(n->last_error);
	assert_string_equal(n->power_state, power);
	lb_node_free(n);
}

/* Asserts Ironic's max-retries outcome: 'actual' state, text 'want'. */
static void
assert_power_failure(struct fixture *f, const char *uuid, const char *actual,
    const char *want)
{
	struct lb_node *n = get(f, uuid);

	assert_true(n->maintenance);
	assert_string_equal(n->fault, "power failure");
	assert_string_equal(n->maintenance_reason, want);
	assert_string_equal(n->last_error, want);
	if (actual == NULL)
		assert_null(n->power_state);
	else
		assert_string_equal(n->power_state, actual);
	assert_string_equal(n->provision_state, "active");
	assert_null(n->reservation);
	lb_node_free(n);
}

/* A node whose BMC fails every read goes into maintenance at the read
 * after max_retries (the 4th with the default 3), not before. */
static void
failing_node_to_maintenance(struct fixture *f, char uuid[LB_UUID_LEN + 1])
{
	char want[512], reads[64];

	make_node(f, "active", "power on", "{\"fake_fail\": \"no route\"}",
	    uuid);
	for (int round = 1; round <= 3; round++) {
		tick(f, 1);
		snprintf(reads, sizeof(reads), "power state sync failed (%d)",
		    round);
		assert_int_equal(log_count(f, reads), 1);
		assert_in_service(f, uuid, "power on");
	}
	tick(f, 1);
	snprintf(want, sizeof(want), MAX_RETRIES_MSG, uuid, "None", "power on",
	    "None", " Error: fake BMC: no route");
	assert_power_failure(f, uuid, NULL, want);
	assert_int_equal(log_count(f, want), 1);
}

/*
 * Three failed reads leave the node alone; the 4th puts it into
 * maintenance with Ironic's exact text; from then on it is not synced.
 */
static void
test_sync_fourth_failure_maintenance(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1];

	f->cfg.sync_power_state_interval = 1;
	f->cfg.power_state_sync_max_retries = 3;
	f->cfg.power_failure_recovery_interval = 0;
	start(f);
	failing_node_to_maintenance(f, uuid);
	for (int i = 0; i < 5; i++)
		tick(f, 1);
	assert_int_equal(log_count(f, "power state sync failed ("), 3);
	assert_int_equal(log_count(f, "power state sync: 0 of 0 nodes "
	    "queued"), 5);
	assert_true(get_maintenance(f, uuid));
}

/* A good read in between starts the count afresh. */
static void
test_sync_success_resets_count(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1], want[512];
	struct lb_err err = { "" };
	const char *fail = "{\"fake_fail\": \"no route\"}";

	f->cfg.sync_power_state_interval = 1;
	f->cfg.power_state_sync_max_retries = 2;
	start(f);
	make_node(f, "active", "power on", fail, uuid);
	machine(uuid, LB_POWER_ACTION_ON);
	for (int round = 0; round < 3; round++) {
		tick(f, 1);		/* failures 1 and 2 */
		tick(f, 1);
		assert_in_service(f, uuid, "power on");
		assert_int_equal(lb_store_node_update(f->store, uuid,
		    set_driver_info, "{}", NULL, &err), 0);
		tick(f, 1);		/* a good read */
		assert_in_service(f, uuid, "power on");
		assert_int_equal(lb_store_node_update(f->store, uuid,
		    set_driver_info, (void *)fail, NULL, &err), 0);
	}
	tick(f, 1);
	tick(f, 1);
	assert_in_service(f, uuid, "power on");
	tick(f, 1);
	snprintf(want, sizeof(want), MAX_RETRIES_MSG, uuid, "None", "power on",
	    "None", " Error: fake BMC: no route");
	assert_power_failure(f, uuid, NULL, want);
}

/*
 * A machine that flips behind lifeboat's back every round: each mismatch
 * is recorded and counted (no force_power_state_during_sync); the one past
 * max_retries switches to maintenance with the state it read.
 */
static void
test_sync_mismatch_past_max_retries(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1], want[512];
	const char *names[] = { "power on", "power off" };

	f->cfg.sync_power_state_interval = 1;
	start(f);
	make_node(f, "active", "power on", "{}", uuid);
	for (int round = 1; round <= 3; round++) {
		machine(uuid, round % 2 ? LB_POWER_ACTION_OFF :
		    LB_POWER_ACTION_ON);
		tick(f, 1);
		assert_in_service(f, uuid, names[round % 2]);
	}
	machine(uuid, LB_POWER_ACTION_ON);
	tick(f, 1);
	snprintf(want, sizeof(want), MAX_RETRIES_MSG, uuid, "power on",
	    "power off", "power on", "");
	assert_power_failure(f, uuid, "power on", want);
}

/* Power-failure maintenance ends at the first recovery round after the
 * BMC answers again; last_error stays. */
static void
test_recovery_after_bmc_answers(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1], want[512];
	struct lb_err err = { "" };
	struct lb_node *n;
	int reads;

	f->cfg.sync_power_state_interval = 1;
	f->cfg.power_failure_recovery_interval = 10;
	start(f);
	failing_node_to_maintenance(f, uuid);	/* at t = 4 */
	snprintf(want, sizeof(want), MAX_RETRIES_MSG, uuid, "None", "power on",
	    "None", " Error: fake BMC: no route");
	for (int i = 0; i < 6; i++)
		tick(f, 1);			/* t = 10: still failing */
	assert_power_failure(f, uuid, NULL, want);
	assert_int_equal(log_count(f, "power failure recovery: 1 of 1 nodes "
	    "queued"), 1);
	machine(uuid, LB_POWER_ACTION_OFF);
	assert_int_equal(lb_store_node_update(f->store, uuid, set_driver_info,
	    "{}", NULL, &err), 0);
	for (int i = 0; i < 9; i++)
		tick(f, 1);
	assert_true(get_maintenance(f, uuid));
	tick(f, 1);				/* t = 20 */
	n = get(f, uuid);
	assert_false(n->maintenance);
	assert_null(n->fault);
	assert_null(n->maintenance_reason);
	assert_string_equal(n->last_error, want);
	assert_string_equal(n->power_state, "power off");
	lb_node_free(n);
	/* Synced again (the round at t = 20 may have listed it or not). */
	reads = log_count(f, "power state sync: 1 of 1 nodes queued");
	tick(f, 1);
	assert_int_equal(log_count(f, "power state sync: 1 of 1 nodes "
	    "queued"), reads + 1);
	assert_false(get_maintenance(f, uuid));
}

static int
set_fault(struct lb_node *n, void *arg, struct lb_err *err)
{
	(void)err;
	n->maintenance = true;
	free(n->fault);
	n->fault = arg ? strdup(arg) : NULL;
	free(n->maintenance_reason);
	n->maintenance_reason = strdup("by hand");
	return 0;
}

/* Maintenance set by hand, or for another fault, is left alone (and
 * those nodes are not synced either). */
static void
test_recovery_leaves_other_maintenance(void **state)
{
	static const char *const faults[] = { NULL, "clean failure",
	    "power failure " };
	struct fixture *f = *state;
	char uuid[3][LB_UUID_LEN + 1];
	struct lb_err err = { "" };
	struct lb_node *n;

	f->cfg.sync_power_state_interval = 1;
	f->cfg.power_failure_recovery_interval = 1;
	start(f);
	for (int i = 0; i < 3; i++) {
		make_node(f, "active", "power on", "{}", uuid[i]);
		machine(uuid[i], LB_POWER_ACTION_OFF);
		assert_int_equal(lb_store_node_update(f->store, uuid[i],
		    set_fault, (void *)faults[i], NULL, &err), 0);
	}
	for (int i = 0; i < 3; i++)
		tick(f, 1);
	for (int i = 0; i < 3; i++) {
		n = get(f, uuid[i]);
		assert_true(n->maintenance);
		assert_string_equal(n->maintenance_reason, "by hand");
		assert_string_equal(n->power_state, "power on");
		lb_node_free(n);
	}
	assert_int_equal(log_count(f, "power failure recovery: 0 of 0 nodes "
	    "queued"), 3);
	assert_int_equal(log_count(f, "power state sync: 0 of 0 nodes "
	    "queued"), 3);
}

/* power_failure_recovery_interval = 0: never taken out. */
static void
test_recovery_interval_zero_disables(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1];
	struct lb_err err = { "" };

	f->cfg.sync_power_state_interval = 1;
	f->cfg.power_failure_recovery_interval = 0;
	start(f);
	failing_node_to_maintenance(f, uuid);
	assert_int_equal(lb_store_node_update(f->store, uuid, set_driver_info,
	    "{}", NULL, &err), 0);
	tick(f, 3600);
	for (int i = 0; i < 5; i++)
		tick(f, 300);
	assert_true(get_maintenance(f, uuid));
	assert_int_equal(log_count(f, "power failure recovery"), 0);
}

/* Enroll nodes' BMCs are not known to work yet: never read. */
static void
test_sync_leaves_enroll_alone(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1];
	struct lb_node *n;

	f->cfg.sync_power_state_interval = 2;
	start(f);
	make_node(f, "enroll", NULL, "{}", uuid);
	machine(uuid, LB_POWER_ACTION_ON);
	for (int i = 0; i < 3; i++)
		tick(f, 2);
	assert_int_equal(log_count(f, "power state sync: 0 of 1 nodes "
	    "queued"), 3);
	n = get(f, uuid);
	assert_string_equal(n->provision_state, "enroll");
	assert_null(n->power_state);
	assert_null(n->last_error);
	lb_node_free(n);
}

/* A read that finds what is stored saves nothing (updated_at kept), as
 * Ironic's sync; a change is saved. */
static void
test_sync_unchanged_saves_nothing(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1], *stamp;
	struct lb_node *n;

	f->cfg.sync_power_state_interval = 10;
	start(f);
	make_node(f, "active", "power on", "{}", uuid);
	machine(uuid, LB_POWER_ACTION_ON);
	n = get(f, uuid);
	stamp = n->updated_at ? strdup(n->updated_at) : NULL;
	lb_node_free(n);
	for (int i = 0; i < 3; i++)
		tick(f, 10);
	assert_int_equal(log_count(f, "reading the power state: BMC "), 3);
	n = get(f, uuid);
	if (stamp == NULL)
		assert_null(n->updated_at);
	else
		assert_string_equal(n->updated_at, stamp);
	lb_node_free(n);
	machine(uuid, LB_POWER_ACTION_OFF);
	tick(f, 10);
	n = get(f, uuid);
	assert_string_equal(n->power_state, "power off");
	assert_non_null(n->updated_at);
	assert_true(stamp == NULL || strcmp(n->updated_at, stamp) != 0);
	lb_node_free(n);
	free(stamp);
}

#define ROUND_NODES 300

/*
 * More nodes than the sync's share of the pool (8 workers: 8 reads at
 * once) and than one page of the store (256): one round still reads
 * every node, each read that ends queueing the next, as Ironic's sync
 * workers drain one queue of all nodes.
 */
static void
test_sync_round_reads_every_node(void **state)
{
	struct fixture *f = *state;
	char uuids[ROUND_NODES][LB_UUID_LEN + 1];
	struct lb_node *n;

	f->cfg.sync_power_state_interval = 60;
	start(f);
	for (int i = 0; i < ROUND_NODES; i++)
		make_node(f, "active", "power on", "{}", uuids[i]);
	tick(f, 60);	/* the machines are off (fake_find's default) */
	for (int i = 0; i < ROUND_NODES; i++) {
		n = get(f, uuids[i]);
		assert_string_equal(n->power_state, "power off");
		lb_node_free(n);
	}
	assert_int_equal(log_count(f, "power state changed outside lifeboat: "
	    "power on -> power off"), ROUND_NODES);
	assert_int_equal(log_count(f, "power state sync: 300 of 300 nodes "
	    "queued"), 1);
}

/* ---- the rescue's soft power-off ---- */

#define SOFT_KEY "rescue_soft_power_off_timeout"

/*
 * An active node of the fake machine (left 'power') that rescues with
 * kernel and ramdisk from files in the fixture's directory (see
 * start_with_images); 'extra' is more driver_info (JSON members, or "").
 */
static void
rescuable_node(struct fixture *f, int power, const char *extra,
    char uuid[LB_UUID_LEN + 1])
{
	char info[512];

	snprintf(info, sizeof(info), "{\"rescue_kernel\": \"file://%s/kernel\","
	    " \"rescue_ramdisk\": \"file://%s/ramdisk\"%s%s}", f->dir, f->dir,
	    extra[0] ? ", " : "", extra);
	make_node(f, "active", power == LB_POWER_ACTION_ON ? "power on" :
	    "power off", info, uuid);
	machine(uuid, power);
}

/* Rescue images in the fixture's directory, allowed; then the engine. */
static void
start_with_images(struct fixture *f)
{
	char conf[160], path[128];
	struct lb_err err = { "" };
	FILE *fp;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir,
		    i ? "ramdisk" : "kernel");
		assert_non_null(fp = fopen(path, "w"));
		fputs("image\n", fp);
		fclose(fp);
	}
	snprintf(conf, sizeof(conf), "[conductor]\nfile_url_allowed_paths = "
	    "%s\n", f->dir);
	assert_int_equal(lb_config_load_buffer(&f->cfg, "test", conf,
	    strlen(conf), NULL, &err), 0);
	start(f);
}

/*
 * Rescues the node to rescue wait; returns what the log says of the
 * soft power-off ("" when nothing) and *took, the virtual seconds the
 * power-off phase took.
 */
static char *
rescue_soft_line(struct fixture *f, const char *uuid, double *took)
{
	json_t *body = json_pack("{s:s, s:s}", "target", "rescue",
	    "rescue_password", "Resc-ue-PW1");
	char *text, want[128], *line, *end;
	struct lb_err err = { "" };
	struct lb_node *n;
	const char *p;

	if (lb_engine_provision(f->engine, uuid, body, 78, &err) != 0)
		fail_msg("rescue refused: %s", err.msg);
	json_decref(body);
	lb_engine_drain(f->engine);
	n = get(f, uuid);
	assert_string_equal(n->provision_state, "rescue wait");
	assert_null(n->last_error);
	lb_node_free(n);
	/* Powered off, then on into the ramdisk. */
	assert_int_equal(machine(uuid, -1), LB_POWER_ON);
	text = log_text(f);
	snprintf(want, sizeof(want), "node %s: rescue: powered off (", uuid);
	assert_non_null(p = strstr(text, want));
	assert_int_equal(sscanf(p + strlen(want), "%lf", took), 1);
	snprintf(want, sizeof(want), "node %s: rescue: soft power-off ", uuid);
	p = strstr(text, want);
	line = strdup(p ? p + strlen(want) : "");
	if ((end = strchr(line, '\n')) != NULL)
		*end = '\0';
	assert_true(p == NULL || strstr(p + 1, want) == NULL);	/* once */
	free(text);
	return line;
}

/* One rescue's power-off: what is set up and what it must do. */
struct soft_case {
	int conf;		/* [conductor] rescue_soft_power_off_timeout */
	int power;		/* the machine's, before the rescue */
	const char *extra;	/* more driver_info */
	const char *line;	/* the soft power-off line's tail ("": none) */
	double took_min;	/* the power-off phase, virtual seconds */
	double took_max;
};

static void
soft_off_case(struct fixture *f, const struct soft_case *c)
{
	char uuid[LB_UUID_LEN + 1], *line;
	double took;

	/* The engine reads the configuration at each rescue. */
	f->cfg.rescue_soft_power_off_timeout = c->conf;
	rescuable_node(f, c->power, c->extra, uuid);
	line = rescue_soft_line(f, uuid, &took);
	assert_string_equal(line, c->line);
	assert_true(took >= c->took_min && took < c->took_max);
	free(line);
}

/* The guest ignores the power button: hard off once the timeout passed
 * (an INFO line, not a warning). */
static void
test_soft_off_ignored_waits_the_timeout(void **state)
{
	static const struct soft_case c = { 300, LB_POWER_ACTION_ON,
	    "\"fake_soft_off\": \"ignore\"",
	    "did not finish in 300 s; powered off hard", 300, 301 };
	struct fixture *f = *state;

	start_with_images(f);
	soft_off_case(f, &c);
	assert_int_equal(log_count(f, "WARNING"), 0);
}

/* The guest shuts down: no hard power-off. */
static void
test_soft_off_honoured(void **state)
{
	static const struct soft_case c = { 20, LB_POWER_ACTION_ON, "",
	    "done in 0.0 s", 0, 1 };

	start_with_images(*state);
	soft_off_case(*state, &c);
}

/* A node already off gets no soft power-off (its state is read first). */
static void
test_soft_off_skipped_when_off(void **state)
{
	static const struct soft_case c = { 30, LB_POWER_ACTION_OFF,
	    "\"fake_soft_off\": \"ignore\"", "", 0, 1 };

	start_with_images(*state);
	soft_off_case(*state, &c);
}

/*
 * driver_info wins over the configuration both ways: "0" (a string, as
 * older clients send it) is a hard power-off at once where the
 * configuration asks for 5 s; 2 (an integer, as the CLI sends it) turns
 * it on where the configuration leaves it off; 4 likewise.
 */
static void
test_soft_off_driver_info_overrides_config(void **state)
{
#define IGNORE "\"fake_soft_off\": \"ignore\", \"" SOFT_KEY "\": "
	static const struct soft_case cases[] = {
		{ 5, LB_POWER_ACTION_ON, IGNORE "\"0\"", "", 0, 1 },
		{ 0, LB_POWER_ACTION_ON, IGNORE "2",
		    "did not finish in 2 s; powered off hard", 2, 3 },
		{ 0, LB_POWER_ACTION_ON, IGNORE "\"4\"",
		    "did not finish in 4 s; powered off hard", 4, 5 },
		{ 0, LB_POWER_ACTION_ON, "\"fake_soft_off\": \"ignore\"", "",
		    0, 1 },
	};
#undef IGNORE

	start_with_images(*state);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		soft_off_case(*state, &cases[i]);
}

/* ---- (c) an operator's power action on a BMC the sync keeps busy ---- */

#define SHARED_NODES 16
#define POWER_TIMEOUT 10

/*
 * Waits (polling the store; the workers' waits move virtual time) until
 * the node's power action ends, running every timer that falls due
 * meanwhile: the sync keeps reading the shared BMC all along.
 */
static struct lb_node *
wait_power_action(struct fixture *f, const char *uuid)
{
	double guard = lb_monotonic() + 60;
	struct lb_node *n;

	for (;;) {
		lb_engine_run_timers(f->engine);
		n = get(f, uuid);
		if (n->target_power_state == NULL && n->reservation == NULL)
			break;
		lb_node_free(n);
		assert_true(lb_monotonic() < guard);
		usleep(1000);
	}
	lb_engine_drain(f->engine);
	return n;
}

/* The virtual seconds the node's power action took, from its log line. */
static double
power_action_seconds(struct fixture *f, const char *uuid, bool failed)
{
	char *text = log_text(f), want[160];
	const char *p;
	double s = -1;

	snprintf(want, sizeof(want), "node %s: power action %s ", uuid,
	    failed ? "failed after" : "done in");
	p = strstr(text, want);
	assert_non_null(p);
	assert_int_equal(sscanf(p + strlen(want), "%lf", &s), 1);
	free(text);
	return s;
}

/*
 * SHARED_NODES nodes on one BMC whose every call takes 'delay' seconds
 * (and fails when 'dead'); a sync round has just queued a read of each
 * when the operator powers the first node off.  The action ends within
 * power_state_change_timeout, with the sync's rounds going on meanwhile.
 */
static void
starve_once(struct fixture *f, double delay, bool dead)
{
	char uuids[SHARED_NODES][LB_UUID_LEN + 1], info[128];
	json_t *body = json_pack("{s:s}", "target", "power off");
	struct lb_err err = { "" };
	struct lb_node *n;
	double took;

	f->cfg.sync_power_state_interval = 2;
	f->cfg.power_state_change_timeout = POWER_TIMEOUT;
	f->cfg.workers_pool_size = SHARED_NODES;	/* a read for each */
	snprintf(info, sizeof(info), "{\"fake_bmc\": \"rack1\", \"fake_delay\":"
	    " %g%s}", delay, dead ? ", \"fake_fail\": \"no answer\"" : "");
	start(f);
	for (int i = 0; i < SHARED_NODES; i++) {
		make_node(f, "active", "power on", info, uuids[i]);
		machine(uuids[i], LB_POWER_ACTION_ON);
	}
	vclock_advance(&f->vc, 2);
	lb_engine_run_timers(f->engine);	/* the reads are queued */
	assert_int_equal(lb_engine_power(f->engine, uuids[0], body, 78, &err),
	    0);
	json_decref(body);
	n = wait_power_action(f, uuids[0]);
	took = power_action_seconds(f, uuids[0], dead);
	assert_true(took <= POWER_TIMEOUT);
	if (dead) {
		assert_string_equal(n->last_error, "Failed to change power "
		    "state to 'power off'. Error: fake BMC: no answer");
		assert_int_equal(machine(uuids[0], -1), LB_POWER_ON);
	} else {
		assert_null(n->last_error);
		assert_string_equal(n->power_state, "power off");
		assert_int_equal(machine(uuids[0], -1), LB_POWER_OFF);
	}
	lb_node_free(n);
}

static int
starve_runs(void)
{
	const char *env = getenv("LB_STARVE_RUNS");

	return env != NULL && atoi(env) > 0 ? atoi(env) : 10;
}

/* Each run on a fresh store and engine (setup and teardown). */
static void
starve_repeat(double delay, bool dead)
{
	int runs = starve_runs();
	void *f;

	for (int i = 0; i < runs; i++) {
		setup(&f);
		starve_once(f, delay, dead);
		teardown(&f);
	}
	print_message("starvation case (%s BMC): %d runs passed\n",
		    dead ? "dead" : "slow", runs);
}

static void
test_power_action_not_starved_by_sync(void **state)
{
	(void)state;
	starve_repeat(2, false);
}

static void
test_power_action_on_dead_bmc_not_starved_by_sync(void **state)
{
	(void)state;
	starve_repeat(4, true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_callback_timeout_never_looked_up),
		T(test_callback_timeout_after_lookup),
		T(test_callback_timeout_after_heartbeat),
		T(test_callback_timeout_spares_maintenance),
		T(test_sync_sees_change_at_next_round),
		T(test_sync_fourth_failure_maintenance),
		T(test_sync_success_resets_count),
		T(test_sync_mismatch_past_max_retries),
		T(test_recovery_after_bmc_answers),
		T(test_recovery_leaves_other_maintenance),
		T(test_recovery_interval_zero_disables),
		T(test_sync_leaves_enroll_alone),
		T(test_sync_round_reads_every_node),
		T(test_sync_unchanged_saves_nothing),
		T(test_soft_off_ignored_waits_the_timeout),
		T(test_soft_off_honoured),
		T(test_soft_off_skipped_when_off),
		T(test_soft_off_driver_info_overrides_config),
#undef T
		cmocka_unit_test(test_power_action_not_starved_by_sync),
		cmocka_unit_test(
		    test_power_action_on_dead_bmc_not_starved_by_sync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
