/*
 * dburl.c - parses `[database] connection` for the configuration check and
 * the store alike (see dburl.h).  Any thread; no I/O.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/dburl.h"

#include "conductor/util/banned.h"

static const char *
after_scheme(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);

	if (strncasecmp(url, scheme, n) != 0 || strncmp(url + n, "://", 3))
		return NULL;
	return url + n + 3;
}

static int
parse_sqlite(const char *rest, struct lb_db_url *ret, struct lb_err *err)
{
	const char *last;
	size_t len;

	if (rest[0] != '/')
		return lb_err_set(err, -EINVAL, "a SQLite URL names a file: "
		    "sqlite:///PATH (no host)");
	while (rest[1] == '/')
		rest++;
	for (const char *c = rest; *c != '\0'; c++) {
		if (!isprint((unsigned char)*c))
			return lb_err_set(err, -EINVAL, "the SQLite path "
			    "holds a control character");
		if (*c == '?' || *c == '#')
			return lb_err_set(err, -EINVAL, "SQLite URL "
			    "parameters are not supported");
	}
	len = strlen(rest);
	if (len <= 1 || rest[len - 1] == '/')
		return lb_err_set(err, -EINVAL, "the SQLite path must name a "
		    "file, not a directory");
	if (len >= sizeof(ret->path))
		return lb_err_set(err, -EINVAL, "the SQLite path is longer "
		    "than %d bytes", LB_DB_PATH_MAX - 1);
	last = strrchr(rest, '/') + 1;
	if (strcmp(last, ":memory:") == 0)
		return lb_err_set(err, -EINVAL, "an in-memory database would "
		    "lose every node at restart; name a file");
	if (strcmp(last, ".") == 0 || strcmp(last, "..") == 0)
		return lb_err_set(err, -EINVAL, "the SQLite path must name a "
		    "file, not a directory");
	ret->kind = LB_DB_SQLITE;
	memcpy(ret->path, rest, len + 1);
	return 0;
}

int
lb_db_url_parse(const char *url, struct lb_db_url *ret, struct lb_err *err)
{
	const char *rest;

	if (url == NULL || url[0] == '\0')
		return lb_err_set(err, -EINVAL, "no database URL");
	if ((rest = after_scheme(url, "sqlite")) != NULL)
		return parse_sqlite(rest, ret, err);
	if (after_scheme(url, "postgresql") != NULL ||
	    after_scheme(url, "postgresql+psycopg2") != NULL)
		return lb_err_set(err, -ENOTSUP, "the PostgreSQL store is "
		    "known but not built into this lifeboatd");
	return lb_err_set(err, -EINVAL, "not a sqlite:///PATH URL (the "
	    "stores built in: sqlite)");
}
