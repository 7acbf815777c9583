/*
 * agent_cmdline.c - parsing /proc/cmdline the way IPA does (quotes, last
 * one wins, '-' or '_').  Pure; any thread.
 */
#include "agent_cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ramdisk/agent_http.h"
#include "conductor/util/banned.h"

int
ra_mac_normalize(const char *in, char out[RA_MAC_LEN])
{
	char sep;
	size_t i;

	/* pxelinux's "ipappend 2" form: ARP type 01 (Ethernet) first. */
	if (strlen(in) == 20 && strncmp(in, "01-", 3) == 0)
		in += 3;
	if (strlen(in) != 17)
		return -EINVAL;
	sep = in[2];
	if (sep != ':' && sep != '-')
		return -EINVAL;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (in[i] != sep)
				return -EINVAL;
			out[i] = ':';
		} else {
			if (!isxdigit((unsigned char)in[i]))
				return -EINVAL;
			out[i] = (char)tolower((unsigned char)in[i]);
		}
	}
	out[17] = '\0';
	return 0;
}

/*
 * Cuts the next argument off *p into *ret, removing the quotes the kernel
 * allows.  1 for an argument, 0 at the end, -ENOMEM.
 */
static int
next_arg(const char **p, char **ret)
{
	const char *s = *p;
	bool quoted = false;
	size_t n = 0;
	char *out;

	while (*s && isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return 0;
	out = malloc(strlen(s) + 1);
	if (out == NULL)
		return -ENOMEM;
	for (; *s; s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && isspace((unsigned char)*s))
			break;
		out[n++] = *s;
	}
	out[n] = '\0';
	*p = s;
	*ret = out;
	return 1;
}

static bool
bool_value(const char *v)
{
	/* oslo's bool_from_string: anything unknown is false. */
	return v == NULL || strcasecmp(v, "1") == 0 ||
	    strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "on") == 0 || strcasecmp(v, "y") == 0 ||
	    strcasecmp(v, "t") == 0;
}

static int
int_value(const char *key, const char *v, long lo, long hi, int *ret,
    struct lb_err *err)
{
	char *end;
	long n;

	errno = 0;
	n = v ? strtol(v, &end, 10) : 0;
	if (v == NULL || *v == '\0' || *end != '\0' || errno != 0 || n < lo ||
	    n > hi)
		return lb_err_set(err, -EINVAL, "%s: '%s' is not a number "
		    "from %ld to %ld", key, v ? v : "", lo, hi);
	*ret = (int)n;
	return 0;
}

static int
seconds_value(const char *key, const char *v, double lo, double *ret,
    struct lb_err *err)
{
	char *end;
	double d;

	errno = 0;
	d = v ? strtod(v, &end) : 0;
	if (v == NULL || *v == '\0' || *end != '\0' || errno != 0 ||
	    !isfinite(d) || d < lo || d > 1e7)
		return lb_err_set(err, -EINVAL, "%s: '%s' is not a number of "
		    "seconds", key, v ? v : "");
	*ret = d;
	return 0;
}

/* Hosts, request ids: what may go into a URL or a header unquoted. */
static bool
plain_text(const char *v, const char *extra)
{
	if (v == NULL || *v == '\0')
		return false;
	for (; *v; v++) {
		if (!isalnum((unsigned char)*v) && strchr(extra, *v) == NULL)
			return false;
	}
	return true;
}

static int
set_str(char **dst, const char *v)
{
	char *s = strdup(v ? v : "");

	if (s == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int
api_urls(struct ra_cmdline *c, const char *v, struct lb_err *err)
{
	char *list = strdup(v ? v : ""), *p, *entry;
	struct ra_url u;
	int r = 0;

	if (list == NULL)
		return -ENOMEM;
	free(c->api_url);
	c->api_url = NULL;
	c->skipped_urls = 0;
	for (p = list; p != NULL && c->api_url == NULL; ) {
		entry = p;
		p = strchr(p, ',');
		if (p != NULL)
			*p++ = '\0';
		if (*entry == '\0')
			continue;
		/* "mdns" (discovery) and anything but http(s) are skipped. */
		if (ra_url_parse(entry, &u, NULL) < 0) {
			c->skipped_urls++;
			continue;
		}
		c->api_url = strdup(entry);
		if (c->api_url == NULL)
			r = -ENOMEM;
	}
	free(list);
	if (r == 0 && c->api_url == NULL)
		r = lb_err_set(err, -EINVAL, "ipa-api-url: no usable http:// "
		    "or https:// URL in '%s'", v ? v : "");
	return r;
}

static int
api_version(const char *v, int *ret, struct lb_err *err)
{
	char *end;
	long n;

	if (v == NULL || strncmp(v, "1.", 2) != 0 ||
	    !isdigit((unsigned char)v[2]))
		goto bad;
	n = strtol(v + 2, &end, 10);
	if (*end != '\0' || n < 1 || n > 999)
		goto bad;
	*ret = (int)n;
	return 0;
bad:
	return lb_err_set(err, -EINVAL, "ipa-ironic-api-version: '%s' is not "
	    "a version like 1.68", v ? v : "");
}

static int
apply(struct ra_cmdline *c, char *key, const char *v, struct lb_err *err)
{
	if (strncmp(key, "ipa_", 4) == 0 || strncmp(key, "ipa-", 4) == 0) {
		for (char *k = key; *k; k++) {
			if (*k == '_')
				*k = '-';
		}
	}
	if (strcmp(key, "ipa-api-url") == 0)
		return api_urls(c, v, err);
	if (strcmp(key, "BOOTIF") == 0) {
		c->bootif_unusable = v == NULL ||
		    ra_mac_normalize(v, c->bootif) < 0;
		if (c->bootif_unusable)
			c->bootif[0] = '\0';
		return 0;
	}
	if (strcmp(key, "ipa-agent-token") == 0) {
		for (const char *t = v ? v : ""; *t; t++) {
			if ((unsigned char)*t <= ' ' || *t == 0x7f)
				return lb_err_set(err, -EINVAL, "ipa-agent-"
				    "token: not a printable token");
		}
		return set_str(&c->agent_token, v);
	}
	if (strcmp(key, "ipa-global-request-id") == 0) {
		if (!plain_text(v, "-_."))
			return lb_err_set(err, -EINVAL, "ipa-global-request-"
			    "id: '%s' is not a request id", v ? v : "");
		return set_str(&c->global_request_id, v);
	}
	if (strcmp(key, "ipa-listen-host") == 0)
		return set_str(&c->listen_host, v);
	if (strcmp(key, "ipa-listen-port") == 0)
		return int_value(key, v, 0, 65535, &c->listen_port, err);
	if (strcmp(key, "ipa-advertise-host") == 0) {
		if (!plain_text(v, "-_.:"))
			return lb_err_set(err, -EINVAL, "ipa-advertise-host: "
			    "'%s' is not a host name or address",
			    v ? v : "");
		return set_str(&c->advertise_host, v);
	}
	if (strcmp(key, "ipa-advertise-port") == 0)
		return int_value(key, v, 1, 65535, &c->advertise_port, err);
	if (strcmp(key, "ipa-advertise-protocol") == 0) {
		if (v == NULL || (strcmp(v, "http") != 0 &&
		    strcmp(v, "https") != 0))
			return lb_err_set(err, -EINVAL, "ipa-advertise-"
			    "protocol: '%s' is neither http nor https",
			    v ? v : "");
		return set_str(&c->advertise_protocol, v);
	}
	if (strcmp(key, "ipa-lookup-timeout") == 0)
		return seconds_value(key, v, 0, &c->lookup_timeout, err);
	if (strcmp(key, "ipa-lookup-interval") == 0)
		return seconds_value(key, v, 0.001, &c->lookup_interval, err);
	if (strcmp(key, "ipa-ironic-api-version") == 0)
		return api_version(v, &c->api_minor, err);
	if (strcmp(key, "ipa-insecure") == 0)
		c->insecure = bool_value(v);
	else if (strcmp(key, "ipa-debug") == 0)
		c->debug = bool_value(v);
	else if (strcmp(key, "ipa-enable-auto-tls") == 0)
		c->auto_tls = bool_value(v);
	else if (strcmp(key, "boot_method") == 0)
		return set_str(&c->boot_method, v);
	return 0;
}

int
ra_cmdline_parse(const char *text, struct ra_cmdline *ret, struct lb_err *err)
{
	struct ra_cmdline c = {
		.listen_port = 9999,
		.advertise_port = -1,
		.lookup_timeout = 600,
		.lookup_interval = 1,
		.auto_tls = true,
	};
	const char *p = text;
	char *arg, *eq;
	int r = 0;

	if (strlen(text) > RA_CMDLINE_MAX)
		return lb_err_set(err, -EINVAL, "the command line is longer "
		    "than %d bytes", RA_CMDLINE_MAX);
	while (r == 0 && (r = next_arg(&p, &arg)) > 0) {
		eq = strchr(arg, '=');
		if (eq != NULL)
			*eq = '\0';
		r = apply(&c, arg, eq ? eq + 1 : NULL, err);
		free(arg);
	}
	if (r == 0 && c.api_url == NULL)
		r = lb_err_set(err, -EINVAL, "ipa-api-url is missing from the "
		    "kernel command line");
	if (r == 0 && c.advertise_protocol == NULL)
		r = set_str(&c.advertise_protocol, "http");
	if (r == -ENOMEM)
		lb_err_set(err, r, "out of memory");
	if (r < 0) {
		ra_cmdline_release(&c);
		return r;
	}
	*ret = c;
	return 0;
}

void
ra_cmdline_release(struct ra_cmdline *c)
{
	free(c->api_url);
	if (c->agent_token != NULL)
		explicit_bzero(c->agent_token, strlen(c->agent_token));
	free(c->agent_token);
	free(c->global_request_id);
	free(c->listen_host);
	free(c->advertise_host);
	free(c->advertise_protocol);
	free(c->boot_method);
	memset(c, 0, sizeof(*c));
}
