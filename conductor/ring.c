/*
 * ring.c - the node -> conductor mapping as Ironic's hash ring manager
 * keeps it: the alive conductors (this one by its own last heartbeat, the
 * others by their rows: online and updated within heartbeat_timeout) are
 * grouped by (conductor_group, hardware type), one tooz ring each; the
 * rings are rebuilt on the timer thread every hash_ring_reset_interval and
 * read by API threads and the periodic tasks under a read lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/ring.h"
#include "conductor/store.h"
#include "conductor/util/hashring.h"
#include "conductor/util/ident.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* One (group, driver) with its members, and without this conductor. */
struct ring_key {
	char *group;
	char *driver;
	char **hosts;			/* the members of 'all' */
	size_t nhosts;
	struct lb_hashring *all;
	struct lb_hashring *others;
};

/* Another alive conductor and where it takes requests. */
struct peer {
	char *host;
	char *url;
};

struct lb_ring {
	pthread_rwlock_t lock;
	struct ring_key *keys;
	size_t nkeys;
	struct peer *peers;
	size_t npeers;
	bool failing;			/* __atomic: any refreshing thread */
	double missed_at;		/* __atomic: the last refresh on a miss */
};

/* An alive conductor as the build reads it. */
struct member {
	const char *host;
	const char *group;
	json_t *drivers;		/* borrowed */
};

struct build {
	struct member *m;
	size_t n;
	struct ring_key *keys;
	size_t nkeys;
	struct peer *peers;
	size_t npeers;
};

static void
peers_free(struct peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].host);
		free(p[i].url);
	}
	free(p);
}

static void
keys_free(struct ring_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].group);
		free(keys[i].driver);
		for (size_t j = 0; j < keys[i].nhosts; j++)
			free(keys[i].hosts[j]);
		free(keys[i].hosts);
		lb_hashring_free(keys[i].all);
		lb_hashring_free(keys[i].others);
	}
	free(keys);
}

static bool
serves(const struct member *m, const char *group, const char *driver)
{
	size_t i;
	json_t *v;

	if (strcmp(m->group, group) != 0)
		return false;
	json_array_foreach(m->drivers, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    driver) == 0)
			return true;
	return false;
}

/* The key's two rings: its members, and its members but self. */
static int
key_rings(struct build *b, struct ring_key *k, const char *self, int exp)
{
	const char **all = calloc(b->n + 1, sizeof(*all));
	const char **others = calloc(b->n + 1, sizeof(*others));
	size_t na = 0, no = 0;
	int r = -ENOMEM;

	if (all != NULL && others != NULL) {
		for (size_t i = 0; i < b->n; i++) {
			if (!serves(&b->m[i], k->group, k->driver))
				continue;
			all[na++] = b->m[i].host;
			if (strcmp(b->m[i].host, self) != 0)
				others[no++] = b->m[i].host;
		}
		r = lb_hashring_new(all, na, exp, &k->all);
		if (r == 0)
			r = lb_hashring_new(others, no, exp, &k->others);
		k->hosts = r == 0 ? calloc(na + 1, sizeof(*k->hosts)) : NULL;
		if (r == 0 && k->hosts == NULL)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < na; i++)
			if ((k->hosts[k->nhosts++] = strdup(all[i])) == NULL)
				r = -ENOMEM;
	}
	free(all);
	free(others);
	return r;
}

static int
key_add(struct build *b, const char *group, const char *driver)
{
	struct ring_key *more;

	for (size_t i = 0; i < b->nkeys; i++)
		if (strcmp(b->keys[i].group, group) == 0 &&
		    strcmp(b->keys[i].driver, driver) == 0)
			return 0;
	more = realloc(b->keys, (b->nkeys + 1) * sizeof(*more));
	if (more == NULL)
		return -ENOMEM;
	b->keys = more;
	memset(&b->keys[b->nkeys], 0, sizeof(*more));
	b->keys[b->nkeys].group = strdup(group);
	b->keys[b->nkeys].driver = strdup(driver);
	b->nkeys++;
	if (b->keys[b->nkeys - 1].group == NULL ||
	    b->keys[b->nkeys - 1].driver == NULL)
		return -ENOMEM;
	return 0;
}

static int
build_keys(struct build *b, const char *self, int exp)
{
	size_t j;
	json_t *v;
	int r = 0;

	for (size_t i = 0; r == 0 && i < b->n; i++)
		json_array_foreach(b->m[i].drivers, j, v)
			if (r == 0 && json_is_string(v))
				r = key_add(b, b->m[i].group,
				    json_string_value(v));
	for (size_t i = 0; r == 0 && i < b->nkeys; i++)
		r = key_rings(b, &b->keys[i], self, exp);
	return r;
}

/* Ironic's get_online_conductors: online and fresh (wall clock). */
bool
lb_ring_row_alive(const struct lb_engine *e, const struct lb_conductor *c)
{
	double at, now = lb_clock_system.realtime(&lb_clock_system);

	if (!c->online || lb_time_parse_iso(c->updated_at, &at) < 0)
		return false;
	return now - at <= e->cfg->heartbeat_timeout &&
	    strlen(c->hostname) < LB_RING_HOST_MAX;
}

/*
 * This conductor by its own row (the drivers it registered), whatever the
 * row's age: its liveness is its last heartbeat, checked at each lookup.
 */
static int
build_from(const struct lb_engine *e, const struct lb_conductor_list *rows,
    struct build *b)
{
	const struct lb_config *cfg = e->cfg;

	b->m = calloc(rows->n + 1, sizeof(*b->m));
	if (b->m == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < rows->n; i++) {
		const struct lb_conductor *c = &rows->items[i];

		if (strcmp(c->hostname, cfg->host) != 0 && !lb_ring_row_alive(e, c))
			continue;
		b->m[b->n++] = (struct member){ c->hostname,
		    c->conductor_group, c->drivers };
	}
	b->peers = calloc(rows->n + 1, sizeof(*b->peers));
	if (b->peers == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < rows->n; i++) {
		const struct lb_conductor *c = &rows->items[i];

		if (strcmp(c->hostname, cfg->host) == 0 || !lb_ring_row_alive(e, c) ||
		    c->rpc_url == NULL || c->rpc_url[0] == '\0')
			continue;
		b->peers[b->npeers].host = strdup(c->hostname);
		b->peers[b->npeers].url = strdup(c->rpc_url);
		if (b->peers[b->npeers].host == NULL ||
		    b->peers[b->npeers++].url == NULL)
			return -ENOMEM;
	}
	return build_keys(b, cfg->host, cfg->hash_partition_exponent);
}

static void
refresh_failed(struct lb_ring *ring, const char *why)
{
	if (!__atomic_exchange_n(&ring->failing, true, __ATOMIC_ACQ_REL))
		log_error("hash ring not rebuilt (the last one stays): %s",
		    why);
}

void
lb_ring_refresh(const struct lb_engine *e)
{
	struct lb_conductor_query q = { .limit = 0 };
	struct lb_conductor_list rows;
	struct lb_err err = { "" };
	struct build b = { 0 };
	struct ring_key *old;
	struct peer *oldp;
	size_t nold, noldp;

	if (lb_store_conductor_list(e->store, &q, &rows, &err) < 0) {
		refresh_failed(e->ring, err.msg);
		return;
	}
	if (build_from(e, &rows, &b) < 0) {
		keys_free(b.keys, b.nkeys);
		peers_free(b.peers, b.npeers);
		refresh_failed(e->ring, "out of memory");
	} else {
		if (__atomic_exchange_n(&e->ring->failing, false,
		    __ATOMIC_ACQ_REL))
			log_info("hash ring rebuilt again");
		pthread_rwlock_wrlock(&e->ring->lock);
		old = e->ring->keys;
		nold = e->ring->nkeys;
		e->ring->keys = b.keys;
		e->ring->nkeys = b.nkeys;
		oldp = e->ring->peers;
		noldp = e->ring->npeers;
		e->ring->peers = b.peers;
		e->ring->npeers = b.npeers;
		pthread_rwlock_unlock(&e->ring->lock);
		keys_free(old, nold);
		peers_free(oldp, noldp);
		log_debug("hash ring rebuilt: %zu alive conductors, %zu "
		    "rings", b.n, b.nkeys);
	}
	free(b.m);
	lb_conductor_list_release(&rows);
}

static void
refresh_tick(void *arg)
{
	lb_ring_refresh(arg);
}

int
lb_ring_start(struct lb_engine *e)
{
	e->ring = calloc(1, sizeof(*e->ring));
	if (e->ring == NULL)
		return -ENOMEM;
	pthread_rwlock_init(&e->ring->lock, NULL);
	lb_ring_refresh(e);
	return lb_timers_add(&e->timers, e->cfg->hash_ring_reset_interval,
	    refresh_tick, e);
}

void
lb_ring_free(struct lb_engine *e)
{
	if (e->ring == NULL)
		return;
	keys_free(e->ring->keys, e->ring->nkeys);
	peers_free(e->ring->peers, e->ring->npeers);
	pthread_rwlock_destroy(&e->ring->lock);
	free(e->ring);
	e->ring = NULL;
}

static bool
self_alive(const struct lb_engine *e)
{
	double at;

	__atomic_load(&e->heartbeat_at, &at, __ATOMIC_ACQUIRE);
	return lb_engine_now(e) - at <= e->cfg->heartbeat_timeout;
}

/* The node's (group, driver) ring, or NULL.  The caller holds the lock. */
static const struct ring_key *
find_key(const struct lb_ring *ring, const struct lb_node *node)
{
	const char *group = node->conductor_group != NULL ?
	    node->conductor_group : "";

	for (size_t i = 0; i < ring->nkeys; i++)
		if (strcmp(ring->keys[i].group, group) == 0 &&
		    strcmp(ring->keys[i].driver, node->driver) == 0)
			return &ring->keys[i];
	return NULL;
}

/* self_counts: this conductor is a member whatever its heartbeat. */
static const char *
owner(const struct lb_engine *e, const struct lb_node *node,
    char buf[LB_RING_HOST_MAX], bool self_counts)
{
	const struct ring_key *k;
	const char *host = NULL;
	bool alive = self_counts || self_alive(e);

	if (e->ring == NULL || node->driver == NULL)
		return NULL;
	pthread_rwlock_rdlock(&e->ring->lock);
	k = find_key(e->ring, node);
	if (k != NULL)
		host = lb_hashring_lookup(alive ? k->all : k->others,
		    node->uuid);
	if (host != NULL)
		snprintf(buf, LB_RING_HOST_MAX, "%s", host);
	pthread_rwlock_unlock(&e->ring->lock);
	return host != NULL ? buf : NULL;
}

/*
 * As Ironic's ring manager: a node no ring serves has the rings rebuilt
 * at once (a conductor may have joined since), at most once a second.
 */
static const char *
owner_or_refresh(const struct lb_engine *e, const struct lb_node *node,
    char buf[LB_RING_HOST_MAX], bool self_counts)
{
	const char *host = owner(e, node, buf, self_counts);
	double now, last;

	if (host != NULL || e->ring == NULL || node->driver == NULL)
		return host;
	now = lb_engine_now(e);
	__atomic_load(&e->ring->missed_at, &last, __ATOMIC_ACQUIRE);
	if (now - last < 1.0 || !__atomic_compare_exchange(&e->ring->missed_at,
	    &last, &now, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return NULL;
	lb_ring_refresh(e);
	return owner(e, node, buf, self_counts);
}

const char *
lb_conductor_of(const struct lb_engine *e, const struct lb_node *node,
    char buf[LB_RING_HOST_MAX])
{
	return owner(e, node, buf, false);
}

/*
 * A running conductor counts itself in (a late heartbeat of its own does
 * not stop its periodic tasks); the reservation keeps two owners apart
 * while the rings of two conductors disagree, as in Ironic.
 */
bool
lb_engine_owns(const struct lb_engine *e, const struct lb_node *node)
{
	char buf[LB_RING_HOST_MAX];
	const char *host = owner(e, node, buf, true);

	return host != NULL && strcmp(host, e->cfg->host) == 0;
}

int
lb_ring_peer_of(const struct lb_engine *e, const struct lb_node *node,
    struct lb_ring_peer *ret)
{
	char host[LB_RING_HOST_MAX];
	int found = 0;

	if (owner_or_refresh(e, node, host, true) == NULL)
		return e->ring != NULL && node->driver != NULL ? -ENOENT : 0;
	if (strcmp(host, e->cfg->host) == 0)
		return 0;
	pthread_rwlock_rdlock(&e->ring->lock);
	for (size_t i = 0; !found && i < e->ring->npeers; i++) {
		if (strcmp(e->ring->peers[i].host, host) != 0)
			continue;
		snprintf(ret->host, sizeof(ret->host), "%s", host);
		snprintf(ret->url, sizeof(ret->url), "%s",
		    e->ring->peers[i].url);
		found = strlen(e->ring->peers[i].url) < sizeof(ret->url);
	}
	pthread_rwlock_unlock(&e->ring->lock);
	return found;
}

/* The key's members with 'extra' added: the ring before extra left. */
static const char *
owner_with(const struct ring_key *k, const char *extra, const char *uuid,
    int exp, char buf[LB_RING_HOST_MAX])
{
	const char **hosts = calloc(k->nhosts + 1, sizeof(*hosts));
	struct lb_hashring *ring = NULL;
	const char *host = NULL;

	if (hosts == NULL)
		return NULL;
	for (size_t i = 0; i < k->nhosts; i++)
		hosts[i] = k->hosts[i];
	hosts[k->nhosts] = extra;
	if (lb_hashring_new(hosts, k->nhosts + 1, exp, &ring) == 0)
		host = lb_hashring_lookup(ring, uuid);
	if (host != NULL)
		snprintf(buf, LB_RING_HOST_MAX, "%s", host);
	lb_hashring_free(ring);
	free(hosts);
	return host != NULL ? buf : NULL;
}

bool
lb_ring_was_owner(const struct lb_engine *e, const struct lb_node *node,
    const struct lb_conductor *gone)
{
	const char *group = node->conductor_group != NULL ?
	    node->conductor_group : "";
	const struct ring_key *k;
	char buf[LB_RING_HOST_MAX];
	const char *host = NULL;
	size_t i;
	json_t *v;
	bool served = false;

	if (e->ring == NULL || node->driver == NULL ||
	    strcmp(gone->conductor_group, group) != 0)
		return false;
	json_array_foreach(gone->drivers, i, v)
		served |= json_is_string(v) &&
		    strcmp(json_string_value(v), node->driver) == 0;
	if (!served)
		return false;
	pthread_rwlock_rdlock(&e->ring->lock);
	k = find_key(e->ring, node);
	if (k != NULL)
		host = owner_with(k, gone->hostname, node->uuid,
		    e->cfg->hash_partition_exponent, buf);
	pthread_rwlock_unlock(&e->ring->lock);
	return host != NULL && strcmp(host, gone->hostname) == 0;
}

bool
lb_ring_serves(const struct lb_engine *e, const struct lb_node *node)
{
	char host[LB_RING_HOST_MAX];

	return e == NULL || e->ring == NULL || node->driver == NULL ||
	    owner_or_refresh(e, node, host, true) != NULL;
}

bool
lb_ring_was_mine(const struct lb_engine *e, const struct lb_node *node,
    const char *joined)
{
	const struct ring_key *k;
	struct lb_hashring *ring = NULL;
	const char **hosts = NULL, *host = NULL;
	bool mine = false;
	size_t n = 0;

	if (e->ring == NULL || node->driver == NULL)
		return false;
	pthread_rwlock_rdlock(&e->ring->lock);
	k = find_key(e->ring, node);
	if (k != NULL)
		hosts = calloc(k->nhosts + 1, sizeof(*hosts));
	for (size_t i = 0; hosts != NULL && i < k->nhosts; i++)
		if (strcmp(k->hosts[i], joined) != 0)
			hosts[n++] = k->hosts[i];
	if (hosts != NULL && lb_hashring_new(hosts, n, e->cfg->
	    hash_partition_exponent, &ring) == 0)
		host = lb_hashring_lookup(ring, node->uuid);
	mine = host != NULL && strcmp(host, e->cfg->host) == 0;
	pthread_rwlock_unlock(&e->ring->lock);
	lb_hashring_free(ring);
	free(hosts);
	return mine;
}
