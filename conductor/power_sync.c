/*
 * power_sync.c - the periodic power-state sync, as Ironic's: every
 * [conductor] sync_power_state_interval the timer thread lists the nodes
 * not in maintenance (a page of records at a time) into a round; the
 * round's reads run on the worker pool, at most half the pool at once
 * (the other half stays for operators), each read that ends queueing the
 * next, so one round reads every node (Ironic's sync workers drain one
 * queue of all nodes the same way); a round the pool could not feed goes
 * on at the next tick.  A read gives way when the BMC is busy, records
 * what changed outside lifeboat (a read that finds what is stored writes
 * nothing), and counts failures in memory; one more than [conductor]
 * power_state_sync_max_retries puts the node into maintenance with fault
 * "power failure" (power_recovery.c takes it out, in rounds of its own).
 * The reads hold no lock and move no provision state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/power_sync.h"
#include "conductor/ring.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/hash.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Buckets of the per-node records (10,000 nodes: a few per bucket). */
#define SYNC_BUCKETS 4096
/* Rounds under way at once: the sync's and the recovery's. */
#define READ_ROUNDS 2

/* Per node: consecutive failures, and whether a read is under way. */
struct sync_record {
	char uuid[LB_UUID_LEN + 1];
	int count;
	bool running;
	struct sync_record *next;
};

/* A node of a round. */
struct round_item {
	char uuid[LB_UUID_LEN + 1];
	bool unset;		/* it had no power state when listed */
};

/* The nodes one tick listed for fn, fed to the pool as reads end. */
struct read_round {
	lb_power_read_fn fn;
	struct round_item *items;
	size_t n, next;		/* how many; the next to queue */
};

struct lb_power_sync {
	pthread_mutex_t lock;
	struct sync_record *records[SYNC_BUCKETS];	/* by uuid */
	struct read_round rounds[READ_ROUNDS];
};

struct read_job {
	struct lb_job base;
	struct lb_engine *e;
	struct read_round *round;
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
	struct sync_record **bucket, *f;

	bucket = &e->sync->records[lb_hash_str(uuid) % SYNC_BUCKETS];
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

/* ---- rounds of read jobs, shared with power_recovery.c ---- */

static void round_feed(struct lb_engine *e, struct read_round *rd);

static void
read_run(struct lb_job *base)
{
	struct read_job *j = (struct read_job *)base;
	struct lb_engine *e = j->e;
	struct read_round *rd = j->round;

	read_done(e, j->uuid, rd->fn(e, j->uuid, j->unset, j->count));
	free(j);
	round_feed(e, rd);
}

static void
read_drop(struct lb_job *base)
{
	struct read_job *j = (struct read_job *)base;

	read_done(j->e, j->uuid, -1);
	free(j);
}

/*
 * Under the lock: claims the round's next node that has no read under
 * way and a pool slot beyond the operators' half for it; false when the
 * round is done or the pool has no room (the node stays next).
 */
static bool
round_take(struct lb_engine *e, struct read_round *rd,
    struct round_item *ret, int *ret_count)
{
	struct sync_record *f;

	for (; rd->next < rd->n; rd->next++) {
		f = sync_record(e, rd->items[rd->next].uuid, true);
		if (f == NULL || f->running)
			continue;	/* the last read still runs */
		if (lb_pool_reserve(&e->pool, e->pool.capacity / 2) < 0)
			return false;
		f->running = true;
		*ret_count = f->count;
		*ret = rd->items[rd->next++];
		return true;
	}
	return false;
}

/* Queues the round's next reads while the pool has room; any thread. */
static void
round_feed(struct lb_engine *e, struct read_round *rd)
{
	struct round_item it;
	struct read_job *j;
	int count = 0;
	bool taken;

	for (;;) {
		pthread_mutex_lock(&e->sync->lock);
		taken = round_take(e, rd, &it, &count);
		pthread_mutex_unlock(&e->sync->lock);
		if (!taken)
			return;
		j = calloc(1, sizeof(*j));
		if (j == NULL) {
			read_done(e, it.uuid, -1);
			lb_pool_unreserve(&e->pool);
			return;
		}
		j->base.run = read_run;
		j->base.drop = read_drop;
		j->e = e;
		j->round = rd;
		j->unset = it.unset;
		j->count = count;
		memcpy(j->uuid, it.uuid, sizeof(j->uuid));
		lb_pool_submit(&e->pool, &j->base);
	}
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
	/* As Ironic: a read that finds what is stored saves nothing. */
	if (same || (s->state == NULL && !s->failed))
		return s->failed ? 0 : LB_STORE_UNCHANGED;
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
	if (s.failed)
		lb_history_record(e, uuid, LB_HISTORY_ERROR, "monitoring",
		    NULL, "%s", n->last_error);
	lb_node_free(n);
	return s.count;
}

/* The round being made: its filter and the nodes taken so far. */
struct round_build {
	const struct lb_engine *e;
	bool (*skip)(const struct lb_node *n);
	struct round_item *items;
	size_t n, size, total;
};

static int
round_add(const struct lb_node *n, void *arg)
{
	struct round_build *b = arg;
	struct round_item *more;

	b->total++;
	if (n->target_power_state != NULL || b->skip(n) ||
	    !lb_engine_owns(b->e, n))
		return 0;
	if (b->n == b->size) {
		b->size = b->size ? b->size * 2 : LB_STORE_PAGE;
		more = realloc(b->items, b->size * sizeof(*more));
		if (more == NULL)
			return -ENOMEM;
		b->items = more;
	}
	snprintf(b->items[b->n].uuid, sizeof(b->items[b->n].uuid), "%s",
	    n->uuid);
	b->items[b->n++].unset = n->power_state == NULL;
	return 0;
}

/* Under the lock: fn's round, or a free one taken for it. */
static struct read_round *
round_of(struct lb_power_sync *ps, lb_power_read_fn fn)
{
	for (size_t i = 0; i < READ_ROUNDS; i++) {
		if (ps->rounds[i].fn == fn)
			return &ps->rounds[i];
	}
	for (size_t i = 0; i < READ_ROUNDS; i++) {
		if (ps->rounds[i].fn == NULL) {
			ps->rounds[i].fn = fn;
			return &ps->rounds[i];
		}
	}
	return NULL;
}

void
lb_power_read_each(struct lb_engine *e, const struct lb_node_query *q,
    bool (*skip)(const struct lb_node *n), lb_power_read_fn fn,
    const char *what)
{
	struct lb_power_sync *ps = e->sync;
	struct round_build b = { .e = e, .skip = skip };
	struct lb_err err = { "" };
	struct read_round *rd;
	size_t left;

	pthread_mutex_lock(&ps->lock);
	rd = round_of(ps, fn);
	left = rd != NULL ? rd->n - rd->next : 0;
	pthread_mutex_unlock(&ps->lock);
	if (rd == NULL)
		return;
	if (left > 0) {
		log_debug("%s: the last round goes on, %zu nodes left", what,
		    left);
		round_feed(e, rd);
		return;
	}
	/* A page at a time: the round keeps uuids, not 10,000 records. */
	if (lb_store_node_each(e->store, q, round_add, &b, &err) < 0) {
		log_error("%s: %s", what, err.msg[0] ? err.msg :
		    "out of memory");
		free(b.items);
		return;
	}
	log_debug("%s: %zu of %zu nodes queued", what, b.n, b.total);
	pthread_mutex_lock(&ps->lock);
	free(rd->items);
	rd->items = b.items;
	rd->n = b.n;
	rd->next = 0;
	pthread_mutex_unlock(&ps->lock);
	round_feed(e, rd);
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
	for (size_t i = 0; i < SYNC_BUCKETS; i++) {
		for (f = e->sync->records[i]; f != NULL; f = next) {
			next = f->next;
			free(f);
		}
	}
	for (size_t i = 0; i < READ_ROUNDS; i++)
		free(e->sync->rounds[i].items);
	pthread_mutex_destroy(&e->sync->lock);
	free(e->sync);
	e->sync = NULL;
}
