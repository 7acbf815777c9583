/*
 * store_sqlite_conn.c - the SQLite store's connections: one per thread while
 * the thread uses the store (taken from a pool of idle connections, or
 * opened, on first use; given back when the thread says it is done or
 * exits), each with its prepared statements, the write transactions on
 * them (one at a time, in turn: the writer lock), and what SQLite's errors
 * mean to callers (busy, a full disk).  Runs on the calling thread; the
 * pool and the writer lock are shared under locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/clock.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/banned.h"

#define BUSY_TIMEOUT_MS 10000
/*
 * Idle connections kept for threads to come (the API's deferred requests
 * each run on a new thread); more are closed.  Open ones are bounded by the
 * threads alive at once, which the API and the engine bound.
 */
#define IDLE_MAX 8
/*
 * Each connection's page cache, in KiB (negative: SQLite's unit).  Every
 * worker, API and timer thread has a connection; at SQLite's default
 * (2 MiB each) their caches were most of lifeboatd's RSS with 10,000
 * nodes (bench/scale: 74 -> 46 MB peak under detail pages while syncing),
 * and a page they miss is a read from the kernel's page cache.
 */
#define CACHE_KIB "-512"

struct conn {
	struct store_sqlite *st;
	sqlite3 *db;
	sqlite3_stmt *stmts[SQ_STMT_COUNT];
	struct conn *next;		/* in st->conns */
	struct conn *next_idle;		/* in st->idle */
};

/*
 * What a failed SQLite call means to the caller.  Busy and locked stay
 * -EAGAIN (another process held the write lock for the whole busy
 * timeout: writers of this process never wait on SQLite's lock, see
 * sq_begin_write_tx()).  A full disk - SQLITE_FULL, or an I/O error whose
 * errno says so - is -ENOSPC: the statement and its transaction are rolled
 * back, nothing was written, and the next write works once there is room.
 */
int
sq_db_error(struct lb_err *err, sqlite3 *db, const char *what)
{
	int code = sqlite3_extended_errcode(db);
	int sys = sqlite3_system_errno(db);

	if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		return lb_err_set(err, -EAGAIN, "database is busy, please "
		    "retry (%s)", what);
	/* Logged once per spell, by sq_end_write_tx(). */
	if ((code & 0xff) == SQLITE_FULL || ((code & 0xff) == SQLITE_IOERR &&
	    (sys == ENOSPC || sys == EDQUOT)))
		return lb_err_set(err, -ENOSPC, "The conductor's database is "
		    "out of disk space while %s: nothing was changed. Retry "
		    "once space is freed.", what);
	log_error("database error while %s: %s", what, sqlite3_errmsg(db));
	return lb_err_set(err, -EIO, "database error while %s", what);
}

int
sq_exec(sqlite3 *db, const char *sql, struct lb_err *err, const char *what)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_db_error(err, db, what);
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
	rc = sq_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    " PRAGMA foreign_keys=ON; PRAGMA cache_size=" CACHE_KIB ";", err,
	    "configuring the connection");
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
	for (int i = 0; i < SQ_STMT_COUNT; i++)
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

/* An idle connection, or a new one. */
static int
conn_take(struct store_sqlite *st, struct conn **ret, struct lb_err *err)
{
	struct conn *c;
	int r;

	pthread_mutex_lock(&st->conns_lock);
	c = st->idle;
	if (c != NULL) {
		st->idle = c->next_idle;
		st->nidle--;
	}
	pthread_mutex_unlock(&st->conns_lock);
	if (c != NULL) {
		*ret = c;
		return 0;
	}
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
	*ret = c;
	return 0;
}

static int
get_conn(struct store_sqlite *st, struct conn **ret, struct lb_err *err)
{
	struct conn *c = pthread_getspecific(st->conn_key);
	int r;

	if (c != NULL) {
		*ret = c;
		return 0;
	}
	r = conn_take(st, &c, err);
	if (r < 0)
		return r;
	if (pthread_setspecific(st->conn_key, c) != 0) {
		conn_give_back(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

int
sq_get_db(struct store_sqlite *st, sqlite3 **ret, struct lb_err *err)
{
	struct conn *c = NULL;
	int r;

	r = get_conn(st, &c, err);
	if (r == 0)
		*ret = c->db;
	return r;
}

void
sq_thread_release(struct lb_store *s)
{
	struct store_sqlite *st = sq_store(s);
	struct conn *c = pthread_getspecific(st->conn_key);

	if (c == NULL)
		return;
	pthread_setspecific(st->conn_key, NULL);
	conn_give_back(c);
}

size_t
sq_open_connections(struct lb_store *s)
{
	struct store_sqlite *st = sq_store(s);
	size_t n;

	pthread_mutex_lock(&st->conns_lock);
	n = st->nopen;
	pthread_mutex_unlock(&st->conns_lock);
	return n;
}

int
sq_get_stmt(struct store_sqlite *st, sqlite3 *db, int id,
    sqlite3_stmt **ret, struct lb_err *err)
{
	struct conn *c = pthread_getspecific(st->conn_key);

	if (c == NULL || c->db != db || st->sql[id] == NULL)
		return lb_err_set(err, -EIO, "no database connection");
	if (c->stmts[id] == NULL &&
	    sqlite3_prepare_v3(db, st->sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &c->stmts[id], NULL) != SQLITE_OK)
		return sq_db_error(err, db, "preparing a statement");
	*ret = c->stmts[id];
	return 0;
}

void
sq_stmt_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* A writer waiting its turn, on its own stack. */
struct sq_waiter {
	pthread_cond_t cond;
	bool go;			/* the lock is handed to it */
	struct sq_waiter *next;
};

/*
 * The writer lock, first come first served: a writer that finds it taken
 * queues and is handed the lock by the one before it, so none waits for
 * more than the writers ahead of it (a plain mutex lets a running thread
 * barge in again and again: bench/README.md, "store").
 */
static void
write_lock(struct store_sqlite *st)
{
	struct sq_waiter w = { .go = false };

	pthread_mutex_lock(&st->write_lock);
	if (!st->writing) {
		st->writing = true;
		pthread_mutex_unlock(&st->write_lock);
		return;
	}
	pthread_cond_init(&w.cond, NULL);
	if (st->wait_tail != NULL)
		st->wait_tail->next = &w;
	else
		st->wait_head = &w;
	st->wait_tail = &w;
	while (!w.go)
		pthread_cond_wait(&w.cond, &st->write_lock);
	pthread_mutex_unlock(&st->write_lock);
	pthread_cond_destroy(&w.cond);
}

static void
write_unlock(struct store_sqlite *st)
{
	struct sq_waiter *w;

	pthread_mutex_lock(&st->write_lock);
	w = st->wait_head;
	if (w != NULL) {
		st->wait_head = w->next;
		if (st->wait_head == NULL)
			st->wait_tail = NULL;
		w->go = true;
		pthread_cond_signal(&w->cond);
	} else {
		st->writing = false;
	}
	pthread_mutex_unlock(&st->write_lock);
}

/*
 * Every write of this process runs between sq_begin_write_tx() and
 * sq_end_write_tx(), holding the store's writer lock: SQLite lets one
 * connection write at a time anyway, and the lock hands over to the next
 * writer the moment the last one ends, where SQLite's busy handler polls
 * with sleeps of up to 100 ms and lets a writer starve for its whole busy
 * timeout (then SQLITE_BUSY: a 503).  So writers here never see
 * SQLITE_BUSY from each other; the busy timeout is left for other
 * processes (an operator's sqlite3).  IMMEDIATE takes SQLite's write lock
 * up front, so a transaction never upgrades a read snapshot to a write
 * (no SQLITE_BUSY_SNAPSHOT).
 */
int
sq_begin_write_tx(struct store_sqlite *st, sqlite3 *db, struct lb_err *err)
{
	double started;
	int r;

	/* A write started inside another's callback would wait for itself. */
	if (!sqlite3_get_autocommit(db)) {
		log_error("database write started inside a write transaction");
		return lb_err_set(err, -EIO, "database error while starting a "
		    "transaction");
	}
	started = lb_monotonic();
	write_lock(st);
	st->write_started = lb_monotonic();
	lb_metrics_observe(lb_metrics(), LB_M_STORE_LOCK_WAIT,
	    LB_METRIC_LABELS(NULL), st->write_started - started);
	r = sq_exec(db, "BEGIN IMMEDIATE", err, "starting a transaction");
	if (r < 0)
		write_unlock(st);
	return r;
}

/*
 * A COMMIT that fails (a full disk, an I/O error, a deferred constraint)
 * may leave the transaction open, and every later BEGIN on the connection
 * would then fail: it is rolled back, so the next write starts afresh.  A
 * full disk may have rolled it back already (SQLite does for SQLITE_FULL).
 */
int
sq_end_tx(sqlite3 *db, int r, struct lb_err *err)
{
	if (r == 0)
		r = sq_exec(db, "COMMIT", err, "committing");
	if (r < 0 && !sqlite3_get_autocommit(db))
		sq_exec(db, "ROLLBACK", NULL, "rolling back");
	return r;
}

int
sq_end_write_tx(struct store_sqlite *st, sqlite3 *db, int r,
    struct lb_err *err)
{
	r = sq_end_tx(db, r, err);
	/* One line when the disk fills and one when writes work again. */
	if (r == -ENOSPC && !st->disk_full)
		log_error("database '%s' is out of disk space: every write "
		    "fails until space is freed", st->path);
	else if (r == 0 && st->disk_full)
		log_info("database '%s' writes again", st->path);
	if (r == -ENOSPC || r == 0)
		st->disk_full = r < 0;
	LB_METRIC_OBSERVE(LB_M_STORE_SECONDS, lb_monotonic() -
	    st->write_started, "write");
	write_unlock(st);
	return r;
}

void
sq_observe_read(double started)
{
	LB_METRIC_OBSERVE(LB_M_STORE_SECONDS, lb_monotonic() - started,
	    "read");
}

int
sq_pool_init(struct store_sqlite *st)
{
	if (pthread_mutex_init(&st->conns_lock, NULL) != 0)
		return -ENOMEM;
	if (pthread_mutex_init(&st->write_lock, NULL) != 0) {
		pthread_mutex_destroy(&st->conns_lock);
		return -ENOMEM;
	}
	if (pthread_key_create(&st->conn_key, conn_thread_exit) != 0) {
		pthread_mutex_destroy(&st->write_lock);
		pthread_mutex_destroy(&st->conns_lock);
		return -ENOMEM;
	}
	return 0;
}

/* Closes every connection; no thread uses the store any more. */
void
sq_pool_release(struct store_sqlite *st)
{
	struct conn *c, *next;

	/* First, so that no thread exiting from now on gives one back. */
	pthread_key_delete(st->conn_key);
	for (c = st->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	pthread_mutex_destroy(&st->write_lock);
	pthread_mutex_destroy(&st->conns_lock);
}
