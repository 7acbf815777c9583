/*
 * test_agent_api.c - the rescue agent's command API: routing and
 * werkzeug's quirks, IPA's token rules (missing, wrong, right), the JSON
 * bodies, finalize_rescue writing passwd/shadow/password file under a
 * temporary --root; plus the lookup reply and HTTP head parsers and the
 * count of connections per peer.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "conductor/util/passwd.h"
#include "ramdisk/agent_api.h"
#include "ramdisk/agent_http.h"
#include "ramdisk/agent_ironic.h"
#include "ramdisk/agent_rescue.h"
#include "conductor/util/banned.h"

#define TOKEN "Y4aOHahPC8aA9WKKXGFroPBw9WS4Yg9-l02smy6qan8"
#define HASH "$5$zmJpogSMWgzN36u5$XP9hizfST3j5x3umDLSb6yV7mAy5IHA3B631WPjz8d8"
#define FINALIZE "{\"name\": \"rescue.finalize_rescue\", \"params\": " \
	"{\"rescue_password\": \"" HASH "\", \"hashed\": true}}"
#define CMD "/v1/commands/?wait=false&agent_token="
#define TOKEN_INVALID "{\"faultcode\": \"Client\", \"faultstring\": " \
	"\"401 Unauthorized: Token invalid.\"}"

struct fixture {
	char root[64];
	struct ra_api *api;
	struct ra_api_reply reply;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ra_api_config cfg = {
		.scheme = "http",
		.default_host = "192.0.2.10:9999",
		.agent_version = "11.2.0",
		.started_at = 1700000000.5,
	};

	snprintf(f->root, sizeof(f->root), "/tmp/lb-agent-test-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	cfg.root = f->root;
	f->api = ra_api_new(&cfg);
	assert_non_null(f->api);
	assert_int_equal(ra_api_set_token(f->api, TOKEN, true), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	ra_api_reply_release(&f->reply);
	ra_api_free(f->api);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct ra_api_reply *
call(struct fixture *f, const char *method, const char *target,
    const char *body)
{
	ra_api_reply_release(&f->reply);
	ra_api_handle(f->api, &(struct ra_api_request){
		.method = method,
		.target = target,
		.host = "192.0.2.10:9999",
		.body = body,
		.body_len = body ? strlen(body) : 0,
	}, &f->reply);
	return &f->reply;
}

static char *
slurp(struct fixture *f, const char *rel)
{
	char path[256], *data;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s%s", f->root, rel);
	fp = fopen(path, "r");
	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = calloc(1, n + 1);
	assert_int_equal(fread(data, 1, n, fp), n);
	fclose(fp);
	return data;
}

static void
put(struct fixture *f, const char *rel, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/etc", f->root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s%s", f->root, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static bool
exists(struct fixture *f, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", f->root, rel);
	return access(path, F_OK) == 0;
}

/* ---- routing ---- */

static void
test_root_and_v1(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	json_t *doc;

	r = call(f, "GET", "/", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->content_type, "application/json");
	/* Byte for byte what IPA's jsonify() sends. */
	assert_string_equal(r->body, "{\"name\": \"OpenStack Ironic Python "
	    "Agent API\", \"description\": \"Ironic Python Agent is a "
	    "provisioning agent for OpenStack Ironic\", \"versions\": "
	    "[{\"id\": \"v1\", \"links\": [{\"href\": "
	    "\"http://192.0.2.10:9999/v1\", \"rel\": \"self\"}, {\"href\": "
	    "\"https://docs.openstack.org/ironic-python-agent/\", \"rel\": "
	    "\"describedby\", \"type\": \"text/html\"}]}], "
	    "\"default_version\": {\"id\": \"v1\", \"links\": [{\"href\": "
	    "\"http://192.0.2.10:9999/v1\", \"rel\": \"self\"}, {\"href\": "
	    "\"https://docs.openstack.org/ironic-python-agent/\", \"rel\": "
	    "\"describedby\", \"type\": \"text/html\"}]}}");
	assert_int_equal(r->body_len, strlen(r->body));

	r = call(f, "GET", "/v1/", NULL);
	assert_int_equal(r->status, 200);
	doc = json_loads(r->body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(doc, "id")),
	    "v1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "commands"), 0), "href")),
	    "http://192.0.2.10:9999/v1/commands");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "status"), 1), "href")),
	    "http://192.0.2.10:9999/status");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "media_types"), 0), "type")), RA_MEDIA_TYPE);
	json_decref(doc);

	r = call(f, "GET", "/v1/status", NULL);
	assert_string_equal(r->body, "{\"started_at\": 1700000000.5, "
	    "\"version\": \"11.2.0\"}");
	r = call(f, "GET", "/status", NULL);
	assert_int_equal(r->status, 200);
	r = call(f, "HEAD", "/v1/status", NULL);
	assert_int_equal(r->status, 200);
}

static void
test_werkzeug_errors(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;

	r = call(f, "GET", "/v1/nope", NULL);
	assert_int_equal(r->status, 404);
	assert_string_equal(r->body, "{\"faultcode\": \"Client\", "
	    "\"faultstring\": \"404 Not Found: The requested URL was not "
	    "found on the server. If you entered the URL manually please "
	    "check your spelling and try again.\"}");
	r = call(f, "GET", "/v1/status/", NULL);
	assert_int_equal(r->status, 404);
	r = call(f, "GET", "/v1/commands/a/b", NULL);
	assert_int_equal(r->status, 404);

	r = call(f, "DELETE", "/v1/commands/", NULL);
	assert_int_equal(r->status, 405);
	assert_string_equal(r->headers, "Allow: GET, HEAD, OPTIONS, POST\r\n");
	r = call(f, "POST", "/v1/status", "{}");
	assert_int_equal(r->status, 405);
	assert_string_equal(r->headers, "Allow: GET, HEAD, OPTIONS\r\n");
	assert_non_null(strstr(r->body, "405 Method Not Allowed"));
	r = call(f, "OPTIONS", "/", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 0);
	assert_string_equal(r->headers, "Allow: GET, HEAD, OPTIONS\r\n");

	/* strict_slashes: a redirect that keeps the query. */
	r = call(f, "POST", "/v1/commands?agent_token=x", "{}");
	assert_int_equal(r->status, 308);
	assert_string_equal(r->headers, "Location: "
	    "http://192.0.2.10:9999/v1/commands/?agent_token=x\r\n");
	assert_string_equal(r->content_type, "text/html; charset=utf-8");
	r = call(f, "GET", "/v1", NULL);
	assert_int_equal(r->status, 308);
	/* Escapes in the path are decoded before routing. */
	r = call(f, "GET", "/v1/%73tatus", NULL);
	assert_int_equal(r->status, 200);
	r = call(f, "GET", "/v1/status%00x", NULL);
	assert_int_equal(r->status, 404);
}

/* ---- tokens ---- */

static void
test_get_token_rule(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;

	/* IPA only checks GETs once some GET carried a token. */
	r = call(f, "GET", "/v1/commands/", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"commands\": []}");
	r = call(f, "GET", "/v1/commands/?agent_token=wrong", NULL);
	assert_int_equal(r->status, 401);
	assert_string_equal(r->body, TOKEN_INVALID);
	r = call(f, "GET", "/v1/commands/", NULL);
	assert_int_equal(r->status, 401);
	r = call(f, "GET", "/v1/commands/?agent_token=" TOKEN, NULL);
	assert_int_equal(r->status, 200);
	r = call(f, "GET", "/v1/commands/nope?agent_token=" TOKEN, NULL);
	assert_int_equal(r->status, 404);
	assert_string_equal(r->body, "{\"faultcode\": \"Client\", "
	    "\"faultstring\": \"Not found: Command Result with id nope not "
	    "found.\"}");
}

static void
test_post_token(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;

	r = call(f, "POST", "/v1/commands/?wait=false", FINALIZE);
	assert_int_equal(r->status, 401);
	assert_string_equal(r->body, TOKEN_INVALID);
	assert_string_equal(r->content_type, "application/json");
	r = call(f, "POST", CMD, FINALIZE);
	assert_int_equal(r->status, 401);
	r = call(f, "POST", CMD "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    FINALIZE);
	assert_int_equal(r->status, 401);
	/* One character short, one too many. */
	r = call(f, "POST", CMD "Y4aOHahPC8aA9WKKXGFroPBw9WS4Yg9-l02smy6qan",
	    FINALIZE);
	assert_int_equal(r->status, 401);
	r = call(f, "POST", CMD TOKEN "8", FINALIZE);
	assert_int_equal(r->status, 401);
	assert_false(exists(f, RA_PASSWORD_FILE));
	assert_false(exists(f, "/etc/shadow"));
	/* The body is checked before the token, as in IPA. */
	r = call(f, "POST", "/v1/commands/", "{\"name\": \"x\"}");
	assert_int_equal(r->status, 400);
	/* Not required and none sent: IPA lets it through. */
	assert_int_equal(ra_api_set_token(f->api, TOKEN, false), 0);
	r = call(f, "POST", "/v1/commands/", "{\"name\": \"rescue.x\", "
	    "\"params\": {}}");
	assert_int_equal(r->status, 400);
	r = call(f, "POST", CMD "wrong", "{\"name\": \"rescue.x\", "
	    "\"params\": {}}");
	assert_int_equal(r->status, 401);
	/* No token on file at all (API < 1.62): none may be sent. */
	assert_int_equal(ra_api_set_token(f->api, NULL, false), 0);
	r = call(f, "POST", "/v1/commands/", "{\"name\": \"rescue.x\", "
	    "\"params\": {}}");
	assert_int_equal(r->status, 400);
	r = call(f, "POST", CMD TOKEN, "{\"name\": \"rescue.x\", "
	    "\"params\": {}}");
	assert_int_equal(r->status, 401);
}

/*
 * Tokens required but none on file (the agent restarted and lookup said
 * "******"): every command is refused, whatever it carries; IPA would run
 * a tokenless finalize_rescue here.
 */
static void
test_post_token_required_none_on_file(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	static const char *const targets[] = {
		"/v1/commands/", "/v1/commands/?wait=false", "/commands/",
		CMD, CMD TOKEN, "/v1/commands/?agent_token", CMD "%00",
	};

	char *shadow;

	put(f, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	put(f, "/etc/shadow", "root:*:19000:0:99999:7:::\n");
	put(f, "/etc/group", "root:x:0:\n");
	assert_int_equal(ra_api_set_token(f->api, NULL, true), 0);
	for (size_t i = 0; i < sizeof(targets) / sizeof(*targets); i++) {
		r = call(f, "POST", targets[i], FINALIZE);
		assert_int_equal(r->status, 401);
		assert_string_equal(r->body, TOKEN_INVALID);
		assert_string_equal(r->content_type, "application/json");
	}
	assert_false(exists(f, RA_PASSWORD_FILE));
	assert_false(exists(f, "/etc/.rescued"));
	shadow = slurp(f, "/etc/shadow");
	assert_string_equal(shadow, "root:*:19000:0:99999:7:::\n");
	free(shadow);
	/* With the token on file only that token passes. */
	assert_int_equal(ra_api_set_token(f->api, TOKEN, true), 0);
	r = call(f, "POST", "/v1/commands/", FINALIZE);
	assert_int_equal(r->status, 401);
	r = call(f, "POST", CMD TOKEN, FINALIZE);
	assert_int_equal(r->status, 200);
	assert_true(r->finalized);
	assert_true(exists(f, "/etc/.rescued"));
}

static void
test_bad_command_bodies(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	static const char *const invalid[] = {
		"[]", "3", "{}", "{\"name\": \"rescue.finalize_rescue\"}",
		"{\"params\": {}}", "{\"name\": \"a.b\", \"params\": []}",
		"{\"name\": \"a.b\", \"params\": null}",
	};

	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
		r = call(f, "POST", CMD TOKEN, invalid[i]);
		assert_int_equal(r->status, 400);
		assert_string_equal(r->body, "{\"faultcode\": \"Client\", "
		    "\"faultstring\": \"400 Bad Request: Missing or invalid "
		    "name or params\"}");
	}
	r = call(f, "POST", CMD TOKEN, "{bad");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "\"400 Bad Request: Failed to decode "
	    "JSON object: "));
	r = call(f, "POST", CMD TOKEN, NULL);
	assert_int_equal(r->status, 400);

	r = call(f, "POST", CMD TOKEN, "{\"name\": \"rescue.nope\", "
	    "\"params\": {}}");
	assert_int_equal(r->status, 400);
	assert_string_equal(r->body, "{\"faultcode\": \"Client\", "
	    "\"faultstring\": \"Invalid command: Unknown command: nope\"}");
	r = call(f, "POST", CMD TOKEN, "{\"name\": \"standby.prepare_image\","
	    " \"params\": {}}");
	assert_int_equal(r->status, 400);
	r = call(f, "POST", CMD TOKEN, "{\"name\": \"nope.x\", \"params\": "
	    "{}}");
	assert_int_equal(r->status, 404);
	assert_string_equal(r->body, "{\"faultcode\": \"Client\", "
	    "\"faultstring\": \"Not found: Extension with id nope not "
	    "found.\"}");
	r = call(f, "POST", CMD TOKEN, "{\"name\": \"finalize\", \"params\": "
	    "{}}");
	assert_int_equal(r->status, 400);
	assert_non_null(strstr(r->body, "Invalid command: Command name must "
	    "be of the form <extension>.<name>"));
	r = call(f, "POST", CMD TOKEN, "{\"name\": 7, \"params\": {}}");
	assert_int_equal(r->status, 400);
	assert_false(exists(f, "/etc/.rescued"));
}

/* ---- finalize ---- */

static void
test_finalize_writes_user(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	char *text, target[128], id[40];
	json_t *doc;
	struct stat st;

	put(f, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
	    "ftp:x:1000:1000::/srv:/bin/false\n");
	put(f, "/etc/shadow", "root:*:19000:0:99999:7:::\n");
	put(f, "/etc/group", "root:x:0:\nftp:x:1000:\n");
	r = call(f, "POST", CMD TOKEN, FINALIZE);
	assert_int_equal(r->status, 200);
	assert_true(r->finalized);
	doc = json_loads(r->body, 0, NULL);
	assert_int_equal(json_object_size(doc), 5);
	assert_string_equal(json_string_value(json_object_get(doc,
	    "command_name")), "finalize_rescue");
	assert_string_equal(json_string_value(json_object_get(doc,
	    "command_status")), "SUCCEEDED");
	assert_true(json_is_null(json_object_get(doc, "command_error")));
	assert_true(json_is_null(json_object_get(doc, "command_result")));
	assert_int_equal(strlen(json_string_value(json_object_get(doc, "id"))),
	    36);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(doc,
	    "id")));
	json_decref(doc);

	text = slurp(f, RA_PASSWORD_FILE);
	assert_string_equal(text, HASH);	/* verbatim, no newline */
	free(text);
	assert_true(exists(f, RA_RESCUED_MARKER));
	text = slurp(f, "/etc/passwd");
	assert_string_equal(text, "root:x:0:0:root:/root:/bin/sh\n"
	    "ftp:x:1000:1000::/srv:/bin/false\n"
	    "rescue:x:1001:1001:rescue:/home/rescue:/bin/sh\n");
	free(text);
	text = slurp(f, "/etc/group");
	assert_string_equal(text, "root:x:0:\nftp:x:1000:\nrescue:x:1001:\n");
	free(text);
	text = slurp(f, "/etc/shadow");
	assert_memory_equal(text, "root:*:19000:0:99999:7:::\nrescue:" HASH
	    ":", strlen("root:*:19000:0:99999:7:::\nrescue:" HASH ":"));
	assert_non_null(strstr(text, ":0:99999:7:::\n"));
	free(text);
	assert_true(exists(f, "/home/rescue"));
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/etc/shadow", f->root);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	/* Listed and fetchable (GETs now need the token: one was sent). */
	snprintf(target, sizeof(target), "/v1/commands/%s?agent_token="
	    TOKEN, id);
	r = call(f, "GET", target, NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"SUCCEEDED\""));
	r = call(f, "GET", "/v1/commands/?agent_token=" TOKEN, NULL);
	doc = json_loads(r->body, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "commands")), 1);
	json_decref(doc);

	/* Again (the user exists): replaced, same ids, one line each. */
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"$6$x$y\", \"hashed\": 1}}");
	assert_int_equal(r->status, 200);
	text = slurp(f, "/etc/passwd");
	assert_non_null(strstr(text, "rescue:x:1001:1001:"));
	assert_null(strstr(strstr(text, "\nrescue:") + 1, "\nrescue:"));
	free(text);
	text = slurp(f, "/etc/shadow");
	assert_non_null(strstr(text, "rescue:$6$x$y:"));
	assert_null(strstr(text, HASH));
	free(text);
}

static void
test_finalize_clear_text(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	char *text;

	/* An old conductor: clear text, no "hashed"; an empty root. */
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"sekrit\"}}");
	assert_int_equal(r->status, 200);
	assert_null(strstr(r->body, "sekrit"));
	text = slurp(f, RA_PASSWORD_FILE);
	assert_memory_equal(text, "$5$", 3);
	assert_int_equal(strchr(text + 3, '$') - (text + 3), 16);
	assert_true(lb_passwd_verify("sekrit", text));
	free(text);
	text = slurp(f, "/etc/passwd");
	assert_string_equal(text,
	    "rescue:x:1000:1000:rescue:/home/rescue:/bin/sh\n");
	free(text);
	assert_false(exists(f, "/etc/group"));
}

/* With bash in the image the rescue user gets it: busybox sh runs its own
 * applets (mount, fdisk) instead of the real tools the image carries. */
static void
test_finalize_prefers_bash(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	char path[256], *text;

	put(f, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
	put(f, "/etc/shadow", "root:*:19000:0:99999:7:::\n");
	snprintf(path, sizeof(path), "%s/bin", f->root);
	mkdir(path, 0755);
	put(f, "/bin/bash", "#!/bin/true\n");
	snprintf(path, sizeof(path), "%s/bin/bash", f->root);
	assert_int_equal(chmod(path, 0755), 0);
	r = call(f, "POST", CMD TOKEN, FINALIZE);
	assert_int_equal(r->status, 200);
	text = slurp(f, "/etc/passwd");
	assert_string_equal(text, "root:x:0:0:root:/root:/bin/bash\n"
	    "rescue:x:1000:1000:rescue:/home/rescue:/bin/bash\n");
	free(text);
	/* not executable: not a shell */
	assert_int_equal(chmod(path, 0644), 0);
	r = call(f, "POST", CMD TOKEN, FINALIZE);
	assert_int_equal(r->status, 200);
	text = slurp(f, "/etc/passwd");
	assert_non_null(strstr(text, "rescue:x:1000:1000:rescue:/home/rescue:"
	    "/bin/sh\n"));
	free(text);
}

static void
test_finalize_failures(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;
	json_t *doc, *e;

	/* A ':' or a newline would forge shadow fields: FAILED, no files. */
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"$5$a$b:0:0\\nroot::\", \"hashed\": true}}");
	assert_int_equal(r->status, 200);
	assert_false(r->finalized);
	doc = json_loads(r->body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(doc,
	    "command_status")), "FAILED");
	assert_string_equal(json_string_value(json_object_get(doc,
	    "command_name")), "rescue.finalize_rescue");
	e = json_object_get(doc, "command_error");
	assert_string_equal(json_string_value(json_object_get(e, "type")),
	    "CommandExecutionError");
	assert_int_equal(json_integer_value(json_object_get(e, "code")), 500);
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "Command execution failed");
	assert_null(strstr(r->body, "root::"));
	json_decref(doc);
	assert_false(exists(f, RA_PASSWORD_FILE));
	assert_false(exists(f, "/etc/shadow"));

	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"\", \"hashed\": true}}");
	assert_non_null(strstr(r->body, "\"FAILED\""));
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"" HASH "\", \"hashed\": true, \"extra\": 1}}");
	assert_non_null(strstr(r->body, "finalize_rescue() got an unexpected "
	    "keyword argument 'extra'"));
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": 5,"
	    " \"hashed\": true}}");
	assert_non_null(strstr(r->body, "\"FAILED\""));
	assert_false(exists(f, RA_RESCUED_MARKER));
	r = call(f, "GET", "/v1/commands/", NULL);
	doc = json_loads(r->body, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "commands")), 4);
	json_decref(doc);
}

/* lifeboat's own parameter: a boolean, absent = false; bad = FAILED. */
static void
test_finalize_network_moves(void **state)
{
	struct fixture *f = *state;
	struct ra_api_reply *r;

	r = call(f, "POST", CMD TOKEN, FINALIZE);
	assert_true(r->finalized);
	assert_false(r->network_moves);
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"" HASH "\", \"hashed\": true, \"lifeboat_network_moves\": "
	    "false}}");
	assert_true(r->finalized);
	assert_false(r->network_moves);
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"" HASH "\", \"hashed\": true, \"lifeboat_network_moves\": "
	    "true}}");
	assert_true(r->finalized);
	assert_true(r->network_moves);
	assert_non_null(strstr(r->body, "\"SUCCEEDED\""));
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"" HASH "\", \"hashed\": true, \"lifeboat_network_moves\": "
	    "1}}");
	assert_false(r->finalized);
	assert_false(r->network_moves);
	assert_non_null(strstr(r->body, "lifeboat_network_moves must be a "
	    "boolean"));
	r = call(f, "POST", CMD TOKEN, "{\"name\": "
	    "\"rescue.finalize_rescue\", \"params\": {\"rescue_password\": "
	    "\"" HASH "\", \"lifeboat_network_moves\": true, \"hashed\": "
	    "true, \"lifeboat_network\": true}}");
	assert_false(r->finalized);
	assert_non_null(strstr(r->body, "finalize_rescue() got an unexpected "
	    "keyword argument 'lifeboat_network'"));
}

/* ---- parsers ---- */

static void
test_query(void **state)
{
	char *v;

	(void)state;
	v = ra_query_get("wait=false&agent_token=a%2Bb+c&agent_token=2",
	    "agent_token");
	assert_string_equal(v, "a+b c");		/* the first wins */
	free(v);
	v = ra_query_get("agent_token", "agent_token");
	assert_string_equal(v, "");
	free(v);
	assert_null(ra_query_get("wait=true", "agent_token"));
	assert_null(ra_query_get("", "agent_token"));
	assert_null(ra_query_get("agent_token=%00", "agent_token"));
}

static void
test_http_head(void **state)
{
	struct ra_http_msg m = { 0 };
	char req[] = "POST /v1/commands/?wait=false HTTP/1.1\r\n"
	    "Host: 10.0.0.5:9999\r\ncontent-length:  12 \r\n"
	    "Content-Type: application/json";
	char rep[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0";
	char fold[] = "GET / HTTP/1.1\r\nX: a\r\n b";
	char bad1[] = "GET / HTTP/2.0";
	char bad2[] = "get / HTTP/1.1";
	char bad3[] = "GET / HTTP/1.1\r\nBad Header: x";
	char bad4[] = "HTTP/1.1 2000 OK";

	(void)state;
	assert_int_equal(ra_http_parse_head(req, true, &m), 0);
	assert_string_equal(m.method, "POST");
	assert_string_equal(m.target, "/v1/commands/?wait=false");
	assert_int_equal(m.n_headers, 3);
	assert_string_equal(ra_http_header(&m, "Content-Length"), "12");
	assert_string_equal(ra_http_header(&m, "host"), "10.0.0.5:9999");
	assert_null(ra_http_header(&m, "Transfer-Encoding"));
	assert_int_equal(ra_http_parse_head(rep, false, &m), 0);
	assert_int_equal(m.status, 202);
	assert_int_equal(ra_http_parse_head(fold, true, &m), -EINVAL);
	assert_int_equal(ra_http_parse_head(bad1, true, &m), -EINVAL);
	assert_int_equal(ra_http_parse_head(bad2, true, &m), -EINVAL);
	assert_int_equal(ra_http_parse_head(bad3, true, &m), -EINVAL);
	assert_int_equal(ra_http_parse_head(bad4, false, &m), -EINVAL);
}

static int
parse(const char *text, struct ra_lookup *l)
{
	struct lb_err err = { "" };
	int r = ra_lookup_parse(text, strlen(text), l, &err);

	assert_true(r == 0 || err.msg[0] != '\0');
	return r;
}

static void
test_lookup_reply(void **state)
{
	struct ra_lookup l;
	struct lb_err err = { "" };
	const char *full = "{\"node\": {\"uuid\": "
	    "\"c044c7b0-1d1f-4cd1-a9a6-0bd8d3d0a1f5\", \"properties\": {}}, "
	    "\"config\": {\"heartbeat_timeout\": 300, \"agent_token\": \""
	    TOKEN "\", \"agent_token_required\": true}}";
	const char *masked = "{\"node\": {\"uuid\": \"u-1\"}, \"config\": "
	    "{\"heartbeat_timeout\": 2.5, \"agent_token\": \"******\"}}";
	const char *legacy = "{\"node\": {\"uuid\": \"u-1\"}, "
	    "\"heartbeat_timeout\": 60}";

	(void)state;
	assert_int_equal(ra_lookup_parse(full, strlen(full), &l, &err), 0);
	assert_string_equal(l.uuid, "c044c7b0-1d1f-4cd1-a9a6-0bd8d3d0a1f5");
	assert_true(l.heartbeat_timeout == 300);
	assert_string_equal(l.token, TOKEN);
	assert_true(l.token_required);
	ra_lookup_release(&l);
	assert_int_equal(ra_lookup_parse(masked, strlen(masked), &l, &err), 0);
	assert_string_equal(l.token, "******");
	assert_false(l.token_required);
	assert_true(l.heartbeat_timeout == 2.5);
	ra_lookup_release(&l);
	assert_int_equal(ra_lookup_parse(legacy, strlen(legacy), &l, &err), 0);
	assert_null(l.token);
	ra_lookup_release(&l);

	/* Names no node: look up again.  Unusable: give up. */
	assert_int_equal(parse("{}", &l), -EAGAIN);
	assert_int_equal(parse("nope", &l), -EAGAIN);
	assert_int_equal(parse("{\"node\": {\"uuid\": \"u\"}}", &l), -EAGAIN);
	assert_int_equal(parse("{\"node\": {\"uuid\": \"u\"}, \"config\": "
	    "{}}", &l), -EINVAL);
	assert_int_equal(parse("{\"node\": {\"uuid\": \"u\"}, \"config\": "
	    "{\"heartbeat_timeout\": \"300\"}}", &l), -EINVAL);
	assert_int_equal(parse("{\"node\": {\"uuid\": \"u\"}, \"config\": "
	    "{\"heartbeat_timeout\": 0}}", &l), -EINVAL);
	assert_int_equal(parse("{\"node\": {\"uuid\": \"../x\"}, "
	    "\"config\": {\"heartbeat_timeout\": 300}}", &l), -EINVAL);
}

/* Connections per peer: the cap, release, IPv4 and its mapped IPv6 form. */
static void
test_peers(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in b = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	struct ra_peer_key ka, kb, k;
	struct ra_peers p;

	(void)state;
	inet_pton(AF_INET, "192.0.2.9", &a.sin_addr);
	inet_pton(AF_INET, "192.0.2.10", &b.sin_addr);
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &a6.sin6_addr);
	ra_peers_init(&p, 2);
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&a, &ka), 0);
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&a6, &k), 0);
	assert_memory_equal(&k, &ka, sizeof(k));
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&a, &k),
	    -EBUSY);
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&b, &kb), 0);
	ra_peers_put(&p, &ka);
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&a, &k), 0);
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&u, &k),
	    -EAFNOSUPPORT);
	/* A full table refuses new peers, not the ones it counts. */
	ra_peers_init(&p, 1);
	for (int i = 0; i < RA_PEERS_MAX; i++) {
		b.sin_addr.s_addr = htonl(0xc6336400 + i);	/* 198.51.100.i */
		assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&b, &k),
		    0);
	}
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&a, &k),
	    -EBUSY);
	ra_peers_put(&p, &k);
	assert_int_equal(ra_peers_take(&p, (struct sockaddr *)&a, &k), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_root_and_v1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_werkzeug_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_get_token_rule, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_post_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_post_token_required_none_on_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_command_bodies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_finalize_writes_user,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_clear_text,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_prefers_bash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_finalize_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_finalize_network_moves,
		    setup, teardown),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_http_head),
		cmocka_unit_test(test_lookup_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
