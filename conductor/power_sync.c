/*
 * power_sync.c - the periodic power-state sync, as Ironic's: every
 * [conductor] sync_power_state_interval the timer thread lists the nodes
 * not in maintenance and queues one read per node on the worker pool
 * (keeping half the pool for operators).  A read gives way when the BMC
 * is busy, records what changed outside lifeboat, and counts failures in
 * memory; one more than [conductor] power_state_sync_max_retries puts the
 * node into maintenance with fault "power failure" (power_recovery.c
 * takes it out).  The reads hold no lock and move no provision state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/power_sync.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Per node: consecutive failures, and whether a read is under way. */
struct sync_record {
	char uuid[LB_UUID_LEN + 1];
	int count;
	bool running;
	struct sync_record *next;
};

struct lb_power_sync {
	pthread_mutex_t lock;
	struct sync_record *records;
};

struct read_job {
	struct lb_job base;
	struct lb_engine *e;
	lb_power_read_fn fn;
	bool unset;		/* the node had no power state when listed */
	int count;		/* its failed syncs before this read */
	char uuid[LB_UUID_LEN + 1];
};

/* Ironic's sync leaves these alone: the BMC is not known to work yet,
 * or an agent is being waited for. */
static bool
sync_skips(const char *state)
{
	static const char *const skipped[] = { LB_STATE_DEPLOY_WAIT,
	    LB_STATE_CLEAN_WAIT, LB_STATE_ENROLL, LB_STATE_ADOPT_FAILED };

	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		if (strcmp(state, skipped[i]) == 0)
			return true;
	}
	return false;
}

static int
set_str(char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Called with the lock held; creates the record when asked to. */
static struct sync_record *
sync_record(struct lb_engine *e, const char *uuid, bool create)
{
	struct sync_record *f;

	for (f = e->sync->records; f != NULL; f = f->next) {
		if (strcmp(f->uuid, uuid) == 0)
			return f;
	}
	if (!create || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
	f->next = e->sync->records;
	e->sync->records = f;
	return f;
}

/* Marks a read under way; false if one already is (one at a time).
 * *ret_count: the node's failures so far. */
static bool
read_claim(struct lb_engine *e, const char *uuid, int *ret_count)
{
	struct sync_record *f;
	bool ok;

	pthread_mutex_lock(&e->sync->lock);
	f = sync_record(e, uuid, true);
	ok = f != NULL && !f->running;
	if (ok) {
		f->running = true;
		*ret_count = f->count;
	}
	pthread_mutex_unlock(&e->sync->lock);
	return ok;
}

/* Ends a read; 'count' >= 0 sets the failure count. */
static void
read_done(struct lb_engine *e, const char *uuid, int count)
{
	struct sync_record *f;

	pthread_mutex_lock(&e->sync->lock);
	f = sync_record(e, uuid, false);
	if (f != NULL) {
		f->running = false;
		if (count >= 0)
			f->count = count;
	}
	pthread_mutex_unlock(&e->sync->lock);
}

int
lb_power_read(struct lb_engine *e, const char *uuid,
    enum lb_power_state *ret, struct lb_err *err)
{
	struct lb_node_task t;
	int r;

	r = lb_task_load(e, uuid, &t, err);
	if (r < 0)
		return r;
	r = lb_task_power_get_nowait(&t, ret, err);
	lb_task_release(&t);
	if (r == 0 && *ret == LB_POWER_UNKNOWN)
		r = lb_err_set(err, -EIO, "Power driver returned ERROR state "
		    "while trying to sync power state.");
	return r;
}

/* ---- the read jobs, shared with power_recovery.c ---- */

static void
read_run(struct lb_job *base)
{
	struct read_job *j = (struct read_job *)base;

	read_done(j->e, j->uuid, j->fn(j->e, j->uuid, j->unset, j->count));
	free(j);
}

static void
read_drop(struct lb_job *base)
{
	struct read_job *j = (struct read_job *)base;

	read_done(j->e, j->uuid, -1);
	free(j);
}

int
lb_power_read_queue(struct lb_engine *e, const struct lb_node *n,
    lb_power_read_fn fn)
{
	struct read_job *j;
	int count = 0;

	if (!read_claim(e, n->uuid, &count))
		return -EALREADY;	/* the last read still runs */
	/* Keep half the pool for operators' requests. */
	if (lb_pool_reserve(&e->pool, e->pool.capacity / 2) < 0) {
		read_done(e, n->uuid, -1);
		return -EAGAIN;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		read_done(e, n->uuid, -1);
		lb_pool_unreserve(&e->pool);
		return -ENOMEM;
	}
	j->base.run = read_run;
	j->base.drop = read_drop;
	j->e = e;
	j->fn = fn;
	j->unset = n->power_state == NULL;
	j->count = count;
	snprintf(j->uuid, sizeof(j->uuid), "%s", n->uuid);
	lb_pool_submit(&e->pool, &j->base);
	return 0;
}

/* ---- one node's sync (do_sync_power_state) ---- */

struct sync_result {
	const char *uuid;
	const char *state;	/* what the BMC says, NULL: the read failed */
	const char *error;	/* why the read failed */
	int count;		/* in: this round's count; out: the new one */
	int max;		/* power_state_sync_max_retries */
	char before[16];	/* the stored state, "None" for null */
	bool changed;
	bool failed;		/* put into maintenance */
};

/* Ironic's handle_sync_power_state_max_retries_exceeded. */
static int
sync_fail(struct lb_node *node, struct sync_result *s, struct lb_err *err)
{
	const char *actual = s->state ? s->state : "None";
	char msg[LB_ERR_MSG_MAX + 512];

	snprintf(msg, sizeof(msg), "During sync_power_state, max retries "
	    "exceeded for node %s, node state %s does not match expected "
	    "state '%s'. Updating DB state to '%s' Switching node to "
	    "maintenance mode.%s%s", s->uuid, actual, s->before, actual,
	    s->error ? " Error: " : "", s->error ? s->error : "");
	if (set_str(&node->maintenance_reason, msg) < 0 ||
	    set_str(&node->last_error, msg) < 0 ||
	    set_str(&node->fault, LB_FAULT_POWER_FAILURE) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	node->maintenance = true;
	s->failed = true;
	return 0;
}

/*
 * Decides on the stored node, so the write is one update: a matching
 * read (or a first state) resets the count; a failure or a mismatch past
 * max_retries puts the node into maintenance; any other mismatch is
 * recorded (force_power_state_during_sync is not built) and counted.
 */
static int
sync_update(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct sync_result *s = arg;
	bool same;

	/* Someone started an operation meanwhile: theirs wins. */
	if (node->reservation != NULL || node->target_power_state != NULL ||
	    node->maintenance)
		return lb_err_set(err, -EBUSY, "busy");
	snprintf(s->before, sizeof(s->before), "%s",
	    node->power_state ? node->power_state : "None");
	same = s->state != NULL && node->power_state != NULL &&
	    strcmp(node->power_state, s->state) == 0;
	if (same || (s->state != NULL && node->power_state == NULL))
		s->count = 0;
	else if (s->count > s->max && sync_fail(node, s, err) < 0)
		return -ENOMEM;
	if (same || (s->state == NULL && !s->failed))
		return 0;
	s->changed = true;
	return set_str(&node->power_state, s->state) < 0 ?
	    lb_err_set(err, -ENOMEM, "out of memory") : 0;
}

static void
sync_log(const struct sync_result *s, const char *error)
{
	if (s->failed)
		log_error("node %s: %s", s->uuid, error);
	else if (!s->changed)
		return;
	else if (strcmp(s->before, "None") == 0)
		log_info("node %s: power state is %s", s->uuid, s->state);
	else
		log_info("node %s: power state changed outside lifeboat: "
		    "%s -> %s", s->uuid, s->before, s->state);
}

/* One sync of one node; returns its new failure count. */
static int
sync_node(struct lb_engine *e, const char *uuid, bool unset, int count)
{
	struct sync_result s = { .uuid = uuid,
	    .max = e->cfg->power_state_sync_max_retries };
	struct lb_err err = { "" }, uerr = { "" };
	struct lb_node *n = NULL;
	enum lb_power_state st;
	int r;

	s.count = count + 1;
	r = lb_power_read(e, uuid, &st, &err);
	if (r == -EAGAIN)
		return s.count - 1;	/* the BMC is busy: not a round */
	if (r == -ENOENT || (r == -EINVAL && unset))
		return 0;		/* gone, or not set up yet */
	if (r < 0 && s.count <= s.max) {
		log_warning("node %s: power state sync failed (%d): %s", uuid,
		    s.count, err.msg);
		return s.count;
	}
	if (r < 0)
		s.error = err.msg;
	else
		s.state = lb_power_state_name(st);
	if (lb_store_node_update(e->store, uuid, sync_update, &s, &n,
	    &uerr) < 0)
		return s.count;
	sync_log(&s, n->last_error);
	lb_node_free(n);
	return s.count;
}

void
lb_power_read_each(struct lb_engine *e, const struct lb_node_query *q,
    bool (*skip)(const struct lb_node *n), lb_power_read_fn fn,
    const char *what)
{
	struct lb_node_list list;
	struct lb_err err = { "" };
	size_t queued = 0;

	if (lb_store_node_list(e->store, q, &list, &err) < 0) {
		log_error("%s: %s", what, err.msg);
		return;
	}
	for (size_t i = 0; i < list.n; i++) {
		const struct lb_node *n = list.items[i];
		int r;

		if (n->target_power_state != NULL || skip(n))
			continue;
		r = lb_power_read_queue(e, n, fn);
		if (r == 0)
			queued++;
		else if (r != -EALREADY)
			break;		/* the pool's share is used up */
	}
	log_debug("%s: %zu of %zu nodes queued", what, queued, list.n);
	lb_node_list_release(&list);
}

static bool
sync_skips_node(const struct lb_node *n)
{
	return sync_skips(n->provision_state);
}

static void
power_sync_fire(void *arg)
{
	struct lb_node_query q = { .maintenance = 0, .associated = -1,
	    .retired = -1, .reservation = "" };

	lb_power_read_each(arg, &q, sync_skips_node, sync_node,
	    "power state sync");
}

int
lb_power_sync_start(struct lb_engine *e)
{
	e->sync = calloc(1, sizeof(*e->sync));
	if (e->sync == NULL)
		return -ENOMEM;
	pthread_mutex_init(&e->sync->lock, NULL);
	return lb_timers_add(&e->timers, e->cfg->sync_power_state_interval,
	    power_sync_fire, e);
}

void
lb_power_sync_free(struct lb_engine *e)
{
	struct sync_record *f, *next;

	if (e->sync == NULL)
		return;
	for (f = e->sync->records; f != NULL; f = next) {
		next = f->next;
		free(f);
	}
	pthread_mutex_destroy(&e->sync->lock);
	free(e->sync);
	e->sync = NULL;
}
