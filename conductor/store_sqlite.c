/*
 * store_sqlite.c - the embedded store: one SQLite file in WAL mode, behind
 * the lb_store_ops vtable.  This file says what nodes and ports are to the
 * generic CRUD (store_sqlite_crud.c) - tables, lookups, list filters, the
 * port's node, Ironic's uniqueness messages - and opens and closes the
 * store (store.c picks the backend for a URL).  Any thread.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/store_sqlite.h"
#include "conductor/util/banned.h"

static void *
node_new(void)
{
	return lb_node_new();
}

static void
node_free(void *node)
{
	lb_node_free(node);
}

static void *
port_new(void)
{
	return lb_port_new();
}

static void
port_free(void *port)
{
	lb_port_free(port);
}

static const struct sq_unique node_unique[] = {
	{ ".name", "name", "A node with name %s already exists." },
	{ ".instance_uuid", "instance_uuid",
	    "Instance %s is already associated with a node." },
};

static const struct sq_unique port_unique[] = {
	{ ".address", "address", "A port with MAC address %s already exists." },
};

static const struct sq_table nodes = {
	.index = 0,
	.type = &lb_node_type,
	.table = "nodes",
	.from = "nodes",
	.alias = "",
	.kind = "Node",
	.name_column = "name",
	.id_offset = offsetof(struct lb_node, id),
	.created_offset = offsetof(struct lb_node, created_at),
	.updated_offset = offsetof(struct lb_node, updated_at),
	.unique = node_unique,
	.nunique = sizeof(node_unique) / sizeof(node_unique[0]),
	.rec_new = node_new,
	.rec_free = node_free,
};

static const struct sq_table ports = {
	.index = 1,
	.type = &lb_port_type,
	.table = "ports",
	.from = "ports p JOIN nodes n ON n.id = p.node_id",
	.alias = "p.",
	.kind = "Port",
	.not_found_normalized = true,
	.parent = &nodes,
	.parent_column = "node_id",
	.parent_uuid_col = "n.uuid",
	.id_offset = offsetof(struct lb_port, id),
	.parent_id_offset = offsetof(struct lb_port, node_id),
	.parent_uuid_offset = offsetof(struct lb_port, node_uuid),
	.created_offset = offsetof(struct lb_port, created_at),
	.updated_offset = offsetof(struct lb_port, updated_at),
	.unique = port_unique,
	.nunique = sizeof(port_unique) / sizeof(port_unique[0]),
	.rec_new = port_new,
	.rec_free = port_free,
};

static const struct sq_table *const tables[SQ_TABLE_COUNT] = {
	&nodes, &ports,
};

#define NODE_Q(m) offsetof(struct lb_node_query, m)
#define PORT_Q(m) offsetof(struct lb_port_query, m)

/* The node list's query members, in the order their conditions go. */
static const struct sq_filter node_filters[] = {
	{ SQ_F_EQ, NODE_Q(provision_state), "provision_state = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(driver), "driver = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(resource_class), "resource_class = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(conductor_group), "conductor_group = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(owner), "owner = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(lessee), "lessee = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(fault), "fault = ?", NULL, NULL },
	{ SQ_F_EQ, NODE_Q(instance_uuid), "instance_uuid = ?", NULL, NULL },
	/*
	 * Ironic's LIKE: '%' and '_' in the value stay wildcards; SQLite's
	 * LIKE ignores case and escapes nothing; PostgreSQL's needs ILIKE and
	 * its default escape, the backslash, doubled.
	 */
	{ SQ_F_EQ, NODE_Q(description_contains),
	    "description LIKE '%' || ? || '%'", NULL,
	    "description ILIKE '%' || replace(?, '\\', '\\\\') || '%'" },
	{ SQ_F_EQ, NODE_Q(project), "? IN (owner, lessee)", NULL, NULL },
	{ SQ_F_FLAG, NODE_Q(maintenance), "maintenance = ?", NULL, NULL },
	{ SQ_F_FLAG, NODE_Q(retired), "retired = ?", NULL, NULL },
	{ SQ_F_SET, NODE_Q(associated), "instance_uuid IS NOT NULL",
	    "instance_uuid IS NULL", NULL },
	{ SQ_F_EQ_OR_NULL, NODE_Q(reservation), "reservation = ?",
	    "reservation IS NULL", NULL },
};

static const struct sq_filter port_filters[] = {
	{ SQ_F_EQ, PORT_Q(address), "p.address = ?", NULL, NULL },
	{ SQ_F_EQ, PORT_Q(node_uuid), "n.uuid = ?", NULL, NULL },
};

#define NODE_FILTERS (sizeof(node_filters) / sizeof(node_filters[0]))
#define PORT_FILTERS (sizeof(port_filters) / sizeof(port_filters[0]))
_Static_assert(NODE_FILTERS <= SQ_FILTER_MAX, "node filters");
_Static_assert(PORT_FILTERS <= SQ_FILTER_MAX, "port filters");

/* The same tables and filters for the PostgreSQL store (store_pg.c). */
const struct sq_table *const sq_nodes = &nodes;
const struct sq_table *const sq_ports = &ports;
const struct sq_filter *const sq_node_filters = node_filters;
const struct sq_filter *const sq_port_filters = port_filters;
const size_t sq_node_nfilters = NODE_FILTERS;
const size_t sq_port_nfilters = PORT_FILTERS;

/* The typed callbacks of store.h, called by the generic CRUD. */
int
sq_call_node(void *rec, const void *parent, void *arg, struct lb_err *err)
{
	struct sq_node_call *c = arg;

	(void)parent;
	return c->fn(rec, c->arg, err);
}

int
sq_call_port(void *rec, const void *parent, void *arg, struct lb_err *err)
{
	struct sq_port_call *c = arg;

	return c->fn(rec, parent, c->arg, err);
}

/* ---- nodes ---- */

static int
sqlite_node_get(struct lb_store *s, const char *ident, struct lb_node **ret,
    struct lb_err *err)
{
	void *rec;
	int r;

	r = sq_get(sq_store(s), &nodes, ident, &rec, err);
	if (r == 0)
		*ret = rec;
	return r;
}

static int
sqlite_node_list(struct lb_store *s, const struct lb_node_query *q,
    struct lb_node_list *ret, struct lb_err *err)
{
	struct sq_page page = { q->sort_key, q->sort_desc, q->marker,
	    q->limit };
	struct sq_rows rows;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = sq_list(sq_store(s), &nodes, node_filters, NODE_FILTERS, q, &page,
	    &rows, err);
	if (r < 0)
		return r;
	/* Stored back as node pointers: the array's type is theirs now. */
	for (size_t i = 0; i < rows.n; i++)
		((struct lb_node **)rows.items)[i] = rows.items[i];
	*ret = (struct lb_node_list){ (struct lb_node **)rows.items, rows.n };
	return 0;
}

static int
sqlite_node_create(struct lb_store *s, struct lb_node *node,
    struct lb_err *err)
{
	return sq_create(sq_store(s), &nodes, node, err);
}

static int
sqlite_node_update(struct lb_store *s, const char *ident, lb_node_update_fn fn,
    void *arg, struct lb_node **ret, struct lb_err *err)
{
	struct sq_node_call call = { fn, arg };
	void *rec = NULL;
	int r;

	r = sq_update(sq_store(s), &nodes, ident, sq_call_node, &call,
	    ret != NULL ? &rec : NULL, err);
	if (r == 0 && ret != NULL)
		*ret = rec;
	return r;
}

static int
sqlite_node_delete(struct lb_store *s, const char *ident,
    lb_node_update_fn check, void *arg, struct lb_err *err)
{
	struct sq_node_call call = { check, arg };

	return sq_delete(sq_store(s), &nodes, ident, check ? sq_call_node : NULL,
	    &call, err);
}

/* ---- ports ---- */

static int
sqlite_port_get(struct lb_store *s, const char *uuid, struct lb_port **ret,
    struct lb_err *err)
{
	void *rec;
	int r;

	r = sq_get(sq_store(s), &ports, uuid, &rec, err);
	if (r == 0)
		*ret = rec;
	return r;
}

static int
sqlite_port_list(struct lb_store *s, const struct lb_port_query *q,
    struct lb_port_list *ret, struct lb_err *err)
{
	struct sq_page page = { q->sort_key, q->sort_desc, q->marker,
	    q->limit };
	struct sq_rows rows;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = sq_list(sq_store(s), &ports, port_filters, PORT_FILTERS, q, &page,
	    &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rows.n; i++)
		((struct lb_port **)rows.items)[i] = rows.items[i];
	*ret = (struct lb_port_list){ (struct lb_port **)rows.items, rows.n };
	return 0;
}

static int
sqlite_port_create(struct lb_store *s, struct lb_port *port,
    struct lb_err *err)
{
	return sq_create(sq_store(s), &ports, port, err);
}

static int
sqlite_port_update(struct lb_store *s, const char *uuid, lb_port_update_fn fn,
    void *arg, struct lb_port **ret, struct lb_err *err)
{
	struct sq_port_call call = { fn, arg };
	void *rec = NULL;
	int r;

	r = sq_update(sq_store(s), &ports, uuid, sq_call_port, &call,
	    ret != NULL ? &rec : NULL, err);
	if (r == 0 && ret != NULL)
		*ret = rec;
	return r;
}

static int
sqlite_port_delete(struct lb_store *s, const char *uuid,
    lb_port_update_fn check, void *arg, struct lb_err *err)
{
	struct sq_port_call call = { check, arg };

	return sq_delete(sq_store(s), &ports, uuid, check ? sq_call_port : NULL,
	    &call, err);
}

/* ---- open and close ---- */

static void
sqlite_free(struct store_sqlite *st)
{
	for (size_t i = 0; i < SQ_TABLE_COUNT; i++)
		sq_table_sql_free(st, tables[i]);
	free(st->path);
	free(st);
}

static void
sqlite_close(struct lb_store *s)
{
	if (s == NULL)
		return;
	sq_pool_release(sq_store(s));
	sqlite_free(sq_store(s));
}

static int
sqlite_open(const struct lb_db_url *url, struct lb_store **ret,
    struct lb_err *err);

const struct lb_store_ops lb_store_sqlite_ops = {
	.kind = LB_DB_SQLITE,
	.open = sqlite_open,
	.close = sqlite_close,
	.thread_release = sq_thread_release,
	.open_connections = sq_open_connections,
	.node_get = sqlite_node_get,
	.node_list = sqlite_node_list,
	.node_create = sqlite_node_create,
	.node_update = sqlite_node_update,
	.node_delete = sqlite_node_delete,
	.port_get = sqlite_port_get,
	.port_list = sqlite_port_list,
	.port_create = sqlite_port_create,
	.port_update = sqlite_port_update,
	.port_delete = sqlite_port_delete,
	.conductor_register = sq_conductor_register,
	.cluster_secret = sq_cluster_secret,
	.conductor_touch = sq_conductor_touch,
	.conductor_get = sq_conductor_get,
	.conductor_list = sq_conductor_list,
	.node_counts = sq_node_counts,
	.history_add = sq_history_add,
	.history_list = sq_history_list,
	.history_get = sq_history_get,
	.history_delete = sq_history_delete,
	.history_purge = sq_history_purge,
};

static int
sqlite_open(const struct lb_db_url *url, struct lb_store **ret,
    struct lb_err *err)
{
	struct store_sqlite *st;
	sqlite3 *db;
	int r = 0;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	st->base.ops = &lb_store_sqlite_ops;
	st->path = strdup(url->path);
	for (size_t i = 0; i < SQ_TABLE_COUNT && r == 0; i++)
		r = sq_table_sql_build(st, tables[i]);
	if (st->path == NULL || r < 0 || sq_pool_init(st) < 0) {
		sqlite_free(st);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	r = sq_get_db(st, &db, err);
	if (r == 0)
		r = sq_migrate(db, err);
	if (r < 0) {
		sqlite_close(&st->base);
		return r;
	}
	*ret = &st->base;
	return 0;
}

int
lb_store_node_each(struct lb_store *s, const struct lb_node_query *q,
    lb_node_each_fn fn, void *arg, struct lb_err *err)
{
	struct lb_node_query pq = *q;
	struct lb_node_list list;
	char marker[LB_UUID_LEN + 1];
	size_t got;
	int r;

	pq.limit = LB_STORE_PAGE;
	pq.marker = NULL;
	do {
		r = lb_store_node_list(s, &pq, &list, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < list.n && r == 0; i++)
			r = fn(list.items[i], arg);
		got = list.n;
		if (got > 0)
			snprintf(marker, sizeof(marker), "%s",
			    list.items[got - 1]->uuid);
		pq.marker = marker;
		lb_node_list_release(&list);
	} while (r == 0 && got == LB_STORE_PAGE);
	return r < 0 ? r : 0;
}

void
lb_node_list_release(struct lb_node_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lb_node_free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

void
lb_port_list_release(struct lb_port_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		lb_port_free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}
