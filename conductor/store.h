/*
 * store.h - where nodes and ports live.  One interface, one implementation
 * per database (store_sqlite.c now; PostgreSQL later), chosen by the
 * [database] connection URL.  The API and the state machine only see this.
 *
 * Every call is safe from any thread.  Read-modify-write goes through the
 * *_update callbacks, which run inside one write transaction: what the
 * callback sees is what it changes, with no lost update.
 */
#ifndef LB_STORE_H
#define LB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "conductor/node.h"
#include "conductor/util/dburl.h"
#include "conductor/util/err.h"
#include "conductor/util/ident.h"

struct lb_store;

struct lb_node_query {
	const char *provision_state;	/* NULL: any */
	const char *driver;
	const char *resource_class;
	const char *conductor_group;
	const char *owner;
	const char *lessee;
	const char *fault;
	const char *instance_uuid;
	const char *description_contains; /* SQL LIKE %X%, as Ironic */
	const char *project;		/* owner or lessee */
	const char *reservation;	/* "" matches no reservation */
	int maintenance;		/* -1 any, 0, 1 */
	int associated;			/* -1 any, 0 no instance, 1 has one */
	int retired;			/* -1 any */
	const char *sort_key;		/* a stored field name; NULL = id */
	bool sort_desc;
	const char *marker;		/* node UUID to start after */
	size_t limit;			/* 0: no limit */
};

struct lb_port_query {
	const char *node_uuid;		/* NULL: any */
	const char *address;
	const char *sort_key;
	bool sort_desc;
	const char *marker;
	size_t limit;
};

/* A conductor's row: who it is, what it drives, its last heartbeat. */
struct lb_conductor {
	char *hostname;
	char *conductor_group;		/* "" for the default group */
	json_t *drivers;		/* array of hardware type names */
	bool online;
	char created_at[LB_TIME_LEN];
	char updated_at[LB_TIME_LEN];	/* the heartbeat */
	char *rpc_url;			/* "" for none: where peers reach it */
};

/* The conductors' shared secret: a random token of 48 bytes. */
#define LB_CLUSTER_SECRET_LEN 64

struct lb_conductor_query {
	const char *sort_key;		/* a stored column; NULL = id */
	bool sort_desc;
	const char *marker;		/* hostname to start after */
	size_t limit;			/* 0: no limit */
};

struct lb_conductor_list {
	struct lb_conductor *items;
	size_t n;
};

/* One node history event (Ironic's node_history row). */
struct lb_history_event {
	char uuid[LB_UUID_LEN + 1];
	char node_uuid[LB_UUID_LEN + 1];
	char created_at[LB_TIME_LEN];	/* microseconds, "+00:00" */
	char severity[8];		/* "INFO" or "ERROR" */
	char *event;
	char *event_type;
	char *conductor;		/* [DEFAULT] host of the recorder */
	char *user;			/* NULL: none (noauth, periodic) */
};

struct lb_history_query {
	const char *node_uuid;
	const char *marker;		/* event UUID to start after */
	size_t limit;			/* 0: no limit */
};

struct lb_history_list {
	struct lb_history_event *items;
	size_t n;
};

/* Ironic's manage_node_history, over every node of the store. */
struct lb_history_purge {
	size_t max_entries;		/* rows kept per node */
	const char *older_than;		/* only rows created before (ISO) */
	size_t batch_count;		/* stop once so many are deleted */
	/* Only nodes this says yes to (NULL: every node): ring ownership. */
	bool (*node_ok)(void *arg, const char *uuid, const char *driver,
	    const char *conductor_group);
	void *node_ok_arg;
};

struct lb_node_list {
	struct lb_node **items;
	size_t n;
};

struct lb_port_list {
	struct lb_port **items;
	size_t n;
};

/*
 * Runs inside the write transaction with the current record, which it may
 * change; returning < 0 rolls back and the error goes to the caller, and
 * LB_STORE_UNCHANGED says nothing changed (no write, updated_at kept).
 */
#define LB_STORE_UNCHANGED 1

typedef int (*lb_node_update_fn)(struct lb_node *node, void *arg,
    struct lb_err *err);
/* One group of nodes: their states, maintenance, and how many. */
typedef void (*lb_node_count_fn)(const char *provision_state,
    const char *power_state, bool maintenance, long count, void *arg);
typedef int (*lb_port_update_fn)(struct lb_port *port,
    const struct lb_node *node, void *arg, struct lb_err *err);

struct lb_store_ops {
	enum lb_db_kind kind;		/* the URLs it opens */
	int (*open)(const struct lb_db_url *url, struct lb_store **ret,
	    struct lb_err *err);
	void (*close)(struct lb_store *store);
	/*
	 * The calling thread is done with the store for now: its connection
	 * goes back to the pool (threads that come and go call this before
	 * they end; a thread's next call takes one again).
	 */
	void (*thread_release)(struct lb_store *store);
	/* Connections open now, in use or idle (for tests and leaks). */
	size_t (*open_connections)(struct lb_store *store);

	int (*node_get)(struct lb_store *store, const char *ident,
	    struct lb_node **ret, struct lb_err *err);
	int (*node_list)(struct lb_store *store, const struct lb_node_query *q,
	    struct lb_node_list *ret, struct lb_err *err);
	int (*node_create)(struct lb_store *store, struct lb_node *node,
	    struct lb_err *err);
	int (*node_update)(struct lb_store *store, const char *ident,
	    lb_node_update_fn fn, void *arg, struct lb_node **ret,
	    struct lb_err *err);
	int (*node_delete)(struct lb_store *store, const char *ident,
	    lb_node_update_fn check, void *arg, struct lb_err *err);

	int (*port_get)(struct lb_store *store, const char *uuid,
	    struct lb_port **ret, struct lb_err *err);
	int (*port_list)(struct lb_store *store, const struct lb_port_query *q,
	    struct lb_port_list *ret, struct lb_err *err);
	int (*port_create)(struct lb_store *store, struct lb_port *port,
	    struct lb_err *err);
	int (*port_update)(struct lb_store *store, const char *uuid,
	    lb_port_update_fn fn, void *arg, struct lb_port **ret,
	    struct lb_err *err);
	/* 'check' (may be NULL) runs in the transaction, as for update. */
	int (*port_delete)(struct lb_store *store, const char *uuid,
	    lb_port_update_fn check, void *arg, struct lb_err *err);

	/*
	 * Writes c's row (online, updated_at now), taking over a row of the
	 * same hostname (its created_at kept); *ret_was_online says whether
	 * that row was still online.
	 */
	int (*conductor_register)(struct lb_store *store,
	    const struct lb_conductor *c, bool *ret_was_online,
	    struct lb_err *err);
	/* updated_at = now and online as given; -ENOENT without the row. */
	int (*conductor_touch)(struct lb_store *store, const char *hostname,
	    bool online, struct lb_err *err);
	int (*conductor_get)(struct lb_store *store, const char *hostname,
	    struct lb_conductor *ret, struct lb_err *err);
	int (*conductor_list)(struct lb_store *store,
	    const struct lb_conductor_query *q, struct lb_conductor_list *ret,
	    struct lb_err *err);
	/*
	 * The secret the conductors sign requests to each other with: the
	 * stored one, or, the first time, secret as given (a fresh random
	 * one), which is stored.  Either way secret holds it after.
	 */
	int (*cluster_secret)(struct lb_store *store,
	    char secret[LB_CLUSTER_SECRET_LEN + 1], struct lb_err *err);

	/*
	 * Calls fn once per (provision state, power state, maintenance)
	 * group of nodes with its count: one GROUP BY (the metrics' gauges).
	 * power_state is NULL when never read.
	 */
	int (*node_counts)(struct lb_store *store, lb_node_count_fn fn,
	    void *arg, struct lb_err *err);
	/* Node history (store_sqlite_history.c). */
	int (*history_add)(struct lb_store *store, struct lb_history_event *ev,
	    struct lb_err *err);
	int (*history_list)(struct lb_store *store,
	    const struct lb_history_query *q, struct lb_history_list *ret,
	    struct lb_err *err);
	int (*history_get)(struct lb_store *store, const char *node_uuid,
	    const char *uuid, struct lb_history_event *ret,
	    struct lb_err *err);
	int (*history_delete)(struct lb_store *store, const char *node_uuid,
	    struct lb_err *err);
	int (*history_purge)(struct lb_store *store,
	    const struct lb_history_purge *p, size_t *ret_deleted,
	    struct lb_err *err);
};

struct lb_store {
	const struct lb_store_ops *ops;
};

/*
 * Opens the store named by a [database] connection URL ("sqlite:///PATH"),
 * parsed by lb_db_url_parse() as `lifeboatd --check` does.
 */
int lb_store_open(const char *url, struct lb_store **ret, struct lb_err *err);
void lb_store_close(struct lb_store *store);

void lb_node_list_release(struct lb_node_list *list);
void lb_port_list_release(struct lb_port_list *list);
void lb_conductor_release(struct lb_conductor *c);
void lb_conductor_list_release(struct lb_conductor_list *list);
void lb_history_event_release(struct lb_history_event *ev);
void lb_history_list_release(struct lb_history_list *list);

/* Nodes read at a time by lb_store_node_each(). */
#define LB_STORE_PAGE 256

/* Returns 0 to go on, > 0 to stop there, < 0 (negative errno) to fail. */
typedef int (*lb_node_each_fn)(const struct lb_node *node, void *arg);

/*
 * Calls fn for each node 'q' matches (q->limit 0, q->marker NULL), read
 * LB_STORE_PAGE at a time so that no more than a page of full records is
 * held (10,000 nodes would be tens of MB).  A node deleted meanwhile may
 * end the walk early with -EINVAL (its marker is gone).  0, or fn's or
 * the store's negative errno.
 */
int lb_store_node_each(struct lb_store *s, const struct lb_node_query *q,
    lb_node_each_fn fn, void *arg, struct lb_err *err);

/*
 * Short wrappers so callers never touch the vtable.  'ident' is a UUID or a
 * name.  Not found is -ENOENT with Ironic's message; a duplicate name, UUID,
 * instance UUID or MAC is -EEXIST.
 */
static inline void
lb_store_thread_release(struct lb_store *s)
{
	s->ops->thread_release(s);
}

static inline size_t
lb_store_open_connections(struct lb_store *s)
{
	return s->ops->open_connections(s);
}

static inline int
lb_store_node_get(struct lb_store *s, const char *ident, struct lb_node **ret,
    struct lb_err *err)
{
	return s->ops->node_get(s, ident, ret, err);
}

static inline int
lb_store_node_list(struct lb_store *s, const struct lb_node_query *q,
    struct lb_node_list *ret, struct lb_err *err)
{
	return s->ops->node_list(s, q, ret, err);
}

/* Fills in id and created_at. */
static inline int
lb_store_node_create(struct lb_store *s, struct lb_node *node,
    struct lb_err *err)
{
	return s->ops->node_create(s, node, err);
}

/* Sets updated_at when fn changed something; *ret (may be NULL) = result. */
static inline int
lb_store_node_update(struct lb_store *s, const char *ident,
    lb_node_update_fn fn, void *arg, struct lb_node **ret, struct lb_err *err)
{
	return s->ops->node_update(s, ident, fn, arg, ret, err);
}

/* Deletes the node and its ports if 'check' (may be NULL) allows it. */
static inline int
lb_store_node_delete(struct lb_store *s, const char *ident,
    lb_node_update_fn check, void *arg, struct lb_err *err)
{
	return s->ops->node_delete(s, ident, check, arg, err);
}

static inline int
lb_store_port_get(struct lb_store *s, const char *uuid, struct lb_port **ret,
    struct lb_err *err)
{
	return s->ops->port_get(s, uuid, ret, err);
}

static inline int
lb_store_port_list(struct lb_store *s, const struct lb_port_query *q,
    struct lb_port_list *ret, struct lb_err *err)
{
	return s->ops->port_list(s, q, ret, err);
}

/* port->node_uuid names the node (it must exist: -EINVAL otherwise). */
static inline int
lb_store_port_create(struct lb_store *s, struct lb_port *port,
    struct lb_err *err)
{
	return s->ops->port_create(s, port, err);
}

static inline int
lb_store_port_update(struct lb_store *s, const char *uuid,
    lb_port_update_fn fn, void *arg, struct lb_port **ret, struct lb_err *err)
{
	return s->ops->port_update(s, uuid, fn, arg, ret, err);
}

static inline int
lb_store_port_delete(struct lb_store *s, const char *uuid,
    lb_port_update_fn check, void *arg, struct lb_err *err)
{
	return s->ops->port_delete(s, uuid, check, arg, err);
}

static inline int
lb_store_conductor_register(struct lb_store *s, const struct lb_conductor *c,
    bool *ret_was_online, struct lb_err *err)
{
	return s->ops->conductor_register(s, c, ret_was_online, err);
}

static inline int
lb_store_conductor_touch(struct lb_store *s, const char *hostname,
    bool online, struct lb_err *err)
{
	return s->ops->conductor_touch(s, hostname, online, err);
}

/* Not found: -ENOENT "Conductor <hostname> could not be found." */
static inline int
lb_store_conductor_get(struct lb_store *s, const char *hostname,
    struct lb_conductor *ret, struct lb_err *err)
{
	return s->ops->conductor_get(s, hostname, ret, err);
}

/* An unknown marker is -EINVAL, as for nodes. */
static inline int
lb_store_conductor_list(struct lb_store *s,
    const struct lb_conductor_query *q, struct lb_conductor_list *ret,
    struct lb_err *err)
{
	return s->ops->conductor_list(s, q, ret, err);
}

static inline int
lb_store_cluster_secret(struct lb_store *s,
    char secret[LB_CLUSTER_SECRET_LEN + 1], struct lb_err *err)
{
	return s->ops->cluster_secret(s, secret, err);
}

static inline int
lb_store_node_counts(struct lb_store *s, lb_node_count_fn fn, void *arg,
    struct lb_err *err)
{
	return s->ops->node_counts(s, fn, arg, err);
}

/*
 * Adds ev for the node ev->node_uuid (which must exist: -ENOENT), filling
 * in its uuid and created_at.  The node's deletion deletes its events.
 */
static inline int
lb_store_history_add(struct lb_store *s, struct lb_history_event *ev,
    struct lb_err *err)
{
	return s->ops->history_add(s, ev, err);
}

/*
 * A node's events, oldest first, a page after the marker; a marker that
 * is no event of this node: -ENOENT "Node history record <uuid> could not
 * be found."
 */
static inline int
lb_store_history_list(struct lb_store *s, const struct lb_history_query *q,
    struct lb_history_list *ret, struct lb_err *err)
{
	return s->ops->history_list(s, q, ret, err);
}

/* One event of the node; another node's is -ENOENT as an unknown one. */
static inline int
lb_store_history_get(struct lb_store *s, const char *node_uuid,
    const char *uuid, struct lb_history_event *ret, struct lb_err *err)
{
	return s->ops->history_get(s, node_uuid, uuid, ret, err);
}

/* Every event of the node (a node's deletion does it too). */
static inline int
lb_store_history_delete(struct lb_store *s, const char *node_uuid,
    struct lb_err *err)
{
	return s->ops->history_delete(s, node_uuid, err);
}

/*
 * Per node, of its events created before p->older_than, the oldest beyond
 * p->max_entries are deleted; nodes are taken in turn until the deleted
 * total reaches p->batch_count (the node that crosses it is done whole).
 * One write transaction; *ret_deleted the rows deleted.
 */
static inline int
lb_store_history_purge(struct lb_store *s, const struct lb_history_purge *p,
    size_t *ret_deleted, struct lb_err *err)
{
	return s->ops->history_purge(s, p, ret_deleted, err);
}

#endif
