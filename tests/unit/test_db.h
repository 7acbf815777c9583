/*
 * test_db.h - the database the store tests run against: a SQLite file at
 * the path given, or with LB_TEST_DB_URL set (tests/lab/pg_cluster.py run)
 * that PostgreSQL database, emptied first.  The test's main thread.
 */
#ifndef LB_TEST_DB_H
#define LB_TEST_DB_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef LB_HAVE_POSTGRESQL
#include <libpq-fe.h>
#endif

static inline bool
lb_test_db_is_pg(void)
{
	const char *url = getenv("LB_TEST_DB_URL");

	return url != NULL && url[0] != '\0';
}

/* Fills 'out' with the URL to open; a PostgreSQL database is emptied. */
static inline void
lb_test_db_url(char *out, size_t size, const char *sqlite_path)
{
	if (!lb_test_db_is_pg()) {
		snprintf(out, size, "sqlite://%s", sqlite_path);
		return;
	}
	snprintf(out, size, "%s", getenv("LB_TEST_DB_URL"));
#ifdef LB_HAVE_POSTGRESQL
	PGconn *c = PQconnectdb(out);
	PGresult *res = PQexec(c, "DROP SCHEMA public CASCADE; "
	    "CREATE SCHEMA public");

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "cannot empty the test database: %s",
		    PQerrorMessage(c));
		abort();
	}
	PQclear(res);
	PQfinish(c);
#else
	fprintf(stderr, "LB_TEST_DB_URL is set but PostgreSQL is not built\n");
	abort();
#endif
}

#endif
