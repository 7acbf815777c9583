/*
 * agent_api.c - routing, token checks and the finalize_rescue command of
 * the agent API, byte-compatible with IPA's werkzeug application.  API
 * threads; one request at a time (the lock).
 */
#include "agent_api.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conductor/util/err.h"
#include "conductor/util/passwd.h"
#include "ramdisk/agent_http.h"
#include "ramdisk/agent_rescue.h"
#include "conductor/util/banned.h"

/* werkzeug's texts (str(exc) is "<code> <Name>: <description>"). */
#define WZ_NOT_FOUND "404 Not Found: The requested URL was not found on " \
	"the server. If you entered the URL manually please check your " \
	"spelling and try again."
#define WZ_METHOD "405 Method Not Allowed: The method is not allowed for " \
	"the requested URL."

/* The extensions IPA loads; any other name is "not found". */
static const char *const known_extensions[] = {
	"clean", "deploy", "flow", "image", "log", "poll", "rescue",
	"service", "standby", "system",
};

enum endpoint {
	EP_NONE = -1,
	EP_ROOT,
	EP_V1,
	EP_STATUS,
	EP_LIST,
	EP_GET,
	EP_RUN,
};

static const struct route {
	const char *path;
	bool has_arg;		/* path is a prefix followed by <cmd> */
	enum endpoint get;
	enum endpoint post;
} routes[] = {
	{ "/", false, EP_ROOT, EP_NONE },
	{ "/v1/", false, EP_V1, EP_NONE },
	{ "/v1/status", false, EP_STATUS, EP_NONE },
	{ "/v1/commands/", false, EP_LIST, EP_RUN },
	{ "/v1/commands/", true, EP_GET, EP_NONE },
	{ "/status", false, EP_STATUS, EP_NONE },
	{ "/commands/", false, EP_LIST, EP_RUN },
	{ "/commands/", true, EP_GET, EP_NONE },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- life cycle ---- */

struct ra_api *
ra_api_new(const struct ra_api_config *cfg)
{
	struct ra_api *api = calloc(1, sizeof(*api));

	if (api == NULL)
		return NULL;
	pthread_mutex_init(&api->lock, NULL);
	api->scheme = strdup(cfg->scheme);
	api->default_host = strdup(cfg->default_host);
	api->agent_version = strdup(cfg->agent_version);
	api->root = strdup(cfg->root);
	api->started_at = cfg->started_at;
	if (api->scheme == NULL || api->default_host == NULL ||
	    api->agent_version == NULL || api->root == NULL) {
		ra_api_free(api);
		return NULL;
	}
	return api;
}

static void
result_clear(struct ra_command_result *r)
{
	free(r->name);
	json_decref(r->error);
	memset(r, 0, sizeof(*r));
}

void
ra_api_free(struct ra_api *api)
{
	if (api == NULL)
		return;
	for (size_t i = 0; i < api->n_results; i++)
		result_clear(&api->results[i]);
	if (api->token != NULL)
		OPENSSL_cleanse(api->token, strlen(api->token));
	free(api->token);
	free(api->scheme);
	free(api->default_host);
	free(api->agent_version);
	free(api->root);
	pthread_mutex_destroy(&api->lock);
	free(api);
}

int
ra_api_set_token(struct ra_api *api, const char *token, bool required)
{
	char *copy = token ? strdup(token) : NULL;

	if (token != NULL && copy == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&api->lock);
	if (api->token != NULL)
		OPENSSL_cleanse(api->token, strlen(api->token));
	free(api->token);
	api->token = copy;
	api->token_required = required;
	pthread_mutex_unlock(&api->lock);
	return 0;
}

void
ra_api_reply_release(struct ra_api_reply *reply)
{
	free(reply->body);
	memset(reply, 0, sizeof(*reply));
}

/* ---- replies ---- */

static void
reply_json(struct ra_api_reply *reply, int status, json_t *obj)
{
	/* Python's json.dumps: ", " and ": ", non-ASCII as \uXXXX. */
	char *text = obj ? json_dumps(obj, JSON_ENSURE_ASCII) : NULL;

	json_decref(obj);
	free(reply->body);
	reply->content_type = "application/json";
	if (text == NULL) {
		const char *oom = "{\"faultcode\": \"Server\", \"faultstring\":"
		    " \"out of memory\"}";

		status = 500;
		text = strdup(oom);
	}
	reply->status = status;
	reply->body = text;
	reply->body_len = text ? strlen(text) : 0;
}

void
ra_api_fault(struct ra_api_reply *reply, int status, const char *faultstring)
{
	reply_json(reply, status, json_pack("{s:s, s:s}", "faultcode",
	    status >= 500 ? "Server" : "Client", "faultstring", faultstring));
}

/* A RESTError: "<message>: <details>". */
static void
rest_error(struct ra_api_reply *reply, int status, const char *message,
    const char *fmt, const char *arg)
{
	char text[1024], details[900];

	snprintf(details, sizeof(details), fmt, arg);
	snprintf(text, sizeof(text), "%s: %s", message, details);
	ra_api_fault(reply, status, text);
}

/* ---- requests ---- */

char *
ra_query_get(const char *query, const char *name)
{
	const char *p = query;

	while (p != NULL && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		char *pair = strndup(p, len), *eq;

		p = amp ? amp + 1 : NULL;
		if (pair == NULL)
			return NULL;
		eq = strchr(pair, '=');
		if (eq != NULL)
			*eq = '\0';
		if (len > 0 && ra_url_unquote(pair, true) == 0 &&
		    strcmp(pair, name) == 0) {
			char *v = strdup(eq ? eq + 1 : "");

			free(pair);
			if (v != NULL && ra_url_unquote(v, true) < 0) {
				free(v);
				return NULL;
			}
			return v;
		}
		free(pair);
	}
	return NULL;
}

/*
 * IPA's rule, made strict where IPA is lax: with tokens required, only the
 * token on file passes.  An agent that has none (it restarted and lookup
 * said "******") refuses everything: anyone on the network could otherwise
 * call finalize_rescue and set the rescue password.
 */
static bool
token_valid(const struct ra_api *api, const char *sent)
{
	bool none_sent = sent == NULL || *sent == '\0';

	if (api->token_required)
		return api->token != NULL && !none_sent &&
		    strlen(sent) == strlen(api->token) &&
		    CRYPTO_memcmp(sent, api->token, strlen(sent)) == 0;
	/* No token sent, one on file but not required: allowed. */
	if (none_sent && api->token != NULL)
		return true;
	if (api->token == NULL || sent == NULL)
		return api->token == NULL && sent == NULL;
	return strlen(sent) == strlen(api->token) &&
	    CRYPTO_memcmp(sent, api->token, strlen(sent)) == 0;
}

static const char *
url_root(const struct ra_api *api, const struct ra_api_request *req,
    char *buf, size_t size)
{
	snprintf(buf, size, "%s://%s", api->scheme,
	    req->host && *req->host ? req->host : api->default_host);
	return buf;
}

static json_t *
link(const char *root, const char *rel, const char *resource)
{
	char href[1200];

	if (strcmp(rel, "describedby") == 0)
		return json_pack("{s:s+, s:s, s:s}", "href", RA_DOCS_URL, "/",
		    "rel", rel, "type", "text/html");
	if (strcmp(rel, "bookmark") == 0)
		snprintf(href, sizeof(href), "%s/%s", root, resource);
	else
		snprintf(href, sizeof(href), "%s/v1/%s", root, resource);
	return json_pack("{s:s, s:s}", "href", href, "rel", rel);
}

static json_t *
version_doc(const char *root)
{
	char self[1100];

	snprintf(self, sizeof(self), "%s/v1", root);
	return json_pack("{s:s, s:[{s:s, s:s}, o]}", "id", "v1", "links",
	    "href", self, "rel", "self", link(root, "describedby", ""));
}

static void
api_root(struct ra_api *api, const struct ra_api_request *req,
    struct ra_api_reply *reply)
{
	char root[1024];

	url_root(api, req, root, sizeof(root));
	reply_json(reply, 200, json_pack("{s:s, s:s, s:[o], s:o}", "name",
	    "OpenStack Ironic Python Agent API", "description",
	    "Ironic Python Agent is a provisioning agent for OpenStack Ironic",
	    "versions", version_doc(root), "default_version",
	    version_doc(root)));
}

static void
api_v1(struct ra_api *api, const struct ra_api_request *req,
    struct ra_api_reply *reply)
{
	char root[1024];
	json_t *doc, *v;

	url_root(api, req, root, sizeof(root));
	doc = json_pack("{s:[o, o], s:[o, o], s:[{s:s, s:s}]}", "commands",
	    link(root, "self", "commands"), link(root, "bookmark", "commands"),
	    "status", link(root, "self", "status"),
	    link(root, "bookmark", "status"), "media_types", "base",
	    "application/json", "type", RA_MEDIA_TYPE);
	v = version_doc(root);
	if (doc != NULL && v != NULL)
		json_object_update(doc, v);
	json_decref(v);
	reply_json(reply, 200, doc);
}

static json_t *
result_json(const struct ra_command_result *r)
{
	return json_pack("{s:s, s:s, s:s, s:O?, s:n}", "id", r->id,
	    "command_name", r->name, "command_status", r->status,
	    "command_error", r->error, "command_result");
}

/* IPA's backwards-compatible rule: GETs need the token once one did. */
static bool
get_token_ok(struct ra_api *api, const char *query)
{
	char *token = ra_query_get(query, "agent_token");
	bool ok;

	if (token != NULL && *token != '\0')
		api->get_token_support = true;
	ok = !api->get_token_support || token_valid(api, token);
	free(token);
	return ok;
}

static void
api_list(struct ra_api *api, const char *query, struct ra_api_reply *reply)
{
	json_t *list;

	if (!get_token_ok(api, query))
		return ra_api_fault(reply, 401, RA_TOKEN_INVALID);
	list = json_array();
	for (size_t i = 0; i < api->n_results; i++)
		json_array_append_new(list, result_json(&api->results[i]));
	reply_json(reply, 200, json_pack("{s:o}", "commands", list));
}

static void
api_get(struct ra_api *api, const char *query, const char *id,
    struct ra_api_reply *reply)
{
	if (!get_token_ok(api, query))
		return ra_api_fault(reply, 401, RA_TOKEN_INVALID);
	for (size_t i = 0; i < api->n_results; i++) {
		if (strcmp(api->results[i].id, id) == 0)
			return reply_json(reply, 200,
			    result_json(&api->results[i]));
	}
	rest_error(reply, 404, "Not found", "Command Result with id %s not "
	    "found.", id);
}

static void
new_uuid(char out[37])
{
	unsigned char b[16];

	/* a command id, not a secret: never wait for the pool */
	if (getrandom(b, sizeof(b), GRND_INSECURE) != sizeof(b) &&
	    getrandom(b, sizeof(b), GRND_NONBLOCK) != sizeof(b)) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static struct ra_command_result *
add_result(struct ra_api *api, const char *name, const char *status,
    json_t *error)
{
	struct ra_command_result *r;

	if (api->n_results == RA_API_MAX_RESULTS) {
		result_clear(&api->results[0]);
		memmove(&api->results[0], &api->results[1],
		    (RA_API_MAX_RESULTS - 1) * sizeof(api->results[0]));
		api->n_results--;
	}
	r = &api->results[api->n_results];
	memset(r, 0, sizeof(*r));
	r->name = strdup(name);
	if (r->name == NULL) {
		json_decref(error);
		return NULL;
	}
	new_uuid(r->id);
	r->status = status;
	r->error = error;
	api->n_results++;
	return r;
}

/* Python's truthiness of a JSON value. */
static bool
truthy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_TRUE:
		return true;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	default:
		return false;
	}
}

/*
 * finalize_rescue(rescue_password="", hashed=False,
 * lifeboat_network_moves=False); 0 or -EIO.  lifeboat_network_moves is
 * lifeboat's own: the conductor moves the node to a network with a DHCP
 * server of its own right after this reply (*ret_moves), so the agent
 * looks for that server instead of renewing with the old one.
 */
static int
finalize(struct ra_api *api, json_t *params, bool *ret_moves,
    struct lb_err *err)
{
	char hash[LB_PASSWD_HASH_MAX];
	json_t *pw = NULL, *moves = NULL, *value;
	const char *key, *text;
	bool hashed = false;
	int r;

	json_object_foreach(params, key, value) {
		if (strcmp(key, "rescue_password") == 0)
			pw = value;
		else if (strcmp(key, "hashed") == 0)
			hashed = truthy(value);
		else if (strcmp(key, "lifeboat_network_moves") == 0)
			moves = value;
		else
			return lb_err_set(err, -EINVAL, "finalize_rescue() got "
			    "an unexpected keyword argument '%s'", key);
	}
	if (moves != NULL && !json_is_boolean(moves))
		return lb_err_set(err, -EINVAL, "lifeboat_network_moves must "
		    "be a boolean");
	if (pw != NULL && !json_is_string(pw))
		return lb_err_set(err, -EINVAL, "rescue_password must be a "
		    "string");
	text = pw ? json_string_value(pw) : "";
	if (pw != NULL && strlen(text) != json_string_length(pw))
		return lb_err_set(err, -EINVAL, "rescue_password holds a NUL "
		    "character");
	if (!hashed) {
		/* Old conductors send clear text: hash it as IPA does. */
		r = lb_passwd_hash(text, "sha256", hash, err);
		if (r < 0)
			return r;
		text = hash;
	}
	r = ra_rescue_finalize(api->root, text, err);
	OPENSSL_cleanse(hash, sizeof(hash));
	if (r == 0)
		*ret_moves = moves != NULL && json_is_true(moves);
	return r;
}

static void
execute(struct ra_api *api, const char *name, json_t *params,
    struct ra_api_reply *reply)
{
	struct ra_command_result *res;
	struct lb_err err = { "" };
	const char *dot = name ? strchr(name, '.') : NULL;
	char ext[64];
	size_t el, i;

	if (dot == NULL)
		return ra_api_fault(reply, 400, "Invalid command: Command name "
		    "must be of the form <extension>.<name>");
	el = dot - name;
	snprintf(ext, sizeof(ext), "%.*s", (int)(el < 63 ? el : 63), name);
	for (i = 0; i < sizeof(known_extensions) / sizeof(*known_extensions);
	    i++) {
		if (el == strlen(known_extensions[i]) &&
		    strncmp(name, known_extensions[i], el) == 0)
			break;
	}
	if (i == sizeof(known_extensions) / sizeof(*known_extensions))
		return rest_error(reply, 404, "Not found", "Extension with id "
		    "%s not found.", ext);
	if (strcmp(name, "rescue.finalize_rescue") != 0)
		return rest_error(reply, 400, "Invalid command", "Unknown "
		    "command: %s", dot + 1);
	if (finalize(api, params, &reply->network_moves, &err) < 0) {
		/* IPA's failure path records the full command name. */
		res = add_result(api, name, "FAILED", json_pack("{s:s, s:i, "
		    "s:s, s:s}", "type", "CommandExecutionError", "code", 500,
		    "message", "Command execution failed", "details",
		    err.msg));
	} else {
		res = add_result(api, "finalize_rescue", "SUCCEEDED", NULL);
		reply->finalized = res != NULL;
	}
	if (res == NULL)
		return ra_api_fault(reply, 500, "out of memory");
	reply_json(reply, 200, result_json(res));
}

static void
api_run(struct ra_api *api, const struct ra_api_request *req,
    const char *query, struct ra_api_reply *reply)
{
	json_error_t jerr;
	json_t *body, *params;
	char *token, text[512];

	body = json_loadb(req->body ? req->body : "", req->body_len,
	    JSON_DECODE_ANY, &jerr);
	if (body == NULL) {
		snprintf(text, sizeof(text), "400 Bad Request: Failed to "
		    "decode JSON object: %s: line %d column %d (char %d)",
		    jerr.text, jerr.line, jerr.column, jerr.position);
		return ra_api_fault(reply, 400, text);
	}
	params = json_object_get(body, "params");
	if (!json_is_object(body) || json_object_get(body, "name") == NULL ||
	    !json_is_object(params)) {
		json_decref(body);
		return ra_api_fault(reply, 400, "400 Bad Request: Missing or "
		    "invalid name or params");
	}
	token = ra_query_get(query, "agent_token");
	if (!token_valid(api, token)) {
		free(token);
		json_decref(body);
		return ra_api_fault(reply, 401, RA_TOKEN_INVALID);
	}
	free(token);
	execute(api, json_string_value(json_object_get(body, "name")), params,
	    reply);
	json_decref(body);
}

/* ---- routing ---- */

static bool
route_match(const struct route *r, const char *path, const char **ret_arg)
{
	size_t pl = strlen(r->path);

	if (!r->has_arg)
		return strcmp(r->path, path) == 0;
	if (strncmp(path, r->path, pl) != 0 || path[pl] == '\0' ||
	    strchr(path + pl, '/') != NULL)
		return false;
	*ret_arg = path + pl;
	return true;
}

static bool
any_route(const char *path)
{
	const char *arg;

	for (size_t i = 0; i < N_ROUTES; i++) {
		if (route_match(&routes[i], path, &arg))
			return true;
	}
	return false;
}

static void
redirect(struct ra_api *api, const struct ra_api_request *req,
    const char *path, const char *query, struct ra_api_reply *reply)
{
	char loc[1100], root[1024];

	url_root(api, req, root, sizeof(root));
	snprintf(loc, sizeof(loc), "%s%s/%s%s", root, path, query ? "?" : "",
	    query ? query : "");
	free(reply->body);
	reply->body = NULL;
	if (asprintf(&reply->body, "<!doctype html>\n<html lang=en>\n"
	    "<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You "
	    "should be redirected automatically to the target URL: <a "
	    "href=\"%s\">%s</a>. If not, click the link.\n", loc, loc) < 0) {
		reply->body = NULL;
		return ra_api_fault(reply, 500, "out of memory");
	}
	reply->status = 308;
	reply->content_type = "text/html; charset=utf-8";
	reply->body_len = strlen(reply->body);
	snprintf(reply->headers, sizeof(reply->headers), "Location: %s\r\n",
	    loc);
}

static void
dispatch(struct ra_api *api, const struct ra_api_request *req,
    const char *path, const char *query, struct ra_api_reply *reply)
{
	bool is_get = strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0;
	bool is_post = strcmp(req->method, "POST") == 0;
	bool get_ok = false, post_ok = false;
	const char *arg = NULL;
	enum endpoint ep = EP_NONE;

	for (size_t i = 0; i < N_ROUTES && ep == EP_NONE; i++) {
		if (!route_match(&routes[i], path, &arg))
			continue;
		get_ok |= routes[i].get != EP_NONE;
		post_ok |= routes[i].post != EP_NONE;
		if (is_get && routes[i].get != EP_NONE)
			ep = routes[i].get;
		else if (is_post && routes[i].post != EP_NONE)
			ep = routes[i].post;
	}
	if (ep == EP_NONE && (get_ok || post_ok)) {
		snprintf(reply->headers, sizeof(reply->headers), "Allow: %s"
		    "OPTIONS%s\r\n", get_ok ? "GET, HEAD, " : "",
		    post_ok ? ", POST" : "");
		if (strcmp(req->method, "OPTIONS") == 0) {
			reply->status = 200;
			reply->content_type = "text/html; charset=utf-8";
			return;
		}
		return ra_api_fault(reply, 405, WZ_METHOD);
	}
	if (ep == EP_NONE) {
		char slashed[1100];

		snprintf(slashed, sizeof(slashed), "%s/", path);
		if (path[strlen(path) - 1] != '/' && any_route(slashed))
			return redirect(api, req, path, query, reply);
		return ra_api_fault(reply, 404, WZ_NOT_FOUND);
	}
	switch (ep) {
	case EP_ROOT:
		return api_root(api, req, reply);
	case EP_V1:
		return api_v1(api, req, reply);
	case EP_STATUS:
		return reply_json(reply, 200, json_pack("{s:f, s:s}",
		    "started_at", api->started_at, "version",
		    api->agent_version));
	case EP_LIST:
		return api_list(api, query, reply);
	case EP_GET:
		return api_get(api, query, arg, reply);
	case EP_RUN:
		return api_run(api, req, query, reply);
	default:
		return ra_api_fault(reply, 404, WZ_NOT_FOUND);
	}
}

void
ra_api_handle(struct ra_api *api, const struct ra_api_request *req,
    struct ra_api_reply *reply)
{
	char *target = strdup(req->target), *query;

	memset(reply, 0, sizeof(*reply));
	if (target == NULL)
		return ra_api_fault(reply, 500, "out of memory");
	query = strchr(target, '?');
	if (query != NULL)
		*query++ = '\0';
	pthread_mutex_lock(&api->lock);
	if (target[0] != '/' || strlen(target) > 1024 ||
	    ra_url_unquote(target, false) < 0)
		ra_api_fault(reply, 404, WZ_NOT_FOUND);
	else
		dispatch(api, req, target, query, reply);
	pthread_mutex_unlock(&api->lock);
	free(target);
}
