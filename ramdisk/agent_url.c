/*
 * agent_url.c - the URLs of the agent's HTTP code (declared in
 * agent_http.h): ipa-api-url and callback URLs parsed strictly, and
 * form (query) quoting both ways.  Pure functions, any thread.
 */
#include "agent_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/buf.h"
#include "conductor/util/banned.h"

static bool
host_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/*
 * The host of the authority p..end into u->host; *ret_colon is where a
 * port follows, or NULL.
 */
static int
url_host(const char *text, const char *p, const char *end, struct ra_url *u,
    const char **ret_colon, struct lb_err *err)
{
	const char *colon = NULL;
	struct in6_addr a6;
	size_t hl;

	if (*p == '[') {
		const char *close = memchr(p, ']', end - p);

		if (close == NULL || (size_t)(close - p - 1) >= sizeof(u->host))
			return lb_err_set(err, -EINVAL, "bad IPv6 address in "
			    "URL '%s'", text);
		memcpy(u->host, p + 1, close - p - 1);
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return lb_err_set(err, -EINVAL, "bad IPv6 address in "
			    "URL '%s'", text);
		if (close + 1 < end) {
			if (close[1] != ':')
				return lb_err_set(err, -EINVAL, "bad URL "
				    "'%s'", text);
			colon = close + 1;
		}
	} else {
		colon = memchr(p, ':', end - p);
		hl = (colon ? colon : end) - p;
		if (hl == 0 || hl >= sizeof(u->host))
			return lb_err_set(err, -EINVAL, "no host in URL '%s'",
			    text);
		memcpy(u->host, p, hl);
		for (size_t i = 0; i < hl; i++) {
			if (!host_char_ok(u->host[i]))
				return lb_err_set(err, -EINVAL, "bad host in "
				    "URL '%s'", text);
		}
	}
	*ret_colon = colon;
	return 0;
}

/* The digits between 'colon' and 'end' into u->port. */
static int
url_port(const char *text, const char *colon, const char *end,
    struct ra_url *u, struct lb_err *err)
{
	long port = 0;
	const char *q;

	if (colon + 1 == end || end - colon > 6)
		return lb_err_set(err, -EINVAL, "bad port in URL '%s'", text);
	for (q = colon + 1; q < end; q++) {
		if (!isdigit((unsigned char)*q))
			return lb_err_set(err, -EINVAL, "bad port in URL '%s'",
			    text);
		port = port * 10 + (*q - '0');
	}
	if (port < 1 || port > 65535)
		return lb_err_set(err, -EINVAL, "bad port in URL '%s'", text);
	u->port = (int)port;
	return 0;
}

/* What follows the authority, up to a fragment, into u->path. */
static int
url_path(const char *text, const char *end, struct ra_url *u,
    struct lb_err *err)
{
	size_t hl = strcspn(end, "#");

	if (hl >= sizeof(u->path))
		return lb_err_set(err, -EINVAL, "URL '%s' is too long", text);
	if (*end == '?') {
		u->path[0] = '/';
		if (hl + 1 >= sizeof(u->path))
			return lb_err_set(err, -EINVAL, "URL '%s' is too long",
			    text);
		memcpy(u->path + 1, end, hl);
	} else {
		memcpy(u->path, end, hl);
	}
	for (const char *q = u->path; *q; q++) {
		if ((unsigned char)*q <= ' ' || *q == 0x7f || *q == '"' ||
		    *q == '<' || *q == '>' || *q == '\\')
			return lb_err_set(err, -EINVAL, "bad character in URL "
			    "'%s'", text);
	}
	return 0;
}

int
ra_url_parse(const char *text, struct ra_url *ret, struct lb_err *err)
{
	struct ra_url u = { 0 };
	const char *p, *end, *colon = NULL;
	int r;

	if (strncasecmp(text, "http://", 7) == 0) {
		p = text + 7;
	} else if (strncasecmp(text, "https://", 8) == 0) {
		p = text + 8;
		u.tls = true;
	} else {
		return lb_err_set(err, -EINVAL, "'%s' is not an http:// or "
		    "https:// URL", text);
	}
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', end - p) != NULL)
		return lb_err_set(err, -EINVAL, "URL '%s' has user "
		    "information", text);
	r = url_host(text, p, end, &u, &colon, err);
	if (r < 0)
		return r;
	u.port = u.tls ? 443 : 80;
	if (colon != NULL && (r = url_port(text, colon, end, &u, err)) < 0)
		return r;
	r = url_path(text, end, &u, err);
	if (r < 0)
		return r;
	*ret = u;
	return 0;
}

void
ra_url_quote_plus(struct lb_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '_' || c == '.' || c == '-' ||
		    c == '~') {
			lb_buf_addc(out, (char)c);
		} else if (c == ' ') {
			lb_buf_addc(out, '+');
		} else {
			lb_buf_addc(out, '%');
			lb_buf_addc(out, hex[c >> 4]);
			lb_buf_addc(out, hex[c & 15]);
		}
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
ra_url_unquote(char *s, bool plus)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
			*w = (char)(hexval(r[1]) * 16 + hexval(r[2]));
			if (*w == '\0')
				return -EINVAL;
			w++;
			r += 2;
		} else if (*r == '+' && plus) {
			*w++ = ' ';
		} else {
			/* Like Python's unquote: a bad escape stays as is. */
			*w++ = *r;
		}
	}
	*w = '\0';
	return 0;
}
