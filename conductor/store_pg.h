/*
 * store_pg.h - the PostgreSQL store's insides, shared by its files
 * (store_pg*.c): connections, queries with '?' placeholders, the schema.
 * It reuses the SQLite store's table descriptions (store_sqlite.h: the
 * same tables and columns) and speaks libpq.  Any thread.
 */
#ifndef LB_STORE_PG_H
#define LB_STORE_PG_H

#include <libpq-fe.h>
#include <pthread.h>

#include "conductor/store_sqlite.h"

struct pg_conn;

struct store_pg {
	struct lb_store base;
	struct lb_db_url url;		/* holds the password: never logged */
	pthread_key_t conn_key;
	pthread_mutex_t lock;		/* guards the four below */
	struct pg_conn *conns;		/* every open connection, for close */
	struct pg_conn *idle;
	size_t nidle;
	size_t nopen;
	char *cols[SQ_TABLE_COUNT];
	char *select[SQ_TABLE_COUNT];
};

static inline struct store_pg *
pg_store(struct lb_store *s)
{
	return (struct store_pg *)s;
}

/* The calling thread's connection (taken from the pool, or opened). */
int pg_get_conn(struct store_pg *st, PGconn **ret, struct lb_err *err);
/*
 * Runs 'sql' ('?' placeholders, numbered in order) with text parameters
 * (NULL: SQL NULL).  *ret (may be NULL) gets the result, which the caller
 * PQclear()s.  A lost connection is -EAGAIN "database unavailable".
 */
int pg_exec(PGconn *c, const char *sql, int n, const char *const *params,
    PGresult **ret, struct lb_err *err, const char *what);
/* The failed result's error for 'what' (logged, never the URL). */
int pg_error(PGconn *c, const PGresult *res, struct lb_err *err,
    const char *what);
int pg_begin(PGconn *c, struct lb_err *err);
/*
 * COMMIT when r == 0, else ROLLBACK; returns r or the commit's error.
 * Both observe the transaction's time in the store's metric ("write"),
 * as pg_observe_read() does a read's since 'started' (lb_monotonic()).
 */
int pg_end(PGconn *c, int r, struct lb_err *err);
void pg_observe_read(double started);
void pg_thread_release(struct lb_store *s);
size_t pg_open_connections(struct lb_store *s);
int pg_pool_init(struct store_pg *st);
void pg_pool_release(struct store_pg *st);

int pg_migrate(PGconn *c, struct lb_err *err);

/* A NULL-safe copy of a result cell (NULL for SQL NULL). */
const char *pg_val(const PGresult *res, int row, int col);
/* The cell into out ("" for SQL NULL), cut to size. */
void pg_copy_val(const PGresult *res, int row, int col, char *out,
    size_t size);
/* A malloc'd copy of the cell (NULL for SQL NULL); *oom set on failure. */
char *pg_dup_val(const PGresult *res, int row, int col, bool *oom);

int pg_get(struct store_pg *st, const struct sq_table *t, const char *ident,
    void **ret, struct lb_err *err);
int pg_list(struct store_pg *st, const struct sq_table *t,
    const struct sq_filter *filters, size_t nfilters, const void *query,
    const struct sq_page *page, struct sq_rows *ret, struct lb_err *err);
int pg_create(struct store_pg *st, const struct sq_table *t, void *rec,
    struct lb_err *err);
int pg_update(struct store_pg *st, const struct sq_table *t,
    const char *ident, sq_update_fn fn, void *arg, void **ret,
    struct lb_err *err);
int pg_delete(struct store_pg *st, const struct sq_table *t,
    const char *ident, sq_update_fn check, void *arg, struct lb_err *err);
int pg_table_sql_build(struct store_pg *st, const struct sq_table *t);

int pg_cluster_secret(struct lb_store *s,
    char secret[LB_CLUSTER_SECRET_LEN + 1], struct lb_err *err);
int pg_conductor_register(struct lb_store *s, const struct lb_conductor *c,
    bool *ret_was_online, struct lb_err *err);
int pg_conductor_touch(struct lb_store *s, const char *hostname, bool online,
    struct lb_err *err);
int pg_conductor_get(struct lb_store *s, const char *hostname,
    struct lb_conductor *ret, struct lb_err *err);
int pg_conductor_list(struct lb_store *s, const struct lb_conductor_query *q,
    struct lb_conductor_list *ret, struct lb_err *err);
int pg_node_counts(struct lb_store *s, lb_node_count_fn fn, void *arg,
    struct lb_err *err);
int pg_history_add(struct lb_store *s, struct lb_history_event *ev,
    struct lb_err *err);
int pg_history_list(struct lb_store *s, const struct lb_history_query *q,
    struct lb_history_list *ret, struct lb_err *err);
int pg_history_get(struct lb_store *s, const char *node_uuid,
    const char *uuid, struct lb_history_event *ret, struct lb_err *err);
int pg_history_delete(struct lb_store *s, const char *node_uuid,
    struct lb_err *err);
int pg_history_purge(struct lb_store *s, const struct lb_history_purge *p,
    size_t *ret_deleted, struct lb_err *err);

extern const struct lb_store_ops lb_store_pg_ops;

#endif
