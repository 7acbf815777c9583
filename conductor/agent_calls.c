/*
 * agent_calls.c - what a rescue ramdisk's agent calls (API threads): the
 * lookup that finds its node and issues the token, and the heartbeat that
 * pins its URL and certificate and, in rescue wait, queues the rescue's
 * finalize job.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conductor/agent_client.h"
#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/job.h"
#include "conductor/rescue_check.h"
#include "conductor/rescue_flow.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/mask.h"
#include "conductor/util/metrics.h"
#include "conductor/util/banned.h"

static bool
lookup_state(const char *state)
{
	static const char *const ok[] = {
		LB_STATE_DEPLOYING, LB_STATE_DEPLOY_WAIT, LB_STATE_CLEANING,
		LB_STATE_CLEAN_WAIT, LB_STATE_INSPECTING, LB_STATE_INSPECT_WAIT,
		LB_STATE_RESCUING, LB_STATE_RESCUE_WAIT, "service wait", NULL,
	};

	for (size_t i = 0; ok[i] != NULL; i++) {
		if (strcmp(state, ok[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Lookup and heartbeat need no credentials, so a stranger can send as
 * many as it likes: each reads the node first (no write lock, no worker)
 * and writes only what a real agent's call changes, re-checking under the
 * write since the node may have moved on in between.
 */
struct lookup_token {
	const struct lb_config *cfg;
	char token[64];
	bool issued;
};

static bool
has_token(const struct lb_node *node)
{
	return json_object_get(node->driver_internal_info,
	    "agent_secret_token") != NULL;
}

/* The token is issued on the first lookup only; later ones get "******". */
static int
issue_token(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct lookup_token *lt = arg;

	if (lt->cfg->api_restrict_lookup &&
	    !lookup_state(node->provision_state))
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	if (has_token(node))
		return LB_STORE_UNCHANGED;
	if (lb_random_token(lt->token, sizeof(lt->token), 32) < 0)
		return lb_err_set(err, -EIO, "cannot make an agent token");
	json_object_set_new(node->driver_internal_info, "agent_secret_token",
	    json_string(lt->token));
	lt->issued = true;
	return 0;
}

#define RELOOKUP_MSG "The rescue ramdisk looked the node up again after " \
	"its agent token had been issued: the agent restarted by itself and " \
	"cannot authenticate, so the rescue cannot finish. Abort the rescue " \
	"(openstack baremetal node abort) and rescue the node again; " \
	"lifeboat issues a new token only to a ramdisk it booted itself."

/*
 * A second lookup in rescue wait: the token went to the ramdisk lifeboat
 * booted, and only a restart of that ramdisk (lifeboat wipes the token
 * whenever it powers the node off) looks up again.  Not with a token baked
 * into the ISO: that agent still has it.
 */
static bool
relooked_up(const struct lb_node *node)
{
	return strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) == 0 &&
	    has_token(node) && !json_is_true(json_object_get(
	    node->driver_internal_info, "agent_secret_token_pregenerated"));
}

static int
record_relookup(struct lb_node *node, void *arg, struct lb_err *err)
{
	bool *recorded = arg;

	if (!relooked_up(node) || (node->last_error != NULL &&
	    strcmp(node->last_error, RELOOKUP_MSG) == 0))
		return LB_STORE_UNCHANGED;
	if (lb_replace_str(&node->last_error, RELOOKUP_MSG, err) < 0)
		return -ENOMEM;
	*recorded = true;
	return 0;
}

/* Tells the operator once; the agent still gets "******" as from Ironic. */
static void
note_relookup(struct lb_engine *e, const struct lb_node *node)
{
	struct lb_err err = { "" };
	bool recorded = false;

	if (!relooked_up(node) || (node->last_error != NULL &&
	    strcmp(node->last_error, RELOOKUP_MSG) == 0))
		return;
	if (lb_store_node_update(e->store, node->uuid, record_relookup,
	    &recorded, NULL, &err) < 0)
		log_warning("node %s: cannot record a second lookup: %s",
		    node->uuid, err.msg);
	else if (recorded)
		log_warning("node %s: lookup again in rescue wait, after the "
		    "agent token was issued; the agent cannot heartbeat, the "
		    "rescue must be aborted and started again", node->uuid);
}

/*
 * The first lookup of this rescue's ramdisk, for the timeout's message:
 * with virtual media the token is made in advance, so a token does not
 * say that a lookup happened.  "rescuing" too: a quick ramdisk may look
 * up before the rescue job has moved the node on (one looking up before
 * the job's power off is forgotten with the rest of the agent then).
 */
static bool
wants_lookup_mark(const struct lb_node *node)
{
	return (strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) == 0 ||
	    strcmp(node->provision_state, LB_STATE_RESCUING) == 0) &&
	    json_object_get(node->driver_internal_info,
	    "agent_lookup_at") == NULL;
}

static int
mark_lookup(struct lb_node *node, void *arg, struct lb_err *err)
{
	char now[LB_TIME_LEN];

	(void)arg;
	(void)err;
	if (!wants_lookup_mark(node))
		return LB_STORE_UNCHANGED;
	/* Ironic's format, as agent_last_heartbeat. */
	lb_time_now_iso(now);
	now[26] = '\0';
	json_object_set_new(node->driver_internal_info, "agent_lookup_at",
	    json_string(now));
	return 0;
}

static int
find_node_by_macs(struct lb_engine *e, const char *addresses,
    char uuid[LB_UUID_LEN + 1], bool *ret_any_valid)
{
	char buf[1024], *p, *save = NULL, mac[LB_MAC_LEN + 1];
	struct lb_port_query q = { 0 };
	struct lb_port_list ports;
	struct lb_err err;

	*ret_any_valid = false;
	snprintf(buf, sizeof(buf), "%s", addresses);
	for (p = strtok_r(buf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (lb_mac_normalize(p, mac) < 0)
			continue;
		*ret_any_valid = true;
		q.address = mac;
		if (lb_store_port_list(e->store, &q, &ports, &err) < 0)
			continue;
		if (ports.n > 0) {
			memcpy(uuid, ports.items[0]->node_uuid,
			    LB_UUID_LEN + 1);
			lb_port_list_release(&ports);
			return 0;
		}
		lb_port_list_release(&ports);
	}
	return -ENOENT;
}

/* The lookup's reply, as Ironic's: the node's view and the agent config. */
static json_t *
lookup_doc(const struct lb_engine *e, const struct lb_node *node, int minor,
    const char *base_url, const struct lookup_token *lt)
{
	static const char *const ii_mask[] = { "configdrive", "image_url",
	    NULL };
	char link[1024];
	json_t *doc;

	snprintf(link, sizeof(link), "%s/v1/nodes/%s", base_url, node->uuid);
	doc = json_pack("{s:{s:s, s:O, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}]},"
	    " s:{s:{s:s, s:b, s:b, s:b, s:n}, s:{s:s, s:i}, s:i, s:b, s:b,"
	    " s:[s, s, s], s:b}}",
	    "node", "uuid", node->uuid, "properties", node->properties,
	    "instance_info", lb_mask_dict(node->instance_info, ii_mask),
	    "driver_internal_info", lb_mask_dict(node->driver_internal_info,
	    NULL), "links", "href", link, "rel", "self", "href", "",
	    "rel", "bookmark",
	    "config", "metrics", "backend", "noop", "prepend_host", 0,
	    "prepend_uuid", 0, "prepend_host_reverse", 1, "global_prefix",
	    "metrics_statsd", "statsd_host", "localhost", "statsd_port", 8125,
	    "heartbeat_timeout", e->cfg->api_ramdisk_heartbeat_timeout,
	    "agent_token_required", 1, "disable_deep_image_inspection", 0,
	    "permitted_image_formats", "raw", "qcow2", "iso",
	    "enable_bios_bootloader_install", 1);
	if (doc != NULL) {
		/* The bookmark link, filled in here for readability. */
		json_t *links = json_object_get(json_object_get(doc, "node"),
		    "links");
		char bm[1024];

		snprintf(bm, sizeof(bm), "%s/nodes/%s", base_url, node->uuid);
		json_object_set_new(json_array_get(links, 1), "href",
		    json_string(bm));
		if (minor >= 62)
			json_object_set_new(json_object_get(doc, "config"),
			    "agent_token", json_string(lt->issued ? lt->token :
			    "******"));
	}
	return doc;
}

/* An agent phase: the seconds since a stored time stamp (wall clock). */
static void
observe_since(const struct lb_engine *e, const char *stamp,
    const char *phase)
{
	double then, s;

	if (lb_time_parse_iso(stamp, &then) < 0)
		return;
	s = e->clock->realtime(e->clock) - then;
	if (s >= 0)
		LB_METRIC_OBSERVE(LB_M_AGENT_PHASE, s, phase);
}

/* Counted: accepted, or refused with the reason (the agent sees less). */
static int
lookup_counted(const char *reason, int r)
{
	LB_METRIC_INC(LB_M_AGENT_LOOKUPS, r < 0 ? "refused" : "accepted",
	    reason);
	return r;
}

static int
lookup(struct lb_engine *e, const char *addresses, const char *node_uuid,
    int minor, const char *base_url, json_t **ret, const char **why,
    struct lb_err *err);

/* Seconds since the node entered its state (rescue wait: powered on). */
static double
seconds_since_wait(const struct lb_engine *e, const struct lb_node *node)
{
	double at;

	if (lb_time_parse_iso(node->provision_updated_at, &at) < 0)
		return 0;
	return e->clock->realtime(e->clock) - at;
}

/* The ramdisk's lookup, a phase of the rescue (log line and history). */
static void
phase_since_wait(struct lb_engine *e, const struct lb_node *node,
    const char *what)
{
	double s = seconds_since_wait(e, node);

	log_info("node %s: rescue: %s (%.2f s after power on)", node->uuid,
	    what, s);
	lb_history_record(e, node->uuid, LB_HISTORY_INFO, "rescue", NULL,
	    "rescue: %s (%.2f s after power on)", what, s);
}

int
lb_engine_lookup(struct lb_engine *e, const char *addresses,
    const char *node_uuid, int minor, const char *base_url, json_t **ret,
    struct lb_err *err)
{
	const char *why = "error";
	int r = lookup(e, addresses, node_uuid, minor, base_url, ret, &why,
	    err);

	return lookup_counted(r < 0 ? why : "ok", r);
}

static int
lookup(struct lb_engine *e, const char *addresses, const char *node_uuid,
    int minor, const char *base_url, json_t **ret, const char **why,
    struct lb_err *err)
{
	struct lookup_token lt = { e->cfg, "", false };
	struct lb_node *node = NULL;
	char uuid[LB_UUID_LEN + 1];
	bool any_mac = false;
	json_t *doc;
	int r;

	*why = "old_api_version";
	if (minor < 22)
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	*why = "no_address";
	if (node_uuid != NULL && lb_uuid_normalize(node_uuid, uuid) == 0) {
		r = 0;
	} else {
		r = addresses ? find_node_by_macs(e, addresses, uuid,
		    &any_mac) : -ENOENT;
		if (!any_mac)
			return lb_err_set(err, -EINVAL, "At least one of "
			    "'addresses' and 'node_uuid' parameters is "
			    "required");
	}
	/* Unknown and not-in-a-lookup-state read the same, on purpose. */
	if (r == 0)
		r = lb_store_node_get(e->store, uuid, &node, err);
	*why = r < 0 ? "unknown_node" : "wrong_state";
	if (r < 0 || (e->cfg->api_restrict_lookup &&
	    !lookup_state(node->provision_state))) {
		lb_node_free(node);
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	}
	*why = "error";
	if (minor >= 62 && !has_token(node)) {
		lb_node_free(node);
		node = NULL;
		r = lb_store_node_update(e->store, uuid, issue_token, &lt,
		    &node, err);
		if (r < 0)
			return r;
	} else if (minor >= 62) {
		note_relookup(e, node);
	}
	if (wants_lookup_mark(node)) {
		struct lb_err merr = { "" };

		if (lb_store_node_update(e->store, node->uuid, mark_lookup,
		    NULL, NULL, &merr) < 0)
			log_warning("node %s: cannot record the lookup: %s",
			    node->uuid, merr.msg);
		else
			phase_since_wait(e, node, "agent lookup");
		if (strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) == 0)
			observe_since(e, node->provision_updated_at, "lookup");
	}
	doc = lookup_doc(e, node, minor, base_url, &lt);
	if (lt.issued)
		log_info("node %s: agent token issued at lookup", node->uuid);
	memset(lt.token, 0, sizeof(lt.token));
	lb_node_free(node);
	if (doc == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	*ret = doc;
	return 0;
}

struct heartbeat {
	const json_t *body;
	int minor;
	const struct lb_engine *e;
	bool tls;			/* callback_url is https */
	bool may_finalize;		/* a worker is reserved for it */
	bool finalize;
	char uuid[LB_UUID_LEN + 1];
	const char *why;		/* the metrics' reason when refused */
	char lookup_at[LB_TIME_LEN];	/* of the node that finalizes */
};

static int
check_token(const struct lb_node *node, const char *sent, const char **why,
    struct lb_err *err)
{
	const char *want = json_string_value(json_object_get(
	    node->driver_internal_info, "agent_secret_token"));

	*why = sent == NULL ? "missing_token" : "bad_token";
	if (sent == NULL)
		return lb_err_set(err, -EINVAL, "Agent token is required for "
		    "heartbeat processing.");
	if (want == NULL || strlen(want) != strlen(sent) ||
	    CRYPTO_memcmp(want, sent, strlen(want)) != 0)
		return lb_err_set(err, -EINVAL, "Invalid or missing agent token "
		    "received.");
	return 0;
}

/* Keeps the agent's certificate; a heartbeat may not change it later. */
static int
pin_certificate(const struct lb_engine *e, struct lb_node *node,
    const char *pem, struct lb_err *err)
{
	const char *have = json_string_value(json_object_get(
	    node->driver_internal_info, "agent_verify_ca"));
	char path[1200], tmp[1300], *old = NULL;
	FILE *f;
	long n;

	if (have != NULL) {
		f = fopen(have, "r");
		if (f != NULL && fseek(f, 0, SEEK_END) == 0 &&
		    (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
		    (old = calloc(1, n + 1)) != NULL &&
		    fread(old, 1, n, f) == (size_t)n &&
		    strcmp(old, pem) == 0) {
			fclose(f);
			free(old);
			return 0;
		}
		if (f != NULL)
			fclose(f);
		free(old);
		return lb_err_set(err, -EINVAL, "Detected change in ramdisk "
		    "provided \"agent_verify_ca\"");
	}
	if (mkdir(e->certs_path, 0700) < 0 && errno != EEXIST)
		return lb_err_set(err, -EIO, "cannot create '%s'",
		    e->certs_path);
	snprintf(path, sizeof(path), "%s/%s.crt", e->certs_path, node->uuid);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL || fputs(pem, f) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) < 0)
		return lb_err_set(err, -EIO, "cannot write the agent "
		    "certificate '%s'", path);
	json_object_set_new(node->driver_internal_info, "agent_verify_ca",
	    json_string(path));
	return 0;
}

/* A heartbeat in rescue wait moves the rescue on; elsewhere it is noted. */
static bool
finalizes(const struct lb_node *node)
{
	return strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) == 0 &&
	    node->reservation == NULL && !node->maintenance;
}

/* What a heartbeat must pass: on a read copy first, then under the write. */
static int
check_heartbeat(const struct heartbeat *hb, const struct lb_node *node,
    const char **why, struct lb_err *err)
{
	const json_t *b = hb->body;
	const char *url = json_string_value(json_object_get(b,
	    "callback_url"));
	const char *have;
	int r;

	r = check_token(node, json_string_value(json_object_get(b,
	    "agent_token")), why, err);
	if (r < 0)
		return r;
	*why = "no_agent_version";
	if (json_string_value(json_object_get(b, "agent_version")) == NULL)
		return lb_err_set(err, -EINVAL, "Agent version is required for "
		    "heartbeat processing.");
	*why = "tls_required";
	if (hb->e->cfg->agent_require_tls && !hb->tls)
		return lb_err_set(err, -EINVAL, "TLS is required by "
		    "configuration");
	have = json_string_value(json_object_get(node->driver_internal_info,
	    "agent_url"));
	*why = "callback_url_changed";
	if (have != NULL && strcmp(have, url) != 0)
		return lb_err_set(err, -EINVAL, "Detected change in ramdisk "
		    "provided \"callback_url\"");
	*why = "node_locked";
	if (have == NULL && node->reservation != NULL)
		return lb_node_locked(node, err);
	return 0;
}

static int
record_heartbeat(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct heartbeat *hb = arg;
	const json_t *b = hb->body;
	const char *url = json_string_value(json_object_get(b,
	    "callback_url"));
	const char *version = json_string_value(json_object_get(b,
	    "agent_version"));
	const char *pem = json_string_value(json_object_get(b,
	    "agent_verify_ca"));
	const char *at;
	char now[LB_TIME_LEN];
	int r;

	memcpy(hb->uuid, node->uuid, sizeof(hb->uuid));
	r = check_heartbeat(hb, node, &hb->why, err);
	if (r < 0)
		return r;
	hb->why = "certificate";
	if (pem != NULL && (r = pin_certificate(hb->e, node, pem, err)) < 0)
		return r;
	hb->why = "error";
	/* Ironic's format: ISO time without a zone. */
	lb_time_now_iso(now);
	now[26] = '\0';
	json_object_set_new(node->driver_internal_info, "agent_url",
	    json_string(url));
	json_object_set_new(node->driver_internal_info, "agent_version",
	    json_string(version));
	json_object_set_new(node->driver_internal_info, "agent_last_heartbeat",
	    json_string(now));
	/*
	 * Without a worker (the node reached rescue wait after the read)
	 * the heartbeat is only recorded; the agent's next one finalizes.
	 */
	if (hb->may_finalize && finalizes(node)) {
		const struct lb_transition *tr =
		    lb_fsm_next(node->provision_state, "resume");

		r = lb_replace_str(&node->provision_state, tr->to, err);
		r |= lb_replace_str(&node->target_provision_state, tr->target,
		    err);
		r |= lb_replace_str(&node->reservation, hb->e->cfg->host, err);
		if (r < 0)
			return -ENOMEM;
		hb->finalize = true;
		at = json_string_value(json_object_get(
		    node->driver_internal_info, "agent_lookup_at"));
		snprintf(hb->lookup_at, sizeof(hb->lookup_at), "%s",
		    at != NULL ? at : "");
	}
	return 0;
}

static int
check_heartbeat_body(const json_t *body, int minor, bool *ret_tls,
    struct lb_err *err)
{
	static const struct {
		const char *key;
		int minor;
	} fields[] = {
		{ "callback_url", 22 }, { "agent_version", 36 },
		{ "agent_token", 62 }, { "agent_verify_ca", 68 },
		{ "agent_status", 72 }, { "agent_status_message", 72 },
	};
	const char *key, *url;
	json_t *value;
	int r;

	if (!json_is_object(body))
		return lb_err_set(err, -EINVAL, "Invalid input: the request "
		    "body must be a JSON object");
	json_object_foreach((json_t *)body, key, value) {
		size_t i;

		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (strcmp(fields[i].key, key) == 0)
				break;
		}
		if (i == sizeof(fields) / sizeof(fields[0]))
			return lb_err_set(err, -EINVAL, "Unknown argument: "
			    "\"%s\"", key);
		if (minor < fields[i].minor)
			return lb_err_set(err, -EINVAL, "Field \"%s\" is not "
			    "allowed in API version 1.%d", key, minor);
		/* Ironic's args.string() lets null mean "not sent". */
		if (!json_is_string(value) && !json_is_null(value))
			return lb_err_set(err, -EINVAL, "Invalid input for "
			    "field/attribute %s. Expected 'string'", key);
	}
	value = json_object_get(body, "callback_url");
	url = json_string_value(value);
	if (url == NULL)
		return lb_err_set(err, -EINVAL, "'callback_url' is a required "
		    "property");
	r = lb_agent_url_check(url, json_string_length(value), ret_tls, err);
	if (r < 0)
		return r;
	if (strlen(url) > 512 || strpbrk(url, " \"'\\<>") != NULL)
		return lb_err_set(err, -EINVAL, "Invalid callback_url: it must "
		    "be an http:// or https:// URL");
	return 0;
}

static int
heartbeat(struct lb_engine *e, const char *ident, struct heartbeat *hb,
    struct lb_err *err)
{
	struct lb_engine_job *j = NULL;
	struct lb_node *node = NULL;
	double wait_s = -1;
	int r;

	hb->why = "old_api_version";
	if (hb->minor < 22)
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	hb->why = "bad_request";
	r = check_heartbeat_body(hb->body, hb->minor, &hb->tls, err);
	if (r < 0)
		return r;
	/* A stranger's heartbeat ends here: no write lock, no worker. */
	r = lb_store_node_get(e->store, ident, &node, err);
	hb->why = r == -ENOENT ? "unknown_node" : "error";
	if (r < 0)
		return r;
	r = check_heartbeat(hb, node, &hb->why, err);
	hb->may_finalize = r == 0 && finalizes(node);
	if (hb->may_finalize)
		wait_s = seconds_since_wait(e, node);
	lb_node_free(node);
	if (r == 0 && hb->may_finalize) {
		hb->why = "no_worker";
		r = lb_job_reserve(e, &lb_rescue_job_finalize, 0, &j, err);
		if (r < 0)
			return r;
	}
	if (r == 0)
		r = lb_store_node_update(e->store, ident, record_heartbeat,
		    hb, NULL, err);
	/* The agent sees only the reply; the operator needs the reason too. */
	if (r < 0 && r != -ENOENT && err != NULL)
		log_warning("node %s: heartbeat refused: %s", ident, err->msg);
	if (r < 0 || !hb->finalize) {
		lb_job_cancel(j);
		return r;
	}
	log_info("node %s: rescue wait -> rescuing (agent heartbeat)",
	    hb->uuid);
	observe_since(e, hb->lookup_at, "first_heartbeat");
	/* Only the heartbeat that ends the wait: one per rescue. */
	lb_history_record(e, hb->uuid, LB_HISTORY_INFO, "rescue", NULL,
	    "rescue: first heartbeat (%.2f s after power on)", wait_s);
	lb_job_queue(j, hb->uuid);
	return 0;
}

int
lb_engine_heartbeat(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err)
{
	struct heartbeat hb = { .body = body, .minor = minor, .e = e };
	int r = heartbeat(e, ident, &hb, err);

	LB_METRIC_INC(LB_M_AGENT_HEARTBEATS, r < 0 ? "refused" : "accepted",
	    r < 0 ? hb.why : hb.finalize ? "finalize" : "recorded");
	return r;
}

/* ---- for the fuzz target (tests/fuzz/fuzz_lookup.c) ---- */

int
lb_heartbeat_body_check(const json_t *body, int minor, struct lb_err *err)
{
	bool tls;

	return check_heartbeat_body(body, minor, &tls, err);
}
