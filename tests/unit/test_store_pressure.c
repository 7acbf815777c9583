/*
 * test_store_pressure.c - the SQLite store under pressure: many writer
 * threads and a second connection holding the write lock (another
 * process), a write nested in another's callback, port creates racing
 * their node's delete, and a full disk
 * (SQLITE_FULL through PRAGMA max_page_count on the thread's connection).
 * With LB_STORE_BENCH_THREADS set, the writers case also prints its
 * figures for bench/README.md.  Runs on the test's threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "conductor/states.h"
#include "conductor/store_sqlite.h"
#include "engine_store.h"

struct fixture {
	char dir[64];
	struct lb_config cfg;
	struct lb_store *store;
	char uuid[LB_UUID_LEN + 1];	/* the node the cases work on */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	test_store_open("lb-store-pressure", f->dir, &f->cfg, &f->store);
	test_store_node(f->store, &f->cfg, f->uuid);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_store_remove(f->dir, &f->cfg, f->store);
	free(f);
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- many writers, and another process holding the write lock ---- */

struct writer {
	struct fixture *f;
	int id;
	int ops;
	double *lat;		/* ops seconds, or NULL */
	int failed;		/* the first error, or 0 */
	char msg[256];
};

/* Adds extra["w<id>-<i>"]: a key no other writer touches. */
static int
add_key(struct lb_node *node, void *arg, struct lb_err *err)
{
	(void)err;
	json_object_set_new(node->extra, arg, json_true());
	return 0;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct lb_err err = { "" };
	char key[32];
	double t0;
	int r;

	for (int i = 0; i < w->ops && w->failed == 0; i++) {
		snprintf(key, sizeof(key), "w%d-%d", w->id, i);
		t0 = now_s();
		r = lb_store_node_update(w->f->store, w->f->uuid, add_key, key,
		    NULL, &err);
		if (w->lat != NULL)
			w->lat[i] = now_s() - t0;
		if (r < 0) {
			w->failed = r;
			snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
		}
	}
	lb_store_thread_release(w->f->store);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Runs 'n' writers of 'ops' updates each; all must succeed. */
static void
run_writers(struct fixture *f, int n, int ops, double *lat)
{
	struct writer *w = calloc(n, sizeof(*w));
	pthread_t *th = calloc(n, sizeof(*th));

	for (int i = 0; i < n; i++) {
		w[i] = (struct writer){ f, i, ops, lat ? lat + i * ops : NULL,
		    0, "" };
		assert_int_equal(pthread_create(&th[i], NULL, writer_main,
		    &w[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failed != 0)
			fail_msg("writer %d: %d %s", i, w[i].failed, w[i].msg);
	}
	free(th);
	free(w);
}

static size_t
extra_keys(struct fixture *f)
{
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	size_t count;

	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	count = json_object_size(n->extra);
	lb_node_free(n);
	return count;
}

static sqlite3 *
side_open(struct fixture *f)
{
	char path[128];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	return db;
}

/*
 * Another process holds the write lock while 16 threads update the node:
 * they wait (the busy timeout), and once it commits every update lands -
 * none is lost, none fails.
 */
static void
test_writers_wait_out_another_process(void **state)
{
	struct fixture *f = *state;
	struct timespec hold = { 0, 200 * 1000 * 1000 };
	sqlite3 *side = side_open(f);
	pthread_t th[16];
	struct writer w[16];

	assert_int_equal(sqlite3_exec(side, "BEGIN IMMEDIATE; UPDATE nodes "
	    "SET description = 'side'", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 16; i++) {
		w[i] = (struct writer){ f, i, 5, NULL, 0, "" };
		assert_int_equal(pthread_create(&th[i], NULL, writer_main,
		    &w[i]), 0);
	}
	/* The lock is held for a while, as by an operator's sqlite3. */
	nanosleep(&hold, NULL);
	assert_int_equal(extra_keys(f), 0);
	assert_int_equal(sqlite3_exec(side, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(side);
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failed != 0)
			fail_msg("writer %d: %d %s", i, w[i].failed, w[i].msg);
	}
	assert_int_equal(extra_keys(f), 16 * 5);
}

/*
 * 32 threads x 40 updates of distinct keys on one node: every key lands.
 * LB_STORE_BENCH_THREADS=N (LB_STORE_BENCH_OPS=M) runs N x M and prints
 * ops/s and the latency percentiles instead of the default size.
 */
static void
test_many_writers_lose_nothing(void **state)
{
	struct fixture *f = *state;
	const char *bt = getenv("LB_STORE_BENCH_THREADS");
	const char *bo = getenv("LB_STORE_BENCH_OPS");
	int n = bt ? (int)strtol(bt, NULL, 10) : 32;
	int ops = bo ? (int)strtol(bo, NULL, 10) : 40;
	double *lat = calloc((size_t)n * ops, sizeof(*lat));
	double t0 = now_s(), secs;
	size_t total = (size_t)n * ops;

	run_writers(f, n, ops, lat);
	secs = now_s() - t0;
	assert_int_equal(extra_keys(f), total);
	qsort(lat, total, sizeof(*lat), cmp_double);
	if (bt != NULL)
		printf("store bench: %d threads x %d updates: %.0f ops/s, "
		    "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", n, ops,
		    total / secs, lat[total / 2] * 1e3,
		    lat[total * 99 / 100] * 1e3, lat[total - 1] * 1e3);
	free(lat);
}

/* An update callback that writes to the store itself (a bug). */
static int
nested_update(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct fixture *f = arg;

	return lb_store_node_update(f->store, node->uuid, add_key, "inner",
	    NULL, err);
}

/*
 * A write started inside another write's callback, on the same thread,
 * fails at once (it would wait for the writer lock its own thread holds)
 * and the outer write rolls back; the store writes on afterwards.
 */
static void
test_nested_write_fails_not_hangs(void **state)
{
	struct fixture *f = *state;
	struct lb_err err = { "" };

	assert_int_equal(lb_store_node_update(f->store, f->uuid, nested_update,
	    f, NULL, &err), -EIO);
	assert_int_equal(extra_keys(f), 0);
	assert_int_equal(lb_store_node_update(f->store, f->uuid, add_key,
	    "after", NULL, &err), 0);
	assert_int_equal(extra_keys(f), 1);
}

/* ---- port creates racing their node's delete ---- */

struct porter {
	struct lb_store *store;
	char node[LB_UUID_LEN + 1];
	int base;
	int bad;		/* an answer other than 0 or not found */
	char msg[256];
};

static void *
porter_main(void *arg)
{
	struct porter *p = arg;
	struct lb_err err = { "" };

	for (int i = 0; i < 50; i++) {
		struct lb_port *port = lb_port_new();
		int r;

		memcpy(port->node_uuid, p->node, sizeof(port->node_uuid));
		snprintf(port->address, sizeof(port->address),
		    "52:54:01:%02x:%02x:%02x", p->base, i / 256, i % 256);
		r = lb_store_port_create(p->store, port, &err);
		lb_port_free(port);
		if (r < 0 && r != -EINVAL && p->bad == 0) {
			p->bad = r;
			snprintf(p->msg, sizeof(p->msg), "%s", err.msg);
		}
	}
	lb_store_thread_release(p->store);
	return NULL;
}

/*
 * Ports are created on a node while it is deleted, 20 rounds: each create
 * lands before the delete (and goes with it) or finds no node (-EINVAL, as
 * the API's 400); never a foreign key error, never a port without its node.
 */
static void
test_port_create_races_node_delete(void **state)
{
	struct fixture *f = *state;
	struct porter p[4];
	pthread_t th[4];
	struct lb_port_query q = { 0 };
	struct lb_port_list ports;
	struct lb_err err = { "" };
	char node[LB_UUID_LEN + 1];

	for (int round = 0; round < 20; round++) {
		test_store_node(f->store, &f->cfg, node);
		for (int i = 0; i < 4; i++) {
			p[i] = (struct porter){ f->store, "", i, 0, "" };
			memcpy(p[i].node, node, sizeof(p[i].node));
			assert_int_equal(pthread_create(&th[i], NULL,
			    porter_main, &p[i]), 0);
		}
		assert_int_equal(lb_store_node_delete(f->store, node, NULL,
		    NULL, &err), 0);
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			if (p[i].bad != 0)
				fail_msg("round %d, porter %d: %d %s", round,
				    i, p[i].bad, p[i].msg);
		}
	}
	assert_int_equal(lb_store_port_list(f->store, &q, &ports, &err), 0);
	assert_int_equal(ports.n, 0);
	lb_port_list_release(&ports);
}

/* ---- a full disk ---- */

static int
set_big_extra(struct lb_node *node, void *arg, struct lb_err *err)
{
	json_object_set_new(node->extra, "big", json_string(arg));
	return lb_replace_str(&node->description, arg, err);
}

static void
page_limit(struct fixture *f, const char *sql)
{
	struct lb_err err = { "" };
	sqlite3 *db;

	assert_int_equal(sq_get_db(sq_store(f->store), &db, &err), 0);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/*
 * The database cannot grow (SQLITE_FULL, as on a full disk): the update
 * fails with -ENOSPC and a message for the client, changes nothing of the
 * node (neither of its two changed fields), the file stays consistent,
 * and once it may grow again the same connection writes.
 */
static void
test_full_disk_changes_nothing(void **state)
{
	struct fixture *f = *state;
	static char big[64 * 1024];
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	sqlite3 *side;
	sqlite3_stmt *stmt;

	memset(big, 'x', sizeof(big) - 1);
	page_limit(f, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA "
	    "max_page_count = 1");
	assert_int_equal(lb_store_node_update(f->store, f->uuid, set_big_extra,
	    big, NULL, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "out of disk space"));
	assert_int_equal(lb_store_node_get(f->store, f->uuid, &n, &err), 0);
	assert_null(n->description);
	assert_null(json_object_get(n->extra, "big"));
	lb_node_free(n);

	side = side_open(f);
	assert_int_equal(sqlite3_prepare_v2(side, "PRAGMA integrity_check",
	    -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(stmt, 0), "ok");
	sqlite3_finalize(stmt);
	sqlite3_close(side);

	page_limit(f, "PRAGMA max_page_count = 1073741823");
	assert_int_equal(lb_store_node_update(f->store, f->uuid, set_big_extra,
	    big, &n, &err), 0);
	assert_string_equal(n->description, big);
	lb_node_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_writers_wait_out_another_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_writers_lose_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_nested_write_fails_not_hangs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_port_create_races_node_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_changes_nothing,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
