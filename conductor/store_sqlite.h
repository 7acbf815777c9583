/*
 * store_sqlite.h - the SQLite store's insides, shared by its files: the
 * per-thread connection pool (store_sqlite_conn.c), the schema and statement
 * text (store_sqlite_schema.c), the CRUD common to every record table
 * (store_sqlite_crud.c) and the node and port tables (store_sqlite.c).
 * Internal to conductor/; every function runs on the calling thread.
 */
#ifndef LB_STORE_SQLITE_H
#define LB_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>

#include "conductor/record.h"
#include "conductor/store.h"

/* The statements each table keeps prepared on every connection. */
enum sq_stmt_kind {
	SQ_BY_UUID,		/* the record, by its UUID */
	SQ_BY_NAME,		/* the record, by its name (nodes) */
	SQ_INSERT,
	SQ_UPDATE,		/* every stored column, by id */
	SQ_DELETE,		/* by id */
	SQ_ID_BY_UUID,		/* the row id only */
	SQ_KIND_COUNT,
};

#define SQ_TABLE_COUNT 2	/* nodes, ports */
#define SQ_STMT_COUNT (SQ_TABLE_COUNT * SQ_KIND_COUNT)

/* A unique column and the message Ironic gives when a write breaks it. */
struct sq_unique {
	const char *column;	/* ".name": matched in SQLite's message */
	const char *field;	/* the record field shown by the message */
	const char *fmt;	/* one %s: the field's value */
};

/*
 * One record table, as data: what the generic CRUD needs to know about it.
 * A table with a parent (ports) holds the parent's row id in node_id, and its
 * record the parent's UUID, resolved on every write and joined on read.
 */
struct sq_table {
	int index;			/* 0 .. SQ_TABLE_COUNT - 1 */
	const struct lb_record_type *type;
	const char *table;		/* "nodes" */
	const char *from;		/* reads: "ports p JOIN nodes n ON ..." */
	const char *alias;		/* column prefix in reads: "", "p." */
	const char *kind;		/* "Node": "Node %s could not be found." */
	const char *name_column;	/* looked up when not a UUID; or NULL */
	/* Not found shows the normalized UUID (ports) or the ident as given. */
	bool not_found_normalized;
	const struct sq_table *parent;	/* ports: nodes */
	const char *parent_column;	/* "node_id" */
	const char *parent_uuid_col;	/* the parent's UUID in reads */
	size_t id_offset;		/* int64_t row id */
	size_t created_offset;		/* char *created_at */
	size_t updated_offset;		/* char *updated_at */
	size_t parent_id_offset;	/* int64_t node_id */
	size_t parent_uuid_offset;	/* char[LB_UUID_LEN + 1] node_uuid */
	const struct sq_unique *unique;
	size_t nunique;
	void *(*rec_new)(void);
	void (*rec_free)(void *rec);
};

struct conn;

struct store_sqlite {
	struct lb_store base;
	char *path;
	pthread_key_t conn_key;
	pthread_mutex_t conns_lock;
	/* One writer at a time, in turn (store_sqlite_conn.c). */
	pthread_mutex_t write_lock;	/* guards the four below */
	bool writing;
	struct sq_waiter *wait_head, *wait_tail;
	bool disk_full;			/* the last write: -ENOSPC */
	double write_started;		/* when the lock holder took it */
	struct conn *conns;		/* every open connection, for close */
	struct conn *idle;		/* given back, for the next thread */
	size_t nidle;
	size_t nopen;
	char *cols[SQ_TABLE_COUNT];	/* "p.address, p.created_at, ..." */
	char *select[SQ_TABLE_COUNT];	/* "SELECT id, ... FROM ..." */
	char *sql[SQ_STMT_COUNT];	/* by sq_stmt_id() */
};

static inline struct store_sqlite *
sq_store(struct lb_store *s)
{
	return (struct store_sqlite *)s;
}

static inline int
sq_stmt_id(const struct sq_table *t, enum sq_stmt_kind kind)
{
	return t->index * SQ_KIND_COUNT + (int)kind;
}

/* store_sqlite_conn.c: connections, statements, transactions. */
int sq_db_error(struct lb_err *err, sqlite3 *db, const char *what);
int sq_exec(sqlite3 *db, const char *sql, struct lb_err *err,
    const char *what);
/* The calling thread's connection, taken from the pool or opened. */
int sq_get_db(struct store_sqlite *st, sqlite3 **ret, struct lb_err *err);
/*
 * The connection's cached statement, ready for binding.  Callers hand it
 * back with sq_stmt_done() as soon as the rows are read, which also ends
 * the statement's read snapshot.
 */
int sq_get_stmt(struct store_sqlite *st, sqlite3 *db, int id,
    sqlite3_stmt **ret, struct lb_err *err);
void sq_stmt_done(sqlite3_stmt *stmt);
/*
 * A write transaction: begin takes the store's writer lock, end (commit
 * when r is 0, roll back otherwise; returns the outcome) gives it back.
 */
int sq_begin_write_tx(struct store_sqlite *st, sqlite3 *db,
    struct lb_err *err);
int sq_end_write_tx(struct store_sqlite *st, sqlite3 *db, int r,
    struct lb_err *err);
/* As sq_end_write_tx(), for the migration at open (no writer lock). */
int sq_end_tx(sqlite3 *db, int r, struct lb_err *err);
int sq_pool_init(struct store_sqlite *st);
void sq_pool_release(struct store_sqlite *st);
/* A read (one get or one page of a list) that began at 'started'
 * (lb_monotonic()), into the metrics. */
void sq_observe_read(double started);
void sq_thread_release(struct lb_store *s);
size_t sq_open_connections(struct lb_store *s);

/* store_sqlite_conductors.c: the conductors table (store.h's ops). */
int sq_cluster_secret(struct lb_store *s,
    char secret[LB_CLUSTER_SECRET_LEN + 1], struct lb_err *err);
int sq_conductor_register(struct lb_store *s, const struct lb_conductor *c,
    bool *ret_was_online, struct lb_err *err);
int sq_conductor_touch(struct lb_store *s, const char *hostname, bool online,
    struct lb_err *err);
int sq_conductor_get(struct lb_store *s, const char *hostname,
    struct lb_conductor *ret, struct lb_err *err);
int sq_conductor_list(struct lb_store *s, const struct lb_conductor_query *q,
    struct lb_conductor_list *ret, struct lb_err *err);

/* store_sqlite_stats.c: counts for the metrics (store.h's node_counts). */
int sq_node_counts(struct lb_store *s, lb_node_count_fn fn, void *arg,
    struct lb_err *err);
/* store_sqlite_history.c: the node_history table (store.h's ops). */
int sq_history_add(struct lb_store *s, struct lb_history_event *ev,
    struct lb_err *err);
int sq_history_list(struct lb_store *s, const struct lb_history_query *q,
    struct lb_history_list *ret, struct lb_err *err);
int sq_history_get(struct lb_store *s, const char *node_uuid,
    const char *uuid, struct lb_history_event *ret, struct lb_err *err);
int sq_history_delete(struct lb_store *s, const char *node_uuid,
    struct lb_err *err);
int sq_history_purge(struct lb_store *s, const struct lb_history_purge *p,
    size_t *ret_deleted, struct lb_err *err);

/* store_sqlite_schema.c: migrations and the statements' text. */
int sq_migrate(sqlite3 *db, struct lb_err *err);
int sq_table_sql_build(struct store_sqlite *st, const struct sq_table *t);
void sq_table_sql_free(struct store_sqlite *st, const struct sq_table *t);

/* store_sqlite_crud.c: the CRUD every table shares. */

/*
 * Runs in the write transaction with the record and, for a table with a
 * parent, the parent record (NULL otherwise); as lb_node_update_fn.
 */
typedef int (*sq_update_fn)(void *rec, const void *parent, void *arg,
    struct lb_err *err);

/* How a list query member becomes a condition (as data, per table). */
enum sq_filter_kind {
	SQ_F_EQ,		/* const char *, NULL: any; cond "col = ?" */
	SQ_F_EQ_OR_NULL,	/* as SQ_F_EQ, and "" picks cond_else */
	SQ_F_FLAG,		/* int, -1 any; cond "col = ?" gets 0 or 1 */
	SQ_F_SET,		/* int, -1 any; 1 cond, 0 cond_else */
};

struct sq_filter {
	enum sq_filter_kind kind;
	size_t offset;		/* of the member in the query struct */
	const char *cond;
	const char *cond_else;
	const char *cond_pg;	/* PostgreSQL's for cond, if it differs */
};

#define SQ_FILTER_MAX 16	/* a table's filters at most */

struct sq_page {
	const char *sort_key;	/* a stored field; NULL = id */
	bool sort_desc;
	const char *marker;	/* UUID to start after */
	size_t limit;		/* 0: no limit */
};

/* Records, as the node and port lists hold them. */
struct sq_rows {
	void **items;
	size_t n;
};

/* The record tables and list filters (the PostgreSQL store's too). */
extern const struct sq_table *const sq_nodes;
extern const struct sq_table *const sq_ports;
extern const struct sq_filter *const sq_node_filters;
extern const struct sq_filter *const sq_port_filters;
extern const size_t sq_node_nfilters;
extern const size_t sq_port_nfilters;
extern const struct lb_store_ops lb_store_sqlite_ops;

int sq_get(struct store_sqlite *st, const struct sq_table *t,
    const char *ident, void **ret, struct lb_err *err);
/* The rows the query's members select (by 'filters'), paged. */
int sq_list(struct store_sqlite *st, const struct sq_table *t,
    const struct sq_filter *filters, size_t nfilters, const void *query,
    const struct sq_page *page, struct sq_rows *ret, struct lb_err *err);
int sq_create(struct store_sqlite *st, const struct sq_table *t, void *rec,
    struct lb_err *err);
/* Sets updated_at when fn changed something; *ret (may be NULL) = result. */
int sq_update(struct store_sqlite *st, const struct sq_table *t,
    const char *ident, sq_update_fn fn, void *arg, void **ret,
    struct lb_err *err);
/* 'check' (may be NULL) runs in the transaction, as fn for update. */
int sq_delete(struct store_sqlite *st, const struct sq_table *t,
    const char *ident, sq_update_fn check, void *arg, struct lb_err *err);

/*
 * store.h's typed update callbacks behind the generic CRUD's untyped one
 * (both stores use them): 'arg' is a struct sq_node_call or sq_port_call.
 */
struct sq_node_call {
	lb_node_update_fn fn;
	void *arg;
};

struct sq_port_call {
	lb_port_update_fn fn;
	void *arg;
};

int sq_call_node(void *rec, const void *parent, void *arg,
    struct lb_err *err);
int sq_call_port(void *rec, const void *parent, void *arg,
    struct lb_err *err);

#endif
