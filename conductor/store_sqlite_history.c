/*
 * store_sqlite_history.c - the node_history table of the SQLite store:
 * events added by whoever records them (workers, the API, timers), read
 * a node's page at a time by the API, purged by the history timer.  Runs
 * on the calling thread.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/banned.h"

#define EVENT_COLS "h.uuid, n.uuid, h.created_at, h.severity, h.event, " \
	"h.event_type, h.conductor, h.user_name"
#define EVENT_FROM " FROM node_history h JOIN nodes n ON n.id = h.node_id"

static int
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct lb_err *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, ret, NULL) != SQLITE_OK)
		return sq_db_error(err, db, "preparing a history statement");
	return 0;
}

static int
not_found(struct lb_err *err, const char *uuid)
{
	return lb_err_set(err, -ENOENT, "Node history record %s could not be "
	    "found.", uuid);
}

/* fn(db, arg, err) inside one write transaction. */
static int
in_write_tx(struct lb_store *s, int (*fn)(sqlite3 *, void *,
    struct lb_err *), void *arg, struct lb_err *err)
{
	struct store_sqlite *st = sq_store(s);
	sqlite3 *db;
	int r;

	r = sq_get_db(st, &db, err);
	if (r == 0)
		r = sq_begin_write_tx(st, db, err);
	if (r < 0)
		return r;
	r = fn(db, arg, err);
	return sq_end_write_tx(st, db, r, err);
}

static int
add_write(sqlite3 *db, void *arg, struct lb_err *err)
{
	const struct lb_history_event *ev = arg;
	sqlite3_stmt *stmt;
	int r;

	r = prepare(db, "INSERT INTO node_history (uuid, node_id, created_at, "
	    "severity, event, event_type, conductor, user_name) SELECT ?, "
	    "id, ?, ?, ?, ?, ?, ? FROM nodes WHERE uuid = ?", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, ev->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, ev->created_at, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, ev->severity, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, ev->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, ev->event_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, ev->conductor, -1, SQLITE_STATIC);
	if (ev->user != NULL)
		sqlite3_bind_text(stmt, 7, ev->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 8, ev->node_uuid, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = sq_db_error(err, db, "adding a history event");
	else if (sqlite3_changes(db) == 0)
		r = lb_err_set(err, -ENOENT, "Node %s could not be found.",
		    ev->node_uuid);
	sqlite3_finalize(stmt);
	return r;
}

int
sq_history_add(struct lb_store *s, struct lb_history_event *ev,
    struct lb_err *err)
{
	if (ev->event == NULL || ev->event_type == NULL ||
	    ev->conductor == NULL)
		return lb_err_set(err, -EINVAL, "incomplete history event");
	if (lb_uuid_generate(ev->uuid) < 0)
		return lb_err_set(err, -EIO, "cannot generate a uuid");
	lb_time_now_iso(ev->created_at);
	return in_write_tx(s, add_write, ev, err);
}

static int
dup_text(sqlite3_stmt *stmt, int col, char **ret)
{
	const char *v = (const char *)sqlite3_column_text(stmt, col);

	*ret = v != NULL ? strdup(v) : NULL;
	return v != NULL && *ret == NULL ? -ENOMEM : 0;
}

static void
copy_text(sqlite3_stmt *stmt, int col, char *out, size_t size)
{
	const char *v = (const char *)sqlite3_column_text(stmt, col);

	snprintf(out, size, "%s", v != NULL ? v : "");
}

/* The current row (EVENT_COLS order) into ev. */
static int
read_row(sqlite3_stmt *stmt, struct lb_history_event *ev, struct lb_err *err)
{
	memset(ev, 0, sizeof(*ev));
	copy_text(stmt, 0, ev->uuid, sizeof(ev->uuid));
	copy_text(stmt, 1, ev->node_uuid, sizeof(ev->node_uuid));
	copy_text(stmt, 2, ev->created_at, sizeof(ev->created_at));
	copy_text(stmt, 3, ev->severity, sizeof(ev->severity));
	if (dup_text(stmt, 4, &ev->event) < 0 ||
	    dup_text(stmt, 5, &ev->event_type) < 0 ||
	    dup_text(stmt, 6, &ev->conductor) < 0 ||
	    dup_text(stmt, 7, &ev->user) < 0) {
		lb_history_event_release(ev);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int
sq_history_get(struct lb_store *s, const char *node_uuid, const char *uuid,
    struct lb_history_event *ret, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int r;

	r = sq_get_db(sq_store(s), &db, err);
	if (r == 0)
		r = prepare(db, "SELECT " EVENT_COLS EVENT_FROM
		    " WHERE h.uuid = ? AND n.uuid = ?", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, node_uuid, -1, SQLITE_STATIC);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		r = read_row(stmt, ret, err);
		break;
	case SQLITE_DONE:
		r = not_found(err, uuid);
		break;
	default:
		r = sq_db_error(err, db, "reading a history event");
	}
	sqlite3_finalize(stmt);
	return r;
}

static int
list_rows(sqlite3 *db, sqlite3_stmt *stmt, struct lb_history_list *ret,
    struct lb_err *err)
{
	struct lb_history_event *items;
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
		r = sq_db_error(err, db, "listing history events");
	return r;
}

int
sq_history_list(struct lb_store *s, const struct lb_history_query *q,
    struct lb_history_list *ret, struct lb_err *err)
{
	struct lb_history_event marker;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (q->marker != NULL) {
		r = sq_history_get(s, q->node_uuid, q->marker, &marker, err);
		if (r == 0)
			lb_history_event_release(&marker);
	}
	if (r == 0)
		r = sq_get_db(sq_store(s), &db, err);
	if (r == 0)
		r = prepare(db, "SELECT " EVENT_COLS EVENT_FROM
		    " WHERE n.uuid = ?1 AND h.id > COALESCE((SELECT id FROM "
		    "node_history WHERE uuid = ?2), 0) ORDER BY h.id LIMIT ?3",
		    &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, q->node_uuid, -1, SQLITE_STATIC);
	if (q->marker != NULL)
		sqlite3_bind_text(stmt, 2, q->marker, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, q->limit > 0 ? (sqlite3_int64)q->limit :
	    -1);
	r = list_rows(db, stmt, ret, err);
	sqlite3_finalize(stmt);
	if (r < 0)
		lb_history_list_release(ret);
	return r;
}

static int
delete_write(sqlite3 *db, void *arg, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(db, "DELETE FROM node_history WHERE node_id = (SELECT id "
	    "FROM nodes WHERE uuid = ?)", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = sq_db_error(err, db, "deleting history events");
	sqlite3_finalize(stmt);
	return r;
}

int
sq_history_delete(struct lb_store *s, const char *node_uuid,
    struct lb_err *err)
{
	return in_write_tx(s, delete_write, (void *)node_uuid, err);
}

struct purge_arg {
	const struct lb_history_purge *p;
	size_t deleted;
};

/* The oldest 'n' of the node's rows created before the cutoff. */
static int
purge_node(sqlite3 *db, sqlite3_int64 node_id, sqlite3_int64 n,
    const char *cutoff, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = prepare(db, "DELETE FROM node_history WHERE id IN (SELECT id "
	    "FROM node_history WHERE node_id = ? AND created_at < ? ORDER BY "
	    "id LIMIT ?)", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 1, node_id);
	sqlite3_bind_text(stmt, 2, cutoff, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, n);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = sq_db_error(err, db, "purging history events");
	sqlite3_finalize(stmt);
	return r;
}

/* p->node_ok on the row's node (columns 2..4: uuid, driver, group). */
static bool
node_ok(const struct lb_history_purge *p, sqlite3_stmt *stmt)
{
	const char *v[3];

	if (p->node_ok == NULL)
		return true;
	for (int i = 0; i < 3; i++) {
		v[i] = (const char *)sqlite3_column_text(stmt, 2 + i);
		if (v[i] == NULL)
			v[i] = "";
	}
	return p->node_ok(p->node_ok_arg, v[0], v[1], v[2]);
}

/*
 * The nodes over the limit are read first and deleted from after, so no
 * delete runs under the open query.
 */
static int
purge_write(sqlite3 *db, void *arg, struct lb_err *err)
{
	struct purge_arg *a = arg;
	const struct lb_history_purge *p = a->p;
	const char *cutoff = p->older_than != NULL ? p->older_than : "~";
	sqlite3_int64 (*over)[2] = NULL, (*more)[2];
	size_t nover = 0, i;
	sqlite3_stmt *stmt;
	int r, s;

	r = prepare(db, "SELECT h.node_id, COUNT(*), n.uuid, n.driver, "
	    "n.conductor_group FROM node_history h JOIN nodes n ON n.id = "
	    "h.node_id WHERE h.created_at < ? GROUP BY h.node_id HAVING "
	    "COUNT(*) > ? ORDER BY h.node_id", &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, cutoff, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)p->max_entries);
	while (r == 0 && (s = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!node_ok(p, stmt))
			continue;
		more = realloc(over, (nover + 1) * sizeof(*over));
		if (more == NULL) {
			r = lb_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		over = more;
		over[nover][0] = sqlite3_column_int64(stmt, 0);
		over[nover++][1] = sqlite3_column_int64(stmt, 1) -
		    (sqlite3_int64)p->max_entries;
	}
	if (r == 0 && s != SQLITE_DONE)
		r = sq_db_error(err, db, "counting history events");
	sqlite3_finalize(stmt);
	for (i = 0; r == 0 && i < nover && a->deleted < p->batch_count;
	    i++) {
		r = purge_node(db, over[i][0], over[i][1], cutoff, err);
		a->deleted += r == 0 ? (size_t)over[i][1] : 0;
	}
	free(over);
	return r;
}

int
sq_history_purge(struct lb_store *s, const struct lb_history_purge *p,
    size_t *ret_deleted, struct lb_err *err)
{
	struct purge_arg a = { p, 0 };
	int r;

	r = in_write_tx(s, purge_write, &a, err);
	if (r == 0 && ret_deleted != NULL)
		*ret_deleted = a.deleted;
	return r;
}

void
lb_history_event_release(struct lb_history_event *ev)
{
	free(ev->event);
	free(ev->event_type);
	free(ev->conductor);
	free(ev->user);
	memset(ev, 0, sizeof(*ev));
}

void
lb_history_list_release(struct lb_history_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lb_history_event_release(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}
