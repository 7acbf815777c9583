/*
 * store_sqlite_stats.c - what the metrics read from the SQLite store at
 * each scrape: nodes counted by provision state, power state and
 * maintenance in one GROUP BY.  The metrics listener's thread.
 */
#include <errno.h>
#include <sqlite3.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/banned.h"

int
sq_node_counts(struct lb_store *s, lb_node_count_fn fn, void *arg,
    struct lb_err *err)
{
	sqlite3_stmt *stmt;
	sqlite3 *db;
	int r, rc;

	r = sq_get_db(sq_store(s), &db, err);
	if (r < 0)
		return r;
	if (sqlite3_prepare_v2(db, "SELECT provision_state, power_state, "
	    "maintenance != 0, COUNT(*) FROM nodes GROUP BY 1, 2, 3", -1,
	    &stmt, NULL) != SQLITE_OK)
		return sq_db_error(err, db, "preparing the node counts");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(stmt, 0),
		    (const char *)sqlite3_column_text(stmt, 1),
		    sqlite3_column_int(stmt, 2) != 0,
		    (long)sqlite3_column_int64(stmt, 3), arg);
	r = rc == SQLITE_DONE ? 0 : sq_db_error(err, db, "counting nodes");
	sqlite3_finalize(stmt);
	return r;
}
