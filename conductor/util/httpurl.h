/*
 * httpurl.h - the one parser of the URLs lifeboatd serves its HTTP boot
 * root at ([deploy] http_url and external_http_url).  The configuration
 * check and the HTTP boot server both go through it, so `lifeboatd --check`
 * refuses exactly the URLs that start-up would.  Any thread; no I/O.
 */
#ifndef LB_HTTPURL_H
#define LB_HTTPURL_H

#include <stdbool.h>

#include "conductor/util/err.h"

/* The longest URL accepted: file names are appended to it. */
#define LB_HTTP_URL_MAX 255

struct lb_http_url {
	char host[LB_HTTP_URL_MAX + 1];	/* IPv6 without its brackets */
	char port[8];			/* decimal; "80" when unsaid */
	bool is_name;			/* a host name, not an address */
	bool any;			/* bound on every address: a name,
					 * 0.0.0.0 or :: */
};

/*
 * Parses 'url' into 'ret' (written only on success): http:// (any case),
 * a host (IPv4 address, [IPv6 address] or host name), an optional port
 * 0..65535 (0: a port of the kernel's choosing, which no client can
 * name; tests use it for a URL nothing answers at) and at most a trailing
 * '/': lifeboatd serves the root itself, over plain HTTP, at the URL's
 * root.  On failure err holds a predicate for the quoted URL ("is not an
 * http:// URL ..."), at most 100 bytes.
 */
int lb_http_url_parse(const char *url, struct lb_http_url *ret,
    struct lb_err *err);

/* Whether a and b are served by one listening socket (same address and
 * port, or both on every address of one port). */
bool lb_http_url_same_listener(const struct lb_http_url *a,
    const struct lb_http_url *b);

/* Whether a and b cannot both be listened on: one port, different
 * listeners, and one of them on every address. */
bool lb_http_url_clash(const struct lb_http_url *a,
    const struct lb_http_url *b);

#endif
