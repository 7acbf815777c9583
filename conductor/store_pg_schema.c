/*
 * store_pg_schema.c - the PostgreSQL store's schema: the same tables,
 * columns and numbered steps as the SQLite store's (store_sqlite_schema.c)
 * in PostgreSQL's dialect, applied at open in one transaction under an
 * advisory lock (conductors starting at once migrate once), and the text of
 * every table's reads.  Runs on the thread that opens the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/store_pg.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* pg_advisory_xact_lock's key: "lifeboat" in ASCII, for the migration. */
#define MIGRATE_LOCK "7811883318575427956"

static const char *const migrations[] = {
	/* 1: nodes and ports */
	"CREATE TABLE nodes ("
	" id BIGSERIAL PRIMARY KEY,"
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
	" id BIGSERIAL PRIMARY KEY,"
	" uuid TEXT NOT NULL UNIQUE,"
	" address TEXT NOT NULL UNIQUE,"
	" node_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
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
	" id BIGSERIAL PRIMARY KEY,"
	" hostname TEXT NOT NULL UNIQUE,"
	" conductor_group TEXT NOT NULL DEFAULT '',"
	" drivers TEXT NOT NULL DEFAULT '[]',"
	" online INTEGER NOT NULL DEFAULT 0,"
	" created_at TEXT NOT NULL, updated_at TEXT);",
	/* 3: node history, deleted with its node */
	"CREATE TABLE node_history ("
	" id BIGSERIAL PRIMARY KEY,"
	" uuid TEXT NOT NULL UNIQUE,"
	" node_id BIGINT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,"
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

static int
schema_version(PGconn *c, long *ret, struct lb_err *err)
{
	PGresult *res;
	int r;

	r = pg_exec(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0,
	    NULL, NULL, err, "locking the schema");
	if (r == 0)
		r = pg_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
		    "version INTEGER NOT NULL)", 0, NULL, NULL, err,
		    "reading the schema version");
	if (r == 0)
		r = pg_exec(c, "SELECT MAX(version) FROM schema_version", 0,
		    NULL, &res, err, "reading the schema version");
	if (r < 0)
		return r;
	*ret = pg_val(res, 0, 0) ? strtol(pg_val(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return 0;
}

static int
migrate_tx(PGconn *c, struct lb_err *err)
{
	long version;
	char v[24];
	const char *p[1] = { v };
	int r;

	r = schema_version(c, &version, err);
	if (r < 0)
		return r;
	if (version > (long)NMIGRATIONS)
		return lb_err_set(err, -EINVAL, "database schema version %ld "
		    "is newer than this lifeboatd knows (%zu)", version,
		    NMIGRATIONS);
	for (size_t i = (size_t)version; i < NMIGRATIONS && r == 0; i++) {
		PGresult *res;

		snprintf(v, sizeof(v), "%zu", i + 1);
		/* several statements: the simple query protocol */
		res = PQexec(c, migrations[i]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pg_error(c, res, err, "migrating");
		PQclear(res);
		if (r == 0)
			r = pg_exec(c, "DELETE FROM schema_version", 0, NULL,
			    NULL, err, "migrating");
		if (r == 0)
			r = pg_exec(c, "INSERT INTO schema_version (version) "
			    "VALUES (?)", 1, p, NULL, err, "migrating");
		if (r == 0)
			log_info("database schema migrated to version %zu",
			    i + 1);
	}
	return r;
}

int
pg_migrate(PGconn *c, struct lb_err *err)
{
	int r = pg_begin(c, err);

	if (r < 0)
		return r;
	return pg_end(c, migrate_tx(c, err), err);
}

static char *
column_list(const struct sq_table *t)
{
	const struct lb_record_type *rt = t->type;
	struct lb_buf b;
	bool first = true;

	lb_buf_init(&b);
	for (size_t i = 0; i < rt->nfields; i++) {
		if (!lb_field_is_stored(&rt->fields[i]))
			continue;
		lb_buf_addf(&b, "%s%s%s", first ? "" : ", ", t->alias,
		    rt->fields[i].name);
		first = false;
	}
	return lb_buf_steal(&b, NULL);
}

/* The table's column list and its select into st. */
int
pg_table_sql_build(struct store_pg *st, const struct sq_table *t)
{
	struct lb_buf b;

	st->cols[t->index] = column_list(t);
	if (st->cols[t->index] == NULL)
		return -ENOMEM;
	lb_buf_init(&b);
	lb_buf_addf(&b, "SELECT %sid, %s%s%s FROM %s", t->alias,
	    st->cols[t->index], t->parent ? ", " : "",
	    t->parent ? t->parent_uuid_col : "", t->from);
	st->select[t->index] = lb_buf_steal(&b, NULL);
	return st->select[t->index] != NULL ? 0 : -ENOMEM;
}
