/*
 * test_store_history.c - the store's node_history table: events added,
 * read one at a time and a node's page at a time (another node's event
 * is not found), deleted with their node, and purged as Ironic's
 * manage_node_history does.
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

	snprintf(f->dir, sizeof(f->dir), "/tmp/lb-hstore-XXXXXX");
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
new_node(struct lb_store *s, const char *name, char uuid[LB_UUID_LEN + 1])
{
	struct lb_node *node = lb_node_new();
	struct lb_err err = { "" };

	node->driver = strdup("fake-hardware");
	node->provision_state = strdup("enroll");
	node->name = strdup(name);
	assert_int_equal(lb_store_node_create(s, node, &err), 0);
	snprintf(uuid, LB_UUID_LEN + 1, "%s", node->uuid);
	lb_node_free(node);
}

/* Adds an event; its uuid into 'out' when given. */
static void
add(struct lb_store *s, const char *node, const char *text, const char *user,
    char *out)
{
	struct lb_history_event ev = { 0 };
	struct lb_err err = { "" };

	snprintf(ev.node_uuid, sizeof(ev.node_uuid), "%s", node);
	snprintf(ev.severity, sizeof(ev.severity), "INFO");
	ev.event = (char *)text;
	ev.event_type = "rescue";
	ev.conductor = "host-a";
	ev.user = (char *)user;
	assert_int_equal(lb_store_history_add(s, &ev, &err), 0);
	assert_int_equal(strlen(ev.uuid), LB_UUID_LEN);
	assert_non_null(strstr(ev.created_at, "+00:00"));
	if (out != NULL)
		snprintf(out, LB_UUID_LEN + 1, "%s", ev.uuid);
}

static size_t
count(struct lb_store *s, const char *node)
{
	struct lb_history_query q = { .node_uuid = node };
	struct lb_history_list list;
	struct lb_err err = { "" };
	size_t n;

	assert_int_equal(lb_store_history_list(s, &q, &list, &err), 0);
	n = list.n;
	lb_history_list_release(&list);
	return n;
}

static void
test_add_get_list(void **state)
{
	struct fixture *f = *state;
	char a[LB_UUID_LEN + 1], b[LB_UUID_LEN + 1], e1[LB_UUID_LEN + 1];
	char e2[LB_UUID_LEN + 1], eb[LB_UUID_LEN + 1];
	struct lb_history_query q = { 0 };
	struct lb_history_event ev;
	struct lb_history_list list;
	struct lb_err err = { "" };
	char text[128];

	new_node(f->store, "a", a);
	new_node(f->store, "b", b);
	add(f->store, a, "first", "alice", e1);
	add(f->store, b, "other node", NULL, eb);
	add(f->store, a, "second", NULL, e2);
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "more %d", i);
		add(f->store, a, text, NULL, NULL);
	}

	assert_int_equal(lb_store_history_get(f->store, a, e1, &ev, &err), 0);
	assert_string_equal(ev.event, "first");
	assert_string_equal(ev.user, "alice");
	assert_string_equal(ev.conductor, "host-a");
	assert_string_equal(ev.node_uuid, a);
	assert_string_equal(ev.severity, "INFO");
	lb_history_event_release(&ev);
	/* another node's event is not this node's */
	assert_int_equal(lb_store_history_get(f->store, a, eb, &ev, &err),
	    -ENOENT);
	snprintf(text, sizeof(text), "Node history record %s could not be "
	    "found.", eb);
	assert_string_equal(err.msg, text);

	/* oldest first, paged after the marker */
	q.node_uuid = a;
	q.limit = 2;
	assert_int_equal(lb_store_history_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 2);
	assert_string_equal(list.items[0].event, "first");
	assert_null(list.items[1].user);
	assert_string_equal(list.items[1].uuid, e2);
	lb_history_list_release(&list);
	q.marker = e2;
	q.limit = 0;
	assert_int_equal(lb_store_history_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 3);
	assert_string_equal(list.items[0].event, "more 0");
	assert_string_equal(list.items[2].event, "more 2");
	lb_history_list_release(&list);
	/* a marker of another node is unknown here */
	q.marker = eb;
	assert_int_equal(lb_store_history_list(f->store, &q, &list, &err),
	    -ENOENT);
	assert_int_equal(count(f->store, b), 1);
}

static void
test_add_unknown_node(void **state)
{
	struct fixture *f = *state;
	struct lb_history_event ev = { 0 };
	struct lb_err err = { "" };

	snprintf(ev.node_uuid, sizeof(ev.node_uuid),
	    "00000000-0000-0000-0000-000000000000");
	snprintf(ev.severity, sizeof(ev.severity), "ERROR");
	ev.event = "x";
	ev.event_type = "rescue";
	ev.conductor = "h";
	assert_int_equal(lb_store_history_add(f->store, &ev, &err), -ENOENT);
}

static void
test_delete(void **state)
{
	struct fixture *f = *state;
	char a[LB_UUID_LEN + 1], b[LB_UUID_LEN + 1];
	struct lb_err err = { "" };
	sqlite3 *db;
	sqlite3_stmt *stmt;

	new_node(f->store, "a", a);
	new_node(f->store, "b", b);
	add(f->store, a, "1", NULL, NULL);
	add(f->store, a, "2", NULL, NULL);
	add(f->store, b, "3", NULL, NULL);
	assert_int_equal(lb_store_history_delete(f->store, a, &err), 0);
	assert_int_equal(count(f->store, a), 0);
	assert_int_equal(count(f->store, b), 1);
	/* the node's deletion takes its events with it */
	assert_int_equal(lb_store_node_delete(f->store, "b", NULL, NULL, &err),
	    0);
	if (lb_test_db_is_pg())
		return;		/* the rows are read from the SQLite file */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM "
	    "node_history", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

/* Ironic's manage_node_history: per node, the oldest beyond the max. */
static void
test_purge(void **state)
{
	struct fixture *f = *state;
	char n[3][LB_UUID_LEN + 1], name[8];
	struct lb_history_purge p = { .max_entries = 2, .batch_count = 1000 };
	struct lb_history_query q = { 0 };
	struct lb_history_list list;
	struct lb_err err = { "" };
	size_t deleted = 99;

	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		new_node(f->store, name, n[i]);
	}
	for (int i = 0; i < 5; i++)
		add(f->store, n[0], i == 3 ? "keep-3" : "old", NULL, NULL);
	for (int i = 0; i < 4; i++)
		add(f->store, n[1], "x", NULL, NULL);
	add(f->store, n[2], "only", NULL, NULL);

	/* everything younger than the cutoff: nothing counted or deleted */
	p.older_than = "2000-01-01T00:00:00.000000+00:00";
	assert_int_equal(lb_store_history_purge(f->store, &p, &deleted, &err),
	    0);
	assert_int_equal(deleted, 0);
	assert_int_equal(count(f->store, n[0]), 5);

	/* a batch of 1: the first node crossing it is done whole */
	p.older_than = NULL;
	p.batch_count = 1;
	assert_int_equal(lb_store_history_purge(f->store, &p, &deleted, &err),
	    0);
	assert_int_equal(deleted, 3);
	assert_int_equal(count(f->store, n[0]), 2);
	assert_int_equal(count(f->store, n[1]), 4);
	q.node_uuid = n[0];
	assert_int_equal(lb_store_history_list(f->store, &q, &list, &err), 0);
	assert_string_equal(list.items[0].event, "keep-3");
	lb_history_list_release(&list);

	p.batch_count = 1000;
	assert_int_equal(lb_store_history_purge(f->store, &p, &deleted, &err),
	    0);
	assert_int_equal(deleted, 2);
	assert_int_equal(count(f->store, n[1]), 2);
	assert_int_equal(count(f->store, n[2]), 1);
}

struct only_arg {
	const char *uuid;
	unsigned calls;
	char driver[32];
};

static bool
only_one(void *arg, const char *uuid, const char *driver, const char *group)
{
	struct only_arg *a = arg;

	a->calls++;
	snprintf(a->driver, sizeof(a->driver), "%s", driver);
	assert_string_equal(group, "");
	return strcmp(uuid, a->uuid) == 0;
}

/* node_ok (the hash ring's ownership) leaves the other nodes alone. */
static void
test_purge_only_owned(void **state)
{
	struct fixture *f = *state;
	char n[2][LB_UUID_LEN + 1], name[8];
	struct lb_history_purge p = { .max_entries = 2, .batch_count = 1000 };
	struct only_arg a = { 0 };
	struct lb_err err = { "" };
	size_t deleted = 99;

	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		new_node(f->store, name, n[i]);
		for (int k = 0; k < 4; k++)
			add(f->store, n[i], "x", NULL, NULL);
	}
	a.uuid = n[1];
	p.node_ok = only_one;
	p.node_ok_arg = &a;
	assert_int_equal(lb_store_history_purge(f->store, &p, &deleted, &err),
	    0);
	assert_int_equal(deleted, 2);
	assert_int_equal(a.calls, 2);
	assert_string_not_equal(a.driver, "");
	assert_int_equal(count(f->store, n[0]), 4);
	assert_int_equal(count(f->store, n[1]), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_get_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_add_unknown_node, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_only_owned, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
