/*
 * store_sqlite_crud.c - the SQLite store's CRUD, one implementation for
 * every record table (struct sq_table says how nodes and ports differ):
 * records to and from rows, get by UUID or name, lists with conditions,
 * keyset paging and sorting, create, update through a callback in one write
 * transaction, delete, and Ironic's words for broken uniqueness.  Runs on
 * the calling thread, on its own connection.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/clock.h"
#include "conductor/util/banned.h"

#define AT(rec, off) ((char *)(rec) + (off))

/* A list condition: 'cond' has at most one '?', bound to 'value'. */
struct sq_cond {
	const char *cond;
	const char *value;	/* NULL: nothing to bind */
};

static int64_t *
rec_id(const struct sq_table *t, void *rec)
{
	return (int64_t *)AT(rec, t->id_offset);
}

static char *
rec_uuid(const struct sq_table *t, void *rec)
{
	return AT(rec, t->type->uuid_offset);
}

/* Binds the stored fields from index 1 on; returns the next free index. */
static int
bind_record(const struct lb_record_type *t, const void *rec,
    sqlite3_stmt *stmt)
{
	int col = 1;

	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		const char *p = (const char *)rec + f->offset;
		char *text;

		if (!lb_field_is_stored(f))
			continue;
		switch (f->type) {
		case LB_FT_STR:
			sqlite3_bind_text(stmt, col, *(char *const *)p, -1,
			    SQLITE_STATIC);
			break;
		case LB_FT_STRBUF:
			sqlite3_bind_text(stmt, col, p, -1, SQLITE_STATIC);
			break;
		case LB_FT_BOOL:
			sqlite3_bind_int(stmt, col, *(const bool *)p);
			break;
		case LB_FT_TRIBOOL:
			if (*(const int *)p < 0)
				sqlite3_bind_null(stmt, col);
			else
				sqlite3_bind_int(stmt, col, *(const int *)p);
			break;
		case LB_FT_OBJ:
		case LB_FT_LIST:
			text = json_dumps(*(json_t *const *)p, JSON_COMPACT);
			sqlite3_bind_text(stmt, col, text ? text : "{}", -1,
			    SQLITE_TRANSIENT);
			free(text);
			break;
		default:
			break;
		}
		col++;
	}
	return col;
}

static void
read_json(const struct lb_field *f, json_t **p, const char *text, int len)
{
	json_decref(*p);
	/* Most dict columns are empty: skip the parser. */
	if (len == 2 && text[0] == '{' && text[1] == '}')
		*p = json_object();
	else if (len == 2 && text[0] == '[' && text[1] == ']')
		*p = json_array();
	else
		*p = text ? json_loadb(text, len, 0, NULL) : NULL;
	if (*p == NULL)
		*p = f->type == LB_FT_OBJ ? json_object() : json_array();
}

/* Reads the stored fields from column 1 on; returns the next column. */
static int
read_record(const struct lb_record_type *t, void *rec, sqlite3_stmt *stmt)
{
	int col = 1;

	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		char *p = (char *)rec + f->offset;
		const char *text;
		int len;

		if (!lb_field_is_stored(f))
			continue;
		text = (const char *)sqlite3_column_text(stmt, col);
		len = sqlite3_column_bytes(stmt, col);
		switch (f->type) {
		case LB_FT_STR:
			free(*(char **)p);
			*(char **)p = text ? strndup(text, len) : NULL;
			break;
		case LB_FT_STRBUF:
			snprintf(p, f->max_len + 1, "%s", text ? text : "");
			break;
		case LB_FT_BOOL:
			*(bool *)p = sqlite3_column_int(stmt, col) != 0;
			break;
		case LB_FT_TRIBOOL:
			*(int *)p = sqlite3_column_type(stmt, col) ==
			    SQLITE_NULL ? -1 : sqlite3_column_int(stmt, col);
			break;
		case LB_FT_OBJ:
		case LB_FT_LIST:
			read_json(f, (json_t **)p, text, len);
			break;
		default:
			break;
		}
		col++;
	}
	return col;
}

/* A new record from the statement's current row (st->select's columns). */
static void *
read_row(const struct sq_table *t, sqlite3_stmt *stmt)
{
	void *rec = t->rec_new();
	int col;

	if (rec == NULL)
		return NULL;
	*rec_id(t, rec) = sqlite3_column_int64(stmt, 0);
	col = read_record(t->type, rec, stmt);
	if (t->parent != NULL)
		snprintf(AT(rec, t->parent_uuid_offset), LB_UUID_LEN + 1,
		    "%s", (const char *)sqlite3_column_text(stmt, col));
	return rec;
}

/* A string field's value, for messages ("" when unset). */
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

static int
constraint_error(sqlite3 *db, const struct sq_table *t, void *rec,
    struct lb_err *err)
{
	const char *msg = sqlite3_errmsg(db);

	for (size_t i = 0; i < t->nunique; i++) {
		const struct sq_unique *u = &t->unique[i];

		if (strstr(msg, u->column) != NULL)
			return lb_err_set(err, -EEXIST, u->fmt,
			    field_text(t->type, rec, u->field));
	}
	if (strstr(msg, ".uuid") != NULL)
		return lb_err_set(err, -EEXIST, "A %s with UUID %s already "
		    "exists.", t->type->kind, rec_uuid(t, rec));
	return sq_db_error(err, db, "writing");
}

/* "database error while reading a node", "... while listing nodes". */
static int
rec_error(struct lb_err *err, sqlite3 *db, const char *verb,
    const struct sq_table *t)
{
	char what[64];

	if (strcmp(verb, "listing") == 0)
		snprintf(what, sizeof(what), "%s %s", verb, t->table);
	else
		snprintf(what, sizeof(what), "%s a %s", verb, t->type->kind);
	return sq_db_error(err, db, what);
}

/* The record named by 'ident': a UUID, or a name where the table has one. */
static int
select_one(struct store_sqlite *st, sqlite3 *db, const struct sq_table *t,
    const char *ident, void **ret, struct lb_err *err)
{
	char uuid[LB_UUID_LEN + 1];
	bool by_uuid = lb_uuid_normalize(ident, uuid) == 0;
	sqlite3_stmt *stmt;
	void *rec;
	int rc, r;

	if (!by_uuid && t->name_column == NULL)
		return lb_err_set(err, -ENOENT, "%s %s could not be found.",
		    t->kind, ident);
	r = sq_get_stmt(st, db, sq_stmt_id(t, by_uuid ? SQ_BY_UUID :
	    SQ_BY_NAME), &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, by_uuid ? uuid : ident, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sq_stmt_done(stmt);
		if (rc == SQLITE_DONE)
			return lb_err_set(err, -ENOENT, "%s %s could not be "
			    "found.", t->kind, by_uuid &&
			    t->not_found_normalized ? uuid : ident);
		return rec_error(err, db, "reading", t);
	}
	rec = read_row(t, stmt);
	sq_stmt_done(stmt);
	if (rec == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	*ret = rec;
	return 0;
}

int
sq_get(struct store_sqlite *st, const struct sq_table *t, const char *ident,
    void **ret, struct lb_err *err)
{
	double started = lb_monotonic();
	sqlite3 *db;
	int r;

	r = sq_get_db(st, &db, err);
	if (r == 0)
		r = select_one(st, db, t, ident, ret, err);
	sq_observe_read(started);
	return r;
}

/* Columns a list may be sorted by: stored scalars, not JSON or links. */
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

/* The conditions the query's members ask for, in table order; a count. */
static size_t
conds_from_query(const struct sq_filter *filters, size_t nfilters,
    const void *query, struct sq_cond *conds)
{
	size_t n = 0;

	for (size_t i = 0; i < nfilters && n < SQ_FILTER_MAX; i++) {
		const struct sq_filter *f = &filters[i];
		const char *s = NULL;
		int v = -1;

		if (f->kind == SQ_F_EQ || f->kind == SQ_F_EQ_OR_NULL)
			s = *(const char *const *)AT(query, f->offset);
		else
			v = *(const int *)AT(query, f->offset);
		switch (f->kind) {
		case SQ_F_EQ:
			if (s != NULL)
				conds[n++] = (struct sq_cond){ f->cond, s };
			break;
		case SQ_F_EQ_OR_NULL:
			if (s != NULL && s[0] == '\0')
				conds[n++] = (struct sq_cond){ f->cond_else,
				    NULL };
			else if (s != NULL)
				conds[n++] = (struct sq_cond){ f->cond, s };
			break;
		case SQ_F_FLAG:
			if (v >= 0)
				conds[n++] = (struct sq_cond){ f->cond,
				    v ? "1" : "0" };
			break;
		case SQ_F_SET:
			if (v >= 0)
				conds[n++] = (struct sq_cond){ v ? f->cond :
				    f->cond_else, NULL };
			break;
		}
	}
	return n;
}

/* The marker row's sort value and id, for keyset paging. */
static int
marker_position(sqlite3 *db, const struct sq_table *t, const char *sort_col,
    const char *marker, sqlite3_value **ret_value, int64_t *ret_id,
    struct lb_err *err)
{
	char sql[256];
	sqlite3_stmt *stmt;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT IFNULL(%s, ''), id FROM %s WHERE "
	    "uuid = ?", sort_col, t->table);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return sq_db_error(err, db, "reading the marker");
	sqlite3_bind_text(stmt, 1, marker, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return lb_err_set(err, -EINVAL, "Invalid marker: %s %s could "
		    "not be found.", t->kind, marker);
	}
	/* Typed: an integer sort key must compare as an integer. */
	*ret_value = sqlite3_value_dup(sqlite3_column_value(stmt, 0));
	*ret_id = sqlite3_column_int64(stmt, 1);
	sqlite3_finalize(stmt);
	return *ret_value ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

/* Sorted by the id alone: ordered and paged by the primary key. */
static bool
by_id(const char *sort_col)
{
	return strcmp(sort_col, "id") == 0;
}

/*
 * The table's select with the conditions and the marker ANDed, ORDER BY
 * the sort column then id, and LIMIT.
 */
static void
list_sql(struct lb_buf *b, const char *select, const struct sq_table *t,
    const struct sq_cond *conds, size_t nconds, const char *sort_col,
    const struct sq_page *page)
{
	const char *a = t->alias, *cmp = page->sort_desc ? "<" : ">";
	const char *dir = page->sort_desc ? "DESC" : "ASC";

	lb_buf_adds(b, select);
	for (size_t i = 0; i < nconds; i++)
		lb_buf_addf(b, "%s%s", i ? " AND " : " WHERE ", conds[i].cond);
	if (page->marker != NULL) {
		/* Keyset paging: strictly after the marker in sort order. */
		lb_buf_adds(b, nconds ? " AND " : " WHERE ");
		if (by_id(sort_col))
			lb_buf_addf(b, "%sid %s ?", a, cmp);
		else
			lb_buf_addf(b, "(IFNULL(%s%s, '') %s ? OR (IFNULL(%s%s, "
			    "'') = ? AND %sid %s ?))", a, sort_col, cmp, a,
			    sort_col, a, cmp);
	}
	if (by_id(sort_col))
		lb_buf_addf(b, " ORDER BY %sid %s", a, dir);
	else
		lb_buf_addf(b, " ORDER BY IFNULL(%s%s, '') %s, %sid %s", a,
		    sort_col, dir, a, dir);
	if (page->limit > 0)
		lb_buf_addf(b, " LIMIT %zu", page->limit);
}

/* The list's statement, prepared and bound. */
static int
list_stmt(struct store_sqlite *st, sqlite3 *db, const struct sq_table *t,
    const struct sq_cond *conds, size_t nconds, const struct sq_page *page,
    sqlite3_stmt **ret, struct lb_err *err)
{
	const char *sort_col = page->sort_key ? page->sort_key : "id";
	sqlite3_value *marker_value = NULL;
	int64_t marker_id = 0;
	struct lb_buf sql;
	int r, col = 1;

	if (page->marker != NULL) {
		r = marker_position(db, t, sort_col, page->marker,
		    &marker_value, &marker_id, err);
		if (r < 0)
			return r;
	}
	lb_buf_init(&sql);
	list_sql(&sql, st->select[t->index], t, conds, nconds, sort_col, page);
	lb_buf_addc(&sql, '\0');
	if (lb_buf_failed(&sql) ||
	    sqlite3_prepare_v2(db, sql.data, -1, ret, NULL) != SQLITE_OK) {
		lb_buf_release(&sql);
		sqlite3_value_free(marker_value);
		return rec_error(err, db, "listing", t);
	}
	lb_buf_release(&sql);
	for (size_t i = 0; i < nconds; i++) {
		if (conds[i].value != NULL)
			sqlite3_bind_text(*ret, col++, conds[i].value, -1,
			    SQLITE_STATIC);
	}
	if (marker_value != NULL && !by_id(sort_col)) {
		sqlite3_bind_value(*ret, col++, marker_value);
		sqlite3_bind_value(*ret, col++, marker_value);
	}
	if (marker_value != NULL)
		sqlite3_bind_int64(*ret, col++, marker_id);
	sqlite3_value_free(marker_value);
	return 0;
}

static void
rows_release(const struct sq_table *t, struct sq_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		t->rec_free(rows->items[i]);
	free(rows->items);
	memset(rows, 0, sizeof(*rows));
}

static int
rows_add(struct sq_rows *rows, size_t *cap, void *rec)
{
	if (rows->n == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		void **items = realloc(rows->items, n * sizeof(*items));

		if (items == NULL)
			return -ENOMEM;
		rows->items = items;
		*cap = n;
	}
	rows->items[rows->n++] = rec;
	return 0;
}

static int
list_rows(struct store_sqlite *st, const struct sq_table *t,
    const struct sq_filter *filters, size_t nfilters, const void *query,
    const struct sq_page *page, struct sq_rows *ret, struct lb_err *err)
{
	const char *sort_col = page->sort_key ? page->sort_key : "id";
	struct sq_cond conds[SQ_FILTER_MAX];
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0, nconds;
	sqlite3 *db;
	void *rec;
	int r, rc;

	memset(ret, 0, sizeof(*ret));
	if (!sortable(t->type, sort_col))
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", sort_col);
	r = sq_get_db(st, &db, err);
	if (r < 0)
		return r;
	nconds = conds_from_query(filters, nfilters, query, conds);
	r = list_stmt(st, db, t, conds, nconds, page, &stmt, err);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rec = read_row(t, stmt);
		if (rec == NULL || rows_add(ret, &cap, rec) < 0) {
			if (rec != NULL)
				t->rec_free(rec);
			r = lb_err_set(err, -ENOMEM, "out of memory");
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = rec_error(err, db, "listing", t);
	sqlite3_finalize(stmt);
	if (r < 0)
		rows_release(t, ret);
	return r;
}

/* Resolves the record's parent UUID to the parent's row id. */
int
sq_list(struct store_sqlite *st, const struct sq_table *t,
    const struct sq_filter *filters, size_t nfilters, const void *query,
    const struct sq_page *page, struct sq_rows *ret, struct lb_err *err)
{
	double started = lb_monotonic();
	int r = list_rows(st, t, filters, nfilters, query, page, ret, err);

	sq_observe_read(started);
	return r;
}

static int
resolve_parent(struct store_sqlite *st, sqlite3 *db, const struct sq_table *t,
    void *rec, struct lb_err *err)
{
	const char *uuid = AT(rec, t->parent_uuid_offset);
	sqlite3_stmt *stmt;
	int rc, r;

	r = sq_get_stmt(st, db, sq_stmt_id(t->parent, SQ_ID_BY_UUID), &stmt,
	    err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*(int64_t *)AT(rec, t->parent_id_offset) =
		    sqlite3_column_int64(stmt, 0);
	sq_stmt_done(stmt);
	if (rc == SQLITE_DONE)
		return lb_err_set(err, -EINVAL, "%s %s could not be found.",
		    t->parent->kind, uuid);
	return rc == SQLITE_ROW ? 0 : rec_error(err, db, "reading",
	    t->parent);
}

static int
write_record(struct store_sqlite *st, sqlite3 *db, const struct sq_table *t,
    void *rec, bool insert, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int col, rc, r;

	if (t->parent != NULL) {
		r = resolve_parent(st, db, t, rec, err);
		if (r < 0)
			return r;
	}
	r = sq_get_stmt(st, db, sq_stmt_id(t, insert ? SQ_INSERT : SQ_UPDATE),
	    &stmt, err);
	if (r < 0)
		return r;
	col = bind_record(t->type, rec, stmt);
	/* The parent's id comes after the fields, the row id last. */
	if (t->parent != NULL)
		sqlite3_bind_int64(stmt, col++,
		    *(int64_t *)AT(rec, t->parent_id_offset));
	if (!insert)
		sqlite3_bind_int64(stmt, col, *rec_id(t, rec));
	rc = sqlite3_step(stmt);
	sq_stmt_done(stmt);
	if (rc == SQLITE_CONSTRAINT)
		return constraint_error(db, t, rec, err);
	if (rc != SQLITE_DONE)
		return rec_error(err, db, "writing", t);
	return 0;
}

/* Sets a char * time field of the record to now. */
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
sq_create(struct store_sqlite *st, const struct sq_table *t, void *rec,
    struct lb_err *err)
{
	char *uuid = rec_uuid(t, rec);
	sqlite3 *db;
	int r;

	r = sq_get_db(st, &db, err);
	if (r < 0)
		return r;
	if (uuid[0] == '\0' && lb_uuid_generate(uuid) < 0)
		return lb_err_set(err, -EIO, "cannot generate a UUID");
	r = stamp(rec, t->created_offset, err);
	if (r < 0)
		return r;
	/* The parent's row id and the insert in one transaction: a port
	 * never races its node's delete into a foreign key error. */
	r = sq_begin_write_tx(st, db, err);
	if (r < 0)
		return r;
	r = write_record(st, db, t, rec, true, err);
	if (r == 0)
		*rec_id(t, rec) = sqlite3_last_insert_rowid(db);
	return sq_end_write_tx(st, db, r, err);
}

/*
 * In the open write transaction: the record, then (for 'fn', when the table
 * has a parent) its parent, then fn's verdict.
 */
static int
read_and_check(struct store_sqlite *st, sqlite3 *db,
    const struct sq_table *t, const char *ident, sq_update_fn fn, void *arg,
    void **ret, struct lb_err *err)
{
	void *parent = NULL;
	int r;

	r = select_one(st, db, t, ident, ret, err);
	if (r < 0 || fn == NULL)
		return r;
	if (t->parent != NULL) {
		r = select_one(st, db, t->parent, AT(*ret, t->parent_uuid_offset),
		    &parent, err);
		if (r < 0)
			return r;
	}
	r = fn(*ret, parent, arg, err);
	if (parent != NULL)
		t->parent->rec_free(parent);
	return r;
}

/* Deletes the record's row; rows of child tables go with it (CASCADE). */
static int
delete_row(struct store_sqlite *st, sqlite3 *db, const struct sq_table *t,
    void *rec, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = sq_get_stmt(st, db, sq_stmt_id(t, SQ_DELETE), &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 1, *rec_id(t, rec));
	if (sqlite3_step(stmt) != SQLITE_DONE)
		r = rec_error(err, db, "deleting", t);
	sq_stmt_done(stmt);
	return r;
}

/*
 * Update and delete: in one write transaction, the record, fn's verdict,
 * then the row rewritten (with updated_at now) or deleted; LB_STORE_UNCHANGED
 * from fn commits without a write.
 */
static int
change(struct store_sqlite *st, const struct sq_table *t, const char *ident,
    sq_update_fn fn, void *arg, bool delete, void **ret, struct lb_err *err)
{
	void *rec = NULL;
	sqlite3 *db;
	int r;

	r = sq_get_db(st, &db, err);
	if (r < 0)
		return r;
	r = sq_begin_write_tx(st, db, err);
	if (r < 0)
		return r;
	r = read_and_check(st, db, t, ident, fn, arg, &rec, err);
	if (r == 0 && delete) {
		r = delete_row(st, db, t, rec, err);
	} else if (r == 0) {
		r = stamp(rec, t->updated_offset, err);
		if (r == 0)
			r = write_record(st, db, t, rec, false, err);
	} else if (r == LB_STORE_UNCHANGED) {
		r = 0;
	}
	r = sq_end_write_tx(st, db, r, err);
	if (r == 0 && ret != NULL)
		*ret = rec;
	else if (rec != NULL)
		t->rec_free(rec);
	return r;
}

int
sq_update(struct store_sqlite *st, const struct sq_table *t,
    const char *ident, sq_update_fn fn, void *arg, void **ret,
    struct lb_err *err)
{
	return change(st, t, ident, fn, arg, false, ret, err);
}

int
sq_delete(struct store_sqlite *st, const struct sq_table *t,
    const char *ident, sq_update_fn check, void *arg, struct lb_err *err)
{
	return change(st, t, ident, check, arg, true, NULL, err);
}
