/*
 * store_pg_rows.c - the PostgreSQL store's conductors (and the cluster
 * secret) and node counts, as the SQLite store's
 * (store_sqlite_conductors.c, store_sqlite_stats.c): same statements, same
 * messages.  Node history is store_pg_history.c's.  Runs on the calling
 * thread, on its connection.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_pg.h"
#include "conductor/util/banned.h"

#define CONDUCTOR_COLS "hostname, conductor_group, drivers, online, " \
	"created_at, updated_at, rpc_url"

static const char *const sort_columns[] = {
	"id", "hostname", "conductor_group", "online", "created_at",
	"updated_at",
};

typedef int (*tx_fn)(PGconn *c, void *arg, struct lb_err *err);

/* fn inside one transaction; its statements lock what they change. */
static int
in_tx(struct lb_store *s, tx_fn fn, void *arg, struct lb_err *err)
{
	PGconn *c;
	int r;

	r = pg_get_conn(pg_store(s), &c, err);
	if (r == 0)
		r = pg_begin(c, err);
	if (r < 0)
		return r;
	return pg_end(c, fn(c, arg, err), err);
}

/* A simple statement with text parameters and no rows wanted. */
static int
run(PGconn *c, const char *sql, int n, const char *const *p, long *changed,
    struct lb_err *err, const char *what)
{
	PGresult *res;
	int r = pg_exec(c, sql, n, p, &res, err, what);

	if (r == 0 && changed != NULL)
		*changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return r;
}

struct register_arg {
	const struct lb_conductor *c;
	bool *was_online;
	char now[LB_TIME_LEN];
};

static int
register_write(PGconn *c, void *arg, struct lb_err *err)
{
	struct register_arg *a = arg;
	const char *p[6] = { a->c->hostname, a->c->conductor_group, NULL,
	    a->now, a->now, a->c->rpc_url != NULL ? a->c->rpc_url : "" };
	PGresult *res;
	char *drivers;
	int r;

	r = pg_exec(c, "SELECT online FROM conductors WHERE hostname = ? FOR "
	    "UPDATE", 1, p, &res, err, "registering the conductor");
	if (r == 0)
		*a->was_online = PQntuples(res) > 0 &&
		    strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	if (r < 0)
		return r;
	drivers = json_dumps(a->c->drivers, JSON_COMPACT);
	if (drivers == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	p[2] = drivers;
	r = run(c, "INSERT INTO conductors (" CONDUCTOR_COLS ") VALUES (?, ?, "
	    "?, 1, ?, ?, ?) ON CONFLICT (hostname) DO UPDATE SET "
	    "conductor_group = excluded.conductor_group, drivers = "
	    "excluded.drivers, online = 1, updated_at = excluded.updated_at, "
	    "rpc_url = excluded.rpc_url", 6, p, NULL, err,
	    "registering the conductor");
	free(drivers);
	return r;
}

int
pg_conductor_register(struct lb_store *s, const struct lb_conductor *c,
    bool *ret_was_online, struct lb_err *err)
{
	struct register_arg a = { c, ret_was_online, "" };

	lb_time_now_iso(a.now);
	return in_tx(s, register_write, &a, err);
}

static int
secret_write(PGconn *c, void *arg, struct lb_err *err)
{
	char *secret = arg;
	const char *p[1] = { secret };
	PGresult *res = NULL;
	int r;

	r = run(c, "INSERT INTO cluster_secret (id, secret) VALUES (1, ?) ON "
	    "CONFLICT (id) DO NOTHING", 1, p, NULL, err,
	    "storing the cluster secret");
	if (r == 0)
		r = pg_exec(c, "SELECT secret FROM cluster_secret WHERE id = 1",
		    0, NULL, &res, err, "reading the cluster secret");
	if (r == 0 && PQntuples(res) == 1 &&
	    strlen(PQgetvalue(res, 0, 0)) == LB_CLUSTER_SECRET_LEN)
		memcpy(secret, PQgetvalue(res, 0, 0), LB_CLUSTER_SECRET_LEN + 1);
	else if (r == 0)
		r = lb_err_set(err, -EIO, "the stored cluster secret is "
		    "unreadable");
	PQclear(res);
	return r;
}

int
pg_cluster_secret(struct lb_store *s, char secret[LB_CLUSTER_SECRET_LEN + 1],
    struct lb_err *err)
{
	return in_tx(s, secret_write, secret, err);
}

int
pg_conductor_touch(struct lb_store *s, const char *hostname, bool online,
    struct lb_err *err)
{
	char now[LB_TIME_LEN];
	const char *p[3] = { online ? "1" : "0", now, hostname };
	long changed = 0;
	PGconn *c;
	int r;

	lb_time_now_iso(now);
	r = pg_get_conn(pg_store(s), &c, err);
	if (r == 0)
		r = run(c, "UPDATE conductors SET online = ?, updated_at = ? "
		    "WHERE hostname = ?", 3, p, &changed, err,
		    "touching the conductor");
	if (r == 0 && changed == 0)
		r = lb_err_set(err, -ENOENT, "Conductor %s could not be found.",
		    hostname);
	return r;
}

static int
conductor_row(const PGresult *res, int row, struct lb_conductor *c,
    struct lb_err *err)
{
	const char *drivers = pg_val(res, row, 2);
	bool oom = false;

	memset(c, 0, sizeof(*c));
	c->drivers = json_loads(drivers != NULL ? drivers : "[]", 0, NULL);
	if (!json_is_array(c->drivers)) {
		json_decref(c->drivers);
		c->drivers = json_array();
	}
	c->online = strcmp(PQgetvalue(res, row, 3), "0") != 0;
	pg_copy_val(res, row, 4, c->created_at, sizeof(c->created_at));
	pg_copy_val(res, row, 5, c->updated_at, sizeof(c->updated_at));
	c->hostname = pg_dup_val(res, row, 0, &oom);
	c->conductor_group = pg_dup_val(res, row, 1, &oom);
	c->rpc_url = pg_dup_val(res, row, 6, &oom);
	if (c->drivers == NULL || oom) {
		lb_conductor_release(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int
pg_conductor_get(struct lb_store *s, const char *hostname,
    struct lb_conductor *ret, struct lb_err *err)
{
	const char *p[1] = { hostname };
	PGresult *res = NULL;
	PGconn *c;
	int r;

	r = pg_get_conn(pg_store(s), &c, err);
	if (r == 0)
		r = pg_exec(c, "SELECT " CONDUCTOR_COLS " FROM conductors "
		    "WHERE hostname = ?", 1, p, &res, err,
		    "reading a conductor");
	if (r == 0 && PQntuples(res) == 0)
		r = lb_err_set(err, -ENOENT, "Conductor %s could not be found.",
		    hostname);
	if (r == 0)
		r = conductor_row(res, 0, ret, err);
	PQclear(res);
	return r;
}

static int
conductor_sql(const struct lb_conductor_query *q, char *out, size_t size,
    struct lb_err *err)
{
	const char *col = q->sort_key != NULL ? q->sort_key : "id";
	const char *dir = q->sort_desc ? "DESC" : "ASC";
	const char *cmp = q->sort_desc ? "<" : ">", *coll;
	size_t i, n = sizeof(sort_columns) / sizeof(sort_columns[0]), len;

	for (i = 0; i < n && strcmp(sort_columns[i], col) != 0; i++)
		;
	if (i == n)
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", col);
	/* SQLite's order: text bytewise, a NULL (updated_at) the lowest */
	coll = i != 0 && i != 3 ? " COLLATE \"C\"" : "";
	len = (size_t)snprintf(out, size, "SELECT c.hostname, "
	    "c.conductor_group, c.drivers, c.online, c.created_at, "
	    "c.updated_at, c.rpc_url FROM conductors c");
	if (q->marker != NULL)
		len += (size_t)snprintf(out + len, size - len, " JOIN "
		    "conductors m ON m.hostname = ? WHERE c.%s%s %s m.%s OR "
		    "(c.%s = m.%s AND c.id %s m.id)", col, coll, cmp, col, col,
		    col, cmp);
	len += (size_t)snprintf(out + len, size - len, " ORDER BY c.%s%s %s "
	    "NULLS %s, c.id %s", col, coll, dir, q->sort_desc ? "LAST" :
	    "FIRST", dir);
	if (q->limit > 0)
		snprintf(out + len, size - len, " LIMIT %zu", q->limit);
	return 0;
}

int
pg_conductor_list(struct lb_store *s, const struct lb_conductor_query *q,
    struct lb_conductor_list *ret, struct lb_err *err)
{
	const char *p[1] = { q->marker };
	struct lb_conductor marker;
	PGresult *res = NULL;
	char sql[1024];
	PGconn *c;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = conductor_sql(q, sql, sizeof(sql), err);
	if (r == 0 && q->marker != NULL) {
		r = pg_conductor_get(s, q->marker, &marker, err);
		if (r == 0)
			lb_conductor_release(&marker);
	}
	if (r == 0)
		r = pg_get_conn(pg_store(s), &c, err);
	if (r == 0)
		r = pg_exec(c, sql, q->marker != NULL, p, &res, err,
		    "listing conductors");
	if (r == 0 && PQntuples(res) > 0) {
		ret->items = calloc((size_t)PQntuples(res),
		    sizeof(*ret->items));
		if (ret->items == NULL)
			r = lb_err_set(err, -ENOMEM, "out of memory");
	}
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		r = conductor_row(res, i, &ret->items[i], err);
		ret->n += r == 0;
	}
	PQclear(res);
	if (r < 0)
		lb_conductor_list_release(ret);
	return r;
}

int
pg_node_counts(struct lb_store *s, lb_node_count_fn fn, void *arg,
    struct lb_err *err)
{
	PGresult *res = NULL;
	PGconn *c;
	int r;

	r = pg_get_conn(pg_store(s), &c, err);
	if (r == 0)
		r = pg_exec(c, "SELECT provision_state, power_state, "
		    "(maintenance != 0)::int, COUNT(*) FROM nodes GROUP BY 1, "
		    "2, 3", 0, NULL, &res, err, "counting nodes");
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		fn(pg_val(res, i, 0), pg_val(res, i, 1),
		    strcmp(PQgetvalue(res, i, 2), "0") != 0,
		    strtol(PQgetvalue(res, i, 3), NULL, 10), arg);
	PQclear(res);
	return r;
}
