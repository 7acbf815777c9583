/*
 * test_store.c - the SQLite store: create/read/update/delete, persistence
 * across reopen, uniqueness, rollback on a failing update, paging and
 * sorting, and no lost update under concurrent writers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ctype.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "conductor/store.h"
#include "tests/unit/test_db.h"

struct fixture {
	char dir[64];
	char url[128];
	struct lb_store *store;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct lb_err err = { "" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/lb-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	{
		char path[96];

		snprintf(path, sizeof(path), "%s/db.sqlite", f->dir);
		lb_test_db_url(f->url, sizeof(f->url), path);
	}
	assert_int_equal(lb_store_open(f->url, &f->store, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];

	static const char *const files[] = { "", "-wal", "-shm" };

	lb_store_close(f->store);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/db.sqlite%s", f->dir,
		    files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct lb_node *
new_node(const char *name)
{
	struct lb_node *n = lb_node_new();

	n->driver = strdup("fake-hardware");
	n->provision_state = strdup("enroll");
	if (name != NULL)
		n->name = strdup(name);
	json_object_set_new(n->driver_info, "ipmi_password",
	    json_string("s3cret"));
	return n;
}

static void
create(struct lb_store *s, const char *name, char uuid[LB_UUID_LEN + 1])
{
	struct lb_node *n = new_node(name);
	struct lb_err err = { "" };

	assert_int_equal(lb_store_node_create(s, n, &err), 0);
	if (uuid != NULL)
		memcpy(uuid, n->uuid, LB_UUID_LEN + 1);
	lb_node_free(n);
}

static void
test_create_get_reopen(void **state)
{
	struct fixture *f = *state;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1];

	create(f->store, "n1", uuid);
	assert_int_equal(lb_store_node_get(f->store, "n1", &n, &err), 0);
	assert_string_equal(n->uuid, uuid);
	assert_string_equal(json_string_value(json_object_get(n->driver_info,
	    "ipmi_password")), "s3cret");
	assert_non_null(n->created_at);
	assert_null(n->updated_at);
	lb_node_free(n);

	/* Everything survives closing and opening the file again. */
	lb_store_close(f->store);
	assert_int_equal(lb_store_open(f->url, &f->store, &err), 0);
	assert_int_equal(lb_store_node_get(f->store, uuid, &n, &err), 0);
	assert_string_equal(n->name, "n1");
	lb_node_free(n);
	assert_int_equal(lb_store_node_get(f->store, "nope", &n, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "Node nope could not be found.");
}

static void
test_uniqueness(void **state)
{
	struct fixture *f = *state;
	struct lb_node *n;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1];

	create(f->store, "dup", uuid);
	n = new_node("dup");
	assert_int_equal(lb_store_node_create(f->store, n, &err), -EEXIST);
	assert_string_equal(err.msg, "A node with name dup already exists.");
	lb_node_free(n);
	n = new_node("other");
	memcpy(n->uuid, uuid, sizeof(n->uuid));
	assert_int_equal(lb_store_node_create(f->store, n, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "UUID"));
	lb_node_free(n);
}

static int
rename_then_fail(struct lb_node *node, void *arg, struct lb_err *err)
{
	free(node->name);
	node->name = strdup("renamed");
	return lb_err_set(err, -EBUSY, "no: %s", (const char *)arg);
}

static int
rename_ok(struct lb_node *node, void *arg, struct lb_err *err)
{
	(void)err;
	free(node->name);
	node->name = strdup(arg);
	return 0;
}

static void
test_update_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };

	create(f->store, "keep", NULL);
	assert_int_equal(lb_store_node_update(f->store, "keep",
	    rename_then_fail, "busy", NULL, &err), -EBUSY);
	assert_string_equal(err.msg, "no: busy");
	assert_int_equal(lb_store_node_get(f->store, "keep", &n, &err), 0);
	lb_node_free(n);
	assert_int_equal(lb_store_node_update(f->store, "keep", rename_ok,
	    "new", &n, &err), 0);
	assert_string_equal(n->name, "new");
	assert_non_null(n->updated_at);
	lb_node_free(n);
	/* A rename onto an existing name is refused and changes nothing. */
	create(f->store, "taken", NULL);
	assert_int_equal(lb_store_node_update(f->store, "new", rename_ok,
	    "taken", NULL, &err), -EEXIST);
	assert_int_equal(lb_store_node_get(f->store, "new", &n, &err), 0);
	lb_node_free(n);
}

/*
 * A COMMIT that fails leaves SQLite's transaction open: a deferred foreign
 * key, planted by a trigger the test adds beside the store, makes the
 * COMMIT of one update fail.  The store must roll it back, or every later
 * write on the connection fails with "cannot start a transaction within a
 * transaction" (as after a full disk).
 */
static void
test_failed_commit_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	char path[160];
	sqlite3 *side;

	if (lb_test_db_is_pg())
		skip();		/* a SQLite trigger written from the side */
	create(f->store, "c1", NULL);
	snprintf(path, sizeof(path), "%s/db.sqlite", f->dir);
	assert_int_equal(sqlite3_open(path, &side), SQLITE_OK);
	assert_int_equal(sqlite3_exec(side, "CREATE TABLE trap (n INTEGER "
	    "REFERENCES nodes (id) DEFERRABLE INITIALLY DEFERRED); "
	    "CREATE TRIGGER trap_t AFTER UPDATE ON nodes WHEN "
	    "NEW.name = 'trap' BEGIN INSERT INTO trap VALUES (-1); END;",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(side);
	assert_true(lb_store_node_update(f->store, "c1", rename_ok, "trap",
	    NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "committing"));
	/* Nothing of the failed update stayed, and the store still writes. */
	assert_int_equal(lb_store_node_get(f->store, "c1", &n, &err), 0);
	lb_node_free(n);
	n = NULL;
	assert_int_equal(lb_store_node_update(f->store, "c1", rename_ok, "c2",
	    &n, &err), 0);
	assert_string_equal(n->name, "c2");
	lb_node_free(n);
	create(f->store, "c3", NULL);
}

static void
test_list_paging_and_sorting(void **state)
{
	struct fixture *f = *state;
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	struct lb_node_list page;
	struct lb_err err = { "" };
	char name[16], seen[LB_UUID_LEN + 1] = "";
	size_t total = 0;

	for (int i = 0; i < 23; i++) {
		snprintf(name, sizeof(name), "n%02d", (i * 7) % 23);
		create(f->store, name, NULL);
	}
	q.sort_key = "name";
	q.limit = 5;
	for (;;) {
		assert_int_equal(lb_store_node_list(f->store, &q, &page, &err),
		    0);
		for (size_t i = 0; i < page.n; i++) {
			snprintf(name, sizeof(name), "n%02zu", total + i);
			assert_string_equal(page.items[i]->name, name);
		}
		total += page.n;
		if (page.n < q.limit) {
			lb_node_list_release(&page);
			break;
		}
		snprintf(seen, sizeof(seen), "%s",
		    page.items[page.n - 1]->uuid);
		q.marker = seen;
		lb_node_list_release(&page);
	}
	assert_int_equal(total, 23);

	/* The default sort (the integer id) pages too. */
	q.sort_key = NULL;
	q.marker = NULL;
	total = 0;
	for (;;) {
		assert_int_equal(lb_store_node_list(f->store, &q, &page, &err),
		    0);
		total += page.n;
		if (page.n < q.limit) {
			lb_node_list_release(&page);
			break;
		}
		snprintf(seen, sizeof(seen), "%s",
		    page.items[page.n - 1]->uuid);
		q.marker = seen;
		lb_node_list_release(&page);
	}
	assert_int_equal(total, 23);
	q.sort_key = "name";

	q.marker = NULL;
	q.limit = 0;
	q.sort_desc = true;
	assert_int_equal(lb_store_node_list(f->store, &q, &page, &err), 0);
	assert_string_equal(page.items[0]->name, "n22");
	lb_node_list_release(&page);

	q.sort_key = "driver_info";
	assert_int_equal(lb_store_node_list(f->store, &q, &page, &err),
	    -EINVAL);
	q.sort_key = NULL;
	q.marker = "00000000-0000-0000-0000-000000000000";
	assert_int_equal(lb_store_node_list(f->store, &q, &page, &err),
	    -EINVAL);
}

/* Names of the nodes sorted by q, one page of one row at a time. */
static void
sorted_names(struct lb_store *s, struct lb_node_query *q, char *out,
    size_t size)
{
	struct lb_node_list page;
	struct lb_err err = { "" };
	char seen[LB_UUID_LEN + 1];

	out[0] = '\0';
	q->limit = 1;
	q->marker = NULL;
	for (;;) {
		assert_int_equal(lb_store_node_list(s, q, &page, &err), 0);
		if (page.n == 0)
			break;
		strncat(out, page.items[0]->name, size - strlen(out) - 1);
		snprintf(seen, sizeof(seen), "%s", page.items[0]->uuid);
		q->marker = seen;
		lb_node_list_release(&page);
	}
	lb_node_list_release(&page);
	q->marker = NULL;
}

/* An unset tri-state sorts after false and true, as SQLite's IFNULL. */
static void
test_sort_tristate(void **state)
{
	struct fixture *f = *state;
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	static const int values[] = { -1, 0, 1, -1, 1 };
	struct lb_err err = { "" };
	char names[16];

	for (int i = 0; i < 5; i++) {
		struct lb_node *n = new_node((char[]){ (char)('a' + i), 0 });

		n->automated_clean = values[i];
		assert_int_equal(lb_store_node_create(f->store, n, &err), 0);
		lb_node_free(n);
	}
	q.sort_key = "automated_clean";
	sorted_names(f->store, &q, names, sizeof(names));
	assert_string_equal(names, "bcead");
	q.sort_desc = true;
	sorted_names(f->store, &q, names, sizeof(names));
	assert_string_equal(names, "daecb");
}

static void
test_ports(void **state)
{
	struct fixture *f = *state;
	struct lb_port *p = lb_port_new(), *got = NULL;
	struct lb_port_query q = { 0 };
	struct lb_port_list list;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1];

	create(f->store, "withports", uuid);
	snprintf(p->address, sizeof(p->address), "52:54:00:00:00:01");
	memcpy(p->node_uuid, uuid, sizeof(p->node_uuid));
	assert_int_equal(lb_store_port_create(f->store, p, &err), 0);
	assert_int_equal(lb_store_port_get(f->store, p->uuid, &got, &err), 0);
	assert_string_equal(got->node_uuid, uuid);
	assert_string_equal(got->address, "52:54:00:00:00:01");
	lb_port_free(got);

	/* Same MAC again. */
	p->uuid[0] = '\0';
	assert_int_equal(lb_store_port_create(f->store, p, &err), -EEXIST);
	assert_string_equal(err.msg, "A port with MAC address "
	    "52:54:00:00:00:01 already exists.");
	/* Unknown node. */
	snprintf(p->address, sizeof(p->address), "52:54:00:00:00:02");
	snprintf(p->node_uuid, sizeof(p->node_uuid),
	    "00000000-0000-0000-0000-000000000000");
	assert_int_equal(lb_store_port_create(f->store, p, &err), -EINVAL);
	lb_port_free(p);

	q.node_uuid = uuid;
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	lb_port_list_release(&list);

	/* Deleting the node deletes its ports. */
	assert_int_equal(lb_store_node_delete(f->store, uuid, NULL, NULL,
	    &err), 0);
	q.node_uuid = NULL;
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 0);
	lb_port_list_release(&list);
}

/* ---- what the generic CRUD does for both tables ---- */

static int
rename_unchanged(struct lb_node *node, void *arg, struct lb_err *err)
{
	(void)err;
	free(node->name);
	node->name = strdup(arg);
	return LB_STORE_UNCHANGED;
}

/* LB_STORE_UNCHANGED: no write, updated_at kept, the record returned. */
static void
test_node_update_unchanged(void **state)
{
	struct fixture *f = *state;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1], upper[LB_UUID_LEN + 1];

	create(f->store, "same", uuid);
	assert_int_equal(lb_store_node_update(f->store, "same",
	    rename_unchanged, "other", &n, &err), 0);
	assert_non_null(n);
	assert_string_equal(n->uuid, uuid);
	lb_node_free(n);
	n = NULL;
	/* Looked up by an upper-case UUID: still the same row. */
	for (size_t i = 0; i <= LB_UUID_LEN; i++)
		upper[i] = (char)toupper((unsigned char)uuid[i]);
	assert_int_equal(lb_store_node_get(f->store, upper, &n, &err), 0);
	assert_string_equal(n->name, "same");
	assert_null(n->updated_at);
	lb_node_free(n);
	assert_int_equal(lb_store_node_get(f->store, "other", &n, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "Node other could not be found.");
	assert_int_equal(lb_store_node_update(f->store, "gone",
	    rename_unchanged, "x", NULL, &err), -ENOENT);
	assert_string_equal(err.msg, "Node gone could not be found.");
}

static void
add_port(struct lb_store *s, const char *node_uuid, const char *mac,
    char uuid[LB_UUID_LEN + 1])
{
	struct lb_port *p = lb_port_new();
	struct lb_err err = { "" };

	snprintf(p->address, sizeof(p->address), "%s", mac);
	memcpy(p->node_uuid, node_uuid, sizeof(p->node_uuid));
	assert_int_equal(lb_store_port_create(s, p, &err), 0);
	assert_true(p->id > 0);
	assert_non_null(p->created_at);
	if (uuid != NULL)
		memcpy(uuid, p->uuid, LB_UUID_LEN + 1);
	lb_port_free(p);
}

/* Pages through the ports the query selects; returns their MACs in order. */
static size_t
port_pages(struct lb_store *s, struct lb_port_query *q, char macs[][20],
    size_t max)
{
	struct lb_port_list page;
	struct lb_err err = { "" };
	char marker[LB_UUID_LEN + 1];
	size_t total = 0;

	q->marker = NULL;
	for (;;) {
		assert_int_equal(lb_store_port_list(s, q, &page, &err), 0);
		assert_true(page.n <= q->limit);
		for (size_t i = 0; i < page.n && total < max; i++)
			snprintf(macs[total++], 20, "%s",
			    page.items[i]->address);
		if (page.n < q->limit) {
			lb_port_list_release(&page);
			return total;
		}
		snprintf(marker, sizeof(marker), "%s",
		    page.items[page.n - 1]->uuid);
		q->marker = marker;
		lb_port_list_release(&page);
	}
}

static void
test_port_list_filters_paging(void **state)
{
	struct fixture *f = *state;
	struct lb_port_query q = { .limit = 2 };
	struct lb_port_list list;
	struct lb_err err = { "" };
	char a[LB_UUID_LEN + 1], b[LB_UUID_LEN + 1], macs[8][20];
	static const int order[] = { 3, 0, 4, 1, 2 };

	create(f->store, "pa", a);
	create(f->store, "pb", b);
	/* Five ports on a, created out of MAC order; one on b. */
	for (size_t i = 0; i < 5; i++) {
		char mac[20];

		snprintf(mac, sizeof(mac), "52:54:00:00:00:0%d", order[i]);
		add_port(f->store, a, mac, NULL);
	}
	add_port(f->store, b, "52:54:00:00:01:00", NULL);

	q.node_uuid = a;
	q.sort_key = "address";
	assert_int_equal(port_pages(f->store, &q, macs, 8), 5);
	for (int i = 0; i < 5; i++) {
		char want[20];

		snprintf(want, sizeof(want), "52:54:00:00:00:0%d", i);
		assert_string_equal(macs[i], want);
	}
	q.sort_desc = true;
	assert_int_equal(port_pages(f->store, &q, macs, 8), 5);
	assert_string_equal(macs[0], "52:54:00:00:00:04");
	assert_string_equal(macs[4], "52:54:00:00:00:00");
	/* By id (creation order), all nodes. */
	q.sort_key = NULL;
	q.sort_desc = false;
	q.node_uuid = NULL;
	assert_int_equal(port_pages(f->store, &q, macs, 8), 6);
	assert_string_equal(macs[0], "52:54:00:00:00:03");
	assert_string_equal(macs[5], "52:54:00:00:01:00");
	/* Address filter, with and without the right node. */
	q.limit = 0;
	q.marker = NULL;
	q.address = "52:54:00:00:01:00";
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0]->node_uuid, b);
	lb_port_list_release(&list);
	q.node_uuid = a;
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 0);
	lb_port_list_release(&list);

	q.sort_key = "extra";
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "The sort_key value extra is an invalid "
	    "field for sorting");
	q.sort_key = NULL;
	q.marker = "00000000-0000-0000-0000-000000000000";
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "Invalid marker: Port "
	    "00000000-0000-0000-0000-000000000000 could not be found.");
}

static int
refuse(struct lb_node *node, void *arg, struct lb_err *err)
{
	return lb_err_set(err, -EBUSY, "node %s is %s", node->name,
	    (const char *)arg);
}

static int
port_move(struct lb_port *port, const struct lb_node *node, void *arg,
    struct lb_err *err)
{
	(void)err;
	/* The callback sees the port's node as of the transaction. */
	assert_non_null(node);
	assert_string_equal(node->uuid, port->node_uuid);
	memcpy(port->node_uuid, arg, sizeof(port->node_uuid));
	return 0;
}

static int
port_refuse(struct lb_port *port, const struct lb_node *node, void *arg,
    struct lb_err *err)
{
	(void)port;
	return lb_err_set(err, -EBUSY, "node %s is %s", node->name,
	    (const char *)arg);
}

/* Moving a port between nodes, and deletes that a check refuses. */
static void
test_port_update_delete(void **state)
{
	struct fixture *f = *state;
	struct lb_port *got = NULL;
	struct lb_port_query q = { 0 };
	struct lb_port_list list;
	struct lb_err err = { "" };
	char a[LB_UUID_LEN + 1], b[LB_UUID_LEN + 1], p1[LB_UUID_LEN + 1];
	char nobody[] = "00000000-0000-0000-0000-000000000000";

	create(f->store, "ua", a);
	create(f->store, "ub", b);
	add_port(f->store, a, "52:54:00:00:00:0a", p1);
	add_port(f->store, a, "52:54:00:00:00:0b", NULL);

	assert_int_equal(lb_store_port_update(f->store, p1, port_move, b,
	    &got, &err), 0);
	assert_string_equal(got->node_uuid, b);
	assert_non_null(got->updated_at);
	lb_port_free(got);
	got = NULL;
	q.node_uuid = b;
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0]->uuid, p1);
	lb_port_list_release(&list);
	/* Onto a node that does not exist: refused, nothing changed. */
	assert_int_equal(lb_store_port_update(f->store, p1, port_move, nobody,
	    NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "Node "
	    "00000000-0000-0000-0000-000000000000 could not be found.");
	assert_int_equal(lb_store_port_get(f->store, p1, &got, &err), 0);
	assert_string_equal(got->node_uuid, b);
	lb_port_free(got);

	assert_int_equal(lb_store_port_get(f->store, "not-a-uuid", &got,
	    &err), -ENOENT);
	assert_string_equal(err.msg, "Port not-a-uuid could not be found.");
	assert_int_equal(lb_store_port_get(f->store, nobody, &got, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "Port "
	    "00000000-0000-0000-0000-000000000000 could not be found.");
	assert_int_equal(lb_store_port_delete(f->store, nobody, NULL, NULL,
	    &err), -ENOENT);

	/* A refused delete keeps the port; an allowed one removes it. */
	assert_int_equal(lb_store_port_delete(f->store, p1, port_refuse,
	    "busy", &err), -EBUSY);
	assert_string_equal(err.msg, "node ub is busy");
	assert_int_equal(lb_store_port_get(f->store, p1, &got, &err), 0);
	lb_port_free(got);
	assert_int_equal(lb_store_port_delete(f->store, p1, NULL, NULL, &err),
	    0);
	assert_int_equal(lb_store_port_get(f->store, p1, &got, &err),
	    -ENOENT);

	/* A refused node delete keeps the node and its ports. */
	assert_int_equal(lb_store_node_delete(f->store, "ua", refuse, "held",
	    &err), -EBUSY);
	assert_string_equal(err.msg, "node ua is held");
	q.node_uuid = a;
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	lb_port_list_release(&list);
	assert_int_equal(lb_store_node_delete(f->store, "ua", NULL, NULL,
	    &err), 0);
	assert_int_equal(lb_store_port_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 0);
	lb_port_list_release(&list);
	assert_int_equal(lb_store_node_delete(f->store, "ua", NULL, NULL,
	    &err), -ENOENT);
	assert_string_equal(err.msg, "Node ua could not be found.");
}

/* Node list filters, each narrowing to the rows it names. */
static void
test_node_list_filters(void **state)
{
	struct fixture *f = *state;
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	struct lb_node_list list;
	struct lb_err err = { "" };
	struct lb_node *n;

	create(f->store, "plain", NULL);
	n = new_node("busy");
	n->maintenance = true;
	n->reservation = strdup("host-a");
	n->instance_uuid = strdup("11111111-1111-1111-1111-111111111111");
	n->owner = strdup("alice");
	assert_int_equal(lb_store_node_create(f->store, n, &err), 0);
	lb_node_free(n);

	q.maintenance = 1;
	assert_int_equal(lb_store_node_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0]->name, "busy");
	lb_node_list_release(&list);
	q.maintenance = 0;
	q.associated = 0;
	q.reservation = "";
	assert_int_equal(lb_store_node_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0]->name, "plain");
	lb_node_list_release(&list);
	q = (struct lb_node_query){ .maintenance = -1, .associated = 1,
	    .retired = 0, .reservation = "host-a", .owner = "alice" };
	assert_int_equal(lb_store_node_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0]->name, "busy");
	lb_node_list_release(&list);
	q.owner = "bob";
	assert_int_equal(lb_store_node_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 0);
	lb_node_list_release(&list);

	/* description_contains: ASCII case ignored, '\\' a plain byte */
	n = new_node("described");
	n->description = strdup("Rack 7 C:\\disk");
	assert_int_equal(lb_store_node_create(f->store, n, &err), 0);
	lb_node_free(n);
	q = (struct lb_node_query){ .maintenance = -1, .associated = -1,
	    .retired = -1, .description_contains = "rACK_7 c:\\D" };
	assert_int_equal(lb_store_node_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0]->name, "described");
	lb_node_list_release(&list);
	q.description_contains = "c:\\\\d";
	assert_int_equal(lb_store_node_list(f->store, &q, &list, &err), 0);
	assert_int_equal(list.n, 0);
	lb_node_list_release(&list);
}

#define WRITERS 4
#define ROUNDS 50

struct writer {
	struct lb_store *store;
	const char *uuid;
};

static int
bump(struct lb_node *node, void *arg, struct lb_err *err)
{
	json_t *v = json_object_get(node->extra, "count");

	(void)arg;
	(void)err;
	json_object_set_new(node->extra, "count",
	    json_integer(json_integer_value(v) + 1));
	return 0;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct lb_err err = { "" };

	for (int i = 0; i < ROUNDS; i++) {
		if (lb_store_node_update(w->store, w->uuid, bump, NULL, NULL,
		    &err) < 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_concurrent_updates_lose_nothing(void **state)
{
	struct fixture *f = *state;
	struct writer w;
	pthread_t th[WRITERS];
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1];
	void *ret;

	create(f->store, "counter", uuid);
	w.store = f->store;
	w.uuid = uuid;
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w),
		    0);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(lb_store_node_get(f->store, uuid, &n, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(n->extra,
	    "count")), WRITERS * ROUNDS);
	lb_node_free(n);
}

/* PostgreSQL: two conductors (two stores) on one database, as above. */
static void
test_two_stores_lose_nothing(void **state)
{
	struct fixture *f = *state;
	struct writer w[2];
	pthread_t th[WRITERS];
	struct lb_store *other = NULL;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1];
	void *ret;

	if (!lb_test_db_is_pg())
		skip();		/* one SQLite file is one conductor's */
	create(f->store, "counter2", uuid);
	assert_int_equal(lb_store_open(f->url, &other, &err), 0);
	w[0] = (struct writer){ f->store, uuid };
	w[1] = (struct writer){ other, uuid };
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main,
		    &w[i % 2]), 0);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	lb_store_close(other);
	assert_int_equal(lb_store_node_get(f->store, uuid, &n, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(n->extra,
	    "count")), WRITERS * ROUNDS);
	lb_node_free(n);
}

struct opener {
	const char *url;
	int r;
	struct lb_store *store;
};

static void *
opener_main(void *arg)
{
	struct opener *o = arg;
	struct lb_err err = { "" };

	o->r = lb_store_open(o->url, &o->store, &err);
	return NULL;
}

/* PostgreSQL: conductors starting at once on an empty database migrate it
 * once (the advisory lock), and every one of them opens. */
static void
test_concurrent_first_open(void **state)
{
	struct fixture *f = *state;
	struct opener o[4];
	pthread_t th[4];

	if (!lb_test_db_is_pg())
		skip();
	lb_store_close(f->store);
	lb_test_db_url(f->url, sizeof(f->url), "");	/* empty again */
	for (int i = 0; i < 4; i++) {
		o[i] = (struct opener){ f->url, 1, NULL };
		assert_int_equal(pthread_create(&th[i], NULL, opener_main,
		    &o[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(o[i].r, 0);
		if (i > 0)
			lb_store_close(o[i].store);
	}
	f->store = o[0].store;
	create(f->store, "after", NULL);
}

static void
test_bad_url(void **state)
{
	struct lb_store *s = NULL;
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(lb_store_open("mysql://x", &s, &err), -EINVAL);
#ifdef LB_HAVE_POSTGRESQL
	/* no server there: unavailable, and the password is not shown */
	assert_int_equal(lb_store_open("postgresql://lb:s3cret@/x?host="
	    "/nonexistent-dir", &s, &err), -EAGAIN);
	assert_string_equal(err.msg, "database unavailable, please retry "
	    "(connecting)");
#else
	assert_int_equal(lb_store_open("postgresql://db/x", &s, &err),
	    -ENOTSUP);
#endif
	assert_int_equal(lb_store_open("sqlite:///nonexistent-dir/x/db", &s,
	    &err), -EIO);
}

/*
 * PostgreSQL: the server ends the store's connection (a restart, a network
 * cut).  The call that finds out is a 503-style -EAGAIN "database
 * unavailable", never a crash, and the next one reconnects.
 */
#ifdef LB_HAVE_POSTGRESQL
static void
test_pg_reconnect(void **state)
{
	struct fixture *f = *state;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };
	char uuid[LB_UUID_LEN + 1];
	PGconn *side;
	PGresult *res;
	int r;

	if (!lb_test_db_is_pg())
		skip();
	create(f->store, "re", uuid);
	side = PQconnectdb(f->url);
	res = PQexec(side, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE application_name = 'lifeboatd'");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	PQclear(res);
	PQfinish(side);
	r = lb_store_node_get(f->store, "re", &n, &err);
	if (r < 0) {
		assert_int_equal(r, -EAGAIN);
		assert_non_null(strstr(err.msg, "database unavailable"));
		r = lb_store_node_get(f->store, "re", &n, &err);
	}
	assert_int_equal(r, 0);
	assert_string_equal(n->uuid, uuid);
	lb_node_free(n);
}
#endif

/* ---- connections: threads that come and go ---- */

struct reader {
	struct lb_store *store;
	const char *uuid;
	bool release;		/* give the connection back explicitly */
	pthread_barrier_t *together;
	int r;
};

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	struct lb_node *n = NULL;
	struct lb_err err = { "" };

	rd->r = lb_store_node_get(rd->store, rd->uuid, &n, &err);
	lb_node_free(n);
	if (rd->together != NULL)
		pthread_barrier_wait(rd->together);
	if (rd->release)
		lb_store_thread_release(rd->store);
	return NULL;
}

static int
count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/*
 * The API runs each slow request on a thread of its own: 2,000 of them, one
 * after another, leave no connection (nor fd) behind, whether they give
 * their connection back or just exit; 16 at once open 16, of which at most
 * 8 stay idle afterwards.
 */
static void
test_connections_bounded_and_reused(void **state)
{
	struct fixture *f = *state;
	char uuid[LB_UUID_LEN + 1];
	struct reader rd[16];
	pthread_t t[16];
	pthread_barrier_t together;
	int fds;

	create(f->store, "conn", uuid);
	assert_int_equal(lb_store_open_connections(f->store), 1);
	fds = count_fds();
	for (int i = 0; i < 2000; i++) {
		rd[0] = (struct reader){ f->store, uuid, i % 2 == 0, NULL, -1 };
		assert_int_equal(pthread_create(&t[0], NULL, reader_main,
		    &rd[0]), 0);
		assert_int_equal(pthread_join(t[0], NULL), 0);
		assert_int_equal(rd[0].r, 0);
		assert_true(lb_store_open_connections(f->store) <= 2);
	}
	/* one more db and wal; PostgreSQL: one socket */
	assert_int_equal(count_fds(), fds + (lb_test_db_is_pg() ? 1 : 2));
	/*
	 * Bursts of 16 at once: each may open new connections, but the
	 * store keeps at most 8 idle, and fds do not grow from one burst to
	 * the next (SQLite may hold a closed connection's fds for reuse
	 * while others lock the file).
	 */
	for (int burst = 0; burst < 20; burst++) {
		pthread_barrier_init(&together, NULL, 16);
		for (int i = 0; i < 16; i++) {
			rd[i] = (struct reader){ f->store, uuid, i % 2 == 0,
			    &together, -1 };
			assert_int_equal(pthread_create(&t[i], NULL,
			    reader_main, &rd[i]), 0);
		}
		for (int i = 0; i < 16; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			assert_int_equal(rd[i].r, 0);
		}
		pthread_barrier_destroy(&together);
		/* This thread's own connection, and at most 8 idle ones. */
		assert_true(lb_store_open_connections(f->store) <= 9);
		if (burst == 0)
			fds = count_fds();
		assert_int_equal(count_fds(), fds);
	}
	/* The main thread's connection works after all that. */
	lb_store_thread_release(f->store);
	create(f->store, "conn2", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get_reopen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_uniqueness, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit_rolls_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_rolls_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_paging_and_sorting,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sort_tristate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_update_unchanged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_list_filters_paging,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_update_delete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_node_list_filters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_updates_lose_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_stores_lose_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_first_open, setup, teardown),
		cmocka_unit_test(test_bad_url),
#ifdef LB_HAVE_POSTGRESQL
		cmocka_unit_test_setup_teardown(test_pg_reconnect, setup,
		    teardown),
#endif
		cmocka_unit_test_setup_teardown(
		    test_connections_bounded_and_reused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
