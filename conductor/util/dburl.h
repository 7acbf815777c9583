/*
 * dburl.h - the one parser of `[database] connection`.  The configuration
 * check and the store both go through it, so `lifeboatd --check` refuses
 * exactly the URLs that start-up would.  Any thread; no I/O.
 */
#ifndef LB_DBURL_H
#define LB_DBURL_H

#include "conductor/util/err.h"

enum lb_db_kind {
	LB_DB_SQLITE,
	LB_DB_POSTGRESQL,
};

#define LB_DB_PATH_MAX 4096

struct lb_db_url {
	enum lb_db_kind kind;
	char path[LB_DB_PATH_MAX];	/* SQLite: absolute file path */
	/* PostgreSQL: "" = libpq's default; host may be a socket directory */
	char host[1024];
	char port[8];
	char user[128];
	char password[256];		/* never in a message or a log line */
	char dbname[128];
};

/*
 * Parses 'url' into 'ret' (written only on success).  SQLite URLs are
 * sqlite:///PATH, where PATH is absolute however many slashes lead it
 * (sqlite:////var/x.db, Ironic's spelling, and sqlite:///var/x.db are the
 * same file); in-memory databases, query parameters and a directory are
 * refused.  PostgreSQL URLs are postgresql://[USER[:PASSWORD]@][HOST][:PORT]/DB
 * (postgresql+psycopg2:// too, Ironic's spelling) with ?host=/socket/dir
 * and ?port=N as the only parameters, %XX decoded.  Returns -EINVAL for a malformed URL and -ENOTSUP for a store that
 * is known but not built in.  Messages never repeat the URL, which may hold
 * a password.
 */
int lb_db_url_parse(const char *url, struct lb_db_url *ret,
    struct lb_err *err);

#endif
