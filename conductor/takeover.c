/*
 * takeover.c - the nodes of a dead conductor (its row older than
 * [conductor] heartbeat_timeout) go on under the conductors the ring now
 * gives them to: each heartbeat_interval the timer thread releases the
 * locks the dead one held on this conductor's new nodes (interrupted
 * transitions fail and are cleaned up, as after a restart), reads again
 * from the BMC the power of nodes whose power action it cut short (on a
 * thread of its own), and, once per death, starts again the consoles and
 * rescue captures it served.  A node in rescue wait needs nothing more:
 * its token is in the store, its callback timeout is the owner's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conductor/console_verbs.h"
#include "conductor/engine_ctx.h"
#include "conductor/power_sync.h"
#include "conductor/recovery.h"
#include "conductor/ring.h"
#include "conductor/states.h"
#include "conductor/store.h"
#include "conductor/takeover.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Reads of a busy BMC given way to, one second apart, before giving up. */
#define POWER_TRIES 30

/*
 * The dead conductors whose nodes this one has taken, and the nodes whose
 * consoles and staging wait for a clean-up's lock to go (timer thread).
 */
struct lb_takeover {
	char **gone;
	size_t n;
	struct lb_uuid_set pending;
	char **alive;			/* the others alive at the last tick */
	size_t nalive;
	bool primed;			/* alive has been read once */
};

/* Consoles to stop here: nodes a conductor that came back now owns. */
struct hand_back {
	struct lb_engine *e;
	const char *joined;
	struct lb_uuid_set nodes;
};

struct power_check {
	struct lb_engine *e;
	struct lb_uuid_set nodes;
};

/* Whether host is in the list, and where. */
static bool
find(char **list, size_t n, const char *host, size_t *at)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], host) == 0) {
			*at = i;
			return true;
		}
	return false;
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void
forget(struct lb_takeover *t, size_t at)
{
	free(t->gone[at]);
	t->gone[at] = t->gone[--t->n];
}

static bool
remember(struct lb_takeover *t, const char *host)
{
	char **more = realloc(t->gone, (t->n + 1) * sizeof(*more));

	if (more == NULL)
		return false;
	t->gone = more;
	t->gone[t->n] = strdup(host);
	return t->gone[t->n] != NULL && ++t->n > 0;
}

static int
set_power(struct lb_node *node, void *arg, struct lb_err *err)
{
	const char *state = arg;

	if (node->power_state != NULL && strcmp(node->power_state, state) == 0)
		return LB_STORE_UNCHANGED;
	return lb_replace_str(&node->power_state, state, err) < 0 ?
	    -ENOMEM : 0;
}

/* Its own thread: a BMC may take seconds, the timers may not wait. */
static void *
power_check_run(void *arg)
{
	struct power_check *pc = arg;
	struct lb_err err = { "" };

	for (size_t i = 0; i < pc->nodes.n; i++) {
		const char *uuid = pc->nodes.v[i];
		enum lb_power_state st;
		int r = -EAGAIN;

		for (int try = 0; r == -EAGAIN && try < POWER_TRIES; try++) {
			if (try > 0)
				sleep(1);
			r = lb_power_read(pc->e, uuid, &st, &err);
		}
		if (r == 0)
			r = lb_store_node_update(pc->e->store, uuid, set_power,
			    (void *)lb_power_state_name(st), NULL, &err);
		if (r < 0)
			log_warning("node %s: power not read again after the "
			    "take-over: %s", uuid, err.msg);
		else
			log_info("node %s: power read again after the "
			    "take-over: %s", uuid, lb_power_state_name(st));
	}
	lb_store_thread_release(pc->e->store);
	lb_uuid_set_free(&pc->nodes);
	free(pc);
	return NULL;
}

static void
power_check(struct lb_engine *e, struct lb_uuid_set *nodes)
{
	struct power_check *pc = malloc(sizeof(*pc));
	pthread_attr_t attr;
	pthread_t thread;

	if (pc == NULL) {
		lb_uuid_set_free(nodes);
		return;
	}
	*pc = (struct power_check){ e, *nodes };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, power_check_run, pc) != 0) {
		log_error("no thread to read the power of %zu node(s) taken "
		    "over", nodes->n);
		lb_uuid_set_free(nodes);
		free(pc);
	}
	pthread_attr_destroy(&attr);
}

/* The consoles to start: nodes now ours that were the dead one's. */
static bool
was_theirs(struct lb_engine *e, const struct lb_node *node, void *arg)
{
	return lb_engine_owns(e, node) && lb_ring_was_owner(e, node, arg);
}

/* A node picked but locked: its turn comes at a later tick. */
static void
postpone(struct lb_engine *e, const char *uuid, void *arg)
{
	(void)arg;
	if (lb_uuid_set_add(&e->takeover->pending, uuid) < 0)
		log_error("node %s: its console and staging are not taken "
		    "over: out of memory", uuid);
}

static bool
was_postponed(struct lb_engine *e, const struct lb_node *node, void *arg)
{
	return lb_engine_owns(e, node) && lb_uuid_set_has(arg, node->uuid);
}

/* The postponed nodes again: those still locked come back to the list. */
static void
retry_postponed(struct lb_engine *e)
{
	struct lb_uuid_set s = e->takeover->pending;

	if (s.n == 0)
		return;
	memset(&e->takeover->pending, 0, sizeof(e->takeover->pending));
	lb_console_take_over(e, was_postponed, &s, true, postpone);
	lb_uuid_set_free(&s);
}

static void
take_from(struct lb_engine *e, struct lb_conductor *gone, bool first)
{
	struct lb_uuid_set power = { 0 };
	int n;

	n = lb_recovery_take_over(e, gone->hostname, &power);
	if (n > 0)
		log_warning("took over %d node(s) locked by conductor %s, "
		    "silent for more than heartbeat_timeout (%d s)", n,
		    gone->hostname, e->cfg->heartbeat_timeout);
	if (power.n > 0)
		power_check(e, &power);
	if (first) {
		log_warning("conductor %s is gone (last heartbeat %s): the "
		    "rescue waits, consoles and rescue captures of its nodes "
		    "that are now this conductor's go on here",
		    gone->hostname, gone->updated_at);
		lb_console_take_over(e, was_theirs, gone, true, postpone);
	}
}

static int
handed_back(const struct lb_node *node, void *arg)
{
	struct hand_back *h = arg;
	char host[LB_RING_HOST_MAX];
	const char *now;

	if (!node->console_enabled &&
	    strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) != 0)
		return 0;
	now = lb_conductor_of(h->e, node, host);
	if (now == NULL || strcmp(now, h->joined) != 0 ||
	    !lb_ring_was_mine(h->e, node, h->joined))
		return 0;
	return lb_uuid_set_add(&h->nodes, node->uuid);
}

/* Its own thread: stopping a SOL session may take a moment. */
static void *
hand_back_run(void *arg)
{
	struct hand_back *h = arg;

	for (size_t i = 0; i < h->nodes.n; i++) {
		struct lb_node_task t;
		struct lb_err err = { "" };

		if (lb_task_load(h->e, h->nodes.v[i], &t, &err) < 0)
			continue;
		lb_task_console_capture_stop(&t);
		if (t.node->console_enabled &&
		    lb_task_console_stop(&t, &err) < 0)
			log_warning("node %s: console not stopped for conductor "
			    "%s: %s", t.node->uuid, h->joined, err.msg);
		else
			log_info("node %s: its console is conductor %s's again",
			    t.node->uuid, h->joined);
		lb_task_release(&t);
	}
	lb_store_thread_release(h->e->store);
	free((char *)h->joined);
	lb_uuid_set_free(&h->nodes);
	free(h);
	return NULL;
}

/*
 * A conductor that came back (or joined): the consoles and rescue
 * captures this one ran for the nodes the ring gives it now stop here,
 * so that one SOL session per BMC is left: the joiner's.
 */
static void
hand_back(struct lb_engine *e, const char *joined)
{
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	struct hand_back *h = calloc(1, sizeof(*h));
	struct lb_err err = { "" };
	pthread_attr_t attr;
	pthread_t thread;

	if (h == NULL || (h->joined = strdup(joined)) == NULL) {
		free(h);
		return;
	}
	h->e = e;
	if (lb_store_node_each(e->store, &q, handed_back, h, &err) < 0)
		log_error("hand-back to conductor %s: %s", joined, err.msg);
	if (h->nodes.n > 0) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&thread, &attr, hand_back_run, h) == 0)
			h = NULL;
		pthread_attr_destroy(&attr);
	}
	if (h != NULL) {
		free((char *)h->joined);
		lb_uuid_set_free(&h->nodes);
		free(h);
	}
}

/* The others alive now; the ones not alive at the last tick came back. */
static void
note_joined(struct lb_engine *e, const struct lb_conductor_list *rows)
{
	struct lb_takeover *t = e->takeover;
	char **alive = calloc(rows->n + 1, sizeof(*alive));
	size_t n = 0, at;
	bool refreshed = false;

	if (alive == NULL)
		return;
	for (size_t i = 0; i < rows->n; i++) {
		const struct lb_conductor *c = &rows->items[i];

		if (strcmp(c->hostname, e->cfg->host) == 0 ||
		    !lb_ring_row_alive(e, c) ||
		    (alive[n] = strdup(c->hostname)) == NULL)
			continue;
		if (t->primed && !find(t->alive, t->nalive, alive[n], &at)) {
			if (!refreshed)
				lb_ring_refresh(e);
			refreshed = true;
			hand_back(e, alive[n]);
		}
		n++;
	}
	free_list(t->alive, t->nalive);
	t->alive = alive;
	t->nalive = n;
	t->primed = true;
}

static void
tick(void *arg)
{
	struct lb_engine *e = arg;
	struct lb_conductor_query q = { .limit = 0 };
	struct lb_conductor_list rows;
	struct lb_err err = { "" };
	size_t at;

	retry_postponed(e);
	if (lb_store_conductor_list(e->store, &q, &rows, &err) < 0) {
		log_error("take-over check: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < rows.n; i++) {
		struct lb_conductor *c = &rows.items[i];
		bool known = find(e->takeover->gone, e->takeover->n,
		    c->hostname, &at);

		if (strcmp(c->hostname, e->cfg->host) == 0)
			continue;
		if (lb_ring_row_alive(e, c)) {
			if (known)
				forget(e->takeover, at);
			continue;
		}
		if (!known && !remember(e->takeover, c->hostname))
			continue;
		/* The ring must not count the dead one a moment longer. */
		if (!known)
			lb_ring_refresh(e);
		take_from(e, c, !known);
	}
	note_joined(e, &rows);
	lb_conductor_list_release(&rows);
}

/* Rows already dead at start: the start's recovery and restore did it. */
static void
note_dead(struct lb_engine *e)
{
	struct lb_conductor_query q = { .limit = 0 };
	struct lb_conductor_list rows;
	struct lb_err err = { "" };

	if (lb_store_conductor_list(e->store, &q, &rows, &err) < 0)
		return;
	for (size_t i = 0; i < rows.n; i++)
		if (strcmp(rows.items[i].hostname, e->cfg->host) != 0 &&
		    !lb_ring_row_alive(e, &rows.items[i]))
			remember(e->takeover, rows.items[i].hostname);
	lb_conductor_list_release(&rows);
}

int
lb_takeover_register(struct lb_engine *e)
{
	e->takeover = calloc(1, sizeof(*e->takeover));
	if (e->takeover == NULL)
		return -ENOMEM;
	note_dead(e);
	return lb_timers_add(&e->timers, e->cfg->heartbeat_interval, tick, e);
}

void
lb_takeover_free(struct lb_engine *e)
{
	if (e->takeover == NULL)
		return;
	free_list(e->takeover->gone, e->takeover->n);
	lb_uuid_set_free(&e->takeover->pending);
	free_list(e->takeover->alive, e->takeover->nalive);
	free(e->takeover);
	e->takeover = NULL;
}
