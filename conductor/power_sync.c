/*
 * power_sync.c - the periodic power-state sync: every
 * [conductor] sync_power_state_interval the timer thread lists the idle
 * nodes into a round; the round's reads run on the worker pool, at most
 * half the pool at once (the other half stays for operators), each read
 * that ends queueing the next, so one round reads every node (Ironic's
 * sync workers drain one queue of all nodes the same way).  A read gives
 * way when the BMC is busy, records what changed outside lifeboat, and
 * backs off from a BMC that keeps failing.  A round the pool could not
 * feed (operators held it) goes on at the next tick.  The sync's own job:
 * it holds no lock and moves no state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/power_sync.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/hash.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Buckets of the per-node records (10,000 nodes: a few per bucket). */
#define SYNC_BUCKETS 4096
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

/* A node of the round under way. */
struct sync_item {
	char uuid[LB_UUID_LEN + 1];
	uint64_t info_hash;
};

struct lb_power_sync {
	pthread_mutex_t lock;
	struct sync_failure *failures[SYNC_BUCKETS];	/* by uuid */
	struct sync_item *round;	/* the round's nodes, in list order */
	size_t round_n, round_next;	/* how many; the next to queue */
};

struct sync_job {
	struct lb_job base;
	struct lb_engine *e;
	char uuid[LB_UUID_LEN + 1];
};

/* Called with sync_lock held; creates the record when asked to. */
static struct sync_failure *
sync_record(struct lb_engine *e, const char *uuid, bool create)
{
	struct sync_failure **bucket, *f;

	bucket = &e->sync->failures[lb_hash_str(uuid) % SYNC_BUCKETS];
	for (f = *bucket; f != NULL; f = f->next) {
		if (strcmp(f->uuid, uuid) == 0)
			return f;
	}
	if (!create || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
	f->next = *bucket;
	*bucket = f;
	return f;
}

/* FNV-1a of the canonical text: new BMC settings start a new count. */
static uint64_t
info_hash(const json_t *driver_info)
{
	char *text = json_dumps(driver_info, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = lb_hash_str(text);

	free(text);
	return h;
}

/* Marks a read under way; false if one already is (one at a time).
 * Called with sync_lock held. */
static bool
sync_claim(struct lb_engine *e, const char *uuid, uint64_t h)
{
	struct sync_failure *f;
	bool ok;

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
	return ok;
}

/* Ends a read: counts a failure or clears the count; the new count. */
static int
sync_done(struct lb_engine *e, const char *uuid, bool failed)
{
	struct sync_failure *f;
	int count = 0;

	pthread_mutex_lock(&e->sync->lock);
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
	pthread_mutex_unlock(&e->sync->lock);
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
	bool cleared = false;

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
		cleared = true;
	}
	snprintf(s->before, sizeof(s->before), "%s",
	    node->power_state ? node->power_state : "None");
	if (node->power_state == NULL || s->state == NULL ||
	    strcmp(node->power_state, s->state) != 0) {
		s->changed = true;
		free(node->power_state);
		node->power_state = s->state ? strdup(s->state) : NULL;
	}
	/* As Ironic: a read that finds what is stored saves nothing. */
	return s->changed || cleared ? 0 : LB_STORE_UNCHANGED;
}

static void sync_feed(struct lb_engine *e);

static void
sync_run(struct lb_job *base)
{
	struct sync_job *j = (struct sync_job *)base;
	struct lb_engine *e = j->e;
	struct sync_result s = { 0 };
	struct lb_node_task t;
	struct lb_err err = { "" }, uerr = { "" };
	enum lb_power_state state;
	char msg[LB_ERR_MSG_MAX + 128];
	int r, failures;

	r = lb_task_load(e, j->uuid, &t, &err);
	if (r == 0) {
		/* An operation on the BMC goes first; try next round. */
		r = lb_task_power_get_nowait(&t, &state, &err);
		lb_task_release(&t);
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
	sync_feed(e);
}

static void
sync_drop(struct lb_job *base)
{
	struct sync_job *j = (struct sync_job *)base;

	sync_done(j->e, j->uuid, false);
	free(j);
}

/*
 * Under sync_lock: claims the round's next node that may be read and a
 * pool slot beyond the operators' half for it; false when the round is
 * done or the pool has no room (the node stays next).
 */
static bool
sync_take(struct lb_engine *e, char uuid[LB_UUID_LEN + 1])
{
	struct lb_power_sync *ps = e->sync;
	const struct sync_item *it;

	for (; ps->round_next < ps->round_n; ps->round_next++) {
		it = &ps->round[ps->round_next];
		if (!sync_claim(e, it->uuid, it->info_hash))
			continue;	/* the last read still runs */
		if (lb_pool_reserve(&e->pool, e->pool.capacity / 2) < 0) {
			sync_record(e, it->uuid, false)->running = false;
			return false;
		}
		memcpy(uuid, it->uuid, LB_UUID_LEN + 1);
		ps->round_next++;
		return true;
	}
	return false;
}

/*
 * Queues the round's next reads while the pool has room; any thread (a
 * read that ends calls it, as does the timer).
 */
static void
sync_feed(struct lb_engine *e)
{
	struct sync_job *j;
	char uuid[LB_UUID_LEN + 1];
	bool taken;

	for (;;) {
		pthread_mutex_lock(&e->sync->lock);
		taken = sync_take(e, uuid);
		pthread_mutex_unlock(&e->sync->lock);
		if (!taken)
			return;
		j = calloc(1, sizeof(*j));
		if (j == NULL) {
			sync_done(e, uuid, false);
			lb_pool_unreserve(&e->pool);
			return;
		}
		j->base.run = sync_run;
		j->base.drop = sync_drop;
		j->e = e;
		memcpy(j->uuid, uuid, sizeof(j->uuid));
		lb_pool_submit(&e->pool, &j->base);
	}
}

/* The round being made: the nodes read so far and how many fit. */
struct sync_build {
	struct sync_item *items;
	size_t n, size, total;
};

/* Adds the node if it is idle and Ironic would read its power. */
static int
sync_round_add(const struct lb_node *node, void *arg)
{
	struct sync_build *b = arg;
	struct sync_item *more;

	b->total++;
	/* Ironic leaves enroll (and adopt failed) alone: their BMCs are
	 * not known to work yet. */
	if (node->target_power_state != NULL ||
	    !lb_state_is_stable(node->provision_state) ||
	    strcmp(node->provision_state, LB_STATE_ENROLL) == 0)
		return 0;
	if (b->n == b->size) {
		b->size = b->size ? b->size * 2 : LB_STORE_PAGE;
		more = realloc(b->items, b->size * sizeof(*more));
		if (more == NULL)
			return -ENOMEM;
		b->items = more;
	}
	snprintf(b->items[b->n].uuid, sizeof(b->items[b->n].uuid), "%s",
	    node->uuid);
	b->items[b->n++].info_hash = info_hash(node->driver_info);
	return 0;
}

static void
power_sync_fire(void *arg)
{
	struct lb_engine *e = arg;
	struct lb_power_sync *ps = e->sync;
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1, .reservation = "" };
	struct sync_build b = { 0 };
	struct lb_err err = { "" };
	size_t left;

	pthread_mutex_lock(&ps->lock);
	left = ps->round_n - ps->round_next;
	pthread_mutex_unlock(&ps->lock);
	if (left > 0) {
		log_debug("power state sync: the last round goes on, %zu "
		    "nodes left", left);
		sync_feed(e);
		return;
	}
	/* A page at a time: the round keeps uuids, not 10,000 records. */
	if (lb_store_node_each(e->store, &q, sync_round_add, &b, &err) < 0) {
		log_error("power state sync: %s", err.msg[0] ? err.msg :
		    "out of memory");
		free(b.items);
		return;
	}
	log_debug("power state sync: %zu of %zu nodes queued", b.n, b.total);
	pthread_mutex_lock(&ps->lock);
	free(ps->round);
	ps->round = b.items;
	ps->round_n = b.n;
	ps->round_next = 0;
	pthread_mutex_unlock(&ps->lock);
	sync_feed(e);
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
	struct sync_failure *f, *next;

	if (e->sync == NULL)
		return;
	for (size_t i = 0; i < SYNC_BUCKETS; i++) {
		for (f = e->sync->failures[i]; f != NULL; f = next) {
			next = f->next;
			free(f);
		}
	}
	free(e->sync->round);
	pthread_mutex_destroy(&e->sync->lock);
	free(e->sync);
	e->sync = NULL;
}

