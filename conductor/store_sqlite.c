/*
 * store_sqlite.c - the embedded store: one SQLite file in WAL mode, one
 * connection per thread while the thread uses the store (taken from a pool of
 * idle connections, or opened, on first use; given back when the thread says
 * it is done or exits), versioned migrations applied at open.  Columns are named after the record fields (record.h), so the
 * row mapping is driven by the same tables as the API documents.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/record.h"
#include "conductor/store.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define BUSY_TIMEOUT_MS 10000
/*
 * Idle connections kept for threads to come (the API's deferred requests
 * each run on a new thread); more are closed.  Open ones are bounded by the
 * threads alive at once, which the API and the engine bound.
 */
#define IDLE_MAX 8

struct store_sqlite {
	struct lb_store base;
	char *path;
	pthread_key_t conn_key;
	pthread_mutex_t conns_lock;
	struct conn *conns;		/* every open connection, for close */
	struct conn *idle;		/* given back, for the next thread */
	size_t nidle;
	size_t nopen;
	char *node_cols;		/* "uuid, name, ..." */
	char *port_cols;		/* "p.address, p.created_at, ..." */
	char *node_update_sql;
	char *port_update_sql;
	char *node_insert_sql;
	char *port_insert_sql;
	char *node_by_uuid_sql;
	char *node_by_name_sql;
	char *port_by_uuid_sql;
};

/* Statements every request uses, prepared once per connection. */
enum stmt_id {
	STMT_NODE_BY_UUID,
	STMT_NODE_BY_NAME,
	STMT_NODE_INSERT,
	STMT_NODE_UPDATE,
	STMT_PORT_BY_UUID,
	STMT_PORT_INSERT,
	STMT_PORT_UPDATE,
	STMT_COUNT,
};

struct conn {
	struct store_sqlite *st;
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct conn *next;		/* in st->conns */
	struct conn *next_idle;		/* in st->idle */
};

static const char *const migrations[] = {
	/* 1: nodes and ports */
	"CREATE TABLE nodes ("
	" id INTEGER PRIMARY KEY,"
	" uuid TEXT NOT NULL UNIQUE,"
	" name TEXT UNIQUE,"
	" driver TEXT NOT NULL,"
	" bios_interface TEXT, boot_interface TEXT, console_interface TEXT,"
	" deploy_interface TEXT, inspect_interface TEXT,"
	" management_interface TEXT, network_interface TEXT,"
	" power_interface TEXT, raid_interface TEXT, rescue_interface TEXT,"
	" storage_interface TEXT, vendor_interface TEXT,"
	" provision_state TEXT NOT NULL,"
	" target_provision_state TEXT, provision_updated_at TEXT,"
	" power_state TEXT, target_power_state TEXT,"
	" last_error TEXT, reservation TEXT,"
	" maintenance INTEGER NOT NULL DEFAULT 0, maintenance_reason TEXT,"
	" fault TEXT, console_enabled INTEGER NOT NULL DEFAULT 0,"
	" instance_uuid TEXT UNIQUE, chassis_uuid TEXT, resource_class TEXT,"
	" conductor_group TEXT NOT NULL DEFAULT '',"
	" automated_clean INTEGER, protected INTEGER NOT NULL DEFAULT 0,"
	" protected_reason TEXT, owner TEXT, lessee TEXT, description TEXT,"
	" retired INTEGER NOT NULL DEFAULT 0, retired_reason TEXT,"
	" boot_mode TEXT, secure_boot INTEGER,"
	" inspection_started_at TEXT, inspection_finished_at TEXT,"
	" allocation_uuid TEXT,"
	" created_at TEXT NOT NULL, updated_at TEXT,"
	" driver_info TEXT NOT NULL DEFAULT '{}',"
	" driver_internal_info TEXT NOT NULL DEFAULT '{}',"
	" instance_info TEXT NOT NULL DEFAULT '{}',"
	" properties TEXT NOT NULL DEFAULT '{}',"
	" extra TEXT NOT NULL DEFAULT '{}',"
	" clean_step TEXT NOT NULL DEFAULT '{}',"
	" deploy_step TEXT NOT NULL DEFAULT '{}',"
	" raid_config TEXT NOT NULL DEFAULT '{}',"
	" target_raid_config TEXT NOT NULL DEFAULT '{}',"
	" network_data TEXT NOT NULL DEFAULT '{}',"
	" traits TEXT NOT NULL DEFAULT '[]');"
	"CREATE INDEX nodes_provision_state ON nodes (provision_state);"
	"CREATE INDEX nodes_reservation ON nodes (reservation);"
	"CREATE TABLE ports ("
	" id INTEGER PRIMARY KEY,"
	" uuid TEXT NOT NULL UNIQUE,"
	" address TEXT NOT NULL UNIQUE,"
	" node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
	" pxe_enabled INTEGER NOT NULL DEFAULT 1,"
	" is_smartnic INTEGER NOT NULL DEFAULT 0,"
	" physical_network TEXT, portgroup_uuid TEXT,"
	" created_at TEXT NOT NULL, updated_at TEXT,"
	" extra TEXT NOT NULL DEFAULT '{}',"
	" internal_info TEXT NOT NULL DEFAULT '{}',"
	" local_link_connection TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX ports_node_id ON ports (node_id);",
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static struct store_sqlite *
to_sqlite(struct lb_store *s)
{
	return (struct store_sqlite *)s;
}

static int
db_error(struct lb_err *err, sqlite3 *db, const char *what)
{
	int code = sqlite3_extended_errcode(db);

	if (code == SQLITE_BUSY || (code & 0xff) == SQLITE_BUSY ||
	    (code & 0xff) == SQLITE_LOCKED)
		return lb_err_set(err, -EAGAIN, "database is busy, please "
		    "retry (%s)", what);
	log_error("database error while %s: %s", what, sqlite3_errmsg(db));
	return lb_err_set(err, -EIO, "database error while %s", what);
}

static int
exec_sql(sqlite3 *db, const char *sql, struct lb_err *err, const char *what)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(err, db, what);
	return 0;
}

static int
conn_open(struct store_sqlite *st, sqlite3 **ret, struct lb_err *err)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		lb_err_set(err, -EIO, "cannot open database '%s': %s",
		    st->path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	rc = exec_sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    " PRAGMA foreign_keys=ON;", err, "configuring the connection");
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	*ret = db;
	return 0;
}

static void
conn_free(struct conn *c)
{
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

/* The calling thread is done with 'c': keep it for the next, or close it. */
static void
conn_give_back(struct conn *c)
{
	struct store_sqlite *st = c->st;
	struct conn **pp;

	/* A thread never leaves a transaction open; if one did, undo it. */
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&st->conns_lock);
	if (st->nidle < IDLE_MAX) {
		c->next_idle = st->idle;
		st->idle = c;
		st->nidle++;
		c = NULL;
	} else {
		for (pp = &st->conns; *pp != c; pp = &(*pp)->next)
			;
		*pp = c->next;
		st->nopen--;
	}
	pthread_mutex_unlock(&st->conns_lock);
	if (c != NULL)
		conn_free(c);
}

/* Thread exit: a connection not given back explicitly goes back now. */
static void
conn_thread_exit(void *p)
{
	conn_give_back(p);
}

static int
get_conn(struct lb_store *s, struct conn **ret, struct lb_err *err)
{
	struct store_sqlite *st = to_sqlite(s);
	struct conn *c = pthread_getspecific(st->conn_key);
	int r;

	if (c != NULL) {
		*ret = c;
		return 0;
	}
	pthread_mutex_lock(&st->conns_lock);
	c = st->idle;
	if (c != NULL) {
		st->idle = c->next_idle;
		st->nidle--;
	}
	pthread_mutex_unlock(&st->conns_lock);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		r = conn_open(st, &c->db, err);
		if (r < 0) {
			free(c);
			return r;
		}
		c->st = st;
		pthread_mutex_lock(&st->conns_lock);
		c->next = st->conns;
		st->conns = c;
		st->nopen++;
		pthread_mutex_unlock(&st->conns_lock);
	}
	if (pthread_setspecific(st->conn_key, c) != 0) {
		conn_give_back(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

static void
sqlite_thread_release(struct lb_store *s)
{
	struct store_sqlite *st = to_sqlite(s);
	struct conn *c = pthread_getspecific(st->conn_key);

	if (c == NULL)
		return;
	pthread_setspecific(st->conn_key, NULL);
	conn_give_back(c);
}

static size_t
sqlite_open_connections(struct lb_store *s)
{
	struct store_sqlite *st = to_sqlite(s);
	size_t n;

	pthread_mutex_lock(&st->conns_lock);
	n = st->nopen;
	pthread_mutex_unlock(&st->conns_lock);
	return n;
}

static int
get_db(struct lb_store *s, sqlite3 **ret, struct lb_err *err)
{
	struct conn *c = NULL;
	int r;

	r = get_conn(s, &c, err);
	if (r == 0)
		*ret = c->db;
	return r;
}

static const char *
stmt_sql(struct store_sqlite *st, enum stmt_id id)
{
	switch (id) {
	case STMT_NODE_BY_UUID: return st->node_by_uuid_sql;
	case STMT_NODE_BY_NAME: return st->node_by_name_sql;
	case STMT_NODE_INSERT: return st->node_insert_sql;
	case STMT_NODE_UPDATE: return st->node_update_sql;
	case STMT_PORT_BY_UUID: return st->port_by_uuid_sql;
	case STMT_PORT_INSERT: return st->port_insert_sql;
	case STMT_PORT_UPDATE: return st->port_update_sql;
	default: return NULL;
	}
}

/*
 * The connection's cached statement, ready for binding.  Callers hand it
 * back with stmt_done() as soon as the rows are read, which also ends the
 * statement's read snapshot.
 */
static int
get_stmt(struct lb_store *s, sqlite3 *db, enum stmt_id id,
    sqlite3_stmt **ret, struct lb_err *err)
{
	struct store_sqlite *st = to_sqlite(s);
	struct conn *c = pthread_getspecific(st->conn_key);

	if (c == NULL || c->db != db)
		return lb_err_set(err, -EIO, "no database connection");
	if (c->stmts[id] == NULL &&
	    sqlite3_prepare_v3(db, stmt_sql(st, id), -1,
	    SQLITE_PREPARE_PERSISTENT, &c->stmts[id], NULL) != SQLITE_OK)
		return db_error(err, db, "preparing a statement");
	*ret = c->stmts[id];
	return 0;
}

static void
stmt_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

static int end_tx(sqlite3 *db, int r, struct lb_err *err);

static int
migrate(sqlite3 *db, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int version = 0, r;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt,
	    NULL) != SQLITE_OK)
		return db_error(err, db, "reading the schema version");
	if (sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (version > (int)NMIGRATIONS)
		return lb_err_set(err, -EINVAL, "database schema version %d "
		    "is newer than this lifeboatd knows (%zu)", version,
		    NMIGRATIONS);
	for (size_t i = version; i < NMIGRATIONS; i++) {
		char sql[64];

		r = exec_sql(db, "BEGIN IMMEDIATE", err, "migrating");
		if (r < 0)
			return r;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%zu", i + 1);
		if (exec_sql(db, migrations[i], err, "migrating") < 0 ||
		    exec_sql(db, sql, err, "migrating") < 0) {
			exec_sql(db, "ROLLBACK", NULL, "rolling back");
			return -EIO;
		}
		r = end_tx(db, 0, err);
		if (r < 0)
			return r;
		log_info("database schema migrated to version %zu", i + 1);
	}
	return 0;
}

/* "a, b, c" of the stored fields, each prefixed by 'alias'. */
static char *
column_list(const struct lb_record_type *t, const char *alias,
    const char *suffix)
{
	struct lb_buf b;

	lb_buf_init(&b);
	for (size_t i = 0; i < t->nfields; i++) {
		if (!lb_field_is_stored(&t->fields[i]))
			continue;
		if (b.len > 0)
			lb_buf_adds(&b, ", ");
		lb_buf_addf(&b, "%s%s%s", alias, t->fields[i].name, suffix);
	}
	return lb_buf_steal(&b, NULL);
}

static char *
insert_sql(const struct lb_record_type *t, const char *table,
    const char *extra_col)
{
	struct lb_buf b;
	char *cols = column_list(t, "", "");
	size_t n = 0;

	lb_buf_init(&b);
	lb_buf_addf(&b, "INSERT INTO %s (%s%s) VALUES (", table,
	    cols ? cols : "", extra_col);
	for (size_t i = 0; i < t->nfields; i++)
		n += lb_field_is_stored(&t->fields[i]);
	for (size_t i = 0; i < n; i++)
		lb_buf_adds(&b, i ? ", ?" : "?");
	lb_buf_adds(&b, extra_col[0] ? ", ?)" : ")");
	free(cols);
	return lb_buf_steal(&b, NULL);
}

static char *
update_sql(const struct lb_record_type *t, const char *table)
{
	struct lb_buf b;
	char *sets = column_list(t, "", " = ?");

	lb_buf_init(&b);
	lb_buf_addf(&b, "UPDATE %s SET %s WHERE id = ?", table,
	    sets ? sets : "");
	free(sets);
	return lb_buf_steal(&b, NULL);
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

/* Reads column 0 (id) and the stored fields; returns the next column. */
static int
read_record(const struct lb_record_type *t, void *rec, int64_t *id,
    sqlite3_stmt *stmt)
{
	int col = 1;

	*id = sqlite3_column_int64(stmt, 0);
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
			json_decref(*(json_t **)p);
			/* Most dict columns are empty: skip the parser. */
			if (len == 2 && text[0] == '{' && text[1] == '}')
				*(json_t **)p = json_object();
			else if (len == 2 && text[0] == '[' && text[1] == ']')
				*(json_t **)p = json_array();
			else
				*(json_t **)p = text ? json_loadb(text, len, 0,
				    NULL) : NULL;
			if (*(json_t **)p == NULL)
				*(json_t **)p = f->type == LB_FT_OBJ ?
				    json_object() : json_array();
			break;
		default:
			break;
		}
		col++;
	}
	return col;
}

static int
constraint_error(sqlite3 *db, const char *kind, const char *ident,
    const char *name, const char *instance, const char *mac,
    struct lb_err *err)
{
	const char *msg = sqlite3_errmsg(db);

	if (strstr(msg, ".name") != NULL)
		return lb_err_set(err, -EEXIST, "A node with name %s already "
		    "exists.", name ? name : "");
	if (strstr(msg, ".instance_uuid") != NULL)
		return lb_err_set(err, -EEXIST, "Instance %s is already "
		    "associated with a node.", instance ? instance : "");
	if (strstr(msg, ".address") != NULL)
		return lb_err_set(err, -EEXIST, "A port with MAC address %s "
		    "already exists.", mac ? mac : "");
	if (strstr(msg, ".uuid") != NULL)
		return lb_err_set(err, -EEXIST, "A %s with UUID %s already "
		    "exists.", kind, ident);
	return db_error(err, db, "writing");
}

/* ---- nodes ---- */

static int
node_select_one(struct lb_store *s, sqlite3 *db, const char *ident,
    struct lb_node **ret, struct lb_err *err)
{
	char uuid[LB_UUID_LEN + 1];
	sqlite3_stmt *stmt;
	struct lb_node *node;
	bool by_uuid = lb_uuid_normalize(ident, uuid) == 0;
	int rc, r;

	r = get_stmt(s, db, by_uuid ? STMT_NODE_BY_UUID : STMT_NODE_BY_NAME,
	    &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, by_uuid ? uuid : ident, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		stmt_done(stmt);
		if (rc == SQLITE_DONE)
			return lb_err_set(err, -ENOENT, "Node %s could not be "
			    "found.", ident);
		return db_error(err, db, "reading a node");
	}
	node = lb_node_new();
	if (node == NULL) {
		stmt_done(stmt);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	read_record(&lb_node_type, node, &node->id, stmt);
	stmt_done(stmt);
	*ret = node;
	return 0;
}

static int
sqlite_node_get(struct lb_store *s, const char *ident, struct lb_node **ret,
    struct lb_err *err)
{
	sqlite3 *db;
	int r;

	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	return node_select_one(s, db, ident, ret, err);
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

struct filter {
	const char *column;
	const char *value;
};

/*
 * Builds "WHERE ..." for the filters and the marker, ORDER BY and LIMIT,
 * shared by nodes and ports.  Values are bound in order after the SQL is
 * prepared; returns the number of bound values needed.
 */
static void
list_sql(struct lb_buf *b, const char *select, const struct filter *filters,
    size_t nfilters, const char *extra_where, const char *sort_col,
    bool desc, bool have_marker, size_t limit, const char *table_alias)
{
	bool where = false;

	lb_buf_adds(b, select);
	for (size_t i = 0; i < nfilters; i++) {
		if (filters[i].value == NULL)
			continue;
		lb_buf_adds(b, where ? " AND " : " WHERE ");
		lb_buf_addf(b, "%s%s = ?", table_alias, filters[i].column);
		where = true;
	}
	if (extra_where != NULL && extra_where[0] != '\0') {
		lb_buf_adds(b, where ? " AND " : " WHERE ");
		lb_buf_adds(b, extra_where);
		where = true;
	}
	if (have_marker) {
		/* Keyset paging: strictly after the marker in sort order. */
		lb_buf_adds(b, where ? " AND " : " WHERE ");
		lb_buf_addf(b, "(IFNULL(%s%s, '') %s ? OR (IFNULL(%s%s, '') = ? "
		    "AND %sid %s ?))", table_alias, sort_col, desc ? "<" : ">",
		    table_alias, sort_col, table_alias, desc ? "<" : ">");
	}
	lb_buf_addf(b, " ORDER BY IFNULL(%s%s, '') %s, %sid %s", table_alias,
	    sort_col, desc ? "DESC" : "ASC", table_alias, desc ? "DESC" : "ASC");
	if (limit > 0)
		lb_buf_addf(b, " LIMIT %zu", limit);
}

/* The marker row's sort value and id, for keyset paging. */
static int
marker_position(sqlite3 *db, const char *table, const char *kind,
    const char *sort_col, const char *marker, sqlite3_value **ret_value,
    int64_t *ret_id, struct lb_err *err)
{
	char sql[256];
	sqlite3_stmt *stmt;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT IFNULL(%s, ''), id FROM %s WHERE "
	    "uuid = ?", sort_col, table);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return db_error(err, db, "reading the marker");
	sqlite3_bind_text(stmt, 1, marker, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return lb_err_set(err, -EINVAL, "Invalid marker: %s %s could "
		    "not be found.", kind, marker);
	}
	/* Typed: an integer sort key must compare as an integer. */
	*ret_value = sqlite3_value_dup(sqlite3_column_value(stmt, 0));
	*ret_id = sqlite3_column_int64(stmt, 1);
	sqlite3_finalize(stmt);
	return *ret_value ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

static int
sqlite_node_list(struct lb_store *s, const struct lb_node_query *q,
    struct lb_node_list *ret, struct lb_err *err)
{
	struct store_sqlite *st = to_sqlite(s);
	const char *sort_col = q->sort_key ? q->sort_key : "id";
	char maint[12], retired[12], select[4096];
	sqlite3_value *marker_value = NULL;
	struct filter filters[] = {
		{ "provision_state", q->provision_state },
		{ "driver", q->driver },
		{ "resource_class", q->resource_class },
		{ "conductor_group", q->conductor_group },
		{ "owner", q->owner },
		{ "lessee", q->lessee },
		{ "fault", q->fault },
		{ "instance_uuid", q->instance_uuid },
		{ "maintenance", NULL },
		{ "retired", NULL },
	};
	const size_t nf = sizeof(filters) / sizeof(filters[0]);
	struct lb_buf extra, sql;
	int64_t marker_id = 0;
	sqlite3_stmt *stmt = NULL;
	sqlite3 *db;
	size_t cap = 0;
	int r, col = 1, rc;

	memset(ret, 0, sizeof(*ret));
	if (!sortable(&lb_node_type, sort_col))
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", sort_col);
	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	if (q->maintenance >= 0) {
		snprintf(maint, sizeof(maint), "%d", q->maintenance);
		filters[nf - 2].value = maint;
	}
	if (q->retired >= 0) {
		snprintf(retired, sizeof(retired), "%d", q->retired);
		filters[nf - 1].value = retired;
	}
	lb_buf_init(&extra);
	if (q->associated == 1)
		lb_buf_adds(&extra, "instance_uuid IS NOT NULL");
	else if (q->associated == 0)
		lb_buf_adds(&extra, "instance_uuid IS NULL");
	if (q->reservation != NULL && q->reservation[0] == '\0')
		lb_buf_adds(&extra, extra.len ? " AND reservation IS NULL" :
		    "reservation IS NULL");
	else if (q->reservation != NULL)
		lb_buf_adds(&extra, extra.len ? " AND reservation = ?" :
		    "reservation = ?");
	lb_buf_addc(&extra, '\0');
	if (q->marker != NULL) {
		r = marker_position(db, "nodes", "Node", sort_col, q->marker,
		    &marker_value, &marker_id, err);
		if (r < 0)
			goto out;
	}
	snprintf(select, sizeof(select), "SELECT id, %s FROM nodes",
	    st->node_cols);
	lb_buf_init(&sql);
	list_sql(&sql, select, filters, nf, extra.data, sort_col, q->sort_desc,
	    q->marker != NULL, q->limit, "");
	lb_buf_addc(&sql, '\0');
	if (lb_buf_failed(&sql) ||
	    sqlite3_prepare_v2(db, sql.data, -1, &stmt, NULL) != SQLITE_OK) {
		lb_buf_release(&sql);
		r = db_error(err, db, "listing nodes");
		goto out;
	}
	lb_buf_release(&sql);
	for (size_t i = 0; i < nf; i++) {
		if (filters[i].value != NULL)
			sqlite3_bind_text(stmt, col++, filters[i].value, -1,
			    SQLITE_STATIC);
	}
	if (q->reservation != NULL && q->reservation[0] != '\0')
		sqlite3_bind_text(stmt, col++, q->reservation, -1,
		    SQLITE_STATIC);
	if (marker_value != NULL) {
		sqlite3_bind_value(stmt, col++, marker_value);
		sqlite3_bind_value(stmt, col++, marker_value);
		sqlite3_bind_int64(stmt, col++, marker_id);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct lb_node *node;

		if (ret->n == cap) {
			struct lb_node **items;

			cap = cap ? cap * 2 : 64;
			items = realloc(ret->items, cap * sizeof(*items));
			if (items == NULL) {
				r = lb_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			ret->items = items;
		}
		node = lb_node_new();
		if (node == NULL) {
			r = lb_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		read_record(&lb_node_type, node, &node->id, stmt);
		ret->items[ret->n++] = node;
	}
	r = rc == SQLITE_DONE ? 0 : db_error(err, db, "listing nodes");
out:
	sqlite3_finalize(stmt);
	lb_buf_release(&extra);
	sqlite3_value_free(marker_value);
	if (r < 0)
		lb_node_list_release(ret);
	return r;
}

static int
node_write(struct lb_store *s, sqlite3 *db, const struct lb_node *node,
    bool insert, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int col, rc, r;

	r = get_stmt(s, db, insert ? STMT_NODE_INSERT : STMT_NODE_UPDATE,
	    &stmt, err);
	if (r < 0)
		return r;
	col = bind_record(&lb_node_type, node, stmt);
	if (!insert)
		sqlite3_bind_int64(stmt, col, node->id);
	rc = sqlite3_step(stmt);
	stmt_done(stmt);
	if (rc == SQLITE_CONSTRAINT)
		return constraint_error(db, "node", node->uuid, node->name,
		    node->instance_uuid, NULL, err);
	if (rc != SQLITE_DONE)
		return db_error(err, db, "writing a node");
	return 0;
}

static int
sqlite_node_create(struct lb_store *s, struct lb_node *node,
    struct lb_err *err)
{
	char now[LB_TIME_LEN];
	sqlite3 *db;
	int r;

	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	if (node->uuid[0] == '\0' && lb_uuid_generate(node->uuid) < 0)
		return lb_err_set(err, -EIO, "cannot generate a UUID");
	lb_time_now_iso(now);
	free(node->created_at);
	node->created_at = strdup(now);
	if (node->created_at == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = node_write(s, db, node, true, err);
	if (r < 0)
		return r;
	node->id = sqlite3_last_insert_rowid(db);
	return 0;
}

/*
 * Read-modify-write runs between begin_write_tx() and end_tx(): IMMEDIATE
 * takes the write lock up front, so two writers never interleave.
 */
static int
begin_write_tx(sqlite3 *db, struct lb_err *err)
{
	return exec_sql(db, "BEGIN IMMEDIATE", err, "starting a transaction");
}

/*
 * A COMMIT that fails (a full disk, an I/O error, a deferred constraint)
 * may leave the transaction open, and every later BEGIN on the connection
 * would then fail: it is rolled back, so the next write starts afresh.
 */
static int
end_tx(sqlite3 *db, int r, struct lb_err *err)
{
	if (r < 0) {
		exec_sql(db, "ROLLBACK", NULL, "rolling back");
		return r;
	}
	r = exec_sql(db, "COMMIT", err, "committing");
	if (r < 0 && !sqlite3_get_autocommit(db))
		exec_sql(db, "ROLLBACK", NULL, "rolling back");
	return r;
}

static int
sqlite_node_update(struct lb_store *s, const char *ident, lb_node_update_fn fn,
    void *arg, struct lb_node **ret, struct lb_err *err)
{
	struct lb_node *node = NULL;
	char now[LB_TIME_LEN];
	sqlite3 *db;
	int r;

	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	r = begin_write_tx(db, err);
	if (r < 0)
		return r;
	r = node_select_one(s, db, ident, &node, err);
	if (r == 0)
		r = fn(node, arg, err);
	if (r == 0) {
		lb_time_now_iso(now);
		free(node->updated_at);
		node->updated_at = strdup(now);
		r = node_write(s, db, node, false, err);
	} else if (r == LB_STORE_UNCHANGED) {
		r = 0;
	}
	r = end_tx(db, r, err);
	if (r == 0 && ret != NULL)
		*ret = node;
	else
		lb_node_free(node);
	return r;
}

static int
sqlite_node_delete(struct lb_store *s, const char *ident,
    lb_node_update_fn check, void *arg, struct lb_err *err)
{
	struct lb_node *node = NULL;
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int r;

	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	r = begin_write_tx(db, err);
	if (r < 0)
		return r;
	r = node_select_one(s, db, ident, &node, err);
	if (r == 0 && check != NULL)
		r = check(node, arg, err);
	if (r == 0) {
		if (sqlite3_prepare_v2(db, "DELETE FROM nodes WHERE id = ?",
		    -1, &stmt, NULL) != SQLITE_OK) {
			r = db_error(err, db, "deleting a node");
		} else {
			sqlite3_bind_int64(stmt, 1, node->id);
			if (sqlite3_step(stmt) != SQLITE_DONE)
				r = db_error(err, db, "deleting a node");
			sqlite3_finalize(stmt);
		}
	}
	lb_node_free(node);
	return end_tx(db, r, err);
}

/* ---- ports ---- */

static int
port_select(struct lb_store *s, sqlite3 *db, const char *uuid,
    struct lb_port **ret, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	struct lb_port *port;
	int rc, col, r;

	r = get_stmt(s, db, STMT_PORT_BY_UUID, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		stmt_done(stmt);
		if (rc == SQLITE_DONE)
			return lb_err_set(err, -ENOENT, "Port %s could not be "
			    "found.", uuid);
		return db_error(err, db, "reading a port");
	}
	port = lb_port_new();
	if (port == NULL) {
		stmt_done(stmt);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	col = read_record(&lb_port_type, port, &port->id, stmt);
	snprintf(port->node_uuid, sizeof(port->node_uuid), "%s",
	    (const char *)sqlite3_column_text(stmt, col));
	stmt_done(stmt);
	*ret = port;
	return 0;
}

static int
sqlite_port_get(struct lb_store *s, const char *uuid, struct lb_port **ret,
    struct lb_err *err)
{
	char norm[LB_UUID_LEN + 1];
	sqlite3 *db;
	int r;

	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	if (lb_uuid_normalize(uuid, norm) < 0)
		return lb_err_set(err, -ENOENT, "Port %s could not be found.",
		    uuid);
	return port_select(s, db, norm, ret, err);
}

static int
sqlite_port_list(struct lb_store *s, const struct lb_port_query *q,
    struct lb_port_list *ret, struct lb_err *err)
{
	struct store_sqlite *st = to_sqlite(s);
	const char *sort_col = q->sort_key ? q->sort_key : "id";
	struct filter filters[] = {
		{ "address", q->address },
	};
	char select[4096];
	sqlite3_value *marker_value = NULL;
	int64_t marker_id = 0;
	sqlite3_stmt *stmt = NULL;
	struct lb_buf sql;
	sqlite3 *db;
	size_t cap = 0;
	int r, col = 1, rc;

	memset(ret, 0, sizeof(*ret));
	if (!sortable(&lb_port_type, sort_col))
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", sort_col);
	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	if (q->marker != NULL) {
		r = marker_position(db, "ports", "Port", sort_col, q->marker,
		    &marker_value, &marker_id, err);
		if (r < 0)
			return r;
	}
	snprintf(select, sizeof(select), "SELECT p.id, %s, n.uuid FROM ports "
	    "p JOIN nodes n ON n.id = p.node_id", st->port_cols);
	lb_buf_init(&sql);
	list_sql(&sql, select, filters, 1, q->node_uuid ? "n.uuid = ?" : NULL,
	    sort_col, q->sort_desc, q->marker != NULL, q->limit, "p.");
	lb_buf_addc(&sql, '\0');
	if (lb_buf_failed(&sql) ||
	    sqlite3_prepare_v2(db, sql.data, -1, &stmt, NULL) != SQLITE_OK) {
		lb_buf_release(&sql);
		sqlite3_value_free(marker_value);
		return db_error(err, db, "listing ports");
	}
	lb_buf_release(&sql);
	if (q->address != NULL)
		sqlite3_bind_text(stmt, col++, q->address, -1, SQLITE_STATIC);
	if (q->node_uuid != NULL)
		sqlite3_bind_text(stmt, col++, q->node_uuid, -1,
		    SQLITE_STATIC);
	if (marker_value != NULL) {
		sqlite3_bind_value(stmt, col++, marker_value);
		sqlite3_bind_value(stmt, col++, marker_value);
		sqlite3_bind_int64(stmt, col++, marker_id);
	}
	r = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct lb_port *port;
		int c;

		if (ret->n == cap) {
			struct lb_port **items;

			cap = cap ? cap * 2 : 64;
			items = realloc(ret->items, cap * sizeof(*items));
			if (items == NULL) {
				r = lb_err_set(err, -ENOMEM, "out of memory");
				break;
			}
			ret->items = items;
		}
		port = lb_port_new();
		if (port == NULL) {
			r = lb_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		c = read_record(&lb_port_type, port, &port->id, stmt);
		snprintf(port->node_uuid, sizeof(port->node_uuid), "%s",
		    (const char *)sqlite3_column_text(stmt, c));
		ret->items[ret->n++] = port;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_error(err, db, "listing ports");
	sqlite3_finalize(stmt);
	sqlite3_value_free(marker_value);
	if (r < 0)
		lb_port_list_release(ret);
	return r;
}

/* Resolves port->node_uuid to the node's row id. */
static int
port_node_id(sqlite3 *db, struct lb_port *port, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT id FROM nodes WHERE uuid = ?", -1,
	    &stmt, NULL) != SQLITE_OK)
		return db_error(err, db, "reading a node");
	sqlite3_bind_text(stmt, 1, port->node_uuid, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		port->node_id = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return lb_err_set(err, -EINVAL, "Node %s could not be found.",
		    port->node_uuid);
	return rc == SQLITE_ROW ? 0 : db_error(err, db, "reading a node");
}

static int
port_write(struct lb_store *s, sqlite3 *db, struct lb_port *port, bool insert,
    struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int col, rc, r;

	r = port_node_id(db, port, err);
	if (r < 0)
		return r;
	r = get_stmt(s, db, insert ? STMT_PORT_INSERT : STMT_PORT_UPDATE,
	    &stmt, err);
	if (r < 0)
		return r;
	col = bind_record(&lb_port_type, port, stmt);
	if (insert) {
		sqlite3_bind_int64(stmt, col, port->node_id);
	} else {
		/* The update statement sets node_id last, before the id. */
		sqlite3_bind_int64(stmt, col, port->node_id);
		sqlite3_bind_int64(stmt, col + 1, port->id);
	}
	rc = sqlite3_step(stmt);
	stmt_done(stmt);
	if (rc == SQLITE_CONSTRAINT)
		return constraint_error(db, "port", port->uuid, NULL, NULL,
		    port->address, err);
	if (rc != SQLITE_DONE)
		return db_error(err, db, "writing a port");
	return 0;
}

static int
sqlite_port_create(struct lb_store *s, struct lb_port *port,
    struct lb_err *err)
{
	char now[LB_TIME_LEN];
	sqlite3 *db;
	int r;

	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	if (port->uuid[0] == '\0' && lb_uuid_generate(port->uuid) < 0)
		return lb_err_set(err, -EIO, "cannot generate a UUID");
	lb_time_now_iso(now);
	free(port->created_at);
	port->created_at = strdup(now);
	if (port->created_at == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = port_write(s, db, port, true, err);
	if (r < 0)
		return r;
	port->id = sqlite3_last_insert_rowid(db);
	return 0;
}

static int
sqlite_port_update(struct lb_store *s, const char *uuid, lb_port_update_fn fn,
    void *arg, struct lb_port **ret, struct lb_err *err)
{
	struct lb_port *port = NULL;
	struct lb_node *node = NULL;
	char norm[LB_UUID_LEN + 1], now[LB_TIME_LEN];
	sqlite3 *db;
	int r;

	if (lb_uuid_normalize(uuid, norm) < 0)
		return lb_err_set(err, -ENOENT, "Port %s could not be found.",
		    uuid);
	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	r = begin_write_tx(db, err);
	if (r < 0)
		return r;
	r = port_select(s, db, norm, &port, err);
	if (r == 0)
		r = node_select_one(s, db, port->node_uuid, &node, err);
	if (r == 0)
		r = fn(port, node, arg, err);
	if (r == 0) {
		lb_time_now_iso(now);
		free(port->updated_at);
		port->updated_at = strdup(now);
		r = port_write(s, db, port, false, err);
	}
	r = end_tx(db, r, err);
	lb_node_free(node);
	if (r == 0 && ret != NULL)
		*ret = port;
	else
		lb_port_free(port);
	return r;
}

static int
sqlite_port_delete(struct lb_store *s, const char *uuid,
    lb_port_update_fn check, void *arg, struct lb_err *err)
{
	struct lb_port *port = NULL;
	struct lb_node *node = NULL;
	char norm[LB_UUID_LEN + 1];
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int r;

	if (lb_uuid_normalize(uuid, norm) < 0)
		return lb_err_set(err, -ENOENT, "Port %s could not be found.",
		    uuid);
	r = get_db(s, &db, err);
	if (r < 0)
		return r;
	r = begin_write_tx(db, err);
	if (r < 0)
		return r;
	r = port_select(s, db, norm, &port, err);
	if (r == 0 && check != NULL) {
		r = node_select_one(s, db, port->node_uuid, &node, err);
		if (r == 0)
			r = check(port, node, arg, err);
	}
	if (r == 0) {
		if (sqlite3_prepare_v2(db, "DELETE FROM ports WHERE uuid = ?",
		    -1, &stmt, NULL) != SQLITE_OK) {
			r = db_error(err, db, "deleting a port");
		} else {
			sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
			if (sqlite3_step(stmt) != SQLITE_DONE)
				r = db_error(err, db, "deleting a port");
			sqlite3_finalize(stmt);
		}
	}
	lb_node_free(node);
	lb_port_free(port);
	return end_tx(db, r, err);
}

/* ---- open and close ---- */

static void
sqlite_close(struct lb_store *s)
{
	struct store_sqlite *st = to_sqlite(s);
	struct conn *c, *next;

	if (s == NULL)
		return;
	/* First, so that no thread exiting from now on gives one back. */
	pthread_key_delete(st->conn_key);
	for (c = st->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&st->conns_lock);
	free(st->path);
	free(st->node_cols);
	free(st->port_cols);
	free(st->node_update_sql);
	free(st->port_update_sql);
	free(st->node_insert_sql);
	free(st->port_insert_sql);
	free(st->node_by_uuid_sql);
	free(st->node_by_name_sql);
	free(st->port_by_uuid_sql);
	free(st);
}

static char *
port_update_sql_new(void)
{
	char *base = update_sql(&lb_port_type, "ports");
	struct lb_buf b;
	char *where;

	if (base == NULL)
		return NULL;
	/* "... SET a = ?, b = ? WHERE id = ?" -> add node_id before WHERE. */
	where = strstr(base, " WHERE id = ?");
	lb_buf_init(&b);
	lb_buf_add(&b, base, where - base);
	lb_buf_adds(&b, ", node_id = ? WHERE id = ?");
	free(base);
	return lb_buf_steal(&b, NULL);
}

static char *
select_sql(const char *fmt, const char *cols)
{
	struct lb_buf b;

	if (cols == NULL)
		return NULL;
	lb_buf_init(&b);
	lb_buf_addf(&b, fmt, cols);
	return lb_buf_steal(&b, NULL);
}

static int
sqlite_open(const struct lb_db_url *url, struct lb_store **ret,
    struct lb_err *err);

static const struct lb_store_ops sqlite_ops = {
	.kind = LB_DB_SQLITE,
	.open = sqlite_open,
	.close = sqlite_close,
	.thread_release = sqlite_thread_release,
	.open_connections = sqlite_open_connections,
	.node_get = sqlite_node_get,
	.node_list = sqlite_node_list,
	.node_create = sqlite_node_create,
	.node_update = sqlite_node_update,
	.node_delete = sqlite_node_delete,
	.port_get = sqlite_port_get,
	.port_list = sqlite_port_list,
	.port_create = sqlite_port_create,
	.port_update = sqlite_port_update,
	.port_delete = sqlite_port_delete,
};

static int
sqlite_open(const struct lb_db_url *url, struct lb_store **ret,
    struct lb_err *err)
{
	struct store_sqlite *st;
	sqlite3 *db;
	int r;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	st->base.ops = &sqlite_ops;
	pthread_mutex_init(&st->conns_lock, NULL);
	pthread_key_create(&st->conn_key, conn_thread_exit);
	st->path = strdup(url->path);
	st->node_cols = column_list(&lb_node_type, "", "");
	st->port_cols = column_list(&lb_port_type, "p.", "");
	st->node_insert_sql = insert_sql(&lb_node_type, "nodes", "");
	st->port_insert_sql = insert_sql(&lb_port_type, "ports", ", node_id");
	st->node_update_sql = update_sql(&lb_node_type, "nodes");
	st->port_update_sql = port_update_sql_new();
	st->node_by_uuid_sql = select_sql("SELECT id, %s FROM nodes WHERE "
	    "uuid = ?", st->node_cols);
	st->node_by_name_sql = select_sql("SELECT id, %s FROM nodes WHERE "
	    "name = ?", st->node_cols);
	st->port_by_uuid_sql = select_sql("SELECT p.id, %s, n.uuid FROM ports "
	    "p JOIN nodes n ON n.id = p.node_id WHERE p.uuid = ?",
	    st->port_cols);
	if (!st->path || !st->node_cols || !st->port_cols ||
	    !st->node_insert_sql || !st->port_insert_sql ||
	    !st->node_update_sql || !st->port_update_sql ||
	    !st->node_by_uuid_sql || !st->node_by_name_sql ||
	    !st->port_by_uuid_sql) {
		sqlite_close(&st->base);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	r = get_db(&st->base, &db, err);
	if (r == 0)
		r = migrate(db, err);
	if (r < 0) {
		sqlite_close(&st->base);
		return r;
	}
	*ret = &st->base;
	return 0;
}

/* ---- the store front ---- */

static const struct lb_store_ops *const store_backends[] = {
	&sqlite_ops,
};

int
lb_store_open(const char *url, struct lb_store **ret, struct lb_err *err)
{
	struct lb_db_url parsed;
	int r;

	/* The parser --check uses too, so both refuse the same URLs. */
	r = lb_db_url_parse(url, &parsed, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(store_backends) /
	    sizeof(store_backends[0]); i++) {
		if (store_backends[i]->kind == parsed.kind)
			return store_backends[i]->open(&parsed, ret, err);
	}
	return lb_err_set(err, -ENOTSUP, "no store is built in for this "
	    "database URL");
}

void
lb_store_close(struct lb_store *store)
{
	if (store != NULL)
		store->ops->close(store);
}

void
lb_node_list_release(struct lb_node_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lb_node_free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

void
lb_port_list_release(struct lb_port_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lb_port_free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}
