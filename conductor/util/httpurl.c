/*
 * httpurl.c - parses the URLs of the HTTP boot root for the configuration
 * check and the HTTP boot server alike (see httpurl.h).  Any thread; no
 * I/O.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/httpurl.h"

#include "conductor/util/banned.h"

static bool
is_host_name(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.')
			return false;
	return true;
}

/* "[v6]" or "v4" or "name" of 'auth' up to 'end' (the port's colon or the
 * end of the authority): the host, checked. */
static int
parse_host(const char *h, size_t n, struct lb_http_url *u,
    struct lb_err *err)
{
	unsigned char addr[16];

	if (n == 0)
		return lb_err_set(err, -EINVAL, "has no host");
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']')
			return lb_err_set(err, -EINVAL, "has a bad [IPv6] host");
		snprintf(u->host, sizeof(u->host), "%.*s", (int)n - 2, h + 1);
		if (inet_pton(AF_INET6, u->host, addr) != 1)
			return lb_err_set(err, -EINVAL, "has a bad [IPv6] host");
		u->any = memcmp(addr, &in6addr_any, 16) == 0;
		return 0;
	}
	snprintf(u->host, sizeof(u->host), "%.*s", (int)n, h);
	if (inet_pton(AF_INET, u->host, addr) == 1) {
		u->any = memcmp(addr, "\0\0\0\0", 4) == 0;
		return 0;
	}
	if (strchr(u->host, ':') != NULL)
		return lb_err_set(err, -EINVAL, "has an IPv6 host without "
		    "[brackets]");
	if (!is_host_name(u->host, n) ||
	    strspn(u->host, "0123456789.") == n)
		return lb_err_set(err, -EINVAL, "has a bad host");
	u->is_name = true;
	u->any = true;
	return 0;
}

int
lb_http_url_parse(const char *url, struct lb_http_url *ret,
    struct lb_err *err)
{
	struct lb_http_url u = { .host = "" };
	const char *auth, *end, *colon, *p;
	unsigned long port = 80;
	size_t hlen;
	int r;

	if (strncasecmp(url, "https://", 8) == 0)
		return lb_err_set(err, -EINVAL, "is an https:// URL: lifeboatd "
		    "serves http_root itself, over plain http:// only");
	if (strncasecmp(url, "http://", 7) != 0)
		return lb_err_set(err, -EINVAL, "is not an http:// URL");
	if (strlen(url) > LB_HTTP_URL_MAX)
		return lb_err_set(err, -EINVAL, "is longer than %d bytes",
		    LB_HTTP_URL_MAX);
	for (p = url; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			return lb_err_set(err, -EINVAL, "holds a space or a "
			    "control character");
	auth = url + 7;
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', end - auth) != NULL)
		return lb_err_set(err, -EINVAL, "holds a user name: the HTTP "
		    "boot root takes no credentials");
	/* The port's colon: after "]" for IPv6, else the first one. */
	p = auth[0] == '[' ? memchr(auth, ']', end - auth) : auth;
	colon = p != NULL ? memchr(p, ':', end - p) : NULL;
	if (auth[0] != '[' && colon != NULL &&
	    memchr(colon + 1, ':', end - colon - 1) != NULL)
		colon = NULL;	/* an IPv6 address without brackets */
	hlen = (size_t)((colon != NULL ? colon : end) - auth);
	r = parse_host(auth, hlen, &u, err);
	if (r < 0)
		return r;
	if (colon != NULL) {
		size_t n = (size_t)(end - colon - 1);

		port = 0;
		if (n == 0 || n > 5 || strspn(colon + 1, "0123456789") < n)
			return lb_err_set(err, -EINVAL, "has a bad port");
		for (size_t i = 1; i <= n; i++)
			port = port * 10 + (unsigned long)(colon[i] - '0');
		if (port > 65535)
			return lb_err_set(err, -EINVAL, "has a bad port");
	}
	snprintf(u.port, sizeof(u.port), "%lu", port);
	if (end[strspn(end, "/")] != '\0')
		return lb_err_set(err, -EINVAL, "has a path, query or "
		    "fragment: lifeboatd serves http_root at the URL's root");
	*ret = u;
	return 0;
}

bool
lb_http_url_same_listener(const struct lb_http_url *a,
    const struct lb_http_url *b)
{
	unsigned char x[16], y[16];
	int fam = strchr(a->host, ':') != NULL ? AF_INET6 : AF_INET;

	if (strcmp(a->port, b->port) != 0)
		return false;
	if (a->any && b->any)
		return true;
	if (a->is_name || b->is_name)
		return false;
	return inet_pton(fam, a->host, x) == 1 &&
	    inet_pton(fam, b->host, y) == 1 &&
	    memcmp(x, y, fam == AF_INET6 ? 16 : 4) == 0;
}

bool
lb_http_url_clash(const struct lb_http_url *a, const struct lb_http_url *b)
{
	return strcmp(a->port, b->port) == 0 && strcmp(a->port, "0") != 0 &&
	    (a->any || b->any) && !lb_http_url_same_listener(a, b);
}
