/*
 * store.c - the store front: lb_store_open() picks the backend built in for
 * a [database] connection URL (store_sqlite.c, store_pg.c) and
 * lb_store_close() closes it.  Any thread.
 */
#include <string.h>

#include "conductor/store_sqlite.h"
#ifdef LB_HAVE_POSTGRESQL
#include "conductor/store_pg.h"
#endif
#include "conductor/util/log.h"
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
		if (store_backends[i]->kind != parsed.kind)
			continue;
		r = store_backends[i]->open(&parsed, ret, err);
		/* Where the state is; never the password. */
		if (r == 0 && parsed.kind == LB_DB_SQLITE)
			log_info("store: SQLite file %s", parsed.path);
		else if (r == 0)
			log_info("store: PostgreSQL database %s on %s%s%s as "
			    "%s", parsed.dbname, parsed.host[0] ? parsed.host :
			    "the default host", parsed.port[0] ? " port " : "",
			    parsed.port, parsed.user[0] ? parsed.user :
			    "the default user");
		explicit_bzero(parsed.password, sizeof(parsed.password));
		return r;
	}
	explicit_bzero(parsed.password, sizeof(parsed.password));
	return lb_err_set(err, -ENOTSUP, "no store is built in for this "
	    "database URL");
}

void
lb_store_close(struct lb_store *store)
{
	if (store != NULL)
		store->ops->close(store);
}
