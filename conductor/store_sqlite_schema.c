/*
 * store_sqlite_schema.c - the SQLite store's schema: the versioned
 * migrations applied at open, and the text of every table's statements,
 * built once per store from the record tables (columns are named after the
 * record fields, record.h).  Runs on the thread that opens the store.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

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
	/* 2: conductors, one row per host, never deleted (as Ironic's) */
	"CREATE TABLE conductors ("
	" id INTEGER PRIMARY KEY,"
	" hostname TEXT NOT NULL UNIQUE,"
	" conductor_group TEXT NOT NULL DEFAULT '',"
	" drivers TEXT NOT NULL DEFAULT '[]',"
	" online INTEGER NOT NULL DEFAULT 0,"
	" created_at TEXT NOT NULL, updated_at TEXT);",
	/* 3: node history, deleted with its node */
	"CREATE TABLE node_history ("
	" id INTEGER PRIMARY KEY,"
	" uuid TEXT NOT NULL UNIQUE,"
	" node_id INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
	" created_at TEXT NOT NULL,"
	" severity TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" event_type TEXT NOT NULL,"
	" conductor TEXT NOT NULL,"
	" user_name TEXT);"
	"CREATE INDEX node_history_node ON node_history (node_id, id);",
	/* 4: where each conductor takes requests for its nodes, and the
	 * secret the conductors sign them with */
	"ALTER TABLE conductors ADD COLUMN rpc_url TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE cluster_secret ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" secret TEXT NOT NULL);",
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int
sq_migrate(sqlite3 *db, struct lb_err *err)
{
	sqlite3_stmt *stmt;
	int version = 0, r;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt,
	    NULL) != SQLITE_OK)
		return sq_db_error(err, db, "reading the schema version");
	if (sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (version > (int)NMIGRATIONS)
		return lb_err_set(err, -EINVAL, "database schema version %d "
		    "is newer than this lifeboatd knows (%zu)", version,
		    NMIGRATIONS);
	for (size_t i = version; i < NMIGRATIONS; i++) {
		char sql[64];

		r = sq_exec(db, "BEGIN IMMEDIATE", err, "migrating");
		if (r < 0)
			return r;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%zu", i + 1);
		if (sq_exec(db, migrations[i], err, "migrating") < 0 ||
		    sq_exec(db, sql, err, "migrating") < 0) {
			sq_exec(db, "ROLLBACK", NULL, "rolling back");
			return -EIO;
		}
		r = sq_end_tx(db, 0, err);
		if (r < 0)
			return r;
		log_info("database schema migrated to version %zu", i + 1);
	}
	return 0;
}

/* "a, b, c" of the stored fields, each prefixed by 'alias'. */
static void
add_columns(struct lb_buf *b, const struct lb_record_type *t,
    const char *alias, const char *suffix)
{
	bool first = true;

	for (size_t i = 0; i < t->nfields; i++) {
		if (!lb_field_is_stored(&t->fields[i]))
			continue;
		lb_buf_addf(b, "%s%s%s%s", first ? "" : ", ", alias,
		    t->fields[i].name, suffix);
		first = false;
	}
}

static char *
column_list(const struct sq_table *t)
{
	struct lb_buf b;

	lb_buf_init(&b);
	add_columns(&b, t->type, t->alias, "");
	return lb_buf_steal(&b, NULL);
}

static char *
select_sql(const struct sq_table *t, const char *cols)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, "SELECT %sid, %s%s%s FROM %s", t->alias, cols,
	    t->parent ? ", " : "", t->parent ? t->parent_uuid_col : "",
	    t->from);
	return lb_buf_steal(&b, NULL);
}

/* The select, "WHERE <alias>column = ?". */
static char *
by_sql(const struct sq_table *t, const char *select, const char *column)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, "%s WHERE %s%s = ?", select, t->alias, column);
	return lb_buf_steal(&b, NULL);
}

/* Every stored column, and the parent's id last. */
static char *
insert_sql(const struct sq_table *t)
{
	struct lb_buf b;
	size_t n = 0;

	lb_buf_init(&b);
	lb_buf_addf(&b, "INSERT INTO %s (", t->table);
	add_columns(&b, t->type, "", "");
	if (t->parent != NULL)
		lb_buf_addf(&b, ", %s", t->parent_column);
	lb_buf_adds(&b, ") VALUES (");
	for (size_t i = 0; i < t->type->nfields; i++)
		n += lb_field_is_stored(&t->type->fields[i]);
	for (size_t i = 0; i < n; i++)
		lb_buf_adds(&b, i ? ", ?" : "?");
	lb_buf_adds(&b, t->parent != NULL ? ", ?)" : ")");
	return lb_buf_steal(&b, NULL);
}

/* Every stored column, then the parent's id, then the row id. */
static char *
update_sql(const struct sq_table *t)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, "UPDATE %s SET ", t->table);
	add_columns(&b, t->type, "", " = ?");
	if (t->parent != NULL)
		lb_buf_addf(&b, ", %s = ?", t->parent_column);
	lb_buf_adds(&b, " WHERE id = ?");
	return lb_buf_steal(&b, NULL);
}

static char *
table_sql(const struct sq_table *t, const char *fmt)
{
	struct lb_buf b;

	lb_buf_init(&b);
	lb_buf_addf(&b, fmt, t->table);
	return lb_buf_steal(&b, NULL);
}

/* The table's statements into st->sql; -ENOMEM when one could not be. */
int
sq_table_sql_build(struct store_sqlite *st, const struct sq_table *t)
{
	char **sql = &st->sql[sq_stmt_id(t, 0)];

	st->cols[t->index] = column_list(t);
	if (st->cols[t->index] == NULL)
		return -ENOMEM;
	st->select[t->index] = select_sql(t, st->cols[t->index]);
	if (st->select[t->index] == NULL)
		return -ENOMEM;
	sql[SQ_BY_UUID] = by_sql(t, st->select[t->index], "uuid");
	if (t->name_column != NULL)
		sql[SQ_BY_NAME] = by_sql(t, st->select[t->index],
		    t->name_column);
	sql[SQ_INSERT] = insert_sql(t);
	sql[SQ_UPDATE] = update_sql(t);
	sql[SQ_DELETE] = table_sql(t, "DELETE FROM %s WHERE id = ?");
	sql[SQ_ID_BY_UUID] = table_sql(t, "SELECT id FROM %s WHERE uuid = ?");
	for (int k = 0; k < SQ_KIND_COUNT; k++) {
		if (sql[k] == NULL && (k != SQ_BY_NAME || t->name_column))
			return -ENOMEM;
	}
	return 0;
}

void
sq_table_sql_free(struct store_sqlite *st, const struct sq_table *t)
{
	free(st->cols[t->index]);
	free(st->select[t->index]);
	for (int k = 0; k < SQ_KIND_COUNT; k++)
		free(st->sql[sq_stmt_id(t, k)]);
}
