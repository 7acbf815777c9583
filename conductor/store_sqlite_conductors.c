/*
 * store_sqlite_conductors.c - the conductors table of the SQLite store:
 * a conductor registers its row (taking over one its host left), touches
 * it on every heartbeat, and the API reads and pages the rows.  Runs on
 * the calling thread (the engine's at start and stop, the timer thread for
 * heartbeats, API threads for reads).
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/banned.h"

#define CONDUCTOR_COLS "hostname, conductor_group, drivers, online, " \
	"created_at, updated_at, rpc_url"

/* Stored columns a list may sort by (Ironic: not alive, not drivers). */
static const char *const sort_columns[] = {
	"id", "hostname", "conductor_group", "online", "created_at",
	"updated_at",
};

static int
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct lb_err *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, ret, NULL) != SQLITE_OK)
		return sq_db_error(err, db, "preparing a conductor statement");
	return 0;
}

struct register_arg {
	const struct lb_conductor *c;
	bool *was_online;
};

static int
register_write(sqlite3 *db, const char *now, void *arg, struct lb_err *err)
{
	const struct register_arg *a = arg;
	const struct lb_conductor *c = a->c;
	sqlite3_stmt *stmt;
	char *drivers;
	int r;

	r = prepare(db, "SELECT online FROM conductors WHERE hostname = ?",
	    &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, c->hostname, -1, SQLITE_STATIC);
	*a->was_online = sqlite3_step(stmt) == SQLITE_ROW &&
	    sqlite3_column_int(stmt, 0) != 0;
	sqlite3_finalize(stmt);
	r = prepare(db, "INSERT INTO conductors (" CONDUCTOR_COLS ") "
	    "VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT (hostname) DO UPDATE "
	    "SET conductor_group = excluded.conductor_group, "
	    "drivers = excluded.drivers, online = 1, "
	    "updated_at = excluded.updated_at, rpc_url = excluded.rpc_url",
	    &stmt, err);
	if (r < 0)
		return r;
	drivers = json_dumps(c->drivers, JSON_COMPACT);
	if (drivers == NULL) {
		sqlite3_finalize(stmt);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	sqlite3_bind_text(stmt, 1, c->hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, c->conductor_group, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, drivers, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, c->rpc_url != NULL ? c->rpc_url : "", -1,
	    SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 :
	    sq_db_error(err, db, "registering the conductor");
	sqlite3_finalize(stmt);
	free(drivers);
	return r;
}

struct touch_arg {
	const char *hostname;
	bool online;
};

static int
touch_write(sqlite3 *db, const char *now, void *arg, struct lb_err *err)
{
	const struct touch_arg *a = arg;
	sqlite3_stmt *stmt;
	int r;

	r = prepare(db, "UPDATE conductors SET online = ?, updated_at = ? "
	    "WHERE hostname = ?", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int(stmt, 1, a->online);
	sqlite3_bind_text(stmt, 2, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, a->hostname, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = sq_db_error(err, db, "touching the conductor");
	else if (sqlite3_changes(db) == 0)
		r = lb_err_set(err, -ENOENT, "Conductor %s could not be found.",
		    a->hostname);
	sqlite3_finalize(stmt);
	return r;
}

/* fn(db, now, arg, err) inside one write transaction. */
static int
in_write_tx(struct lb_store *s, int (*fn)(sqlite3 *, const char *, void *,
    struct lb_err *), void *arg, struct lb_err *err)
{
	struct store_sqlite *st = sq_store(s);
	char now[LB_TIME_LEN];
	sqlite3 *db;
	int r;

	r = sq_get_db(st, &db, err);
	if (r == 0)
		r = sq_begin_write_tx(st, db, err);
	if (r < 0)
		return r;
	lb_time_now_iso(now);
	r = fn(db, now, arg, err);
	return sq_end_write_tx(st, db, r, err);
}

int
sq_conductor_register(struct lb_store *s, const struct lb_conductor *c,
    bool *ret_was_online, struct lb_err *err)
{
	struct register_arg a = { c, ret_was_online };

	return in_write_tx(s, register_write, &a, err);
}

int
sq_conductor_touch(struct lb_store *s, const char *hostname, bool online,
    struct lb_err *err)
{
	struct touch_arg a = { hostname, online };

	return in_write_tx(s, touch_write, &a, err);
}

static int
dup_text(sqlite3_stmt *stmt, int col, char **ret)
{
	const char *v = (const char *)sqlite3_column_text(stmt, col);

	*ret = strdup(v != NULL ? v : "");
	return *ret == NULL ? -ENOMEM : 0;
}

static void
copy_time(sqlite3_stmt *stmt, int col, char out[LB_TIME_LEN])
{
	const char *v = (const char *)sqlite3_column_text(stmt, col);

	snprintf(out, LB_TIME_LEN, "%s", v != NULL ? v : "");
}

/* The current row (CONDUCTOR_COLS order) into c. */
static int
read_row(sqlite3_stmt *stmt, struct lb_conductor *c, struct lb_err *err)
{
	const char *drivers = (const char *)sqlite3_column_text(stmt, 2);

	memset(c, 0, sizeof(*c));
	c->drivers = json_loads(drivers != NULL ? drivers : "[]", 0, NULL);
	if (!json_is_array(c->drivers)) {
		json_decref(c->drivers);
		c->drivers = json_array();
	}
	c->online = sqlite3_column_int(stmt, 3) != 0;
	copy_time(stmt, 4, c->created_at);
	copy_time(stmt, 5, c->updated_at);
	if (c->drivers == NULL || dup_text(stmt, 0, &c->hostname) < 0 ||
	    dup_text(stmt, 1, &c->conductor_group) < 0 ||
	    dup_text(stmt, 6, &c->rpc_url) < 0) {
		lb_conductor_release(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int
sq_conductor_get(struct lb_store *s, const char *hostname,
    struct lb_conductor *ret, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int r;

	r = sq_get_db(sq_store(s), &db, err);
	if (r == 0)
		r = prepare(db, "SELECT " CONDUCTOR_COLS " FROM conductors "
		    "WHERE hostname = ?", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, hostname, -1, SQLITE_STATIC);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		r = read_row(stmt, ret, err);
		break;
	case SQLITE_DONE:
		r = lb_err_set(err, -ENOENT, "Conductor %s could not be found.",
		    hostname);
		break;
	default:
		r = sq_db_error(err, db, "reading a conductor");
	}
	sqlite3_finalize(stmt);
	return r;
}

/*
 * "SELECT ... ORDER BY <col>, id" with keyset paging: strictly after the
 * marker's row (joined as m by hostname, the first parameter) in that order.
 */
static int
list_sql(const struct lb_conductor_query *q, char *out, size_t size,
    struct lb_err *err)
{
	const char *col = q->sort_key != NULL ? q->sort_key : "id";
	const char *dir = q->sort_desc ? "DESC" : "ASC";
	const char *cmp = q->sort_desc ? "<" : ">";
	size_t i, n = sizeof(sort_columns) / sizeof(sort_columns[0]), len;

	for (i = 0; i < n && strcmp(sort_columns[i], col) != 0; i++)
		;
	if (i == n)
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", col);
	len = (size_t)snprintf(out, size, "SELECT c.hostname, "
	    "c.conductor_group, c.drivers, c.online, c.created_at, "
	    "c.updated_at, c.rpc_url FROM conductors c");
	if (q->marker != NULL)
		len += (size_t)snprintf(out + len, size - len, " JOIN "
		    "conductors m ON m.hostname = ?1 WHERE c.%s %s m.%s OR "
		    "(c.%s = m.%s AND c.id %s m.id)", col, cmp, col, col, col,
		    cmp);
	snprintf(out + len, size - len, " ORDER BY c.%s %s, c.id %s LIMIT ?",
	    col, dir, dir);
	return 0;
}

static int
list_rows(sqlite3 *db, sqlite3_stmt *stmt, struct lb_conductor_list *ret,
    struct lb_err *err)
{
	struct lb_conductor *items;
	int r = 0, s;

	while (r == 0 && (s = sqlite3_step(stmt)) == SQLITE_ROW) {
		items = realloc(ret->items, (ret->n + 1) * sizeof(*items));
		if (items == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		ret->items = items;
		r = read_row(stmt, &ret->items[ret->n], err);
		ret->n += r == 0;
	}
	if (r == 0 && s != SQLITE_DONE)
		r = sq_db_error(err, db, "listing conductors");
	return r;
}

int
sq_conductor_list(struct lb_store *s, const struct lb_conductor_query *q,
    struct lb_conductor_list *ret, struct lb_err *err)
{
	struct lb_conductor marker;
	sqlite3_stmt *stmt;
	char sql[1024];
	sqlite3 *db;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = list_sql(q, sql, sizeof(sql), err);
	if (r == 0 && q->marker != NULL) {
		r = sq_conductor_get(s, q->marker, &marker, err);
		if (r == 0)
			lb_conductor_release(&marker);
	}
	if (r == 0)
		r = sq_get_db(sq_store(s), &db, err);
	if (r == 0)
		r = prepare(db, sql, &stmt, err);
	if (r < 0)
		return r;
	if (q->marker != NULL)
		sqlite3_bind_text(stmt, 1, q->marker, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, q->marker != NULL ? 2 : 1,
	    q->limit > 0 ? (sqlite3_int64)q->limit : -1);
	r = list_rows(db, stmt, ret, err);
	sqlite3_finalize(stmt);
	if (r < 0)
		lb_conductor_list_release(ret);
	return r;
}

static int
secret_write(sqlite3 *db, const char *now, void *arg, struct lb_err *err)
{
	char *secret = arg;
	sqlite3_stmt *stmt;
	int r;

	(void)now;
	r = prepare(db, "INSERT INTO cluster_secret (id, secret) VALUES (1, ?) "
	    "ON CONFLICT (id) DO NOTHING", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, secret, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 :
	    sq_db_error(err, db, "storing the cluster secret");
	sqlite3_finalize(stmt);
	if (r == 0)
		r = prepare(db, "SELECT secret FROM cluster_secret WHERE id = 1",
		    &stmt, err);
	if (r < 0)
		return r;
	if (sqlite3_step(stmt) == SQLITE_ROW &&
	    sqlite3_column_bytes(stmt, 0) == LB_CLUSTER_SECRET_LEN)
		memcpy(secret, sqlite3_column_text(stmt, 0),
		    LB_CLUSTER_SECRET_LEN + 1);
	else
		r = lb_err_set(err, -EIO, "the stored cluster secret is "
		    "unreadable");
	sqlite3_finalize(stmt);
	return r;
}

int
sq_cluster_secret(struct lb_store *s, char secret[LB_CLUSTER_SECRET_LEN + 1],
    struct lb_err *err)
{
	return in_write_tx(s, secret_write, secret, err);
}

void
lb_conductor_release(struct lb_conductor *c)
{
	free(c->hostname);
	free(c->conductor_group);
	free(c->rpc_url);
	json_decref(c->drivers);
	memset(c, 0, sizeof(*c));
}

void
lb_conductor_list_release(struct lb_conductor_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lb_conductor_release(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}
