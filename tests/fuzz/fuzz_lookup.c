/*
 * fuzz_lookup.c - what an agent (or anyone on the provisioning network)
 * sends without credentials: the lookup query (addresses=MAC,MAC...,
 * node_uuid=...) and a heartbeat body, through the real handlers against
 * a node in rescue wait (in maintenance, so a heartbeat is only recorded)
 * at the microversions where fields appear.  Input: one byte picks the
 * microversion, then the query string, a newline, the body.
 * Single-threaded.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/rescue_check.h"
#include "conductor/util/ident.h"
#include "conductor/util/jsonbody.h"
#include "tests/fuzz/api_harness.h"
#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int minors[] = { 1, 22, 36, 61, 62, 68, 72, LB_API_MAX_MINOR };

#define NMINORS (sizeof(minors) / sizeof(minors[0]))

/* A recorded heartbeat is undone, so every run starts from the same node. */
static int
forget_agent(struct lb_node *n, void *arg, struct lb_err *err)
{
	static const char *const keys[] = { "agent_url", "agent_version",
	    "agent_last_heartbeat", "agent_verify_ca" };

	(void)arg;
	(void)err;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_del(n->driver_internal_info, keys[i]);
	return 0;
}

/* Each comma-separated address: a normalised MAC is canonical. */
static void
check_macs(const struct fz_req *fr)
{
	const char *addresses = NULL;
	char buf[1024], *p, *save = NULL, mac[LB_MAC_LEN + 1], again[18];

	for (size_t i = 0; i < fr->req.nquery; i++)
		if (strcmp(fr->req.query[i].key, "addresses") == 0)
			addresses = fr->req.query[i].value;
	if (addresses == NULL || strlen(addresses) >= sizeof(buf))
		return;
	memcpy(buf, addresses, strlen(addresses) + 1);
	for (p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (lb_mac_normalize(p, mac) < 0)
			continue;
		for (size_t i = 0; i < LB_MAC_LEN; i++)
			if (i % 3 == 2 ? mac[i] != ':' :
			    !isxdigit((unsigned char)mac[i]) ||
			    isupper((unsigned char)mac[i]))
				abort();
		if (lb_mac_normalize(mac, again) < 0 ||
		    strcmp(mac, again) != 0 ||
		    strncasecmp(mac + 3, p + 3, 2) != 0)
			abort();
	}
}

static void
check_uuid(const struct fz_req *fr)
{
	char uuid[LB_UUID_LEN + 1], again[LB_UUID_LEN + 1];

	for (size_t i = 0; i < fr->req.nquery; i++) {
		if (strcmp(fr->req.query[i].key, "node_uuid") != 0 ||
		    lb_uuid_normalize(fr->req.query[i].value, uuid) < 0)
			continue;
		if (!lb_uuid_is_valid(uuid) ||
		    lb_uuid_normalize(uuid, again) < 0 ||
		    strcmp(uuid, again) != 0 ||
		    strcasecmp(uuid, fr->req.query[i].value) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text, *nl, *body;
	const char *args[2] = { NULL, NULL };
	struct lb_err err = { "" };
	size_t qlen, blen;
	json_t *doc = NULL;
	struct fz_req fr;
	int r, checked, minor;

	if (size < 1 || size > 64 * 1024)
		return 0;
	minor = minors[data[0] % NMINORS];
	text = (const char *)data + 1;
	size--;
	nl = memchr(text, '\n', size);
	qlen = nl != NULL ? (size_t)(nl - text) : size;
	body = nl != NULL ? nl + 1 : "";
	blen = nl != NULL ? size - qlen - 1 : 0;

	fz_req_init(&fr, "/v1/lookup", minor, text, qlen, "", 0);
	check_macs(&fr);
	check_uuid(&fr);
	fz_call(lb_api_lookup, &fr, args);
	fz_req_release(&fr);

	checked = -EINVAL;
	if (lb_json_parse_body(body, blen, &doc, &err) == 0) {
		err.msg[0] = '\0';
		checked = lb_heartbeat_body_check(doc, minor, &err);
		if (checked < 0 && err.msg[0] == '\0')
			abort();
		json_decref(doc);
	}
	fz_req_init(&fr, "/v1/heartbeat/n2", minor, "", 0, body, blen);
	args[0] = data[0] & 0x80 ? "n2" : FZ_NODE_RESCUE;
	r = fz_call(lb_api_heartbeat, &fr, args);
	fz_req_release(&fr);
	/* Nothing the check refuses may be recorded. */
	if (r == 0 && (checked < 0 || minor < 22))
		abort();
	if (r == 0 && lb_store_node_update(fz_api_ctx()->store,
	    FZ_NODE_RESCUE, forget_agent, NULL, NULL, &err) < 0)
		abort();
	return 0;
}
