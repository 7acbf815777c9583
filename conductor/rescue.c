/*
 * rescue.c - rescue and unrescue (contract 3): the verbs' checks on API
 * threads, and the jobs on the worker pool: stage the ramdisk and boot it,
 * hand the agent the password hash, and every way out (agent failure,
 * callback timeout, abort, unrescue) with its clean-up.  The password is
 * kept only as a crypt(3) hash and only until the agent has it.
 */
#include <limits.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/image_cache.h"
#include "conductor/agent_client.h"
#include "conductor/engine_internal.h"
#include "conductor/hwtype.h"
#include "conductor/rescue_check.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/mask.h"
#include "conductor/util/passwd.h"
#include "network/network.h"
#include "conductor/util/banned.h"

enum rescue_job_kind {
	RJ_RESCUE,		/* stage, boot, then wait for the agent */
	RJ_FINALIZE,		/* the agent called back: give it the hash */
	RJ_CLEANUP,		/* after abort or timeout */
	RJ_UNRESCUE,
};

struct rescue_job {
	struct lb_job base;
	struct lb_engine *e;
	enum rescue_job_kind kind;
	char uuid[LB_UUID_LEN + 1];
	bool power_off;		/* RJ_CLEANUP: timeout (and vmedia) powers off */
	bool keep_power;	/* RJ_CLEANUP after a restart: never power off */
	const char *what;	/* RJ_CLEANUP: for the log line */
	double started;
};

/* ---- interfaces of a node ---- */

static const struct lb_boot_ops *
boot_ops(const struct lb_node *node)
{
	const struct lb_iface_impl *impl =
	    lb_iface_find(LB_IFACE_BOOT, node->iface[LB_IFACE_BOOT]);

	return impl && (impl->flags & LB_IMPL_BUILT) ? impl->ops : NULL;
}

static const struct lb_network_ops *
network_ops(const struct lb_node *node)
{
	const struct lb_iface_impl *impl =
	    lb_iface_find(LB_IFACE_NETWORK, node->iface[LB_IFACE_NETWORK]);

	return impl && (impl->flags & LB_IMPL_BUILT) ? impl->ops : NULL;
}

static void
boot_env(const struct lb_engine *e, const struct lb_node_ctx *ctx,
    struct lb_boot_env *env)
{
	const struct lb_network_ops *net = network_ops(ctx->node);

	env->cfg = e->cfg;
	env->api_url = e->api_url;
	env->http_url = e->http_url;
	env->external_http_url = e->external_http_url;
	env->tftp_server = e->tftp_server;
	env->management = ctx->management;
	env->tenant_dhcp = net != NULL && net->tenant_dhcp;
}

static bool
is_vmedia(const struct lb_node *node)
{
	return strcmp(node->iface[LB_IFACE_BOOT], "redfish-virtual-media") == 0;
}

/* A prebuilt ISO (virtual media only), used as it is. */
static const char *
rescue_iso(const struct lb_node *node)
{
	return is_vmedia(node) ? json_string_value(json_object_get(
	    node->driver_info, "rescue_iso")) : NULL;
}

/* The rescue image hrefs: driver_info, else the configuration. */
static void
rescue_images(const struct lb_engine *e, const struct lb_node *node,
    const char **kernel, const char **ramdisk)
{
	*kernel = json_string_value(json_object_get(node->driver_info,
	    "rescue_kernel"));
	*ramdisk = json_string_value(json_object_get(node->driver_info,
	    "rescue_ramdisk"));
	if (*kernel == NULL && *ramdisk == NULL) {
		*kernel = e->cfg->rescue_kernel;
		*ramdisk = e->cfg->rescue_ramdisk;
	}
}

/*
 * How long the OS gets to shut down before the rescue's hard power-off
 * (0: none): driver_info, else [conductor] rescue_soft_power_off_timeout.
 */
static int
soft_off_timeout(const struct lb_engine *e, const struct lb_node *node,
    int *ret_seconds, struct lb_err *err)
{
	int r = lb_node_soft_off_timeout(node->driver_info, ret_seconds, err);

	if (r == -ENOENT) {
		*ret_seconds = e->cfg->rescue_soft_power_off_timeout;
		return 0;
	}
	return r;
}

/*
 * A file:// href must resolve below one of [conductor]
 * file_url_allowed_paths: otherwise anyone who may edit driver_info could
 * have the conductor publish any file it can read.  The image cache makes
 * this check with the parser it fetches with, in every get too.
 */
static int
check_href(struct lb_engine *e, const char *what, const char *href,
    struct lb_err *err)
{
	return lb_image_cache_check(e->images, what, href, NULL, err);
}

/*
 * What the rescue needs from the node, checked before anything changes
 * (contract 3.1 step 5): power, the rescue and boot interfaces, images,
 * the network's rescue hook.
 */
static int
validate_rescue(struct lb_engine *e, struct lb_node_ctx *ctx,
    struct lb_err *err)
{
	const struct lb_node *node = ctx->node;
	const struct lb_network_ops *net = network_ops(node);
	const struct lb_iface_impl *impl;
	const char *kernel, *ramdisk;
	char missing[64] = "";
	int seconds;

	impl = lb_iface_find(LB_IFACE_RESCUE, node->iface[LB_IFACE_RESCUE]);
	if (impl == NULL || (impl->flags & LB_IMPL_NONE))
		return lb_err_set(err, -EINVAL, "Driver %s does not support "
		    "rescue (disabled or not implemented).", node->driver);
	if (boot_ops(node) == NULL)
		return lb_err_set(err, -EINVAL, "the boot interface '%s' can "
		    "not boot a rescue ramdisk in this lifeboatd",
		    node->iface[LB_IFACE_BOOT]);
	impl = lb_iface_find(LB_IFACE_BOOT, node->iface[LB_IFACE_BOOT]);
	if (impl->validate != NULL && impl->validate(&ctx->task, err) < 0)
		return -EINVAL;
	if (is_vmedia(node) && e->http_url[0] == '\0' &&
	    e->external_http_url[0] == '\0')
		return lb_err_set(err, -EINVAL, "the %s boot interface needs "
		    "[deploy] external_http_url or http_url (and lifeboatd "
		    "serves [deploy] http_root there)", impl->name);
	if (!is_vmedia(node) && strcmp(impl->name, "pxe") != 0 &&
	    strcmp(impl->name, "fake") != 0 && e->http_url[0] == '\0')
		return lb_err_set(err, -EINVAL, "the %s boot interface needs "
		    "[deploy] http_url (and lifeboatd serves [deploy] "
		    "http_root there)", impl->name);
	if (net == NULL)
		return lb_err_set(err, -EINVAL, "the network interface '%s' is "
		    "not built into this lifeboatd",
		    node->iface[LB_IFACE_NETWORK]);
	if (net->validate_rescue(e->cfg, &ctx->task, err) < 0)
		return -EINVAL;
	if (soft_off_timeout(e, node, &seconds, err) < 0)
		return -EINVAL;
	if (rescue_iso(node) != NULL)
		return check_href(e, "rescue_iso", rescue_iso(node), err);
	rescue_images(e, node, &kernel, &ramdisk);
	if (kernel == NULL && ramdisk == NULL)
		snprintf(missing, sizeof(missing),
		    "['rescue_kernel', 'rescue_ramdisk']");
	else if (kernel == NULL)
		snprintf(missing, sizeof(missing), "['rescue_kernel']");
	else if (ramdisk == NULL)
		snprintf(missing, sizeof(missing), "['rescue_ramdisk']");
	if (missing[0] != '\0')
		return lb_err_set(err, -EINVAL, "Cannot validate PXE "
		    "bootloader. Some parameters were missing in node's "
		    "driver_info and configuration. Missing are: %s", missing);
	if (check_href(e, "rescue_kernel", kernel, err) < 0 ||
	    check_href(e, "rescue_ramdisk", ramdisk, err) < 0)
		return -EINVAL;
	return 0;
}

/* ---- the verbs (API threads) ---- */

struct rescue_begin {
	const char *verb;
	const char *event;
	const char *host;
	const char *hash;		/* rescue only */
	bool abort;
	char uuid[LB_UUID_LEN + 1];
	char from[32];
	char to[32];
};

static int
begin_rescue(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct rescue_begin *b = arg;
	int r;

	memcpy(b->uuid, node->uuid, sizeof(b->uuid));
	/* Abort keeps last_error as it is (null, as Ironic leaves it). */
	r = lb_node_fire(node, b->verb, b->event, b->host, !b->abort, b->from,
	    b->to, err);
	if (r < 0)
		return r;
	/* A new rescue or an unrescue never talks to an old agent. */
	json_object_del(node->driver_internal_info, "agent_url");
	if (strcmp(b->event, "rescue") == 0) {
		lb_node_forget_agent(node);
		lb_node_drop_password(node);
		json_object_set_new(node->instance_info,
		    "hashed_rescue_password", json_string(b->hash));
	} else {
		lb_node_drop_password(node);
	}
	return 0;
}

static void rescue_job_run(struct lb_job *base);

static void
rescue_job_drop(struct lb_job *base)
{
	free(base);
}

static struct rescue_job *
rescue_job_new(struct lb_engine *e, enum rescue_job_kind kind)
{
	struct rescue_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->base.run = rescue_job_run;
	j->base.drop = rescue_job_drop;
	j->e = e;
	j->kind = kind;
	j->what = "clean-up";
	j->started = lb_engine_now(e);
	return j;
}

/*
 * Reserves a worker, writes the transition (and lock), queues the job.
 * The reply goes out only after the write, so a poll right after the 202
 * sees the new state with its target.
 */
static int
start_job(struct lb_engine *e, const char *ident, struct rescue_begin *b,
    enum rescue_job_kind kind, bool power_off, struct lb_err *err)
{
	struct rescue_job *j;
	int r;

	if (lb_pool_reserve(&e->pool, 0) < 0)
		return lb_err_set(err, -EAGAIN, "No free conductor workers "
		    "available");
	j = rescue_job_new(e, kind);
	if (j == NULL) {
		lb_pool_unreserve(&e->pool);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	j->power_off = power_off;
	j->what = "abort clean-up";
	r = lb_store_node_update(e->store, ident, begin_rescue, b, NULL, err);
	if (r < 0) {
		free(j);
		lb_pool_unreserve(&e->pool);
		return r;
	}
	log_info("node %s: %s -> %s (%s)", b->uuid, b->from, b->to, b->verb);
	memcpy(j->uuid, b->uuid, sizeof(j->uuid));
	lb_pool_submit(&e->pool, &j->base);
	return 0;
}

int
lb_rescue_verb(struct lb_engine *e, const char *ident, const char *verb,
    const char *event, const json_t *body, struct lb_err *err)
{
	struct rescue_begin b = { .verb = verb, .event = event,
	    .host = e->cfg->host };
	struct lb_node_ctx ctx;
	const char *password = NULL;
	char hash[LB_PASSWD_HASH_MAX], why[LB_ERR_MSG_MAX];
	int r;

	if (strcmp(event, "abort") == 0) {
		b.abort = true;
		return start_job(e, ident, &b, RJ_CLEANUP, false, err);
	}
	r = lb_node_ctx_load(e, ident, &ctx, err);
	if (r == -ENOENT)
		return r;
	/* Ironic's order: the state first, then the password, then the rest. */
	if (r == 0 && lb_fsm_next(ctx.node->provision_state, event) == NULL) {
		r = lb_node_can_fire(ctx.node, verb, event, err);
		goto out;
	}
	if (strcmp(event, "rescue") == 0) {
		password = json_string_value(json_object_get(body,
		    "rescue_password"));
		if (lb_passwd_is_blank(password)) {
			r = lb_err_set(err, -EINVAL, "A non-empty "
			    "\"rescue_password\" is required when setting "
			    "target provision state to rescue");
			goto out;
		}
	}
	if (r < 0) {
		/* The power interface is not usable: a validation failure. */
		snprintf(why, sizeof(why), "%s", err->msg);
		return lb_err_set(err, -EINVAL, "Failed to %s node %s: "
		    "Validation failed: %s", verb, ident, why);
	}
	if (ctx.node->maintenance) {
		r = lb_err_set(err, -EINVAL, "The %s operation can't be "
		    "performed on node %s because it's in maintenance mode.",
		    strcmp(event, "rescue") == 0 ? "rescuing" : "unrescuing",
		    ctx.node->uuid);
		goto out;
	}
	if (strcmp(event, "rescue") == 0) {
		r = validate_rescue(e, &ctx, err);
		if (r < 0) {
			snprintf(why, sizeof(why), "%s", err->msg);
			r = lb_err_set(err, -EINVAL, "Failed to rescue instance "
			    "%s for node %s: Validation failed: %s",
			    ctx.node->instance_uuid ? ctx.node->instance_uuid :
			    "None", ctx.node->uuid, why);
			goto out;
		}
		r = lb_passwd_hash(password,
		    e->cfg->rescue_password_hash_algorithm, hash, err);
		if (r < 0)
			goto out;
		b.hash = hash;
	}
	r = start_job(e, ctx.node->uuid, &b, strcmp(event, "rescue") == 0 ?
	    RJ_RESCUE : RJ_UNRESCUE, true, err);
out:
	lb_node_ctx_release(&ctx);
	memset(hash, 0, sizeof(hash));
	return r;
}

/* ---- the jobs (worker threads) ---- */

/*
 * The staging and the network, best effort: every step runs even when an
 * earlier one failed.  A finalized rescue runs this alone (the node stays
 * up with its agent); every other way out goes through lb_rescue_leave.
 */
static void
clean_up(struct lb_engine *e, struct lb_node_ctx *ctx, bool power_off,
    bool restore_tenant)
{
	const struct lb_boot_ops *boot = boot_ops(ctx->node);
	const struct lb_network_ops *net = network_ops(ctx->node);
	struct lb_boot_env env;
	struct lb_err err = { "" };

	boot_env(e, ctx, &env);
	if (power_off && lb_call_set_power(e, ctx, LB_POWER_ACTION_OFF,
	    e->cfg->power_state_change_timeout, &err) < 0)
		log_warning("node %s: power off during clean-up failed: %s",
		    ctx->node->uuid, err.msg);
	if (boot != NULL && boot->clean_up_ramdisk(&env, &ctx->task,
	    &err) < 0)
		log_warning("node %s: removing the rescue boot files failed: "
		    "%s", ctx->node->uuid, err.msg);
	if (net != NULL && net->remove_rescuing(e->cfg, &ctx->task, &err) < 0)
		log_warning("node %s: removing the rescuing network failed: %s",
		    ctx->node->uuid, err.msg);
	if (restore_tenant && net != NULL &&
	    net->configure_tenant(e->cfg, &ctx->task, &err) < 0)
		log_warning("node %s: restoring the tenant network failed: %s",
		    ctx->node->uuid, err.msg);
}

static void
unlink_certificate(const struct lb_node *node, const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("node %s: cannot remove the agent certificate: %s",
		    node->uuid, strerror(errno));
}

/*
 * The certificate the agent pinned, if it is one of ours, and the node's
 * file in certificates_path even when a power off already forgot it.
 */
static void
remove_certificate(const struct lb_engine *e, const struct lb_node *node)
{
	const char *path = json_string_value(json_object_get(
	    node->driver_internal_info, "agent_verify_ca"));
	size_t n = strlen(e->certs_path);
	char own[1200];

	if (n == 0)
		return;
	snprintf(own, sizeof(own), "%s/%s.crt", e->certs_path, node->uuid);
	unlink_certificate(node, own);
	if (path == NULL || strncmp(path, e->certs_path, n) != 0 ||
	    path[n] != '/' || strstr(path + n, "/..") != NULL ||
	    strcmp(path, own) == 0)
		return;
	unlink_certificate(node, path);
}

void
lb_rescue_leave(struct lb_engine *e, struct lb_node_ctx *ctx, bool power_off,
    struct lb_finish *f)
{
	f->drop_password = true;
	f->forget_agent = true;
	if (ctx->node == NULL)
		return;
	clean_up(e, ctx, power_off, true);
	remove_certificate(e, ctx->node);
	if (power_off) {
		f->set_power = true;
		f->power = LB_POWER_OFF;
	}
}

static int
fetch_images(struct lb_engine *e, const struct lb_node *node,
    char **ret_kernel, char **ret_ramdisk, char **ret_iso, struct lb_err *err)
{
	const char *kernel, *ramdisk, *iso = rescue_iso(node);
	int r;

	if (iso != NULL) {
		if (check_href(e, "rescue_iso", iso, err) < 0)
			return -EINVAL;
		return lb_image_cache_get(e->images, iso, json_string_value(
		    json_object_get(node->driver_info, "rescue_iso_checksum")),
		    ret_iso, err);
	}
	rescue_images(e, node, &kernel, &ramdisk);
	if (check_href(e, "rescue_kernel", kernel, err) < 0 ||
	    check_href(e, "rescue_ramdisk", ramdisk, err) < 0)
		return -EINVAL;
	r = lb_image_cache_get(e->images, kernel, json_string_value(
	    json_object_get(node->driver_info, "rescue_kernel_checksum")),
	    ret_kernel, err);
	if (r < 0)
		return r;
	r = lb_image_cache_get(e->images, ramdisk, json_string_value(
	    json_object_get(node->driver_info, "rescue_ramdisk_checksum")),
	    ret_ramdisk, err);
	if (r < 0) {
		lb_image_cache_unpin(e->images, *ret_kernel);
		free(*ret_kernel);
		*ret_kernel = NULL;
	}
	return r;
}

/*
 * Once the node is off, no agent of an earlier boot (or of an earlier
 * rescue, or a stranger that looked up meanwhile) keeps a token, URL or
 * certificate: the ramdisk lifeboat boots next is the only one a lookup
 * issues a token to.  Virtual media boots without a lookup-time token
 * exchange being safe to rely on, so its token is made now, stored, and
 * baked into the ISO (contract 5.2: agent_secret_token_pregenerated).
 */
struct pregen {
	const char *token;		/* NULL: issued at lookup */
};

static int
reset_agent(struct lb_node *node, void *arg, struct lb_err *err)
{
	const struct pregen *p = arg;

	(void)err;
	lb_node_forget_agent(node);
	if (p->token == NULL)
		return 0;
	json_object_set_new(node->driver_internal_info, "agent_secret_token",
	    json_string(p->token));
	json_object_set_new(node->driver_internal_info,
	    "agent_secret_token_pregenerated", json_true());
	return 0;
}

/* One line per phase, so an operator (or a test) can see where it is. */
static void
phase(const struct lb_node_ctx *ctx, double *mark, const char *what)
{
	double now = lb_engine_now(ctx->engine);

	log_info("node %s: rescue: %s (%.2f s)", ctx->node->uuid, what,
	    now - *mark);
	*mark = now;
}

/*
 * The rescue's power-off.  As Nova's rescue does, and only when asked, a
 * node that is on first gets a soft power-off (ACPI) and up to 'soft_s'
 * seconds to shut down cleanly; whatever then is still on is powered off
 * hard.  Which of the two happened is an INFO line, not an error: a guest
 * that ignores the power button is the operator's business.  The power
 * state is read first, so a node already off gets no soft request and no
 * line.  Unrescue does not come here: the rescue ramdisk does not act on
 * the power button, so a soft power-off could only delay it.
 */
static int
rescue_power_off(struct lb_engine *e, struct lb_node_ctx *ctx, int soft_s,
    struct lb_err *err)
{
	int timeout = e->cfg->power_state_change_timeout, r, soft;
	enum lb_power_state state = LB_POWER_UNKNOWN;
	struct lb_err soft_err = { "" };
	double start;

	if (soft_s > 0 && lb_call_get_power(e, ctx, timeout, &state,
	    &soft_err) < 0)
		log_warning("node %s: rescue: cannot read the power state for "
		    "a soft power-off (%s); powering off hard",
		    ctx->node->uuid, soft_err.msg);
	if (state != LB_POWER_ON)
		return lb_call_set_power(e, ctx, LB_POWER_ACTION_OFF, timeout,
		    err);
	start = lb_engine_now(e);
	r = lb_call_set_power_for(e, ctx, LB_POWER_ACTION_SOFT_OFF, timeout,
	    soft_s, &soft_err);
	if (r == 0) {
		log_info("node %s: rescue: soft power-off done in %.1f s",
		    ctx->node->uuid, lb_engine_now(e) - start);
		return 0;
	}
	soft = r;
	r = lb_call_set_power(e, ctx, LB_POWER_ACTION_OFF, timeout, err);
	if (soft == -ETIMEDOUT)
		log_info("node %s: rescue: soft power-off did not finish in "
		    "%d s; %s", ctx->node->uuid, soft_s, r == 0 ?
		    "powered off hard" : "the hard power-off failed");
	else
		log_warning("node %s: rescue: soft power-off failed (%s); %s",
		    ctx->node->uuid, soft_err.msg, r == 0 ?
		    "powered off hard" : "the hard power-off failed");
	return r;
}

/*
 * Contract 3.2: off, network, stage, one-time boot device, on.  *touched
 * says whether the node itself was acted on (a failure before that, such
 * as a bad image href, leaves the instance running).
 */
static int
do_rescue(struct rescue_job *j, struct lb_node_ctx *ctx, bool *touched,
    struct lb_err *err)
{
	struct lb_engine *e = j->e;
	const struct lb_boot_ops *boot = boot_ops(ctx->node);
	const struct lb_network_ops *net = network_ops(ctx->node);
	struct lb_boot_images images = { NULL, NULL, NULL };
	struct pregen pregen = { NULL };
	char *kernel = NULL, *ramdisk = NULL, *iso = NULL;
	char request_id[48] = "req-", token[64], extra[128] = "";
	struct lb_boot_env env;
	int timeout = e->cfg->power_state_change_timeout, soft_s, r;
	double mark = lb_engine_now(e);

	if (boot == NULL || net == NULL)
		return lb_err_set(err, -ENOTSUP, "the boot or network "
		    "interface is not built into this lifeboatd");
	r = soft_off_timeout(e, ctx->node, &soft_s, err);
	if (r < 0)
		return r;
	/* Images first: a bad href fails before the node is touched. */
	r = fetch_images(e, ctx->node, &kernel, &ramdisk, &iso, err);
	if (r < 0)
		return r;
	phase(ctx, &mark, "images ready");
	images.kernel = kernel;
	images.ramdisk = ramdisk;
	images.iso = iso;
	/*
	 * A built ISO carries the token; an operator's prebuilt rescue_iso
	 * cannot, so its agent gets the token at lookup as a PXE one does.
	 */
	if (is_vmedia(ctx->node) && iso == NULL) {
		r = lb_random_token(token, sizeof(token), 32);
		if (r < 0) {
			lb_err_set(err, r, "cannot make an agent token");
			goto out;
		}
		pregen.token = token;
		snprintf(extra, sizeof(extra), "ipa-agent-token=%s", token);
	}
	boot_env(e, ctx, &env);
	lb_uuid_generate(request_id + 4);
	*touched = true;
	r = rescue_power_off(e, ctx, soft_s, err);
	if (r == 0)
		r = lb_store_node_update(e->store, ctx->node->uuid,
		    reset_agent, &pregen, NULL, err);
	if (r == 0)
		phase(ctx, &mark, "powered off");
	if (r == 0)
		r = net->unconfigure_tenant(e->cfg, &ctx->task, err);
	if (r == 0)
		r = net->add_rescuing(e->cfg, &ctx->task, err);
	if (r == 0)
		phase(ctx, &mark, "ports moved to the rescuing network");
	if (r == 0)
		r = boot->prepare_ramdisk(&env, &ctx->task, &images,
		    request_id, extra[0] ? extra : NULL, err);
	if (r == 0)
		r = ctx->management->set_boot_device(&ctx->task, boot->device,
		    false, lb_boot_mode_of(&ctx->task), err);
	if (r == 0)
		phase(ctx, &mark, "ramdisk staged, one-time network boot set");
	if (r == 0)
		r = lb_call_set_power(e, ctx, LB_POWER_ACTION_ON, timeout, err);
	if (r == 0)
		phase(ctx, &mark, "powered on, waiting for the agent");
out:
	/* Staged (linked) or not, eviction may have them now. */
	lb_image_cache_unpin(e->images, kernel);
	lb_image_cache_unpin(e->images, ramdisk);
	lb_image_cache_unpin(e->images, iso);
	free(kernel);
	free(ramdisk);
	free(iso);
	memset(token, 0, sizeof(token));
	memset(extra, 0, sizeof(extra));
	return r;
}

static int
do_finalize(struct rescue_job *j, struct lb_node_ctx *ctx, struct lb_err *err)
{
	const json_t *dii = ctx->node->driver_internal_info;
	struct lb_agent_call call = {
		.agent_url = json_string_value(json_object_get(dii,
		    "agent_url")),
		.token = json_string_value(json_object_get(dii,
		    "agent_secret_token")),
		.ca_file = json_string_value(json_object_get(dii,
		    "agent_verify_ca")),
		.timeout_s = j->e->cfg->agent_command_timeout,
		.attempts = j->e->cfg->agent_max_command_attempts,
	};
	const char *hash = json_string_value(json_object_get(
	    ctx->node->instance_info, "hashed_rescue_password"));
	const struct lb_network_ops *net = network_ops(ctx->node);

	if (call.agent_url == NULL || call.token == NULL || hash == NULL)
		return lb_err_set(err, -EINVAL, "the node has no agent URL, "
		    "token or password hash to finalize the rescue with");
	return lb_agent_finalize_rescue(&call, hash, net != NULL &&
	    net->tenant_dhcp, err);
}

static int
do_unrescue(struct rescue_job *j, struct lb_node_ctx *ctx, struct lb_finish *f,
    struct lb_err *err)
{
	struct lb_engine *e = j->e;
	int timeout = e->cfg->power_state_change_timeout, r;

	r = lb_call_set_power(e, ctx, LB_POWER_ACTION_OFF, timeout, err);
	if (r < 0)
		return r;
	lb_rescue_leave(e, ctx, false, f);
	r = ctx->management->set_boot_device(&ctx->task, LB_BOOT_DEV_DISK,
	    true, lb_boot_mode_of(&ctx->task), err);
	if (r == 0)
		r = lb_call_set_power(e, ctx, LB_POWER_ACTION_ON, timeout, err);
	return r;
}

static void
rescue_job_run(struct lb_job *base)
{
	struct rescue_job *j = (struct rescue_job *)base;
	struct lb_finish f = { 0 };
	struct lb_node_ctx ctx;
	struct lb_err err = { "" };
	char msg[LB_ERR_MSG_MAX + 64];
	const char *what = "rescue";
	bool touched = false;
	int r;

	r = lb_node_ctx_load(j->e, j->uuid, &ctx, &err);
	switch (j->kind) {
	case RJ_RESCUE:
		if (r == 0)
			r = do_rescue(j, &ctx, &touched, &err);
		if (r == 0) {
			/* Powered on into the ramdisk, whatever it was before. */
			f.event = "wait";
			f.set_power = true;
			f.power = LB_POWER_ON;
			break;
		}
		snprintf(msg, sizeof(msg), "Failed to rescue: %s", err.msg);
		if (touched)
			lb_rescue_leave(j->e, &ctx, true, &f);
		f.drop_password = true;
		f.forget_agent = true;
		f.event = "fail";
		f.error = msg;
		break;
	case RJ_FINALIZE:
		what = "finalize";
		if (r == 0)
			r = do_finalize(j, &ctx, &err);
		if (r == 0) {
			/* The rescued node stays up; only the staging goes. */
			clean_up(j->e, &ctx, false, true);
			f.event = "done";
			f.drop_password = true;
			break;
		}
		snprintf(msg, sizeof(msg), "Node failed to perform rescue "
		    "operation: %s", err.msg);
		lb_rescue_leave(j->e, &ctx, true, &f);
		f.set_power = true;
		f.power = LB_POWER_OFF;
		f.event = "fail";
		f.error = msg;
		break;
	case RJ_CLEANUP:
		/* The state already moved (abort, timeout, restart); tidy up. */
		what = j->what;
		/*
		 * An abort leaves a PXE-booted node as it is, as Ironic does;
		 * a node booted from virtual media is powered off before the
		 * media goes, so it is not left running a ramdisk whose
		 * medium was pulled.
		 */
		if (r == 0 && is_vmedia(ctx.node) && !j->keep_power)
			j->power_off = true;
		lb_rescue_leave(j->e, &ctx, j->power_off && r == 0, &f);
		f.keep_error = true;
		break;
	case RJ_UNRESCUE:
		what = "unrescue";
		if (r == 0)
			r = do_unrescue(j, &ctx, &f, &err);
		f.drop_password = true;
		f.forget_agent = true;
		if (r == 0) {
			f.event = "done";
			f.set_power = true;
			f.power = LB_POWER_ON;
			break;
		}
		snprintf(msg, sizeof(msg), "Failed to unrescue: %s", err.msg);
		f.event = "fail";
		f.error = msg;
		break;
	}
	f.ctx = &ctx;
	lb_engine_finish(j->e, j->uuid, &f, what, j->started);
	lb_node_ctx_release(&ctx);
	free(j);
}

/* ---- callback timeouts (timer thread) ---- */

struct timeout_begin {
	const char *host;
	const char *api_url;	/* what the ramdisk was told to call */
	double now;
	double deadline;		/* provision_updated_at before this */
	bool fired;
};

#define TIMEOUT_MSG "Timeout reached while waiting for rescue ramdisk " \
	"callback for node"

/*
 * Ironic's words first (clients match them), then how far the ramdisk
 * got, from what its calls left in driver_internal_info during this
 * rescue: agent_lookup_at (lookup), agent_url (a heartbeat).
 */
static void
timeout_message(const struct lb_node *node, const struct timeout_begin *t,
    double since, char *out, size_t size)
{
	const json_t *dii = node->driver_internal_info;
	const char *hb = json_string_value(json_object_get(dii,
	    "agent_last_heartbeat"));
	const char *looked = json_string_value(json_object_get(dii,
	    "agent_lookup_at"));
	long ago = (long)(t->now - since);

	if (json_object_get(dii, "agent_url") != NULL)
		snprintf(out, size, TIMEOUT_MSG ": the rescue ramdisk's agent "
		    "heartbeated (last at %s) but the rescue did not finish: "
		    "its later heartbeats did not arrive or finalize_rescue "
		    "did not complete. lifeboatd's log says which; the "
		    "agent's log is on the node's console.",
		    hb != NULL ? hb : "an unknown time");
	else if (looked != NULL)
		snprintf(out, size, TIMEOUT_MSG ": the rescue ramdisk looked "
		    "the node up (at %s) but none of its heartbeats arrived. "
		    "Check that the ramdisk can reach %s and that its agent "
		    "token is accepted (lifeboatd's log shows rejected "
		    "heartbeats); the agent's log is on the node's console.",
		    looked, t->api_url);
	else
		snprintf(out, size, TIMEOUT_MSG ": the rescue ramdisk never "
		    "looked up (no lookup with any of the node's MACs since "
		    "it was powered on for the rescue, %ld s ago). Check that "
		    "the ramdisk has a driver for the node's NIC (its console "
		    "lists PCI devices without one as 'lifeboat-ramdisk: no "
		    "driver for PCI'), that DHCP on the rescuing network "
		    "answers the node, and that the node can reach %s.",
		    ago, t->api_url);
}

static int
begin_timeout(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct timeout_begin *t = arg;
	const struct lb_transition *tr;
	char now[LB_TIME_LEN], msg[1024];
	double since;
	int r = 0;

	t->fired = false;
	/* Re-checked under the write lock: a heartbeat may have won. */
	if (strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) != 0 ||
	    node->reservation != NULL || node->maintenance ||
	    lb_time_parse_iso(node->provision_updated_at, &since) < 0 ||
	    since >= t->deadline)
		return LB_STORE_UNCHANGED;
	timeout_message(node, t, since, msg, sizeof(msg));
	tr = lb_fsm_next(node->provision_state, "fail");
	lb_time_now_iso(now);
	r |= lb_replace_str(&node->provision_state, tr->to, err);
	r |= lb_replace_str(&node->target_provision_state, tr->target, err);
	r |= lb_replace_str(&node->provision_updated_at, now, err);
	r |= lb_replace_str(&node->last_error, msg, err);
	r |= lb_replace_str(&node->reservation, t->host, err);
	t->fired = true;
	return r < 0 ? -ENOMEM : 0;
}

void
lb_rescue_check_timeouts(struct lb_engine *e)
{
	struct lb_node_query q = { .provision_state = LB_STATE_RESCUE_WAIT,
	    .maintenance = 0, .associated = -1, .retired = -1,
	    .reservation = "" };
	struct timeout_begin t = { .host = e->cfg->host,
	    .api_url = e->api_url };
	struct lb_node_list list;
	struct lb_err err = { "" };

	if (e->cfg->rescue_callback_timeout <= 0)
		return;
	t.now = e->clock->realtime(e->clock);
	t.deadline = floor(t.now) - e->cfg->rescue_callback_timeout;
	if (lb_store_node_list(e->store, &q, &list, &err) < 0) {
		log_error("rescue timeout check: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < list.n; i++) {
		struct rescue_job *j;

		if (lb_pool_reserve(&e->pool, 0) < 0)
			break;	/* the next check picks the rest up */
		j = rescue_job_new(e, RJ_CLEANUP);
		if (j == NULL ||
		    lb_store_node_update(e->store, list.items[i]->uuid,
		    begin_timeout, &t, NULL, &err) < 0 || !t.fired) {
			free(j);
			lb_pool_unreserve(&e->pool);
			continue;
		}
		log_warning("node %s: rescue wait -> rescue failed (timeout "
		    "after %d s)", list.items[i]->uuid,
		    e->cfg->rescue_callback_timeout);
		j->power_off = true;
		j->what = "timeout clean-up";
		memcpy(j->uuid, list.items[i]->uuid, sizeof(j->uuid));
		lb_pool_submit(&e->pool, &j->base);
	}
	lb_node_list_release(&list);
}

/* ---- after a restart (main thread, once the pool runs) ---- */

static void
recover_failed_state(struct lb_engine *e, const char *state)
{
	struct lb_node_query q = { .provision_state = state,
	    .maintenance = -1, .associated = -1, .retired = -1,
	    .reservation = e->cfg->host };
	struct lb_node_list list;
	struct lb_err err = { "" };

	if (lb_store_node_list(e->store, &q, &list, &err) < 0) {
		log_error("rescue recovery: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < list.n; i++) {
		struct rescue_job *j = rescue_job_new(e, RJ_CLEANUP);

		if (j == NULL) {
			log_error("node %s: out of memory for its clean-up",
			    list.items[i]->uuid);
			continue;
		}
		/*
		 * Power stays as it is: the job may have been cut short
		 * before it touched the node (an image download), and an
		 * instance that still runs must not go off for a restart.
		 * The agent, if one boots, finds no token and no files.
		 */
		j->keep_power = true;
		j->what = "recovery clean-up";
		memcpy(j->uuid, list.items[i]->uuid, sizeof(j->uuid));
		log_info("node %s: %s after restart: cleaning up the rescue",
		    j->uuid, state);
		/* A full pool at start: run it here rather than leave it. */
		if (lb_pool_reserve(&e->pool, 0) < 0)
			rescue_job_run(&j->base);
		else
			lb_pool_submit(&e->pool, &j->base);
	}
	lb_node_list_release(&list);
}

void
lb_rescue_recover(struct lb_engine *e)
{
	recover_failed_state(e, LB_STATE_RESCUE_FAILED);
	recover_failed_state(e, LB_STATE_UNRESCUE_FAILED);
	recover_failed_state(e, LB_STATE_ERROR);
}

/* ---- the agent's calls (API threads) ---- */

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

int
lb_engine_lookup(struct lb_engine *e, const char *addresses,
    const char *node_uuid, int minor, const char *base_url, json_t **ret,
    struct lb_err *err)
{
	static const char *const ii_mask[] = { "configdrive", "image_url",
	    NULL };
	struct lookup_token lt = { e->cfg, "", false };
	struct lb_node *node = NULL;
	char uuid[LB_UUID_LEN + 1], link[1024];
	bool any_mac = false;
	json_t *doc;
	int r;

	if (minor < 22)
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
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
	if (r < 0 || (e->cfg->api_restrict_lookup &&
	    !lookup_state(node->provision_state))) {
		lb_node_free(node);
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	}
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
			log_info("node %s: the rescue ramdisk looked up",
			    node->uuid);
	}
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
			    "agent_token", json_string(lt.issued ? lt.token :
			    "******"));
	}
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
};

static int
check_token(const struct lb_node *node, const char *sent, struct lb_err *err)
{
	const char *want = json_string_value(json_object_get(
	    node->driver_internal_info, "agent_secret_token"));

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
    struct lb_err *err)
{
	const json_t *b = hb->body;
	const char *url = json_string_value(json_object_get(b,
	    "callback_url"));
	const char *have;
	int r;

	r = check_token(node, json_string_value(json_object_get(b,
	    "agent_token")), err);
	if (r < 0)
		return r;
	if (json_string_value(json_object_get(b, "agent_version")) == NULL)
		return lb_err_set(err, -EINVAL, "Agent version is required for "
		    "heartbeat processing.");
	if (hb->e->cfg->agent_require_tls && !hb->tls)
		return lb_err_set(err, -EINVAL, "TLS is required by "
		    "configuration");
	have = json_string_value(json_object_get(node->driver_internal_info,
	    "agent_url"));
	if (have != NULL && strcmp(have, url) != 0)
		return lb_err_set(err, -EINVAL, "Detected change in ramdisk "
		    "provided \"callback_url\"");
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
	char now[LB_TIME_LEN];
	int r;

	memcpy(hb->uuid, node->uuid, sizeof(hb->uuid));
	r = check_heartbeat(hb, node, err);
	if (r < 0)
		return r;
	if (pem != NULL && (r = pin_certificate(hb->e, node, pem, err)) < 0)
		return r;
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

int
lb_engine_heartbeat(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err)
{
	struct heartbeat hb = { .body = body, .minor = minor, .e = e };
	struct rescue_job *j = NULL;
	struct lb_node *node = NULL;
	int r;

	if (minor < 22)
		return lb_err_set(err, -ENOENT, "Resource could not be found.");
	r = check_heartbeat_body(body, minor, &hb.tls, err);
	if (r < 0)
		return r;
	/* A stranger's heartbeat ends here: no write lock, no worker. */
	r = lb_store_node_get(e->store, ident, &node, err);
	if (r < 0)
		return r;
	r = check_heartbeat(&hb, node, err);
	hb.may_finalize = r == 0 && finalizes(node);
	lb_node_free(node);
	if (r == 0 && hb.may_finalize) {
		if (lb_pool_reserve(&e->pool, 0) < 0)
			return lb_err_set(err, -EAGAIN, "No free conductor "
			    "workers available");
		j = rescue_job_new(e, RJ_FINALIZE);
		if (j == NULL) {
			lb_pool_unreserve(&e->pool);
			return lb_err_set(err, -ENOMEM, "out of memory");
		}
	}
	if (r == 0)
		r = lb_store_node_update(e->store, ident, record_heartbeat,
		    &hb, NULL, err);
	/* The agent sees only the reply; the operator needs the reason too. */
	if (r < 0 && r != -ENOENT && err != NULL)
		log_warning("node %s: heartbeat refused: %s", ident, err->msg);
	if (r < 0 || !hb.finalize) {
		if (j != NULL) {
			free(j);
			lb_pool_unreserve(&e->pool);
		}
		return r;
	}
	log_info("node %s: rescue wait -> rescuing (agent heartbeat)",
	    hb.uuid);
	memcpy(j->uuid, hb.uuid, sizeof(j->uuid));
	lb_pool_submit(&e->pool, &j->base);
	return 0;
}

/* ---- set-up ---- */

/* 'url' without trailing slashes into 'buf'; "" when it is NULL. */
static void
base_url(char *buf, size_t size, const char *url)
{
	size_t n;

	snprintf(buf, size, "%s", url ? url : "");
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
}

int
lb_rescue_setup(struct lb_engine *e, struct lb_err *err)
{
	const struct lb_config *cfg = e->cfg;
	const struct lb_image_cache_opts opts = {
		.allowed = cfg->file_url_allowed_paths.items,
		.nallowed = cfg->file_url_allowed_paths.n,
		.max_bytes = (unsigned long long)cfg->pxe_image_cache_size <<
		    20,
		.ttl_s = (long long)cfg->pxe_image_cache_ttl * 60,
	};
	char dir[1024];
	int r;

	if (cfg->conductor_api_url != NULL)
		snprintf(e->api_url, sizeof(e->api_url), "%s",
		    cfg->conductor_api_url);
	else
		snprintf(e->api_url, sizeof(e->api_url), "http://%s:%d",
		    cfg->api_host_ip, cfg->api_port);
	/* Unset: no HTTP boot root, so iPXE and virtual media refuse. */
	base_url(e->http_url, sizeof(e->http_url), cfg->deploy_http_url);
	base_url(e->external_http_url, sizeof(e->external_http_url),
	    cfg->deploy_external_http_url);
	snprintf(e->tftp_server, sizeof(e->tftp_server), "%s",
	    cfg->pxe_tftp_server ? cfg->pxe_tftp_server : cfg->api_host_ip);
	snprintf(e->certs_path, sizeof(e->certs_path), "%s",
	    cfg->agent_certificates_path ? cfg->agent_certificates_path : "");
	if (cfg->agent_certificates_path == NULL)
		snprintf(e->certs_path, sizeof(e->certs_path),
		    "%s/certificates", cfg->state_path);
	if (cfg->pxe_image_cache != NULL)
		snprintf(dir, sizeof(dir), "%s", cfg->pxe_image_cache);
	else
		snprintf(dir, sizeof(dir), "%s/images", cfg->state_path);
	r = lb_image_cache_new(dir, &e->images, err);
	if (r == 0)
		r = lb_image_cache_configure(e->images, &opts, err);
	return r;
}

void
lb_rescue_teardown(struct lb_engine *e)
{
	lb_image_cache_free(e->images);
	e->images = NULL;
}

/* ---- for the fuzz target (tests/fuzz/fuzz_lookup.c) ---- */

int
lb_heartbeat_body_check(const json_t *body, int minor, struct lb_err *err)
{
	bool tls;

	return check_heartbeat_body(body, minor, &tls, err);
}
