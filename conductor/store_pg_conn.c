/*
 * store_pg_conn.c - the PostgreSQL store's connections: one per thread while
 * the thread uses the store (from a pool of idle ones, or opened), reset
 * when the server went away; queries with '?' placeholders; transactions;
 * what the server's errors mean to callers.  Runs on the calling thread;
 * the pool is shared under a lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/store_pg.h"
#include "conductor/util/clock.h"
#include "conductor/util/metrics.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define IDLE_MAX 8
/* Notices ("already exists, skipping") would go to stderr: not wanted. */
#define SESSION_SETUP "SET TIME ZONE 'UTC'; SET client_min_messages TO warning"

struct pg_conn {
	struct store_pg *st;
	PGconn *c;
	struct pg_conn *next;		/* in st->conns */
	struct pg_conn *next_idle;
};

static int
unavailable(struct lb_err *err, const char *what)
{
	return lb_err_set(err, -EAGAIN, "database unavailable, please retry "
	    "(%s)", what);
}

int
pg_error(PGconn *c, const PGresult *res, struct lb_err *err, const char *what)
{
	const char *state = res ? PQresultErrorField(res,
	    PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(c) != CONNECTION_OK) {
		log_error("database connection lost while %s", what);
		return unavailable(err, what);
	}
	/* serialization failure, deadlock, lock timeout: retry */
	if (state != NULL && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0))
		return lb_err_set(err, -EAGAIN, "database is busy, please "
		    "retry (%s)", what);
	if (state != NULL && strcmp(state, "53100") == 0)
		return lb_err_set(err, -ENOSPC, "The conductor's database is "
		    "out of disk space while %s: nothing was changed. Retry "
		    "once space is freed.", what);
	/* a value not UTF-8: no row can match it (SQLite finds none) */
	if (state != NULL && strcmp(state, "22021") == 0)
		return lb_err_set(err, -EILSEQ, "database error while %s",
		    what);
	/* a unique violation is the caller's to word (-EEXIST) */
	if (state != NULL && strcmp(state, "23505") == 0)
		return lb_err_set(err, -EEXIST, "database error while %s",
		    what);
	log_error("database error while %s: %s", what, res ?
	    PQresultErrorMessage(res) : PQerrorMessage(c));
	return lb_err_set(err, -EIO, "database error while %s", what);
}

/* 'sql' with each '?' outside quotes numbered $1, $2, ... */
static char *
numbered(const char *sql)
{
	struct lb_buf b;
	bool quoted = false;
	int n = 0;

	lb_buf_init(&b);
	for (const char *p = sql; *p != '\0'; p++) {
		if (*p == '\'')
			quoted = !quoted;
		if (*p == '?' && !quoted)
			lb_buf_addf(&b, "$%d", ++n);
		else
			lb_buf_addc(&b, *p);
	}
	return lb_buf_steal(&b, NULL);
}

int
pg_exec(PGconn *c, const char *sql, int n, const char *const *params,
    PGresult **ret, struct lb_err *err, const char *what)
{
	char *text = numbered(sql);
	PGresult *res;
	ExecStatusType s;

	if (text == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	res = PQexecParams(c, text, n, NULL, params, NULL, NULL, 0);
	free(text);
	s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		int r = pg_error(c, res, err, what);

		if (ret != NULL)
			*ret = res;	/* the caller reads the error fields */
		else
			PQclear(res);
		return r;
	}
	if (ret != NULL)
		*ret = res;
	else
		PQclear(res);
	return 0;
}

const char *
pg_val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

void
pg_copy_val(const PGresult *res, int row, int col, char *out, size_t size)
{
	const char *v = pg_val(res, row, col);

	snprintf(out, size, "%s", v != NULL ? v : "");
}

char *
pg_dup_val(const PGresult *res, int row, int col, bool *oom)
{
	const char *v = pg_val(res, row, col);
	char *d = v != NULL ? strdup(v) : NULL;

	if (v != NULL && d == NULL)
		*oom = true;
	return d;
}

/* When this thread's transaction began, for the store's metric. */
static _Thread_local double tx_started;

int
pg_begin(PGconn *c, struct lb_err *err)
{
	tx_started = lb_monotonic();
	return pg_exec(c, "BEGIN", 0, NULL, NULL, err, "starting a "
	    "transaction");
}

int
pg_end(PGconn *c, int r, struct lb_err *err)
{
	if (r < 0 || r == LB_STORE_UNCHANGED)
		PQclear(PQexec(c, "ROLLBACK"));
	else
		r = pg_exec(c, "COMMIT", 0, NULL, NULL, err, "committing");
	LB_METRIC_OBSERVE(LB_M_STORE_SECONDS, lb_monotonic() - tx_started,
	    "write");
	return r;
}

void
pg_observe_read(double started)
{
	LB_METRIC_OBSERVE(LB_M_STORE_SECONDS, lb_monotonic() - started,
	    "read");
}

static int
conn_open(struct store_pg *st, PGconn **ret, struct lb_err *err)
{
	const struct lb_db_url *u = &st->url;
	const char *keys[] = { "host", "port", "user", "password", "dbname",
	    "application_name", "connect_timeout", NULL };
	const char *values[] = { u->host, u->port, u->user, u->password,
	    u->dbname, "lifeboatd", "10", NULL };
	PGconn *c;

	/* "" is libpq's default for each (PG* variables, the local socket) */
	c = PQconnectdbParams(keys, values, 0);
	if (c == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		/* libpq's message names the host, never the password */
		log_error("cannot connect to the database: %s",
		    PQerrorMessage(c));
		PQfinish(c);
		return unavailable(err, "connecting");
	}
	/* No DETAIL ("Failing row contains ..."): rows hold BMC passwords. */
	PQsetErrorVerbosity(c, PQERRORS_TERSE);
	PQclear(PQexec(c, SESSION_SETUP));
	*ret = c;
	return 0;
}

static void
conn_give_back(struct pg_conn *pc)
{
	struct store_pg *st = pc->st;
	struct pg_conn **pp;

	if (PQtransactionStatus(pc->c) != PQTRANS_IDLE)
		PQclear(PQexec(pc->c, "ROLLBACK"));
	pthread_mutex_lock(&st->lock);
	if (st->nidle < IDLE_MAX && PQstatus(pc->c) == CONNECTION_OK) {
		pc->next_idle = st->idle;
		st->idle = pc;
		st->nidle++;
		pc = NULL;
	} else {
		for (pp = &st->conns; *pp != pc; pp = &(*pp)->next)
			;
		*pp = pc->next;
		st->nopen--;
	}
	pthread_mutex_unlock(&st->lock);
	if (pc != NULL) {
		PQfinish(pc->c);
		free(pc);
	}
}

static void
conn_thread_exit(void *p)
{
	conn_give_back(p);
}

static int
conn_take(struct store_pg *st, struct pg_conn **ret, struct lb_err *err)
{
	struct pg_conn *pc;
	int r;

	pthread_mutex_lock(&st->lock);
	pc = st->idle;
	if (pc != NULL) {
		st->idle = pc->next_idle;
		st->nidle--;
	}
	pthread_mutex_unlock(&st->lock);
	if (pc != NULL) {
		*ret = pc;
		return 0;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = conn_open(st, &pc->c, err);
	if (r < 0) {
		free(pc);
		return r;
	}
	pc->st = st;
	pthread_mutex_lock(&st->lock);
	pc->next = st->conns;
	st->conns = pc;
	st->nopen++;
	pthread_mutex_unlock(&st->lock);
	*ret = pc;
	return 0;
}

int
pg_get_conn(struct store_pg *st, PGconn **ret, struct lb_err *err)
{
	struct pg_conn *pc = pthread_getspecific(st->conn_key);
	int r;

	if (pc == NULL) {
		r = conn_take(st, &pc, err);
		if (r < 0)
			return r;
		if (pthread_setspecific(st->conn_key, pc) != 0) {
			conn_give_back(pc);
			return lb_err_set(err, -ENOMEM, "out of memory");
		}
	}
	/* The server restarted or the network broke: try once more now. */
	if (PQstatus(pc->c) != CONNECTION_OK) {
		PQreset(pc->c);
		if (PQstatus(pc->c) != CONNECTION_OK)
			return unavailable(err, "connecting");
		PQclear(PQexec(pc->c, SESSION_SETUP));
		log_info("database connection re-established");
	}
	*ret = pc->c;
	return 0;
}

void
pg_thread_release(struct lb_store *s)
{
	struct store_pg *st = pg_store(s);
	struct pg_conn *pc = pthread_getspecific(st->conn_key);

	if (pc == NULL)
		return;
	pthread_setspecific(st->conn_key, NULL);
	conn_give_back(pc);
}

size_t
pg_open_connections(struct lb_store *s)
{
	struct store_pg *st = pg_store(s);
	size_t n;

	pthread_mutex_lock(&st->lock);
	n = st->nopen;
	pthread_mutex_unlock(&st->lock);
	return n;
}

int
pg_pool_init(struct store_pg *st)
{
	if (pthread_mutex_init(&st->lock, NULL) != 0)
		return -ENOMEM;
	if (pthread_key_create(&st->conn_key, conn_thread_exit) != 0) {
		pthread_mutex_destroy(&st->lock);
		return -ENOMEM;
	}
	return 0;
}

/* Closes every connection; no thread uses the store any more. */
void
pg_pool_release(struct store_pg *st)
{
	struct pg_conn *pc, *next;

	/* First, so that no thread exiting from now on gives one back. */
	pthread_key_delete(st->conn_key);
	for (pc = st->conns; pc != NULL; pc = next) {
		next = pc->next;
		PQfinish(pc->c);
		free(pc);
	}
	st->conns = st->idle = NULL;
	st->nidle = 0;
	st->nopen = 0;
	pthread_mutex_destroy(&st->lock);
}
