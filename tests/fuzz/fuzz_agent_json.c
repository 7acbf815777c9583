/*
 * fuzz_agent_json.c - the JSON the rescue agent accepts: command bodies
 * (POST /v1/commands/ with the right token, so finalize_rescue runs on
 * whatever parsed, under a temporary root) and lookup replies from
 * Ironic.  Nothing may crash or leak, and failures need a message.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ramdisk/agent_api.h"
#include "ramdisk/agent_ironic.h"
#include "conductor/util/banned.h"

#define TOKEN "Y4aOHahPC8aA9WKKXGFroPBw9WS4Yg9-l02smy6qan8"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[512];
static struct ra_api *api;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cleanup(void)
{
	ra_api_free(api);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init(void)
{
	struct ra_api_config cfg = {
		.scheme = "https",
		.default_host = "192.0.2.10:9999",
		.agent_version = "11.2.0",
		.started_at = 1,
	};

	snprintf(root, sizeof(root), "%s/lb-fuzz-agent-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL)
		abort();
	cfg.root = root;
	api = ra_api_new(&cfg);
	if (api == NULL || ra_api_set_token(api, TOKEN, true) < 0)
		abort();
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_api_reply reply;
	struct ra_lookup l;
	struct lb_err err = { "" };
	json_t *doc;
	int r;

	if (api == NULL)
		init();
	ra_api_handle(api, &(struct ra_api_request){
		.method = "POST",
		.target = "/v1/commands/?wait=false&agent_token=" TOKEN,
		.host = NULL,
		.body = (const char *)data,
		.body_len = size,
	}, &reply);
	/* Every reply is JSON: a result or a fault. */
	doc = json_loadb(reply.body, reply.body_len, 0, NULL);
	if (doc == NULL || reply.status < 200)
		abort();
	json_decref(doc);
	ra_api_reply_release(&reply);

	r = ra_lookup_parse((const char *)data, size, &l, &err);
	if (r == 0)
		ra_lookup_release(&l);
	else if (err.msg[0] == '\0')
		abort();
	return 0;
}
