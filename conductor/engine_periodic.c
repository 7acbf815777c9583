/*
 * engine_periodic.c - the timer thread (one deadline heap drives every
 * periodic task and timeout; with manual timers a test's thread runs them
 * through lb_engine_run_timers), the power-state sync, and recovery of
 * what a previous run left behind.  The timer thread only lists and
 * queues; the BMC calls run on the worker pool.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conductor/engine_internal.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Consecutive sync failures before last_error records them (once). */
#define SYNC_FAILURES_REPORTED 3
#define SYNC_ERROR_PREFIX "Power state sync failed"

/* Per node: consecutive failures, and whether a read is under way. */
struct sync_failure {
	char uuid[LB_UUID_LEN + 1];
	int count;
	int skip;		/* rounds to leave out: backoff when failing */
	uint64_t info_hash;	/* driver_info the count is about */
	bool running;
	struct sync_failure *next;
};

/* ---- timer ---- */

static int
schedule(struct lb_engine *e, double delay, void (*fire)(void *), void *arg)
{
	int r;

	pthread_mutex_lock(&e->timer_lock);
	r = lb_heap_push(&e->heap, lb_engine_now(e) + delay, fire, arg);
	pthread_cond_signal(&e->timer_wake);
	pthread_mutex_unlock(&e->timer_lock);
	return r;
}

static void *
timer_main(void *arg)
{
	struct lb_engine *e = arg;
	const struct lb_deadline *next;
	struct lb_deadline d;
	double wait;

	pthread_mutex_lock(&e->timer_lock);
	while (!e->stopping) {
		next = lb_heap_peek(&e->heap);
		if (next == NULL) {
			pthread_cond_wait(&e->timer_wake, &e->timer_lock);
			continue;
		}
		wait = next->when - lb_engine_now(e);
		if (wait > 0) {
			e->clock->wait_for(e->clock, &e->timer_wake,
			    &e->timer_lock, wait);
			continue;
		}
		lb_heap_pop(&e->heap, &d);
		pthread_mutex_unlock(&e->timer_lock);
		d.fire(d.arg);
		pthread_mutex_lock(&e->timer_lock);
	}
	pthread_mutex_unlock(&e->timer_lock);
	return NULL;
}

/* ---- power-state sync ---- */

struct sync_job {
	struct lb_job base;
	struct lb_engine *e;
	char uuid[LB_UUID_LEN + 1];
};

/* Called with sync_lock held; creates the record when asked to. */
static struct sync_failure *
sync_record(struct lb_engine *e, const char *uuid, bool create)
{
	struct sync_failure *f;

	for (f = e->sync_failures; f != NULL; f = f->next) {
		if (strcmp(f->uuid, uuid) == 0)
			return f;
	}
	if (!create || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
	f->next = e->sync_failures;
	e->sync_failures = f;
	return f;
}

/* FNV-1a of the canonical text: new BMC settings start a new count. */
static uint64_t
info_hash(const json_t *driver_info)
{
	char *text = json_dumps(driver_info, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = text; p != NULL && *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	free(text);
	return h;
}

/* Marks a read under way; false if one already is (one at a time). */
static bool
sync_claim(struct lb_engine *e, const char *uuid, const json_t *driver_info)
{
	uint64_t h = info_hash(driver_info);
	struct sync_failure *f;
	bool ok;

	pthread_mutex_lock(&e->sync_lock);
	f = sync_record(e, uuid, true);
	if (f != NULL && f->info_hash != h) {
		f->info_hash = h;
		f->count = 0;
		f->skip = 0;
	}
	ok = f != NULL && !f->running;
	if (ok && f->skip > 0) {
		f->skip--;
		ok = false;
	}
	if (ok)
		f->running = true;
	pthread_mutex_unlock(&e->sync_lock);
	return ok;
}

/* Ends a read: counts a failure or clears the count; the new count. */
static int
sync_done(struct lb_engine *e, const char *uuid, bool failed)
{
	struct sync_failure *f;
	int count = 0;

	pthread_mutex_lock(&e->sync_lock);
	f = sync_record(e, uuid, false);
	if (f != NULL) {
		f->running = false;
		f->count = failed ? f->count + 1 : 0;
		count = f->count;
		/* A BMC that keeps failing is asked less and less often,
		 * up to every 32nd round, so it does not crowd out work. */
		if (count >= SYNC_FAILURES_REPORTED)
			f->skip = 1 << (count - SYNC_FAILURES_REPORTED < 5 ?
			    count - SYNC_FAILURES_REPORTED : 5);
	}
	pthread_mutex_unlock(&e->sync_lock);
	return count;
}

struct sync_result {
	const char *state;		/* what the BMC says */
	const char *error;		/* set once after repeated failures */
	bool ok;
	char before[16];
	bool changed;
};

static int
sync_update(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct sync_result *s = arg;

	/* Someone started an operation meanwhile: theirs wins. */
	if (node->reservation != NULL || node->target_power_state != NULL)
		return lb_err_set(err, -EBUSY, "busy");
	if (!s->ok) {
		free(node->last_error);
		node->last_error = strdup(s->error);
		return 0;
	}
	if (node->last_error != NULL && strncmp(node->last_error,
	    SYNC_ERROR_PREFIX, strlen(SYNC_ERROR_PREFIX)) == 0) {
		free(node->last_error);
		node->last_error = NULL;
	}
	snprintf(s->before, sizeof(s->before), "%s",
	    node->power_state ? node->power_state : "None");
	if (node->power_state == NULL || s->state == NULL ||
	    strcmp(node->power_state, s->state) != 0) {
		s->changed = true;
		free(node->power_state);
		node->power_state = s->state ? strdup(s->state) : NULL;
	}
	return 0;
}

static void
sync_run(struct lb_job *base)
{
	struct sync_job *j = (struct sync_job *)base;
	struct lb_engine *e = j->e;
	struct sync_result s = { 0 };
	struct lb_node_ctx ctx;
	struct lb_err err = { "" }, uerr = { "" };
	enum lb_power_state state;
	char msg[LB_ERR_MSG_MAX + 128];
	int r, failures;

	r = lb_node_ctx_load(e, j->uuid, &ctx, &err);
	if (r == 0) {
		/* An operation on the BMC goes first; try next round. */
		r = lb_call_get_power_nowait(e, &ctx, &state, &err);
		lb_node_ctx_release(&ctx);
		if (r == -EAGAIN) {
			sync_done(e, j->uuid, false);
			goto out;
		}
	}
	if (r == 0) {
		sync_done(e, j->uuid, false);
		s.ok = true;
		s.state = lb_power_state_name(state);
	} else {
		failures = sync_done(e, j->uuid, true);
		log_debug("node %s: power state sync failed (%d): %s",
		    j->uuid, failures, err.msg);
		/* Recorded once, not rewritten every interval. */
		if (failures != SYNC_FAILURES_REPORTED)
			goto out;
		snprintf(msg, sizeof(msg), SYNC_ERROR_PREFIX " %d times in a "
		    "row: %s", failures, err.msg);
		s.error = msg;
		log_warning("node %s: %s", j->uuid, msg);
	}
	if (lb_store_node_update(e->store, j->uuid, sync_update, &s, NULL,
	    &uerr) < 0 || !s.changed)
		goto out;
	if (strcmp(s.before, "None") == 0)
		log_info("node %s: power state is %s", j->uuid,
		    s.state ? s.state : "unknown");
	else
		log_info("node %s: power state changed outside lifeboat: "
		    "%s -> %s", j->uuid, s.before, s.state ? s.state : "None");
out:
	free(j);
}

static void
sync_drop(struct lb_job *base)
{
	struct sync_job *j = (struct sync_job *)base;

	sync_done(j->e, j->uuid, false);
	free(j);
}

static void
power_sync_fire(void *arg)
{
	struct lb_engine *e = arg;
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1, .reservation = "" };
	struct lb_node_list list;
	struct lb_err err = { "" };
	size_t queued = 0, margin = e->pool.capacity / 2;

	if (lb_store_node_list(e->store, &q, &list, &err) < 0) {
		log_error("power state sync: %s", err.msg);
	} else {
		for (size_t i = 0; i < list.n; i++) {
			const struct lb_node *n = list.items[i];
			struct sync_job *j;

			/* Ironic leaves enroll (and adopt failed) alone:
			 * their BMCs are not known to work yet. */
			if (n->target_power_state != NULL ||
			    !lb_state_is_stable(n->provision_state) ||
			    strcmp(n->provision_state, LB_STATE_ENROLL) == 0)
				continue;
			if (!sync_claim(e, n->uuid, n->driver_info))
				continue;	/* the last read still runs */
			/* Keep half the pool for operators' requests. */
			if (lb_pool_reserve(&e->pool, margin) < 0) {
				sync_done(e, n->uuid, false);
				break;
			}
			j = calloc(1, sizeof(*j));
			if (j == NULL) {
				sync_done(e, n->uuid, false);
				lb_pool_unreserve(&e->pool);
				break;
			}
			j->base.run = sync_run;
			j->base.drop = sync_drop;
			j->e = e;
			snprintf(j->uuid, sizeof(j->uuid), "%s", n->uuid);
			lb_pool_submit(&e->pool, &j->base);
			queued++;
		}
		log_debug("power state sync: %zu of %zu nodes queued", queued,
		    list.n);
		lb_node_list_release(&list);
	}
	schedule(e, e->cfg->sync_power_state_interval, power_sync_fire, e);
}

static void
rescue_timeouts_fire(void *arg)
{
	struct lb_engine *e = arg;

	lb_rescue_check_timeouts(e);
	schedule(e, e->cfg->check_rescue_state_interval, rescue_timeouts_fire,
	    e);
}

int
lb_engine_timer_start(struct lb_engine *e, struct lb_err *err)
{
	pthread_mutex_init(&e->timer_lock, NULL);
	lb_cond_init_monotonic(&e->timer_wake);
	lb_heap_init(&e->heap);
	if (e->cfg->sync_power_state_interval > 0 &&
	    schedule(e, e->cfg->sync_power_state_interval, power_sync_fire,
	    e) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (e->cfg->rescue_callback_timeout > 0 &&
	    schedule(e, e->cfg->check_rescue_state_interval,
	    rescue_timeouts_fire, e) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (e->manual_timers)
		return 0;
	if (pthread_create(&e->timer, NULL, timer_main, e) != 0)
		return lb_err_set(err, -EAGAIN, "cannot start the timer "
		    "thread");
	e->timer_started = true;
	return 0;
}

void
lb_engine_timer_stop(struct lb_engine *e)
{
	pthread_mutex_lock(&e->timer_lock);
	e->stopping = true;
	pthread_cond_signal(&e->timer_wake);
	pthread_mutex_unlock(&e->timer_lock);
	if (e->timer_started)
		pthread_join(e->timer, NULL);
	lb_heap_release(&e->heap);
	pthread_cond_destroy(&e->timer_wake);
	pthread_mutex_destroy(&e->timer_lock);
}

void
lb_engine_run_timers(struct lb_engine *e)
{
	const struct lb_deadline *next;
	struct lb_deadline d;

	pthread_mutex_lock(&e->timer_lock);
	while ((next = lb_heap_peek(&e->heap)) != NULL &&
	    next->when <= lb_engine_now(e)) {
		lb_heap_pop(&e->heap, &d);
		pthread_mutex_unlock(&e->timer_lock);
		d.fire(d.arg);
		pthread_mutex_lock(&e->timer_lock);
	}
	pthread_mutex_unlock(&e->timer_lock);
}

void
lb_engine_drain(struct lb_engine *e)
{
	lb_pool_drain(&e->pool);
}

void
lb_engine_sync_release(struct lb_engine *e)
{
	struct sync_failure *f, *next;

	for (f = e->sync_failures; f != NULL; f = next) {
		next = f->next;
		free(f);
	}
	e->sync_failures = NULL;
}

/* ---- recovery at start ---- */

struct recover {
	const char *host;
	char from[32];
	char to[32];
	bool touched;
	bool cleanup;		/* locked until lb_rescue_recover's job ends */
};

/* Transient states that hold a lock while a job runs. */
static bool
is_busy_state(const char *state)
{
	return !lb_state_is_stable(state) &&
	    strcmp(state, LB_STATE_RESCUE_WAIT) != 0 &&
	    strcmp(state, LB_STATE_DEPLOY_WAIT) != 0 &&
	    strstr(state, " failed") == NULL;
}

/*
 * Where an interrupted job may have left a rescue half done (boot files
 * staged, ports on the rescuing VLAN, an agent token): the failed state
 * it ends in keeps this conductor's lock, and lb_rescue_recover cleans
 * up once the pool runs.  A node found locked in one of these failed
 * states was waiting for that clean-up when the previous run died.
 */
static bool
needs_rescue_clean_up(const char *interrupted)
{
	return strcmp(interrupted, LB_STATE_RESCUING) == 0 ||
	    strcmp(interrupted, LB_STATE_UNRESCUING) == 0 ||
	    strcmp(interrupted, LB_STATE_DELETING) == 0;
}

static bool
awaits_rescue_clean_up(const struct lb_node *node)
{
	return strcmp(node->provision_state, LB_STATE_RESCUE_FAILED) == 0 ||
	    strcmp(node->provision_state, LB_STATE_UNRESCUE_FAILED) == 0 ||
	    strcmp(node->provision_state, LB_STATE_ERROR) == 0;
}

static int
recover_node(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct recover *rc = arg;
	const struct lb_transition *tr;
	char msg[512], now[LB_TIME_LEN];
	bool keep_lock = false;

	(void)err;
	rc->touched = false;
	rc->cleanup = false;
	snprintf(rc->from, sizeof(rc->from), "%s", node->provision_state);
	snprintf(rc->to, sizeof(rc->to), "%s", node->provision_state);
	if (node->reservation != NULL && strcmp(node->reservation,
	    rc->host) != 0)
		return 0;	/* another conductor's */
	if (node->reservation != NULL && node->target_power_state == NULL &&
	    awaits_rescue_clean_up(node)) {
		rc->cleanup = true;
		return -EALREADY;	/* still ours: the clean-up follows */
	}
	if (node->reservation != NULL) {
		free(node->reservation);
		node->reservation = NULL;
		rc->touched = true;
	}
	if (node->target_power_state != NULL) {
		snprintf(msg, sizeof(msg), "Conductor %s restarted during a "
		    "power action to '%s'; it may not have completed.",
		    rc->host, node->target_power_state);
		free(node->target_power_state);
		node->target_power_state = NULL;
		free(node->last_error);
		node->last_error = strdup(msg);
		rc->touched = true;
	}
	if (is_busy_state(node->provision_state) &&
	    (tr = lb_fsm_next(node->provision_state, "fail")) != NULL) {
		snprintf(msg, sizeof(msg), "Conductor %s restarted while the "
		    "node was in state \"%s\"; the operation was interrupted.",
		    rc->host, node->provision_state);
		lb_time_now_iso(now);
		free(node->provision_state);
		node->provision_state = strdup(tr->to);
		free(node->target_provision_state);
		node->target_provision_state = tr->target ?
		    strdup(tr->target) : NULL;
		free(node->provision_updated_at);
		node->provision_updated_at = strdup(now);
		free(node->last_error);
		node->last_error = strdup(msg);
		snprintf(rc->to, sizeof(rc->to), "%s", tr->to);
		rc->touched = true;
		keep_lock = needs_rescue_clean_up(rc->from);
		/* An interrupted rescue keeps no password and no agent. */
		if (strcmp(rc->from, LB_STATE_RESCUING) == 0 ||
		    strcmp(rc->from, LB_STATE_UNRESCUING) == 0) {
			lb_node_drop_password(node);
			lb_node_forget_agent(node);
		}
	}
	if (keep_lock) {
		/* The clean-up job's end releases it. */
		free(node->reservation);
		node->reservation = strdup(rc->host);
		rc->cleanup = true;
	}
	return rc->touched ? 0 : -EALREADY;
}

int
lb_engine_recover(struct lb_engine *e, struct lb_err *err)
{
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	struct lb_node_list list;
	struct recover rc = { .host = e->cfg->host };
	struct lb_err uerr = { "" };
	size_t fixed = 0;
	int r;

	r = lb_store_node_list(e->store, &q, &list, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < list.n; i++) {
		const struct lb_node *n = list.items[i];

		if (n->reservation == NULL && n->target_power_state == NULL &&
		    !is_busy_state(n->provision_state))
			continue;
		r = lb_store_node_update(e->store, n->uuid, recover_node, &rc,
		    NULL, &uerr);
		if (r == -EALREADY)
			continue;
		if (r < 0) {
			log_error("node %s: cannot recover: %s", n->uuid,
			    uerr.msg);
			continue;
		}
		fixed++;
		log_warning("node %s: recovered after restart: %s -> %s, %s",
		    n->uuid, rc.from, rc.to, rc.cleanup ? "locked for the "
		    "rescue clean-up" : "lock released");
	}
	if (fixed > 0)
		log_info("recovered %zu node(s) left busy by a previous run",
		    fixed);
	lb_node_list_release(&list);
	return 0;
}
