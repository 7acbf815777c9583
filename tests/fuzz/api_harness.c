/*
 * api_harness.c - the store, engine and request set-up that the API fuzz
 * targets share (see api_harness.h).  Single-threaded: the engine has a
 * pool with no worker threads, and the targets only ever aim verbs that
 * would queue work at a node that does not exist.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conductor/engine_ctx.h"
#include "conductor/hwtype.h"
#include "tests/fuzz/api_harness.h"
#include "tests/fuzz/fuzz_util.h"

#include "conductor/util/banned.h"

static char dir[512];
static struct lb_config cfg;
static struct lb_store *store;
static struct lb_engine engine;
static struct lb_api_ctx ctx;

static void
cleanup(void)
{
	lb_pool_stop(&engine.pool);
	lb_store_close(store);
	lb_config_release(&cfg);
	fuzz_rm_tree(dir);
}

static int
set_rescue(struct lb_node *n, void *arg, struct lb_err *err)
{
	(void)arg;
	(void)err;
	free(n->provision_state);
	n->provision_state = strdup("rescue wait");
	n->maintenance = true;	/* a heartbeat records, never finalizes */
	json_object_set_new(n->driver_internal_info, "agent_secret_token",
	    json_string(FZ_TOKEN));
	return n->provision_state != NULL ? 0 : -ENOMEM;
}

static void
add_node(const char *body_text)
{
	json_t *body = json_loads(body_text, 0, NULL);
	struct lb_node *n = lb_node_new();
	struct lb_err err;

	if (body == NULL || n == NULL ||
	    lb_node_from_create(n, body, LB_API_MAX_MINOR, &err) < 0 ||
	    (n->provision_state = strdup("enroll")) == NULL ||
	    lb_hwtype_resolve_node(&cfg, n, &err) < 0 ||
	    lb_store_node_create(store, n, &err) < 0)
		abort();
	lb_node_free(n);
	json_decref(body);
}

static void
add_port(const char *body_text)
{
	json_t *body = json_loads(body_text, 0, NULL);
	struct lb_port *p = lb_port_new();
	struct lb_err err;

	if (body == NULL || p == NULL ||
	    lb_port_from_create(p, body, LB_API_MAX_MINOR, &err) < 0 ||
	    lb_store_port_create(store, p, &err) < 0)
		abort();
	lb_port_free(p);
	json_decref(body);
}

static void
init(void)
{
	struct lb_err err;
	char url[600];

	/* libFuzzer may end without atexit(): bench/fuzz points TMPDIR aside. */
	fuzz_mkdtemp(dir, sizeof(dir), "lb-fuzz-api");
	lb_config_init(&cfg);
	free(cfg.host);
	cfg.host = strdup("fuzz-host");
	free(cfg.state_path);
	cfg.state_path = strdup(dir);
	snprintf(url, sizeof(url), "sqlite://%s/db", dir);
	if (lb_store_open(url, &store, &err) < 0)
		abort();
	atexit(cleanup);
	add_node("{\"uuid\": \"" FZ_NODE_ENROLL "\", \"name\": \"n1\", "
	    "\"driver\": \"fake-hardware\", \"resource_class\": \"gold\", "
	    "\"owner\": \"o1\", \"driver_info\": {\"ipmi_password\": "
	    "\"" FZ_SECRET "\"}, \"extra\": {\"a\": 1}}");
	add_node("{\"uuid\": \"" FZ_NODE_RESCUE "\", \"name\": \"n2\", "
	    "\"driver\": \"fake-hardware\"}");
	if (lb_store_node_update(store, FZ_NODE_RESCUE, set_rescue, NULL,
	    NULL, &err) < 0)
		abort();
	add_port("{\"node_uuid\": \"" FZ_NODE_ENROLL "\", \"address\": "
	    "\"52:54:00:aa:bb:cc\", \"extra\": {\"p\": 1}}");
	add_port("{\"node_uuid\": \"" FZ_NODE_RESCUE "\", \"address\": \""
	    FZ_MAC_RESCUE "\"}");

	engine.cfg = &cfg;
	engine.store = store;
	engine.clock = &lb_clock_system;
	engine.iface_find = lb_iface_find;
	if (lb_pool_start(&engine.pool, 0, 4) < 0)
		abort();
	snprintf(engine.certs_path, sizeof(engine.certs_path), "%s/certs",
	    dir);
	ctx.cfg = &cfg;
	ctx.store = store;
	ctx.engine = &engine;
	ctx.htpasswd = NULL;
}

const struct lb_api_ctx *
fz_api_ctx(void)
{
	if (ctx.cfg == NULL)
		init();
	return &ctx;
}

void
fz_req_init(struct fz_req *fr, const char *path, int minor,
    const char *query, size_t query_len, const char *body, size_t body_len)
{
	struct lb_req *req = &fr->req;
	char *p, *amp, *eq;

	memset(fr, 0, sizeof(*fr));
	req->ctx = fz_api_ctx();
	req->method = "GET";
	req->path = path;
	req->minor = minor;
	snprintf(req->base_url, sizeof(req->base_url), "http://fuzz:6385");
	fr->query_buf = malloc(query_len + 1);
	fr->body_buf = malloc(body_len + 1);
	if (fr->query_buf == NULL || fr->body_buf == NULL)
		abort();
	memcpy(fr->query_buf, query, query_len);
	fr->query_buf[query_len] = '\0';
	memcpy(fr->body_buf, body, body_len);
	fr->body_buf[body_len] = '\0';
	req->body = body_len > 0 ? fr->body_buf : NULL;
	req->body_len = body_len;
	/* MHD: split on '&', then on the first '=', unescape both. */
	for (p = fr->query_buf; p != NULL && *p != '\0'; p = amp) {
		amp = strchr(p, '&');
		if (amp != NULL)
			*amp++ = '\0';
		if (*p == '\0')
			continue;
		if (req->nquery == LB_QUERY_MAX)
			break;
		eq = strchr(p, '=');
		if (eq != NULL) {
			*eq++ = '\0';
			MHD_http_unescape(eq);
		}
		MHD_http_unescape(p);
		req->query[req->nquery].key = p;
		req->query[req->nquery].value = eq != NULL ? eq : "";
		req->nquery++;
	}
}

void
fz_req_release(struct fz_req *fr)
{
	free(fr->query_buf);
	free(fr->body_buf);
	memset(fr, 0, sizeof(*fr));
}

static bool
request_has(const struct fz_req *fr, const char *s)
{
	if (memmem(fr->body_buf, fr->req.body_len, s, strlen(s)) != NULL)
		return true;
	for (size_t i = 0; i < fr->req.nquery; i++)
		if (strstr(fr->req.query[i].key, s) != NULL ||
		    strstr(fr->req.query[i].value, s) != NULL)
			return true;
	return false;
}

/* A seeded secret in a reply, unless the request itself carried it. */
static void
check_text(const struct fz_req *fr, const char *text, size_t len)
{
	static const char *const secrets[] = { FZ_SECRET, FZ_TOKEN };

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (memmem(text, len, secrets[i], strlen(secrets[i])) != NULL &&
		    !request_has(fr, secrets[i]))
			abort();
}

int
fz_call(lb_handler_fn fn, struct fz_req *fr, const char *const *args)
{
	struct lb_resp resp = { 0 };
	struct lb_err err = { "" };
	json_t *doc, *fault;
	const char *inner;
	char *text;
	size_t len;
	int r, status;

	r = fn(&fr->req, args, &resp, &err);
	if (r < 0) {
		status = lb_err_http_status(r);
		if (err.msg[0] == '\0' || status < 400 || status > 599)
			abort();
		check_text(fr, err.msg, strlen(err.msg));
		/* The reply the client gets: Ironic's error document. */
		text = lb_api_error_body(status, err.msg, &len);
		doc = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;
		inner = json_string_value(json_object_get(doc,
		    "error_message"));
		fault = inner != NULL ? json_loads(inner, 0, NULL) : NULL;
		if (!json_is_string(json_object_get(fault, "faultstring")))
			abort();
		json_decref(fault);
		json_decref(doc);
		free(text);
	} else if (resp.body != NULL) {
		doc = json_loadb(resp.body, resp.body_len, 0, NULL);
		if (doc == NULL)
			abort();
		json_decref(doc);
		check_text(fr, resp.body, resp.body_len);
	}
	/* Deferred work (a BMC call) is not run here. */
	free(resp.defer_arg);
	free(resp.body);
	return r;
}
