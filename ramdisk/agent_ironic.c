/*
 * agent_ironic.c - discovery, lookup and heartbeat requests to Ironic.
 * The main thread until the API is up, then the heartbeat thread.
 */
#include "agent_ironic.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/buf.h"
#include "ramdisk/agent_log.h"
#include "conductor/util/banned.h"

int
ra_ironic_init(struct ra_ironic *ic, const char *api_url,
    const char *request_id, int fixed_minor, bool insecure, int timeout_ms,
    struct lb_err *err)
{
	size_t n;
	int r;

	memset(ic, 0, sizeof(*ic));
	r = ra_http_client_init(&ic->http, insecure, timeout_ms, err);
	if (r < 0)
		return r;
	ic->api_url = strdup(api_url);
	ic->request_id = request_id ? strdup(request_id) : NULL;
	if (ic->api_url == NULL || (request_id && ic->request_id == NULL)) {
		ra_ironic_release(ic);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	n = strlen(ic->api_url);
	while (n > 0 && ic->api_url[n - 1] == '/')
		ic->api_url[--n] = '\0';
	ic->fixed_minor = fixed_minor;
	return 0;
}

void
ra_ironic_release(struct ra_ironic *ic)
{
	ra_http_client_release(&ic->http);
	free(ic->api_url);
	free(ic->request_id);
	memset(ic, 0, sizeof(*ic));
}

/* The common headers; 'minor' 0 sends no version header. */
static void
headers(const struct ra_ironic *ic, int minor, struct lb_buf *b)
{
	lb_buf_adds(b, "Accept: application/json\r\n"
	    "Content-Type: application/json\r\n");
	if (minor > 0)
		lb_buf_addf(b, "X-OpenStack-Ironic-API-Version: 1.%d\r\n",
		    minor);
	if (ic->request_id != NULL)
		lb_buf_addf(b, "X-OpenStack-Request-ID: %s\r\n",
		    ic->request_id);
}

/* Ironic's faultstring from a double-encoded error body, else the text. */
static void
error_text(const struct ra_http_msg *m, char *out, size_t size)
{
	json_t *outer = json_loadb(m->body, m->body_len, 0, NULL), *inner;
	const char *em = json_string_value(json_object_get(outer,
	    "error_message"));
	const char *fs = NULL;

	inner = em ? json_loads(em, 0, NULL) : NULL;
	fs = json_string_value(json_object_get(inner, "faultstring"));
	if (fs == NULL)
		fs = json_string_value(json_object_get(outer, "faultstring"));
	snprintf(out, size, "%.200s", fs ? fs : m->body);
	for (char *c = out; *c; c++) {
		if ((unsigned char)*c < ' ')
			*c = ' ';
	}
	json_decref(inner);
	json_decref(outer);
}

static int
fetch(struct ra_ironic *ic, const char *method, const char *path,
    int minor, const char *body, struct ra_http_msg *ret, struct lb_err *err)
{
	struct lb_buf url, hdr;
	int r;

	lb_buf_init(&url);
	lb_buf_init(&hdr);
	lb_buf_addf(&url, "%s%s", ic->api_url, path);
	lb_buf_addc(&url, '\0');
	headers(ic, minor, &hdr);
	lb_buf_addc(&hdr, '\0');
	if (lb_buf_failed(&url) || lb_buf_failed(&hdr))
		r = lb_err_set(err, -ENOMEM, "out of memory");
	else
		r = ra_http_fetch(&ic->http, method, url.data, hdr.data, body,
		    ret, err);
	lb_buf_release(&url);
	lb_buf_release(&hdr);
	return r;
}

static int
parse_version(const char *v)
{
	char *end;
	long n;

	if (v == NULL || strncmp(v, "1.", 2) != 0 ||
	    !isdigit((unsigned char)v[2]))
		return -EINVAL;
	n = strtol(v + 2, &end, 10);
	if (*end != '\0' || n < 1 || n > 999)
		return -EINVAL;
	return (int)n;
}

int
ra_ironic_version(struct ra_ironic *ic)
{
	struct ra_http_msg m = { 0 };
	struct lb_err err = { "" };
	json_t *doc = NULL;
	int r;

	if (ic->fixed_minor > 0)
		return ic->fixed_minor;
	if (ic->minor > 0)
		return ic->minor;
	r = fetch(ic, "GET", "/", 0, NULL, &m, &err);
	if (r == 0 && m.status != 200)
		r = lb_err_set(&err, -EIO, "HTTP %d", m.status);
	if (r == 0) {
		doc = json_loadb(m.body, m.body_len, 0, NULL);
		r = parse_version(json_string_value(json_object_get(
		    json_object_get(doc, "default_version"), "version")));
		if (r < 0)
			lb_err_set(&err, r, "no default_version.version");
	}
	json_decref(doc);
	ra_http_msg_release(&m);
	if (r < 0) {
		ra_warn("API version discovery at %s failed (%s), falling "
		    "back to 1.%d", ic->api_url, err.msg, RA_MIN_MINOR);
		return RA_MIN_MINOR;
	}
	ic->minor = r;
	ra_info("Ironic API at %s speaks up to 1.%d", ic->api_url, r);
	return r;
}

/* ---- lookup ---- */

void
ra_lookup_release(struct ra_lookup *l)
{
	if (l->token != NULL)
		OPENSSL_cleanse(l->token, strlen(l->token));
	free(l->token);
	memset(l, 0, sizeof(*l));
}

static bool
uuid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RA_UUID_MAX)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-')
			return false;
	}
	return true;
}

int
ra_lookup_parse(const char *body, size_t len, struct ra_lookup *ret,
    struct lb_err *err)
{
	struct ra_lookup l = { .token = NULL };
	json_t *doc, *node, *config, *hbt, *tok;
	const char *uuid;
	int r = 0;

	doc = json_loadb(body, len, 0, NULL);
	node = json_object_get(doc, "node");
	uuid = json_string_value(json_object_get(node, "uuid"));
	config = json_object_get(doc, "config");
	if (doc == NULL || uuid == NULL) {
		r = lb_err_set(err, -EAGAIN, "the lookup reply names no node");
		goto out;
	}
	/* Before config existed, heartbeat_timeout was at the top. */
	hbt = config ? json_object_get(config, "heartbeat_timeout") :
	    json_object_get(doc, "heartbeat_timeout");
	if (config == NULL && hbt == NULL) {
		r = lb_err_set(err, -EAGAIN, "the lookup reply has no "
		    "heartbeat_timeout");
		goto out;
	}
	if (!uuid_ok(uuid) || strlen(uuid) != json_string_length(
	    json_object_get(node, "uuid"))) {
		r = lb_err_set(err, -EINVAL, "the node uuid in the lookup "
		    "reply is not usable");
		goto out;
	}
	if (!json_is_number(hbt) || !isfinite(json_number_value(hbt)) ||
	    json_number_value(hbt) <= 0 || json_number_value(hbt) > 1e6) {
		r = lb_err_set(err, -EINVAL, "the lookup reply has no usable "
		    "config.heartbeat_timeout");
		goto out;
	}
	memcpy(l.uuid, uuid, strlen(uuid) + 1);
	l.heartbeat_timeout = json_number_value(hbt);
	tok = json_object_get(config, "agent_token");
	if (json_is_string(tok) && strlen(json_string_value(tok)) ==
	    json_string_length(tok)) {
		l.token = strdup(json_string_value(tok));
		if (l.token == NULL) {
			r = lb_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	l.token_required = json_is_true(json_object_get(config,
	    "agent_token_required"));
	*ret = l;
out:
	json_decref(doc);
	return r;
}

int
ra_ironic_lookup(struct ra_ironic *ic, const char *macs,
    const char *node_uuid, struct ra_lookup *ret, struct lb_err *err)
{
	struct ra_http_msg m = { 0 };
	int minor = ra_ironic_version(ic);
	char why[256];
	struct lb_buf path;
	int r;

	if (minor > RA_TOKEN_MINOR)
		minor = RA_TOKEN_MINOR;
	lb_buf_init(&path);
	lb_buf_adds(&path, "/v1/lookup?addresses=");
	ra_url_quote_plus(&path, macs);
	if (node_uuid != NULL) {
		lb_buf_adds(&path, "&node_uuid=");
		ra_url_quote_plus(&path, node_uuid);
	}
	lb_buf_addc(&path, '\0');
	if (lb_buf_failed(&path)) {
		lb_buf_release(&path);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	r = fetch(ic, "GET", path.data, minor, NULL, &m, err);
	lb_buf_release(&path);
	if (r < 0)
		return -EAGAIN;
	if (m.status != 200) {
		error_text(&m, why, sizeof(why));
		r = lb_err_set(err, m.status == 409 ? -EBUSY : -EAGAIN,
		    "HTTP %d: %s", m.status, why);
	} else {
		r = ra_lookup_parse(m.body, m.body_len, ret, err);
	}
	/* The reply may carry the token: wipe it. */
	OPENSSL_cleanse(m.body_buf, m.body_len);
	ra_http_msg_release(&m);
	return r;
}

/* ---- heartbeat ---- */

int
ra_ironic_heartbeat(struct ra_ironic *ic, const struct ra_heartbeat *hb,
    int *ret_status, struct lb_err *err)
{
	struct ra_http_msg m = { 0 };
	int minor = ra_ironic_version(ic);
	char path[128], why[256], *body;
	json_t *o = json_object();
	int r;

	*ret_status = 0;
	json_object_set_new(o, "callback_url",
	    json_string(hb->callback_url));
	if (minor >= RA_TOKEN_MINOR)
		json_object_set_new(o, "agent_token", hb->token ?
		    json_string(hb->token) : json_null());
	if (minor >= RA_AGENT_VERSION_MINOR)
		json_object_set_new(o, "agent_version",
		    json_string(hb->agent_version));
	if (minor >= RA_VERIFY_CA_MINOR && hb->verify_ca != NULL)
		json_object_set_new(o, "agent_verify_ca",
		    json_string(hb->verify_ca));
	body = json_dumps(o, JSON_ENSURE_ASCII);
	json_decref(o);
	if (body == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/v1/heartbeat/%s", hb->uuid);
	r = fetch(ic, "POST", path, minor > RA_VERIFY_CA_MINOR ?
	    RA_VERIFY_CA_MINOR : minor, body, &m, err);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (r < 0)
		return r;
	*ret_status = m.status;
	if (m.status != 202) {
		error_text(&m, why, sizeof(why));
		r = lb_err_set(err, -EIO, "HTTP %d: %s", m.status, why);
	}
	ra_http_msg_release(&m);
	return r;
}
