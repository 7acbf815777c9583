/*
 * store_pg_crud.c - the PostgreSQL store's CRUD for every record table
 * (struct sq_table, shared with the SQLite store, says how nodes and ports
 * differ): records to and from rows as text, get by UUID or name, lists
 * with keyset paging, create, update through a callback in one transaction
 * with the row locked (SELECT ... FOR UPDATE), delete, and Ironic's words
 * for broken uniqueness.  Runs on the calling thread, on its connection.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_pg.h"
#include "conductor/util/clock.h"
#include "conductor/util/banned.h"

#define AT(rec, off) ((char *)(rec) + (off))
#define PARAMS_MAX 96

/* A record's stored fields as text parameters (the JSON ones owned). */
struct pg_params {
	const char *v[PARAMS_MAX];
	char *owned[PARAMS_MAX];
	int n;
};

static void
params_release(struct pg_params *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->owned[i]);
}

static void
params_add(struct pg_params *p, const char *v, char *owned)
{
	if (p->n < PARAMS_MAX) {
		p->v[p->n] = v;
		p->owned[p->n++] = owned;
	} else {
		free(owned);
	}
}

static void
params_record(struct pg_params *p, const struct lb_record_type *t,
    const void *rec)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		const char *q = (const char *)rec + f->offset;
		char *text;

		if (!lb_field_is_stored(f))
			continue;
		switch (f->type) {
		case LB_FT_STR:
			params_add(p, *(char *const *)q, NULL);
			break;
		case LB_FT_STRBUF:
			params_add(p, q, NULL);
			break;
		case LB_FT_BOOL:
			params_add(p, *(const bool *)q ? "1" : "0", NULL);
			break;
		case LB_FT_TRIBOOL:
			params_add(p, *(const int *)q < 0 ? NULL :
			    *(const int *)q ? "1" : "0", NULL);
			break;
		case LB_FT_OBJ:
		case LB_FT_LIST:
			text = json_dumps(*(json_t *const *)q, JSON_COMPACT);
			params_add(p, text ? text : "{}", text);
			break;
		default:
			params_add(p, NULL, NULL);
			break;
		}
	}
}

static void
read_json(const struct lb_field *f, json_t **p, const char *text)
{
	json_decref(*p);
	*p = text ? json_loads(text, 0, NULL) : NULL;
	if (*p == NULL)
		*p = f->type == LB_FT_OBJ ? json_object() : json_array();
}

/* Reads the stored fields from column 1 on; returns the next column. */
static int
read_record(const struct lb_record_type *t, void *rec, const PGresult *res,
    int row)
{
	int col = 1;

	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		char *p = (char *)rec + f->offset;
		const char *text;

		if (!lb_field_is_stored(f))
			continue;
		text = pg_val(res, row, col);
		switch (f->type) {
		case LB_FT_STR:
			free(*(char **)p);
			*(char **)p = text ? strdup(text) : NULL;
			break;
		case LB_FT_STRBUF:
			snprintf(p, f->max_len + 1, "%s", text ? text : "");
			break;
		case LB_FT_BOOL:
			*(bool *)p = text != NULL && strcmp(text, "0") != 0;
			break;
		case LB_FT_TRIBOOL:
			*(int *)p = text == NULL ? -1 : strcmp(text, "0") != 0;
			break;
		case LB_FT_OBJ:
		case LB_FT_LIST:
			read_json(f, (json_t **)p, text);
			break;
		default:
			break;
		}
		col++;
	}
	return col;
}

static void *
read_row(const struct sq_table *t, const PGresult *res, int row)
{
	void *rec = t->rec_new();
	int col;

	if (rec == NULL)
		return NULL;
	*(int64_t *)AT(rec, t->id_offset) = strtoll(PQgetvalue(res, row, 0),
	    NULL, 10);
	col = read_record(t->type, rec, res, row);
	if (t->parent != NULL)
		snprintf(AT(rec, t->parent_uuid_offset), LB_UUID_LEN + 1,
		    "%s", PQgetvalue(res, row, col));
	return rec;
}

static const char *
field_text(const struct lb_record_type *t, const void *rec, const char *name)
{
	int i = lb_record_field_index(t, name);
	const char *p;

	if (i < 0)
		return "";
	p = (const char *)rec + t->fields[i].offset;
	if (t->fields[i].type == LB_FT_STRBUF)
		return p;
	if (t->fields[i].type == LB_FT_STR && *(char *const *)p != NULL)
		return *(char *const *)p;
	return "";
}

/* A unique violation in Ironic's words: constraints are TABLE_COL_key. */
static int
write_error(PGconn *c, const PGresult *res, const struct sq_table *t,
    void *rec, struct lb_err *err)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	char want[96];

	if (state == NULL || strcmp(state, "23505") != 0 || name == NULL)
		return pg_error(c, res, err, "writing");
	for (size_t i = 0; i < t->nunique; i++) {
		const struct sq_unique *u = &t->unique[i];

		snprintf(want, sizeof(want), "%s_%s_key", t->table,
		    u->column + 1);
		if (strcmp(name, want) == 0)
			return lb_err_set(err, -EEXIST, u->fmt,
			    field_text(t->type, rec, u->field));
	}
	return lb_err_set(err, -EEXIST, "A %s with UUID %s already exists.",
	    t->type->kind, AT(rec, t->type->uuid_offset));
}

/* The record named by 'ident'; 'lock': FOR UPDATE (in a transaction). */
static int
select_one(struct store_pg *st, PGconn *c, const struct sq_table *t,
    const char *ident, bool lock, void **ret, struct lb_err *err)
{
	char uuid[LB_UUID_LEN + 1], what[64];
	bool by_uuid = lb_uuid_normalize(ident, uuid) == 0;
	const char *p[1] = { by_uuid ? uuid : ident };
	PGresult *res = NULL;
	struct lb_buf sql;
	char *text;
	int r;

	if (!by_uuid && t->name_column == NULL)
		return lb_err_set(err, -ENOENT, "%s %s could not be found.",
		    t->kind, ident);
	lb_buf_init(&sql);
	lb_buf_addf(&sql, "%s WHERE %s%s = ?%s%s", st->select[t->index],
	    t->alias, by_uuid ? "uuid" : t->name_column,
	    lock ? " FOR UPDATE" : "", lock && t->parent ? " OF p" : "");
	text = lb_buf_steal(&sql, NULL);
	if (text == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "reading a %s", t->type->kind);
	r = pg_exec(c, text, 1, p, &res, err, what);
	free(text);
	if (r == -EILSEQ || (r == 0 && PQntuples(res) == 0))
		r = lb_err_set(err, -ENOENT, "%s %s could not be found.",
		    t->kind, by_uuid && t->not_found_normalized ? uuid : ident);
	if (r == 0 && (*ret = read_row(t, res, 0)) == NULL)
		r = lb_err_set(err, -ENOMEM, "out of memory");
	PQclear(res);
	return r;
}

int
pg_get(struct store_pg *st, const struct sq_table *t, const char *ident,
    void **ret, struct lb_err *err)
{
	double started = lb_monotonic();
	PGconn *c;
	int r = pg_get_conn(st, &c, err);

	if (r == 0)
		r = select_one(st, c, t, ident, false, ret, err);
	pg_observe_read(started);
	return r;
}

/*
 * A sort column's NULL stand-in and collation, in SQLite's order: its
 * IFNULL(x, '') puts an unset tri-state (text '') after every number, so
 * 2 here (the stored values are 0 and 1); text in byte order.  The id
 * (never NULL) bare, so that its primary key index orders and pages.
 */
static const char *
sort_expr(const struct sq_table *t, const char *key, char *out, size_t size)
{
	int i = lb_record_field_index(t->type, key);
	bool num = i >= 0 && (t->type->fields[i].type == LB_FT_BOOL ||
	    t->type->fields[i].type == LB_FT_TRIBOOL);

	if (strcmp(key, "id") == 0)
		snprintf(out, size, "%sid", t->alias);
	else if (num)
		snprintf(out, size, "COALESCE(%s%s, 2)", t->alias, key);
	else
		snprintf(out, size, "COALESCE(%s%s, '') COLLATE \"C\"",
		    t->alias, key);
	return out;
}

static bool
sortable(const struct lb_record_type *t, const char *key)
{
	int i;

	if (strcmp(key, "id") == 0)
		return true;
	i = lb_record_field_index(t, key);
	if (i < 0 || !lb_field_is_stored(&t->fields[i]))
		return false;
	return t->fields[i].type != LB_FT_OBJ && t->fields[i].type != LB_FT_LIST;
}

/* The conditions the query asks for, their '?' values into p; a count. */
static size_t
add_conds(struct lb_buf *b, const struct sq_filter *filters, size_t nfilters,
    const void *query, struct pg_params *p)
{
	size_t n = 0;

	for (size_t i = 0; i < nfilters; i++) {
		const struct sq_filter *f = &filters[i];
		const char *s = NULL, *cond = NULL;
		int v = -1;

		if (f->kind == SQ_F_EQ || f->kind == SQ_F_EQ_OR_NULL)
			s = *(const char *const *)AT(query, f->offset);
		else
			v = *(const int *)AT(query, f->offset);
		if ((f->kind == SQ_F_EQ || f->kind == SQ_F_EQ_OR_NULL) &&
		    s != NULL) {
			cond = f->kind == SQ_F_EQ_OR_NULL && s[0] == '\0' ?
			    f->cond_else : f->cond;
			if (cond == f->cond)
				params_add(p, s, NULL);
			if (cond == f->cond && f->cond_pg != NULL)
				cond = f->cond_pg;
		} else if (f->kind == SQ_F_FLAG && v >= 0) {
			cond = f->cond;
			params_add(p, v ? "1" : "0", NULL);
		} else if (f->kind == SQ_F_SET && v >= 0) {
			cond = v ? f->cond : f->cond_else;
		}
		if (cond == NULL)
			continue;
		lb_buf_addf(b, "%s%s", n++ ? " AND " : " WHERE ", cond);
	}
	return n;
}

/* The marker row's sort value (text) and id, for keyset paging. */
static int
marker_position(PGconn *c, const struct sq_table *t, const char *expr,
    const char *marker, char **ret_value, char **ret_id, struct lb_err *err)
{
	const char *p[1] = { marker };
	PGresult *res;
	char sql[384];
	int r;

	/* the expression names the table's alias: read it in 'from' */
	snprintf(sql, sizeof(sql), "SELECT (%s)::text, %sid FROM %s WHERE "
	    "%suuid = ?", expr, t->alias, t->from, t->alias);
	r = pg_exec(c, sql, 1, p, &res, err, "reading the marker");
	if (r < 0 && r != -EILSEQ) {
		PQclear(res);
		return r;
	}
	/* a marker that is not UTF-8 names no row, as on SQLite */
	if (r == -EILSEQ || PQntuples(res) == 0) {
		PQclear(res);
		return lb_err_set(err, -EINVAL, "Invalid marker: %s %s could "
		    "not be found.", t->kind, marker);
	}
	*ret_value = strdup(PQgetvalue(res, 0, 0));
	*ret_id = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return *ret_value && *ret_id ? 0 : lb_err_set(err, -ENOMEM, "out of "
	    "memory");
}

static int
rows_add(struct sq_rows *rows, void *rec)
{
	void **items = realloc(rows->items, (rows->n + 1) * sizeof(*items));

	if (items == NULL)
		return -ENOMEM;
	rows->items = items;
	rows->items[rows->n++] = rec;
	return 0;
}

static int
rows_read(const struct sq_table *t, PGresult *res, struct sq_rows *ret,
    struct lb_err *err)
{
	for (int i = 0; i < PQntuples(res); i++) {
		void *rec = read_row(t, res, i);

		if (rec == NULL || rows_add(ret, rec) < 0) {
			if (rec != NULL)
				t->rec_free(rec);
			for (size_t j = 0; j < ret->n; j++)
				t->rec_free(ret->items[j]);
			free(ret->items);
			memset(ret, 0, sizeof(*ret));
			return lb_err_set(err, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

static int
list_query(struct store_pg *st, PGconn *c, const struct sq_table *t,
    struct lb_buf *sql, struct pg_params *p, size_t nconds,
    const struct sq_page *page, const char *expr, struct sq_rows *ret,
    struct lb_err *err)
{
	const char *cmp = page->sort_desc ? "<" : ">";
	const char *dir = page->sort_desc ? "DESC" : "ASC";
	/* sorted by the id alone: keyset paging on the primary key */
	bool by_id = page->sort_key == NULL ||
	    strcmp(page->sort_key, "id") == 0;
	char *mval = NULL, *mid = NULL, *text;
	PGresult *res = NULL;
	int r = 0;

	if (page->marker != NULL) {
		r = marker_position(c, t, expr, page->marker, &mval, &mid, err);
		if (r == 0)
			lb_buf_adds(sql, nconds ? " AND " : " WHERE ");
		if (r == 0 && by_id) {
			lb_buf_addf(sql, "%s %s ?", expr, cmp);
			params_add(p, mid, NULL);
		} else if (r == 0) {
			lb_buf_addf(sql, "(%s %s ? OR (%s = ? AND %sid %s ?))",
			    expr, cmp, expr, t->alias, cmp);
			params_add(p, mval, NULL);
			params_add(p, mval, NULL);
			params_add(p, mid, NULL);
		}
	}
	if (by_id)
		lb_buf_addf(sql, " ORDER BY %s %s", expr, dir);
	else
		lb_buf_addf(sql, " ORDER BY %s %s, %sid %s", expr, dir,
		    t->alias, dir);
	if (page->limit > 0)
		lb_buf_addf(sql, " LIMIT %zu", page->limit);
	text = lb_buf_steal(sql, NULL);
	if (r == 0 && text == NULL)
		r = lb_err_set(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = pg_exec(c, text, p->n, p->v, &res, err, "listing");
	if (r == 0)
		r = rows_read(t, res, ret, err);
	else if (r == -EILSEQ)
		r = 0;		/* a filter not UTF-8 matches nothing */
	PQclear(res);
	free(text);
	free(mval);
	free(mid);
	return r;
}

int
pg_list(struct store_pg *st, const struct sq_table *t,
    const struct sq_filter *filters, size_t nfilters, const void *query,
    const struct sq_page *page, struct sq_rows *ret, struct lb_err *err)
{
	const char *key = page->sort_key ? page->sort_key : "id";
	double started = lb_monotonic();
	struct pg_params p = { .n = 0 };
	struct lb_buf sql;
	char expr[128];
	PGconn *c;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!sortable(t->type, key))
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", key);
	r = pg_get_conn(st, &c, err);
	if (r < 0)
		return r;
	sort_expr(t, key, expr, sizeof(expr));
	lb_buf_init(&sql);
	lb_buf_adds(&sql, st->select[t->index]);
	r = list_query(st, c, t, &sql, &p, add_conds(&sql, filters, nfilters,
	    query, &p), page, expr, ret, err);
	lb_buf_release(&sql);
	params_release(&p);
	pg_observe_read(started);
	return r;
}

/* In the transaction: the parent's row id, its row share-locked. */
static int
resolve_parent(PGconn *c, const struct sq_table *t, void *rec,
    struct lb_err *err)
{
	const char *p[1] = { AT(rec, t->parent_uuid_offset) };
	PGresult *res;
	char sql[128];
	int r;

	snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE uuid = ? FOR "
	    "SHARE", t->parent->table);
	r = pg_exec(c, sql, 1, p, &res, err, "reading the parent");
	if (r == 0 && PQntuples(res) == 0)
		r = lb_err_set(err, -EINVAL, "%s %s could not be found.",
		    t->parent->kind, p[0]);
	if (r == 0)
		*(int64_t *)AT(rec, t->parent_id_offset) =
		    strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return r;
}

/* INSERT ... RETURNING id, or UPDATE ... WHERE id = ?: the statement. */
static char *
write_sql(const struct sq_table *t, bool insert)
{
	const struct lb_record_type *rt = t->type;
	struct lb_buf b;
	size_t n = 0;

	lb_buf_init(&b);
	lb_buf_addf(&b, insert ? "INSERT INTO %s (" : "UPDATE %s SET ",
	    t->table);
	for (size_t i = 0; i < rt->nfields; i++) {
		if (!lb_field_is_stored(&rt->fields[i]))
			continue;
		lb_buf_addf(&b, "%s%s%s", n++ ? ", " : "", rt->fields[i].name,
		    insert ? "" : " = ?");
	}
	if (t->parent != NULL)
		lb_buf_addf(&b, ", %s%s", t->parent_column, insert ? "" :
		    " = ?");
	if (!insert) {
		lb_buf_adds(&b, " WHERE id = ?");
		return lb_buf_steal(&b, NULL);
	}
	lb_buf_adds(&b, ") VALUES (");
	for (size_t i = 0; i < n + (t->parent != NULL); i++)
		lb_buf_adds(&b, i ? ", ?" : "?");
	lb_buf_adds(&b, ") RETURNING id");
	return lb_buf_steal(&b, NULL);
}

static int
write_record(PGconn *c, const struct sq_table *t, void *rec, bool insert,
    struct lb_err *err)
{
	struct pg_params p = { .n = 0 };
	char pid[24], id[24], *sql;
	PGresult *res = NULL;
	int r = 0;

	if (t->parent != NULL)
		r = resolve_parent(c, t, rec, err);
	if (r < 0)
		return r;
	sql = write_sql(t, insert);
	if (sql == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	params_record(&p, t->type, rec);
	snprintf(pid, sizeof(pid), "%lld", t->parent ? (long long)*(int64_t *)
	    AT(rec, t->parent_id_offset) : 0LL);
	snprintf(id, sizeof(id), "%lld", (long long)*(int64_t *)AT(rec,
	    t->id_offset));
	if (t->parent != NULL)
		params_add(&p, pid, NULL);
	if (!insert)
		params_add(&p, id, NULL);
	r = pg_exec(c, sql, p.n, p.v, &res, NULL, "writing");
	if (r < 0)
		r = write_error(c, res, t, rec, err);
	else if (insert)
		*(int64_t *)AT(rec, t->id_offset) =
		    strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	params_release(&p);
	free(sql);
	return r;
}

static int
stamp(void *rec, size_t offset, struct lb_err *err)
{
	char now[LB_TIME_LEN];
	char **p = (char **)AT(rec, offset);

	lb_time_now_iso(now);
	free(*p);
	*p = strdup(now);
	return *p != NULL ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

int
pg_create(struct store_pg *st, const struct sq_table *t, void *rec,
    struct lb_err *err)
{
	char *uuid = AT(rec, t->type->uuid_offset);
	PGconn *c;
	int r;

	r = pg_get_conn(st, &c, err);
	if (r < 0)
		return r;
	if (uuid[0] == '\0' && lb_uuid_generate(uuid) < 0)
		return lb_err_set(err, -EIO, "cannot generate a UUID");
	r = stamp(rec, t->created_offset, err);
	if (r == 0)
		r = pg_begin(c, err);
	if (r < 0)
		return r;
	return pg_end(c, write_record(c, t, rec, true, err), err);
}

/* In the transaction: the record locked, its parent, fn's verdict. */
static int
read_and_check(struct store_pg *st, PGconn *c, const struct sq_table *t,
    const char *ident, sq_update_fn fn, void *arg, void **ret,
    struct lb_err *err)
{
	void *parent = NULL;
	int r;

	r = select_one(st, c, t, ident, true, ret, err);
	if (r < 0 || fn == NULL)
		return r;
	if (t->parent != NULL) {
		r = select_one(st, c, t->parent, AT(*ret, t->parent_uuid_offset),
		    false, &parent, err);
		if (r < 0)
			return r;
	}
	r = fn(*ret, parent, arg, err);
	if (parent != NULL)
		t->parent->rec_free(parent);
	return r;
}

static int
delete_row(PGconn *c, const struct sq_table *t, void *rec, struct lb_err *err)
{
	char sql[64], id[24];
	const char *p[1] = { id };

	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?", t->table);
	snprintf(id, sizeof(id), "%lld", (long long)*(int64_t *)AT(rec,
	    t->id_offset));
	return pg_exec(c, sql, 1, p, NULL, err, "deleting");
}

static int
change(struct store_pg *st, const struct sq_table *t, const char *ident,
    sq_update_fn fn, void *arg, bool delete, void **ret, struct lb_err *err)
{
	void *rec = NULL;
	PGconn *c;
	int r;

	r = pg_get_conn(st, &c, err);
	if (r == 0)
		r = pg_begin(c, err);
	if (r < 0)
		return r;
	r = read_and_check(st, c, t, ident, fn, arg, &rec, err);
	if (r == 0 && delete) {
		r = delete_row(c, t, rec, err);
	} else if (r == 0) {
		r = stamp(rec, t->updated_offset, err);
		if (r == 0)
			r = write_record(c, t, rec, false, err);
	}
	r = pg_end(c, r, err);
	if (r == LB_STORE_UNCHANGED)
		r = 0;
	if (r == 0 && ret != NULL)
		*ret = rec;
	else if (rec != NULL)
		t->rec_free(rec);
	return r;
}

int
pg_update(struct store_pg *st, const struct sq_table *t, const char *ident,
    sq_update_fn fn, void *arg, void **ret, struct lb_err *err)
{
	return change(st, t, ident, fn, arg, false, ret, err);
}

int
pg_delete(struct store_pg *st, const struct sq_table *t, const char *ident,
    sq_update_fn check, void *arg, struct lb_err *err)
{
	return change(st, t, ident, check, arg, true, NULL, err);
}
