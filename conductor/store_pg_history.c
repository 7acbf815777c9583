/*
 * store_pg_history.c - the node_history table of the PostgreSQL store, as
 * the SQLite store's (store_sqlite_history.c): events added by whoever
 * records them, read a page at a time by the API, purged by the history
 * timer.  Runs on the calling thread, on its connection.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_pg.h"
#include "conductor/util/banned.h"

#define EVENT_COLS "h.uuid, n.uuid, h.created_at, h.severity, h.event, " \
	"h.event_type, h.conductor, h.user_name"
#define EVENT_FROM " FROM node_history h JOIN nodes n ON n.id = h.node_id"

static int
not_found(struct lb_err *err, const char *uuid)
{
	return lb_err_set(err, -ENOENT, "Node history record %s could not be "
	    "found.", uuid);
}

static int
exec_on(struct lb_store *s, const char *sql, int n, const char *const *p,
    PGresult **res, struct lb_err *err, const char *what)
{
	PGconn *c;
	int r = pg_get_conn(pg_store(s), &c, err);

	if (r < 0)
		return r;
	return pg_exec(c, sql, n, p, res, err, what);
}

int
pg_history_add(struct lb_store *s, struct lb_history_event *ev,
    struct lb_err *err)
{
	const char *p[8];
	PGresult *res = NULL;
	int r;

	if (ev->event == NULL || ev->event_type == NULL ||
	    ev->conductor == NULL)
		return lb_err_set(err, -EINVAL, "incomplete history event");
	if (lb_uuid_generate(ev->uuid) < 0)
		return lb_err_set(err, -EIO, "cannot generate a uuid");
	lb_time_now_iso(ev->created_at);
	p[0] = ev->uuid;
	p[1] = ev->created_at;
	p[2] = ev->severity;
	p[3] = ev->event;
	p[4] = ev->event_type;
	p[5] = ev->conductor;
	p[6] = ev->user;
	p[7] = ev->node_uuid;
	r = exec_on(s, "INSERT INTO node_history (uuid, node_id, created_at, "
	    "severity, event, event_type, conductor, user_name) SELECT ?, id, "
	    "?, ?, ?, ?, ?, ? FROM nodes WHERE uuid = ?", 8, p, &res, err,
	    "adding a history event");
	if (r == 0 && strcmp(PQcmdTuples(res), "0") == 0)
		r = lb_err_set(err, -ENOENT, "Node %s could not be found.",
		    ev->node_uuid);
	PQclear(res);
	return r;
}

static int
event_row(const PGresult *res, int row, struct lb_history_event *ev,
    struct lb_err *err)
{
	bool oom = false;

	memset(ev, 0, sizeof(*ev));
	pg_copy_val(res, row, 0, ev->uuid, sizeof(ev->uuid));
	pg_copy_val(res, row, 1, ev->node_uuid, sizeof(ev->node_uuid));
	pg_copy_val(res, row, 2, ev->created_at, sizeof(ev->created_at));
	pg_copy_val(res, row, 3, ev->severity, sizeof(ev->severity));
	ev->event = pg_dup_val(res, row, 4, &oom);
	ev->event_type = pg_dup_val(res, row, 5, &oom);
	ev->conductor = pg_dup_val(res, row, 6, &oom);
	ev->user = pg_dup_val(res, row, 7, &oom);
	if (oom) {
		lb_history_event_release(ev);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int
pg_history_get(struct lb_store *s, const char *node_uuid, const char *uuid,
    struct lb_history_event *ret, struct lb_err *err)
{
	const char *p[2] = { uuid, node_uuid };
	PGresult *res = NULL;
	int r;

	r = exec_on(s, "SELECT " EVENT_COLS EVENT_FROM " WHERE h.uuid = ? AND "
	    "n.uuid = ?", 2, p, &res, err, "reading a history event");
	if (r == 0 && PQntuples(res) == 0)
		r = not_found(err, uuid);
	if (r == 0)
		r = event_row(res, 0, ret, err);
	PQclear(res);
	return r;
}

int
pg_history_list(struct lb_store *s, const struct lb_history_query *q,
    struct lb_history_list *ret, struct lb_err *err)
{
	struct lb_history_event marker;
	PGresult *res = NULL;
	char sql[512], limit[24];
	const char *p[3] = { q->node_uuid, q->marker, limit };
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (q->marker != NULL) {
		r = pg_history_get(s, q->node_uuid, q->marker, &marker, err);
		if (r == 0)
			lb_history_event_release(&marker);
	}
	snprintf(sql, sizeof(sql), "SELECT " EVENT_COLS EVENT_FROM " WHERE "
	    "n.uuid = ? AND h.id > COALESCE((SELECT id FROM node_history WHERE "
	    "uuid = ?), 0) ORDER BY h.id%s", q->limit > 0 ? " LIMIT ?" : "");
	snprintf(limit, sizeof(limit), "%zu", q->limit);
	if (r == 0)
		r = exec_on(s, sql, q->limit > 0 ? 3 : 2, p, &res, err,
		    "listing history events");
	if (r == 0 && PQntuples(res) > 0) {
		ret->items = calloc((size_t)PQntuples(res),
		    sizeof(*ret->items));
		if (ret->items == NULL)
			r = lb_err_set(err, -ENOMEM, "out of memory");
	}
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		r = event_row(res, i, &ret->items[i], err);
		ret->n += r == 0;
	}
	PQclear(res);
	if (r < 0)
		lb_history_list_release(ret);
	return r;
}

int
pg_history_delete(struct lb_store *s, const char *node_uuid,
    struct lb_err *err)
{
	const char *p[1] = { node_uuid };

	return exec_on(s, "DELETE FROM node_history WHERE node_id = (SELECT "
	    "id FROM nodes WHERE uuid = ?)", 1, p, NULL, err,
	    "deleting history events");
}

/* The nodes over the limit, then the oldest of each, in one transaction. */
static int
purge_tx(PGconn *c, const struct lb_history_purge *p, size_t *deleted,
    struct lb_err *err)
{
	const char *cutoff = p->older_than != NULL ? p->older_than : "~";
	char max[24];
	PGresult *res = NULL;
	int r;

	snprintf(max, sizeof(max), "%zu", p->max_entries);
	r = pg_exec(c, "SELECT h.node_id, COUNT(*) - ?::bigint, n.uuid, "
	    "n.driver, n.conductor_group FROM node_history h JOIN nodes n ON "
	    "n.id = h.node_id WHERE h.created_at < ? GROUP BY h.node_id, "
	    "n.uuid, n.driver, n.conductor_group HAVING COUNT(*) > ?::bigint "
	    "ORDER BY h.node_id", 3, (const char *[]){ max, cutoff, max },
	    &res, err, "counting history events");
	for (int i = 0; r == 0 && i < PQntuples(res) &&
	    *deleted < p->batch_count; i++) {
		const char *d[3] = { PQgetvalue(res, i, 0), cutoff,
		    PQgetvalue(res, i, 1) };

		/* only the nodes the caller owns (the hash ring's share) */
		if (p->node_ok != NULL && !p->node_ok(p->node_ok_arg,
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4)))
			continue;
		r = pg_exec(c, "DELETE FROM node_history WHERE id IN (SELECT "
		    "id FROM node_history WHERE node_id = ?::bigint AND "
		    "created_at < ? ORDER BY id LIMIT ?::bigint)", 3, d, NULL,
		    err, "purging history events");
		*deleted += r == 0 ? (size_t)strtoll(d[2], NULL, 10) : 0;
	}
	PQclear(res);
	return r;
}

int
pg_history_purge(struct lb_store *s, const struct lb_history_purge *p,
    size_t *ret_deleted, struct lb_err *err)
{
	size_t deleted = 0;
	PGconn *c;
	int r;

	r = pg_get_conn(pg_store(s), &c, err);
	if (r == 0)
		r = pg_begin(c, err);
	if (r < 0)
		return r;
	r = pg_end(c, purge_tx(c, p, &deleted, err), err);
	if (r == 0 && ret_deleted != NULL)
		*ret_deleted = deleted;
	return r;
}
