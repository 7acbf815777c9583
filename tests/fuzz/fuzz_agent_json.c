/*
 * fuzz_agent_json.c - the JSON the rescue agent accepts: command bodies
 * (POST /v1/commands/ with the right token, so finalize_rescue runs on
 * whatever parsed, under a temporary root) and lookup replies from
 * Ironic.  Nothing may crash or leak, and failures need a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ramdisk/agent_api.h"
#include "ramdisk/agent_ironic.h"
#define FUZZ_WITH_AGENT
#include "tests/fuzz/fuzz_util.h"

#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_api_reply reply;
	struct ra_lookup l;
	struct lb_err err = { "" };
	json_t *doc;
	int r;

	ra_api_handle(fuzz_agent_api("https"), &(struct ra_api_request){
		.method = "POST",
		.target = "/v1/commands/?wait=false&agent_token=" FUZZ_AGENT_TOKEN,
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
