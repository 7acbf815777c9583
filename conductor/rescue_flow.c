/*
 * rescue_flow.c - the agent rescue interface (contract 3): its checks, and
 * the rescue's steps on worker threads: fetch the images, power off, move
 * the ports, stage the ramdisk, boot it; hand the agent the password hash
 * (finalize); and every way out with its clean-up.  Also the fake rescue
 * interface (instant, as Ironic's) and the job kinds of the rescue flow.
 * The password is kept only as a crypt(3) hash and only until the agent
 * has it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/image_cache.h"
#include "conductor/agent_client.h"
#include "conductor/console_verbs.h"
#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/iface_ops.h"
#include "conductor/job.h"
#include "conductor/rescue_flow.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/passwd.h"
#include "conductor/util/banned.h"

/* ---- checks ---- */

/* A prebuilt ISO (virtual media only), used as it is. */
static const char *
rescue_iso(const struct lb_node_task *t)
{
	return lb_task_boot_flags(t) & LB_BOOT_MEDIA ? json_string_value(
	    json_object_get(t->node->driver_info, "rescue_iso")) : NULL;
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
 * (contract 3.1 step 5): the boot interface, the network's rescue hook.
 */
static int
validate_boot(struct lb_node_task *t, struct lb_err *err)
{
	const struct lb_engine *e = t->engine;
	const struct lb_node *node = t->node;
	unsigned flags = lb_task_boot_flags(t);

	if (!lb_task_has_boot(t))
		return lb_err_set(err, -EINVAL, "the boot interface '%s' can "
		    "not boot a rescue ramdisk in this lifeboatd",
		    node->iface[LB_IFACE_BOOT]);
	if (lb_task_boot_validate(t, err) < 0)
		return -EINVAL;
	if ((flags & LB_BOOT_MEDIA) && e->http_url[0] == '\0' &&
	    e->external_http_url[0] == '\0')
		return lb_err_set(err, -EINVAL, "the %s boot interface needs "
		    "[deploy] external_http_url or http_url (and lifeboatd "
		    "serves [deploy] http_root there)", lb_task_boot_name(t));
	if ((flags & LB_BOOT_NEEDS_HTTP) && e->http_url[0] == '\0')
		return lb_err_set(err, -EINVAL, "the %s boot interface needs "
		    "[deploy] http_url (and lifeboatd serves [deploy] "
		    "http_root there)", lb_task_boot_name(t));
	if (!lb_task_has_net(t))
		return lb_err_set(err, -EINVAL, "the network interface '%s' is "
		    "not built into this lifeboatd",
		    node->iface[LB_IFACE_NETWORK]);
	if (lb_task_net_validate_rescue(t, err) < 0)
		return -EINVAL;
	return 0;
}

/*
 * The agent rescue's checks (the rescue interface's validate): boot and
 * network first, then the power-off timeout and the images.
 */
static int
agent_validate(struct lb_node_task *t, struct lb_err *err)
{
	struct lb_engine *e = t->engine;
	const struct lb_node *node = t->node;
	const char *kernel, *ramdisk;
	char missing[64] = "";
	int seconds;

	if (validate_boot(t, err) < 0)
		return -EINVAL;
	if (soft_off_timeout(e, node, &seconds, err) < 0)
		return -EINVAL;
	if (rescue_iso(t) != NULL)
		return check_href(e, "rescue_iso", rescue_iso(t), err);
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


/* ---- the steps (worker threads) ---- */

/*
 * The staging and the network, best effort: every step runs even when an
 * earlier one failed.  A finalized rescue runs this alone (the node stays
 * up with its agent); every other way out goes through lb_rescue_leave.
 */
static void
clean_up(struct lb_node_task *t, bool power_off)
{
	struct lb_err err = { "" };
	const char *uuid = t->node->uuid;

	if (power_off && lb_task_power_set(t, LB_POWER_ACTION_OFF,
	    t->engine->cfg->power_state_change_timeout, &err) < 0)
		log_warning("node %s: power off during clean-up failed: %s",
		    uuid, err.msg);
	if (lb_task_boot_clean_up(t, &err) < 0)
		log_warning("node %s: removing the rescue boot files failed: "
		    "%s", uuid, err.msg);
	if (lb_task_net_remove_rescuing(t, &err) < 0)
		log_warning("node %s: removing the rescuing network failed: %s",
		    uuid, err.msg);
	if (lb_task_net_configure_tenant(t, &err) < 0)
		log_warning("node %s: restoring the tenant network failed: %s",
		    uuid, err.msg);
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

/*
 * The one way out of a rescue (abort, callback timeout, a failed rescue
 * or finalize, unrescue, undeploy, recovery after a restart): powers off
 * if asked, removes the staged boot files, links, DHCP entries and media,
 * the agent's pinned certificate, and puts the ports back on their tenant
 * network (lb_task_rescue_leave() has 'f' drop the password hash and the
 * agent's token and URL).  Best effort: each step runs even when an
 * earlier one failed.
 */
static void
agent_leave(struct lb_node_task *t, bool power_off, struct lb_finish *f)
{
	lb_console_capture_end(t);
	clean_up(t, power_off);
	remove_certificate(t->engine, t->node);
	if (power_off) {
		f->set_power = true;
		f->power = LB_POWER_OFF;
	}
}

static int
fetch_images(struct lb_node_task *t, char **ret_kernel, char **ret_ramdisk,
    char **ret_iso, struct lb_err *err)
{
	struct lb_engine *e = t->engine;
	const struct lb_node *node = t->node;
	const char *kernel, *ramdisk, *iso = rescue_iso(t);
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
	double started;			/* wall clock: the rescue's start */
};

static int
reset_agent(struct lb_node *node, void *arg, struct lb_err *err)
{
	const struct pregen *p = arg;

	(void)err;
	lb_node_forget_agent(node);
	/* The finalize's "done" line gives the rescue's total from it. */
	json_object_set_new(node->driver_internal_info, "rescue_started_at",
	    json_real(p->started));
	if (p->token == NULL)
		return 0;
	json_object_set_new(node->driver_internal_info, "agent_secret_token",
	    json_string(p->token));
	json_object_set_new(node->driver_internal_info,
	    "agent_secret_token_pregenerated", json_true());
	return 0;
}

/*
 * One log line and one history event per phase, with its duration, so an
 * operator (or a test) can see where it is and where the time went.
 * Unrescue's phases are the node's in "unrescuing"; the rest, rescue's.
 */
static void
phase(const struct lb_node_task *t, double *mark, const char *what)
{
	double now = lb_engine_now(t->engine);
	const char *verb = t->node->provision_state != NULL &&
	    strcmp(t->node->provision_state, LB_STATE_UNRESCUING) == 0 ?
	    "unrescue" : "rescue";

	log_info("node %s: %s: %s (%.2f s)", t->node->uuid, verb, what,
	    now - *mark);
	LB_METRIC_OBSERVE(LB_M_RESCUE_PHASE, now - *mark, verb, what);
	lb_history_record(t->engine, t->node->uuid, LB_HISTORY_INFO, verb,
	    t->user, "%s: %s (%.2f s)", verb, what, now - *mark);
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
rescue_power_off(struct lb_node_task *t, int soft_s, struct lb_err *err)
{
	struct lb_engine *e = t->engine;
	int timeout = e->cfg->power_state_change_timeout, r, soft;
	enum lb_power_state state = LB_POWER_UNKNOWN;
	struct lb_err soft_err = { "" };
	double start;

	if (soft_s > 0 && lb_task_power_get(t, timeout, &state,
	    &soft_err) < 0)
		log_warning("node %s: rescue: cannot read the power state for "
		    "a soft power-off (%s); powering off hard",
		    t->node->uuid, soft_err.msg);
	if (state != LB_POWER_ON)
		return lb_task_power_set(t, LB_POWER_ACTION_OFF, timeout, err);
	start = lb_engine_now(e);
	r = lb_task_power_set_for(t, LB_POWER_ACTION_SOFT_OFF, timeout,
	    soft_s, &soft_err);
	if (r == 0) {
		log_info("node %s: rescue: soft power-off done in %.1f s",
		    t->node->uuid, lb_engine_now(e) - start);
		return 0;
	}
	soft = r;
	if (soft == -ECANCELED)		/* a graceful stop: no hard power-off */
		return lb_err_set(err, r, "%s", soft_err.msg);
	r = lb_task_power_set(t, LB_POWER_ACTION_OFF, timeout, err);
	if (soft == -ETIMEDOUT)
		log_info("node %s: rescue: soft power-off did not finish in "
		    "%d s; %s", t->node->uuid, soft_s, r == 0 ?
		    "powered off hard" : "the hard power-off failed");
	else
		log_warning("node %s: rescue: soft power-off failed (%s); %s",
		    t->node->uuid, soft_err.msg, r == 0 ?
		    "powered off hard" : "the hard power-off failed");
	return r;
}

/*
 * Images first: a bad href fails before the node is touched.  A built
 * ISO carries the agent's token (made here, into 'token', and named in
 * 'extra'); an operator's prebuilt rescue_iso cannot, so its agent gets
 * the token at lookup as a PXE one does.
 */
struct staging {
	char *kernel, *ramdisk, *iso;
	char token[64];
	char extra[128];
	struct pregen pregen;
};

static int
stage_begin(struct lb_node_task *t, struct staging *s, struct lb_err *err)
{
	int r;

	r = fetch_images(t, &s->kernel, &s->ramdisk, &s->iso, err);
	if (r < 0 || !(lb_task_boot_flags(t) & LB_BOOT_MEDIA) ||
	    s->iso != NULL)
		return r;
	r = lb_random_token(s->token, sizeof(s->token), 32);
	if (r < 0)
		return lb_err_set(err, r, "cannot make an agent token");
	s->pregen.token = s->token;
	snprintf(s->extra, sizeof(s->extra), "ipa-agent-token=%s", s->token);
	return 0;
}

static void
stage_end(struct lb_engine *e, struct staging *s)
{
	/* Staged (linked) or not, eviction may have them now. */
	lb_image_cache_unpin(e->images, s->kernel);
	lb_image_cache_unpin(e->images, s->ramdisk);
	lb_image_cache_unpin(e->images, s->iso);
	free(s->kernel);
	free(s->ramdisk);
	free(s->iso);
	explicit_bzero(s->token, sizeof(s->token));
	explicit_bzero(s->extra, sizeof(s->extra));
}

/* Off, network, stage, one-time boot device, on (contract 3.2). */
static int
boot_ramdisk(struct lb_node_task *t, struct staging *s, int soft_s,
    double *mark, struct lb_err *err)
{
	struct lb_engine *e = t->engine;
	struct lb_boot_images images = { s->kernel, s->ramdisk, s->iso };
	char request_id[48] = "req-";
	int timeout = e->cfg->power_state_change_timeout, r;

	lb_uuid_generate(request_id + 4);
	r = rescue_power_off(t, soft_s, err);
	if (r == 0)
		r = lb_store_node_update(e->store, t->node->uuid,
		    reset_agent, &s->pregen, NULL, err);
	if (r == 0)
		phase(t, mark, "powered off");
	if (r == 0)
		r = lb_task_net_unconfigure_tenant(t, err);
	if (r == 0)
		r = lb_task_net_add_rescuing(t, err);
	if (r == 0)
		phase(t, mark, "ports moved to the rescuing network");
	if (r == 0)
		r = lb_task_boot_prepare(t, &images, request_id,
		    s->extra[0] ? s->extra : NULL, err);
	if (r == 0)
		r = lb_task_boot_device_staged(t, err);
	if (r == 0)
		phase(t, mark, "ramdisk staged, one-time network boot set");
	if (r == 0)
		r = lb_task_power_set(t, LB_POWER_ACTION_ON, timeout, err);
	if (r == 0)
		phase(t, mark, "powered on, waiting for the agent");
	return r;
}

/*
 * *touched says whether the node itself was acted on (a failure before
 * that, such as a bad image href, leaves the instance running).
 */
static int
do_rescue(struct lb_node_task *t, bool *touched, struct lb_err *err)
{
	struct staging s = { 0 };
	double mark = lb_engine_now(t->engine);
	int soft_s, r;

	s.pregen.started = t->engine->clock->realtime(t->engine->clock);
	if (!lb_task_has_boot(t) || !lb_task_has_net(t))
		return lb_err_set(err, -ENOTSUP, "the boot or network "
		    "interface is not built into this lifeboatd");
	r = soft_off_timeout(t->engine, t->node, &soft_s, err);
	if (r < 0)
		return r;
	r = stage_begin(t, &s, err);
	if (r == 0) {
		phase(t, &mark, "images ready");
		*touched = true;
		/* From the power-off on: a soft one shows the OS going down. */
		lb_console_capture_begin(t, false);
		r = boot_ramdisk(t, &s, soft_s, &mark, err);
	}
	stage_end(t->engine, &s);
	return r;
}

static void
agent_rescue(struct lb_node_task *t, struct lb_finish *f, char *msg,
    size_t msgsize)
{
	struct lb_err err = { "" };
	bool touched = false;

	if (do_rescue(t, &touched, &err) == 0) {
		/* Powered on into the ramdisk, whatever it was before. */
		f->event = "wait";
		f->set_power = true;
		f->power = LB_POWER_ON;
		return;
	}
	snprintf(msg, msgsize, "Failed to rescue: %s", err.msg);
	if (touched) {
		lb_console_error_tail(t, f);
		lb_task_rescue_leave(t, true, f);
	}
	f->drop_password = true;
	f->forget_agent = true;
	f->event = "fail";
	f->error = msg;
}

static int
do_finalize(struct lb_node_task *t, struct lb_err *err)
{
	const struct lb_config *cfg = t->engine->cfg;
	const json_t *dii = t->node->driver_internal_info;
	struct lb_agent_call call = {
		.agent_url = json_string_value(json_object_get(dii,
		    "agent_url")),
		.token = json_string_value(json_object_get(dii,
		    "agent_secret_token")),
		.ca_file = json_string_value(json_object_get(dii,
		    "agent_verify_ca")),
		.timeout_s = cfg->agent_command_timeout,
		.attempts = cfg->agent_max_command_attempts,
	};
	const char *hash = json_string_value(json_object_get(
	    t->node->instance_info, "hashed_rescue_password"));

	if (call.agent_url == NULL || call.token == NULL || hash == NULL)
		return lb_err_set(err, -EINVAL, "the node has no agent URL, "
		    "token or password hash to finalize the rescue with");
	return lb_agent_finalize_rescue(&call, hash,
	    lb_task_net_tenant_dhcp(t), err);
}

static void
agent_unrescue(struct lb_node_task *t, struct lb_finish *f, char *msg,
    size_t msgsize)
{
	int timeout = t->engine->cfg->power_state_change_timeout, r;
	double start = lb_engine_now(t->engine), mark = start;
	struct lb_err err = { "" };

	r = lb_task_power_set(t, LB_POWER_ACTION_OFF, timeout, &err);
	if (r == 0) {
		phase(t, &mark, "powered off");
		lb_task_rescue_leave(t, false, f);
		phase(t, &mark, "staging removed, ports moved back to the "
		    "tenant network");
		r = lb_task_boot_device_set(t, LB_BOOT_DEV_DISK, true, &err);
	}
	if (r == 0)
		r = lb_task_power_set(t, LB_POWER_ACTION_ON, timeout, &err);
	f->drop_password = true;
	f->forget_agent = true;
	if (r == 0) {
		phase(t, &mark, "disk boot set, powered on");
		mark = start;
		phase(t, &mark, "done, total");
		f->event = "done";
		f->set_power = true;
		f->power = LB_POWER_ON;
		return;
	}
	snprintf(msg, msgsize, "Failed to unrescue: %s", err.msg);
	f->event = "fail";
	f->error = msg;
}

/*
 * PXE and iPXE: the boot files and dnsmasq entries again, here (the same
 * ones where the roots are shared).  Virtual media: the BMC holds the
 * medium, and its ISO's token is the one in the store; nothing to do.
 */
static int
agent_take_over(struct lb_node_task *t, struct lb_err *err)
{
	struct staging s = { 0 };
	char request_id[48] = "req-";
	int r;

	if (!lb_task_has_boot(t) || (lb_task_boot_flags(t) & LB_BOOT_MEDIA))
		return 0;
	lb_uuid_generate(request_id + 4);
	r = fetch_images(t, &s.kernel, &s.ramdisk, &s.iso, err);
	if (r == 0) {
		struct lb_boot_images images = { s.kernel, s.ramdisk, s.iso };

		r = lb_task_boot_prepare(t, &images, request_id, NULL, err);
	}
	stage_end(t->engine, &s);
	return r;
}

const struct lb_rescue_ops lb_rescue_agent = {
	.name = "agent",
	.validate = agent_validate,
	.rescue = agent_rescue,
	.unrescue = agent_unrescue,
	.leave = agent_leave,
	.take_over = agent_take_over,
};

/* ---- the fake rescue interface: Ironic's FakeRescue ---- */

/*
 * Rescued (or unrescued) at once: no power, boot or network call, and
 * nothing staged for a way out to undo.
 */
static void
fake_done(struct lb_node_task *t, struct lb_finish *f, char *msg,
    size_t msgsize)
{
	(void)t;
	(void)msg;
	(void)msgsize;
	f->event = "done";
	f->drop_password = true;
	f->forget_agent = true;
}

const struct lb_rescue_ops lb_rescue_fake = {
	.name = "fake",
	.validate = NULL,
	.rescue = fake_done,
	.unrescue = fake_done,
	.leave = NULL,
};

/* ---- the rescue flow's jobs (worker threads) ---- */

/* Rescue or unrescue: the node's rescue interface, or a failed end. */
static void
run_rescue_verb(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f, bool rescue)
{
	if (loaded == 0 && !lb_task_has_rescue(t))
		loaded = lb_err_set(err, -ENOTSUP, "the rescue interface is "
		    "not built into this lifeboatd");
	if (loaded == 0 && rescue)
		lb_task_rescue(t, f, j->msg, sizeof(j->msg));
	else if (loaded == 0)
		lb_task_unrescue(t, f, j->msg, sizeof(j->msg));
	if (loaded == 0)
		return;
	snprintf(j->msg, sizeof(j->msg), "Failed to %s: %s",
	    rescue ? "rescue" : "unrescue", err->msg);
	f->drop_password = true;
	f->forget_agent = true;
	f->event = "fail";
	f->error = j->msg;
}

static void
run_rescue(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	run_rescue_verb(j, t, loaded, err, f, true);
}

static void
run_unrescue(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	run_rescue_verb(j, t, loaded, err, f, false);
}

/* "done" with the whole rescue's time, from its start to now. */
static void
rescue_done(const struct lb_node_task *t)
{
	const json_t *at = json_object_get(t->node->driver_internal_info,
	    "rescue_started_at");
	double now = t->engine->clock->realtime(t->engine->clock), total;

	if (!json_is_number(at))
		return;
	total = now - json_number_value(at);
	lb_history_record(t->engine, t->node->uuid, LB_HISTORY_INFO, "rescue",
	    t->user, "rescue: done, total (%.2f s)", total);
	log_info("node %s: rescue: done, total (%.2f s)", t->node->uuid,
	    total);
	/* unrescue's "done, total" is a phase() of its one job */
	LB_METRIC_OBSERVE(LB_M_RESCUE_PHASE, total, "rescue", "done, total");
}

/* The agent called back: give it the hash. */
static void
run_finalize(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	double mark = lb_engine_now(j->e);
	int r = loaded;

	if (r == 0)
		r = do_finalize(t, err);
	if (r == 0) {
		phase(t, &mark, "finalized, the agent has the password");
		/* The rescued node stays up; only the staging goes. */
		lb_console_capture_end(t);
		clean_up(t, false);
		phase(t, &mark, "staging removed, ports moved back to the "
		    "tenant network");
		rescue_done(t);
		f->event = "done";
		f->drop_password = true;
		return;
	}
	snprintf(j->msg, sizeof(j->msg), "Node failed to perform rescue "
	    "operation: %s", err->msg);
	if (loaded == 0)
		lb_console_error_tail(t, f);
	lb_task_rescue_leave(t, true, f);
	f->set_power = true;
	f->power = LB_POWER_OFF;
	f->event = "fail";
	f->error = j->msg;
}

/* The state already moved (abort, timeout, restart); tidy up. */
static void
run_clean_up(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	(void)err;
	/*
	 * An abort leaves a PXE-booted node as it is, as Ironic does; a
	 * node booted from virtual media is powered off before the media
	 * goes, so it is not left running a ramdisk whose medium was
	 * pulled.
	 */
	if (loaded == 0 && (lb_task_boot_flags(t) & LB_BOOT_MEDIA) &&
	    !j->keep_power)
		j->power_off = true;
	/* After a restart, last_error says why: show the screen too. */
	if (loaded == 0 && j->console_tail)
		lb_console_error_tail(t, f);
	lb_task_rescue_leave(t, j->power_off && loaded == 0, f);
	f->keep_error = true;
}

const struct lb_job_kind lb_rescue_job_rescue = { "rescue", true,
    run_rescue };
const struct lb_job_kind lb_rescue_job_unrescue = { "unrescue", true,
    run_unrescue };
const struct lb_job_kind lb_rescue_job_finalize = { "finalize", true,
    run_finalize };
const struct lb_job_kind lb_rescue_job_clean_up = { "clean-up", true,
    run_clean_up };
