/*
 * test_store_conductors.c - the store's conductors table: the migration
 * from schema version 1 (nodes and ports only) keeps what was there,
 * registration takes over a host's row, the heartbeat touches it, and the
 * list pages and sorts as the API needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "conductor/store.h"
#include "tests/unit/test_db.h"

struct fixture {
	char dir[64];
	char path[128];
	char url[160];
	struct lb_store *store;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct lb_err err = { "" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/lb-cstore-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/db.sqlite", f->dir);
	lb_test_db_url(f->url, sizeof(f->url), f->path);
	assert_int_equal(lb_store_open(f->url, &f->store, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[200];

	static const char *const files[] = { "", "-wal", "-shm" };

	lb_store_close(f->store);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", f->path, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
reg(struct lb_store *s, const char *host, const char *drivers,
    bool want_was_online)
{
	struct lb_conductor c = { .hostname = (char *)host,
	    .conductor_group = "" };
	struct lb_err err = { "" };
	bool was_online = !want_was_online;

	c.drivers = json_loads(drivers, 0, NULL);
	assert_non_null(c.drivers);
	assert_int_equal(lb_store_conductor_register(s, &c, &was_online,
	    &err), 0);
	assert_int_equal(was_online, want_was_online);
	json_decref(c.drivers);
}

static int
user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
	    &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* A version 1 database (the schema before conductors) with a node in it. */
static void
test_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	struct lb_node *node = lb_node_new(), *got = NULL;
	struct lb_conductor c;
	struct lb_err err = { "" };
	sqlite3 *db;

	if (lb_test_db_is_pg()) {
		lb_node_free(node);
		skip();		/* the SQLite file is rewritten from the side */
	}
	assert_int_equal(user_version(f->path), 4);
	node->driver = strdup("fake-hardware");
	node->provision_state = strdup("enroll");
	node->name = strdup("old-node");
	assert_int_equal(lb_store_node_create(f->store, node, &err), 0);
	lb_store_close(f->store);
	f->store = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE conductors; "
	    "DROP TABLE node_history; DROP TABLE cluster_secret; "
	    "PRAGMA user_version=1", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(user_version(f->path), 1);

	assert_int_equal(lb_store_open(f->url, &f->store, &err), 0);
	assert_int_equal(user_version(f->path), 4);
	assert_int_equal(lb_store_node_get(f->store, "old-node", &got, &err),
	    0);
	assert_string_equal(got->uuid, node->uuid);
	assert_int_equal(lb_store_conductor_get(f->store, "h1", &c, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "Conductor h1 could not be found.");
	reg(f->store, "h1", "[\"ipmi\"]", false);
	assert_int_equal(lb_store_conductor_get(f->store, "h1", &c, &err), 0);
	assert_string_equal(c.hostname, "h1");
	assert_string_equal(c.rpc_url, "");
	lb_conductor_release(&c);
	lb_node_free(got);
	lb_node_free(node);
}

/*
 * The first conductor's candidate secret is the cluster's; a later one's
 * is replaced by it.  A registered rpc_url reads back, and a new
 * registration replaces it.
 */
static void
test_cluster_secret_and_rpc_url(void **state)
{
	struct fixture *f = *state;
	char first[LB_CLUSTER_SECRET_LEN + 1], later[LB_CLUSTER_SECRET_LEN + 1];
	struct lb_conductor c = { .hostname = "h1", .conductor_group = "",
	    .rpc_url = "http://192.0.2.1:6385" };
	struct lb_err err = { "" };
	bool was_online;

	memset(first, 'a', LB_CLUSTER_SECRET_LEN);
	first[LB_CLUSTER_SECRET_LEN] = '\0';
	memset(later, 'b', LB_CLUSTER_SECRET_LEN);
	later[LB_CLUSTER_SECRET_LEN] = '\0';
	assert_int_equal(lb_store_cluster_secret(f->store, first, &err), 0);
	assert_int_equal(first[0], 'a');
	assert_int_equal(lb_store_cluster_secret(f->store, later, &err), 0);
	assert_string_equal(later, first);

	c.drivers = json_loads("[\"ipmi\"]", 0, NULL);
	assert_int_equal(lb_store_conductor_register(f->store, &c, &was_online,
	    &err), 0);
	c.rpc_url = "http://192.0.2.2:6385";
	assert_int_equal(lb_store_conductor_register(f->store, &c, &was_online,
	    &err), 0);
	json_decref(c.drivers);
	assert_int_equal(lb_store_conductor_get(f->store, "h1", &c, &err), 0);
	assert_string_equal(c.rpc_url, "http://192.0.2.2:6385");
	lb_conductor_release(&c);
}

static void
test_register_touch_take_over(void **state)
{
	struct fixture *f = *state;
	struct lb_conductor c;
	struct lb_err err = { "" };
	char created[LB_TIME_LEN], updated[LB_TIME_LEN];

	reg(f->store, "h1", "[\"fake-hardware\",\"ipmi\"]", false);
	assert_int_equal(lb_store_conductor_get(f->store, "h1", &c, &err), 0);
	assert_true(c.online);
	assert_string_equal(c.conductor_group, "");
	assert_int_equal(json_array_size(c.drivers), 2);
	assert_string_equal(json_string_value(json_array_get(c.drivers, 1)),
	    "ipmi");
	assert_string_equal(c.created_at, c.updated_at);
	snprintf(created, sizeof(created), "%s", c.created_at);
	snprintf(updated, sizeof(updated), "%s", c.updated_at);
	lb_conductor_release(&c);

	/* A graceful stop: offline, and the heartbeat time moves on. */
	assert_int_equal(lb_store_conductor_touch(f->store, "h1", false, &err),
	    0);
	assert_int_equal(lb_store_conductor_get(f->store, "h1", &c, &err), 0);
	assert_false(c.online);
	assert_true(strcmp(c.updated_at, updated) >= 0);
	lb_conductor_release(&c);

	/* The next start takes the row over: created_at kept, drivers new. */
	reg(f->store, "h1", "[\"redfish\"]", false);
	/* A start after a crash finds the row still online. */
	reg(f->store, "h1", "[\"redfish\"]", true);
	assert_int_equal(lb_store_conductor_get(f->store, "h1", &c, &err), 0);
	assert_true(c.online);
	assert_string_equal(c.created_at, created);
	assert_int_equal(json_array_size(c.drivers), 1);
	assert_string_equal(json_string_value(json_array_get(c.drivers, 0)),
	    "redfish");
	lb_conductor_release(&c);

	assert_int_equal(lb_store_conductor_touch(f->store, "nosuch", true,
	    &err), -ENOENT);
}

static void
expect_hosts(struct lb_store *s, const struct lb_conductor_query *q,
    const char *want)
{
	struct lb_conductor_list list;
	struct lb_err err = { "" };
	char got[128] = "";

	assert_int_equal(lb_store_conductor_list(s, q, &list, &err), 0);
	for (size_t i = 0; i < list.n; i++) {
		strncat(got, i ? "," : "", sizeof(got) - strlen(got) - 1);
		strncat(got, list.items[i].hostname, sizeof(got) -
		    strlen(got) - 1);
	}
	lb_conductor_list_release(&list);
	assert_string_equal(got, want);
}

static void
test_list_paging_sorting(void **state)
{
	struct fixture *f = *state;
	struct lb_conductor_query q = { 0 };
	struct lb_conductor_list list;
	struct lb_err err = { "" };

	reg(f->store, "b", "[]", false);
	reg(f->store, "c", "[]", false);
	reg(f->store, "a", "[]", false);
	expect_hosts(f->store, &q, "b,c,a");
	q.limit = 2;
	expect_hosts(f->store, &q, "b,c");
	q.marker = "c";
	expect_hosts(f->store, &q, "a");
	q.marker = NULL;
	q.sort_key = "hostname";
	expect_hosts(f->store, &q, "a,b");
	q.marker = "b";
	expect_hosts(f->store, &q, "c");
	q.sort_desc = true;
	expect_hosts(f->store, &q, "a");
	q.marker = NULL;
	expect_hosts(f->store, &q, "c,b");

	q.sort_key = "alive";
	assert_int_equal(lb_store_conductor_list(f->store, &q, &list, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "The sort_key value alive is an invalid "
	    "field for sorting");
	q.sort_key = "id";
	q.marker = "nosuch";
	assert_int_equal(lb_store_conductor_list(f->store, &q, &list, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "Conductor nosuch could not be found.");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cluster_secret_and_rpc_url,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_touch_take_over,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_paging_sorting, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
