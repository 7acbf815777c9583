/*
 * dburl.c - parses `[database] connection` for the configuration check and
 * the store alike (see dburl.h): sqlite:///PATH and postgresql://.  Any
 * thread; no I/O.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/dburl.h"

#include "conductor/util/banned.h"

#ifdef LB_HAVE_POSTGRESQL
#define LB_DB_BUILT_IN "sqlite, postgresql"
#else
#define LB_DB_BUILT_IN "sqlite"
#endif

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

/* Decodes %XX into out (size bytes); -EINVAL on a bad escape or overflow. */
static int
pct_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			if (!isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -EINVAL;
			c = (unsigned int)strtoul((char[]){ s[i + 1], s[i + 2],
			    '\0' }, NULL, 16);
			i += 2;
		}
		if (c == '\0' || !isprint(c) || o + 1 >= size)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int
pg_port(const char *s, size_t n, char *out, struct lb_err *err)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			goto bad;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		goto bad;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
bad:
	return lb_err_set(err, -EINVAL, "the PostgreSQL port must be a "
	    "number from 1 to 65535");
}

/* One ?key=value of a PostgreSQL URL: host (a socket directory) or port. */
static int
pg_param(const char *s, size_t n, struct lb_db_url *ret, struct lb_err *err)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq != NULL ? (size_t)(eq - s) : n;

	if (eq == NULL)
		return lb_err_set(err, -EINVAL, "a PostgreSQL URL parameter "
		    "needs a value");
	if (klen == 4 && strncmp(s, "host", 4) == 0) {
		if (pct_decode(eq + 1, n - klen - 1, ret->host,
		    sizeof(ret->host)) < 0 || ret->host[0] == '\0')
			return lb_err_set(err, -EINVAL, "the PostgreSQL host "
			    "parameter is not usable");
		return 0;
	}
	if (klen == 4 && strncmp(s, "port", 4) == 0)
		return pg_port(eq + 1, n - klen - 1, ret->port, err);
	return lb_err_set(err, -EINVAL, "PostgreSQL URL parameters other than "
	    "host and port are not supported");
}

/* USER[:PASSWORD]@ (rest up to the '@'), decoded. */
static int
pg_userinfo(const char *s, size_t n, struct lb_db_url *ret,
    struct lb_err *err)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon != NULL ? (size_t)(colon - s) : n;

	if (pct_decode(s, ulen, ret->user, sizeof(ret->user)) < 0)
		return lb_err_set(err, -EINVAL, "the PostgreSQL user name is "
		    "not usable");
	if (colon != NULL && pct_decode(colon + 1, n - ulen - 1,
	    ret->password, sizeof(ret->password)) < 0)
		return lb_err_set(err, -EINVAL, "the PostgreSQL password is "
		    "not usable (longer than 255 bytes, or a bad %%XX)");
	return 0;
}

/* HOST[:PORT], a [v6] address bracketed. */
static int
pg_hostport(const char *s, size_t n, struct lb_db_url *ret,
    struct lb_err *err)
{
	const char *colon;
	size_t hlen;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL)
			return lb_err_set(err, -EINVAL, "the PostgreSQL host "
			    "is not usable");
		hlen = (size_t)(close - s) - 1;
		if (hlen == 0 || hlen >= sizeof(ret->host))
			return lb_err_set(err, -EINVAL, "the PostgreSQL host "
			    "is not usable");
		memcpy(ret->host, s + 1, hlen);
		ret->host[hlen] = '\0';
		colon = close + 1 < s + n ? close + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return lb_err_set(err, -EINVAL, "the PostgreSQL host "
			    "is not usable");
	} else {
		colon = memchr(s, ':', n);
		hlen = colon != NULL ? (size_t)(colon - s) : n;
		if (pct_decode(s, hlen, ret->host, sizeof(ret->host)) < 0)
			return lb_err_set(err, -EINVAL, "the PostgreSQL host "
			    "is not usable");
	}
	if (colon == NULL)
		return 0;
	return pg_port(colon + 1, (size_t)(s + n - colon - 1), ret->port, err);
}

static int
parse_pg(const char *rest, struct lb_db_url *ret, struct lb_err *err)
{
	struct lb_db_url u = { .kind = LB_DB_POSTGRESQL };
	const char *slash = strchr(rest, '/'), *q, *at;
	int r;

	if (strchr(rest, '#') != NULL)
		return lb_err_set(err, -EINVAL, "a PostgreSQL URL takes no "
		    "#fragment");
	if (slash == NULL)
		return lb_err_set(err, -EINVAL, "a PostgreSQL URL names a "
		    "database: postgresql://USER:PASSWORD@HOST[:PORT]/DB");
	at = memrchr(rest, '@', (size_t)(slash - rest));
	if (at != NULL) {
		r = pg_userinfo(rest, (size_t)(at - rest), &u, err);
		if (r < 0)
			return r;
		rest = at + 1;
	}
	r = pg_hostport(rest, (size_t)(slash - rest), &u, err);
	if (r < 0)
		return r;
	q = strchr(slash, '?');
	if (pct_decode(slash + 1, q != NULL ? (size_t)(q - slash - 1) :
	    strlen(slash + 1), u.dbname, sizeof(u.dbname)) < 0 ||
	    u.dbname[0] == '\0' || strchr(u.dbname, '/') != NULL)
		return lb_err_set(err, -EINVAL, "a PostgreSQL URL names a "
		    "database: postgresql://USER:PASSWORD@HOST[:PORT]/DB");
	while (q != NULL) {
		const char *amp = strchr(q + 1, '&');
		size_t n = amp != NULL ? (size_t)(amp - q - 1) : strlen(q + 1);

		r = pg_param(q + 1, n, &u, err);
		if (r < 0)
			return r;
		q = amp;
	}
#ifndef LB_HAVE_POSTGRESQL
	return lb_err_set(err, -ENOTSUP, "the PostgreSQL store is known but "
	    "not built into this lifeboatd");
#else
	*ret = u;
	return 0;
#endif
}

int
lb_db_url_parse(const char *url, struct lb_db_url *ret, struct lb_err *err)
{
	const char *rest;

	if (url == NULL || url[0] == '\0')
		return lb_err_set(err, -EINVAL, "no database URL");
	if ((rest = after_scheme(url, "sqlite")) != NULL)
		return parse_sqlite(rest, ret, err);
	if ((rest = after_scheme(url, "postgresql")) != NULL ||
	    (rest = after_scheme(url, "postgresql+psycopg2")) != NULL)
		return parse_pg(rest, ret, err);
	return lb_err_set(err, -EINVAL, "not a sqlite:///PATH URL (the "
	    "stores built in: %s)", LB_DB_BUILT_IN);
}
