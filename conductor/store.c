/*
 * store.c - the store front: lb_store_open() picks the backend built in for
 * a [database] connection URL (store_sqlite.c, store_pg.c) and
 * lb_store_close() closes it.  Any thread.
 */
#include "conductor/store_sqlite.h"
#ifdef LB_HAVE_POSTGRESQL
#include "conductor/store_pg.h"
#endif
#include "conductor/util/banned.h"

static const struct lb_store_ops *const store_backends[] = {
	&lb_store_sqlite_ops,
#ifdef LB_HAVE_POSTGRESQL
	&lb_store_pg_ops,
#endif
};

int
lb_store_open(const char *url, struct lb_store **ret, struct lb_err *err)
{
	struct lb_db_url parsed;
	int r;

	/* The parser --check uses too, so both refuse the same URLs. */
	r = lb_db_url_parse(url, &parsed, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(store_backends) /
	    sizeof(store_backends[0]); i++) {
		if (store_backends[i]->kind == parsed.kind)
			return store_backends[i]->open(&parsed, ret, err);
	}
	return lb_err_set(err, -ENOTSUP, "no store is built in for this "
	    "database URL");
}

void
lb_store_close(struct lb_store *store)
{
	if (store != NULL)
		store->ops->close(store);
}
