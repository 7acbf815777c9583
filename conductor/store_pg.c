/*
 * store_pg.c - the PostgreSQL store behind the lb_store_ops vtable: the
 * SQLite store's tables and filters (store_sqlite.c) over libpq, for
 * [database] connection = postgresql://.  Opens (migrating the schema) and
 * closes the store; the typed callbacks of store.h.  Any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_pg.h"
#include "conductor/util/banned.h"

static int
node_get(struct lb_store *s, const char *ident, struct lb_node **ret,
    struct lb_err *err)
{
	void *rec;
	int r = pg_get(pg_store(s), sq_nodes, ident, &rec, err);

	if (r == 0)
		*ret = rec;
	return r;
}

static int
node_list(struct lb_store *s, const struct lb_node_query *q,
    struct lb_node_list *ret, struct lb_err *err)
{
	struct sq_page page = { q->sort_key, q->sort_desc, q->marker,
	    q->limit };
	struct sq_rows rows;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = pg_list(pg_store(s), sq_nodes, sq_node_filters, sq_node_nfilters,
	    q, &page, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rows.n; i++)
		((struct lb_node **)rows.items)[i] = rows.items[i];
	*ret = (struct lb_node_list){ (struct lb_node **)rows.items, rows.n };
	return 0;
}

static int
node_create(struct lb_store *s, struct lb_node *node, struct lb_err *err)
{
	return pg_create(pg_store(s), sq_nodes, node, err);
}

static int
node_update(struct lb_store *s, const char *ident, lb_node_update_fn fn,
    void *arg, struct lb_node **ret, struct lb_err *err)
{
	struct sq_node_call call = { fn, arg };
	void *rec = NULL;
	int r;

	r = pg_update(pg_store(s), sq_nodes, ident, sq_call_node, &call,
	    ret != NULL ? &rec : NULL, err);
	if (r == 0 && ret != NULL)
		*ret = rec;
	return r;
}

static int
node_delete(struct lb_store *s, const char *ident, lb_node_update_fn check,
    void *arg, struct lb_err *err)
{
	struct sq_node_call call = { check, arg };

	return pg_delete(pg_store(s), sq_nodes, ident, check ? sq_call_node :
	    NULL, &call, err);
}

static int
port_get(struct lb_store *s, const char *uuid, struct lb_port **ret,
    struct lb_err *err)
{
	void *rec;
	int r = pg_get(pg_store(s), sq_ports, uuid, &rec, err);

	if (r == 0)
		*ret = rec;
	return r;
}

static int
port_list(struct lb_store *s, const struct lb_port_query *q,
    struct lb_port_list *ret, struct lb_err *err)
{
	struct sq_page page = { q->sort_key, q->sort_desc, q->marker,
	    q->limit };
	struct sq_rows rows;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = pg_list(pg_store(s), sq_ports, sq_port_filters, sq_port_nfilters,
	    q, &page, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rows.n; i++)
		((struct lb_port **)rows.items)[i] = rows.items[i];
	*ret = (struct lb_port_list){ (struct lb_port **)rows.items, rows.n };
	return 0;
}

static int
port_create(struct lb_store *s, struct lb_port *port, struct lb_err *err)
{
	return pg_create(pg_store(s), sq_ports, port, err);
}

static int
port_update(struct lb_store *s, const char *uuid, lb_port_update_fn fn,
    void *arg, struct lb_port **ret, struct lb_err *err)
{
	struct sq_port_call call = { fn, arg };
	void *rec = NULL;
	int r;

	r = pg_update(pg_store(s), sq_ports, uuid, sq_call_port, &call,
	    ret != NULL ? &rec : NULL, err);
	if (r == 0 && ret != NULL)
		*ret = rec;
	return r;
}

static int
port_delete(struct lb_store *s, const char *uuid, lb_port_update_fn check,
    void *arg, struct lb_err *err)
{
	struct sq_port_call call = { check, arg };

	return pg_delete(pg_store(s), sq_ports, uuid, check ? sq_call_port :
	    NULL, &call, err);
}

static void
pg_free(struct store_pg *st)
{
	for (size_t i = 0; i < SQ_TABLE_COUNT; i++) {
		free(st->cols[i]);
		free(st->select[i]);
	}
	explicit_bzero(st->url.password, sizeof(st->url.password));
	free(st);
}

static void
pg_close(struct lb_store *s)
{
	if (s == NULL)
		return;
	pg_pool_release(pg_store(s));
	pg_free(pg_store(s));
}

static int
pg_open(const struct lb_db_url *url, struct lb_store **ret,
    struct lb_err *err)
{
	struct store_pg *st;
	PGconn *c;
	int r;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	st->base.ops = &lb_store_pg_ops;
	st->url = *url;
	r = pg_table_sql_build(st, sq_nodes);
	if (r == 0)
		r = pg_table_sql_build(st, sq_ports);
	if (r < 0 || pg_pool_init(st) < 0) {
		pg_free(st);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	r = pg_get_conn(st, &c, err);
	if (r == 0)
		r = pg_migrate(c, err);
	if (r < 0) {
		pg_close(&st->base);
		return r;
	}
	*ret = &st->base;
	return 0;
}

const struct lb_store_ops lb_store_pg_ops = {
	.kind = LB_DB_POSTGRESQL,
	.open = pg_open,
	.close = pg_close,
	.thread_release = pg_thread_release,
	.open_connections = pg_open_connections,
	.node_get = node_get,
	.node_list = node_list,
	.node_create = node_create,
	.node_update = node_update,
	.node_delete = node_delete,
	.port_get = port_get,
	.port_list = port_list,
	.port_create = port_create,
	.port_update = port_update,
	.port_delete = port_delete,
	.conductor_register = pg_conductor_register,
	.cluster_secret = pg_cluster_secret,
	.conductor_touch = pg_conductor_touch,
	.conductor_get = pg_conductor_get,
	.conductor_list = pg_conductor_list,
	.node_counts = pg_node_counts,
	.history_add = pg_history_add,
	.history_list = pg_history_list,
	.history_get = pg_history_get,
	.history_delete = pg_history_delete,
	.history_purge = pg_history_purge,
};
