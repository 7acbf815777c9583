/*
 * engine.c - provision and power verbs and the jobs that carry them out.
 * The verbs run on API threads and only write the store; the jobs run on
 * the worker pool, call drivers through the per-BMC limiter, and finish
 * with one store write that moves the state and drops the lock.  Every
 * transition logs one line: node, old -> new, event, duration.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/engine_internal.h"
#include "conductor/hwtype.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* ---- node context and driver calls ---- */

static int
save_driver_changes(struct lb_node *node, void *arg, struct lb_err *err)
{
	(void)err;
	lb_node_apply_driver_changes(node, arg);
	return 0;
}

/* task.save: driver_internal_info as the driver has it now, to the store. */
static int
ctx_save(const struct lb_task *task, struct lb_err *err)
{
	struct lb_node_ctx *ctx = (struct lb_node_ctx *)((char *)task -
	    offsetof(struct lb_node_ctx, task));
	json_t *now;
	int r;

	r = lb_store_node_update(ctx->engine->store, ctx->node->uuid,
	    save_driver_changes, ctx, NULL, err);
	if (r < 0)
		return r;
	/* Saved: the job's end applies only what changes after this. */
	now = json_deep_copy(ctx->node->driver_internal_info);
	if (now == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	json_decref(ctx->dii_before);
	ctx->dii_before = now;
	return 0;
}

static const void *
impl_ops(enum lb_iface_kind kind, const char *name, struct lb_err *err)
{
	const struct lb_iface_impl *impl = lb_iface_find(kind, name);

	if (impl == NULL || !(impl->flags & LB_IMPL_BUILT) ||
	    impl->ops == NULL) {
		lb_err_set(err, -ENOTSUP, "the %s interface '%s' is not built "
		    "into this lifeboatd", lb_iface_kind_name(kind), name);
		return NULL;
	}
	return impl->ops;
}

int
lb_node_ctx_load(struct lb_engine *e, const char *uuid,
    struct lb_node_ctx *ctx, struct lb_err *err)
{
	struct lb_port_query pq = { 0 };
	struct lb_port_list ports = { 0 };
	int r;

	memset(ctx, 0, sizeof(*ctx));
	ctx->engine = e;
	r = lb_store_node_get(e->store, uuid, &ctx->node, err);
	if (r < 0)
		return r;
	pq.node_uuid = ctx->node->uuid;
	r = lb_store_port_list(e->store, &pq, &ports, err);
	if (r < 0)
		goto fail;
	ctx->macs = calloc(ports.n + 1, sizeof(*ctx->macs));
	ctx->llcs = calloc(ports.n + 1, sizeof(*ctx->llcs));
	ctx->dii_before = json_deep_copy(ctx->node->driver_internal_info);
	if (ctx->macs == NULL || ctx->llcs == NULL || ctx->dii_before == NULL) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < ports.n; i++) {
		if (!ports.items[i]->pxe_enabled)
			continue;
		ctx->llcs[ctx->task.nports] = json_incref(
		    ports.items[i]->local_link_connection);
		ctx->macs[ctx->task.nports++] =
		    strdup(ports.items[i]->address);
	}
	lb_port_list_release(&ports);
	ctx->task.node_uuid = ctx->node->uuid;
	ctx->task.driver = ctx->node->driver;
	ctx->task.driver_info = ctx->node->driver_info;
	ctx->task.driver_internal_info = ctx->node->driver_internal_info;
	ctx->task.properties = ctx->node->properties;
	ctx->task.instance_info = ctx->node->instance_info;
	ctx->task.port_macs = ctx->macs;
	ctx->task.port_llcs = ctx->llcs;
	ctx->task.save = ctx_save;
	ctx->power = impl_ops(LB_IFACE_POWER,
	    ctx->node->iface[LB_IFACE_POWER], err);
	ctx->management = impl_ops(LB_IFACE_MANAGEMENT,
	    ctx->node->iface[LB_IFACE_MANAGEMENT], err);
	if (ctx->power == NULL || ctx->management == NULL) {
		r = -ENOTSUP;
		goto fail;
	}
	if (ctx->power->validate != NULL) {
		r = ctx->power->validate(&ctx->task, err);
		if (r < 0)
			goto fail;
	}
	if (ctx->power->bmc_key(&ctx->task, ctx->bmc_key,
	    sizeof(ctx->bmc_key)) < 0)
		snprintf(ctx->bmc_key, sizeof(ctx->bmc_key), "node:%s", uuid);
	return 0;
fail:
	lb_port_list_release(&ports);
	lb_node_ctx_release(ctx);
	return r;
}

void
lb_node_ctx_release(struct lb_node_ctx *ctx)
{
	for (size_t i = 0; ctx->macs != NULL && i < ctx->task.nports; i++) {
		free((char *)ctx->macs[i]);
		json_decref((json_t *)ctx->llcs[i]);
	}
	free(ctx->macs);
	free(ctx->llcs);
	json_decref(ctx->dii_before);
	lb_node_free(ctx->node);
	memset(ctx, 0, sizeof(*ctx));
}

/* IPMI BMCs get the configured care; others are bounded but not spaced. */
void
lb_bmc_policy_for(const struct lb_engine *e, const struct lb_node_ctx *ctx,
    struct lb_bmc_policy *p)
{
	if (strcmp(ctx->power->name, "ipmitool") == 0) {
		p->max_inflight = e->cfg->ipmi_max_concurrent_per_bmc;
		p->min_interval = e->cfg->ipmi_min_command_interval;
	} else {
		p->max_inflight = 4;
		p->min_interval = 0;
	}
}

int
lb_call_get_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    int timeout_s, enum lb_power_state *ret, struct lb_err *err)
{
	struct lb_bmc_policy p;
	int r;

	lb_bmc_policy_for(e, ctx, &p);
	r = lb_bmc_limit_acquire(&e->bmc, ctx->bmc_key, &p, e->clock,
	    lb_engine_now(e) + timeout_s);
	if (r < 0)
		return lb_err_set(err, r, "BMC %s stayed busy for %d s",
		    ctx->bmc_key, timeout_s);
	r = ctx->power->get_state(&ctx->task, ret, err);
	lb_bmc_limit_done(&e->bmc, ctx->bmc_key, lb_engine_now(e));
	return r;
}

int
lb_call_get_power_nowait(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_state *ret, struct lb_err *err)
{
	struct lb_bmc_policy p;
	int r;

	lb_bmc_policy_for(e, ctx, &p);
	/* A deadline of now: take a free slot or give way at once. */
	if (lb_bmc_limit_acquire(&e->bmc, ctx->bmc_key, &p, e->clock,
	    lb_engine_now(e)) < 0)
		return lb_err_set(err, -EAGAIN, "BMC %s is busy",
		    ctx->bmc_key);
	r = ctx->power->get_state(&ctx->task, ret, err);
	lb_bmc_limit_done(&e->bmc, ctx->bmc_key, lb_engine_now(e));
	return r;
}

/*
 * The one way to a power action: a BMC slot within slot_s, then the
 * driver's wait of up to timeout_s, or, with timeout_s < 0, of what is
 * left of slot_s.
 */
static int
call_set_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_action action, int slot_s, int timeout_s,
    struct lb_err *err)
{
	double start = lb_engine_now(e);
	struct lb_bmc_policy p;
	int r;

	lb_bmc_policy_for(e, ctx, &p);
	r = lb_bmc_limit_acquire(&e->bmc, ctx->bmc_key, &p, e->clock,
	    start + slot_s);
	if (r < 0)
		return lb_err_set(err, r, "BMC %s stayed busy for %d s",
		    ctx->bmc_key, slot_s);
	if (timeout_s < 0)
		timeout_s = slot_s - (int)(lb_engine_now(e) - start);
	r = ctx->power->set_state(&ctx->task, action,
	    timeout_s > 1 ? timeout_s : 1, err);
	lb_bmc_limit_done(&e->bmc, ctx->bmc_key, lb_engine_now(e));
	return r;
}

int
lb_call_set_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_action action, int timeout_s, struct lb_err *err)
{
	/* The wait for a slot counts against the same timeout. */
	return call_set_power(e, ctx, action, timeout_s, -1, err);
}

int
lb_call_set_power_for(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_action action, int slot_s, int timeout_s,
    struct lb_err *err)
{
	return call_set_power(e, ctx, action, slot_s, timeout_s, err);
}

/* ---- finishing a job ---- */

int
lb_replace_str(char **field, const char *value, struct lb_err *err)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

void
lb_node_drop_password(struct lb_node *node)
{
	json_object_del(node->instance_info, "rescue_password");
	json_object_del(node->instance_info, "hashed_rescue_password");
}

void
lb_node_forget_agent(struct lb_node *node)
{
	static const char *const keys[] = {
		"agent_url", "agent_secret_token",
		"agent_secret_token_pregenerated", "agent_verify_ca",
		"agent_lookup_at", NULL,
	};

	for (size_t i = 0; keys[i] != NULL; i++)
		json_object_del(node->driver_internal_info, keys[i]);
}

/*
 * Ironic's wipe on power off and reboot: a ramdisk booted after this has a
 * new address and certificate, and only it may be issued a token at its
 * lookup (a token baked into the boot medium stays: that ramdisk has it).
 */
void
lb_node_wipe_agent_on_power_off(struct lb_node *node)
{
	json_t *dii = node->driver_internal_info;

	json_object_del(dii, "agent_url");
	json_object_del(dii, "agent_verify_ca");
	json_object_del(dii, "agent_lookup_at");
	if (!json_is_true(json_object_get(dii,
	    "agent_secret_token_pregenerated")))
		json_object_del(dii, "agent_secret_token");
}

int
lb_node_locked(const struct lb_node *node, struct lb_err *err)
{
	return lb_err_set(err, -EBUSY, "Node %s is locked by host %s, please "
	    "retry after the current operation is completed.", node->uuid,
	    node->reservation);
}

/*
 * What the drivers changed in driver_internal_info during the job, applied
 * to the stored node key by key, so that what others wrote meanwhile (a
 * heartbeat's agent_url) stays.
 */
void
lb_node_apply_driver_changes(struct lb_node *node,
    const struct lb_node_ctx *ctx)
{
	const json_t *now = ctx->node ? ctx->node->driver_internal_info : NULL;
	const char *key;
	json_t *value;

	if (now == NULL || ctx->dii_before == NULL)
		return;
	json_object_foreach((json_t *)now, key, value) {
		if (json_equal(value, json_object_get(ctx->dii_before, key)))
			continue;
		json_object_set(node->driver_internal_info, key, value);
		/* Vendor work-arounds a driver applied: worth a line. */
		if (strcmp(key, "redfish_quirks_applied") == 0) {
			char *list = json_dumps(value, JSON_COMPACT);

			log_info("node %s: Redfish quirks applied: %s",
			    node->uuid, list ? list : "?");
			free(list);
		}
	}
	json_object_foreach(ctx->dii_before, key, value) {
		if (json_object_get(now, key) == NULL)
			json_object_del(node->driver_internal_info, key);
	}
}

static int
finish_cb(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct lb_finish *f = arg;
	char now[LB_TIME_LEN];
	int r = 0;

	if (f->ctx != NULL)
		lb_node_apply_driver_changes(node, f->ctx);

	snprintf(f->from, sizeof(f->from), "%s", node->provision_state);
	snprintf(f->to, sizeof(f->to), "%s", node->provision_state);
	if (f->event != NULL) {
		const struct lb_transition *tr =
		    lb_fsm_next(node->provision_state, f->event);

		if (tr != NULL) {
			lb_time_now_iso(now);
			r |= lb_replace_str(&node->provision_state, tr->to,
			    err);
			r |= lb_replace_str(&node->target_provision_state,
			    tr->target, err);
			r |= lb_replace_str(&node->provision_updated_at, now,
			    err);
			snprintf(f->to, sizeof(f->to), "%s", tr->to);
		}
	}
	if (f->set_power)
		r |= lb_replace_str(&node->power_state,
		    lb_power_state_name(f->power), err);
	if (f->power_job)
		r |= lb_replace_str(&node->target_power_state, NULL, err);
	if (f->clear_instance) {
		r |= lb_replace_str(&node->instance_uuid, NULL, err);
		json_object_clear(node->instance_info);
	}
	if (f->drop_password)
		lb_node_drop_password(node);
	if (f->forget_agent)
		lb_node_forget_agent(node);
	if (!f->keep_error)
		r |= lb_replace_str(&node->last_error, f->error, err);
	r |= lb_replace_str(&node->reservation, NULL, err);
	return r < 0 ? -ENOMEM : 0;
}

/*
 * Writes the job's outcome.  If the write itself fails the node keeps its
 * lock; the next start releases it and records why.
 */
void
lb_engine_finish(struct lb_engine *e, const char *uuid, struct lb_finish *f,
    const char *what, double started)
{
	struct lb_err err = { "" };

	if (lb_store_node_update(e->store, uuid, finish_cb, f, NULL,
	    &err) < 0) {
		log_error("node %s: cannot record the end of %s: %s", uuid,
		    what, err.msg);
		return;
	}
	if (f->event != NULL)
		log_info("node %s: %s -> %s (%s %s, %.2f s)%s%s", uuid, f->from,
		    f->to, what, f->event, lb_engine_now(e) - started,
		    f->error ? ": " : "", f->error ? f->error : "");
	else if (f->error != NULL)
		log_warning("node %s: %s failed after %.2f s: %s", uuid, what,
		    lb_engine_now(e) - started, f->error);
	else
		log_info("node %s: %s done in %.2f s", uuid, what,
		    lb_engine_now(e) - started);
}

/* ---- jobs ---- */

enum job_kind {
	JOB_MANAGE,
	JOB_PROVIDE,
	JOB_ADOPT,
	JOB_DEPLOY,
	JOB_UNDEPLOY,
	JOB_POWER,
};

struct engine_job {
	struct lb_job base;
	struct lb_engine *e;
	enum job_kind kind;
	char uuid[LB_UUID_LEN + 1];
	enum lb_power_action action;
	int timeout;
	bool hard_fallback;
	bool from_rescue;	/* undeploy: leaves a rescue state */
	double started;
};

static const char *
job_name(enum job_kind kind)
{
	static const char *const names[] = {
		[JOB_MANAGE] = "verify", [JOB_PROVIDE] = "provide",
		[JOB_ADOPT] = "adopt", [JOB_DEPLOY] = "deploy",
		[JOB_UNDEPLOY] = "undeploy", [JOB_POWER] = "power action",
	};

	return names[kind];
}

/* Reads the power state: verify and adopt both start with this. */
static int
read_power(struct engine_job *j, struct lb_node_ctx *ctx,
    struct lb_finish *f, struct lb_err *err)
{
	int r;

	r = lb_node_ctx_load(j->e, j->uuid, ctx, err);
	if (r < 0)
		return r;
	r = lb_call_get_power(j->e, ctx, j->e->cfg->power_state_change_timeout,
	    &f->power, err);
	if (r == 0)
		f->set_power = true;
	return r;
}

static const char *
action_target(enum lb_power_action a)
{
	switch (a) {
	case LB_POWER_ACTION_ON:
	case LB_POWER_ACTION_REBOOT:
	case LB_POWER_ACTION_SOFT_REBOOT:
		return "power on";
	default:
		return "power off";
	}
}

static void
run_power(struct engine_job *j, struct lb_node_ctx *ctx, struct lb_finish *f,
    char *msg, size_t msgsize)
{
	struct lb_err err = { "" };
	int r;

	f->power_job = true;
	r = lb_node_ctx_load(j->e, j->uuid, ctx, &err);
	if (r == 0)
		r = lb_call_set_power(j->e, ctx, j->action, j->timeout, &err);
	if (r == -ETIMEDOUT && j->action == LB_POWER_ACTION_SOFT_OFF &&
	    j->hard_fallback) {
		log_warning("node %s: soft power off did not finish in %d s; "
		    "powering off hard as asked", j->uuid, j->timeout);
		r = lb_call_set_power(j->e, ctx, LB_POWER_ACTION_OFF,
		    j->e->cfg->power_state_change_timeout, &err);
	}
	if (r == 0)
		r = lb_call_get_power(j->e, ctx,
		    j->e->cfg->power_state_change_timeout, &f->power, &err);
	if (r == 0) {
		f->set_power = true;
		return;
	}
	snprintf(msg, msgsize, "Failed to change power state to '%s'. "
	    "Error: %s", action_target(j->action), err.msg);
	f->error = msg;
}

static void
job_run(struct lb_job *base)
{
	struct engine_job *j = (struct engine_job *)base;
	struct lb_finish f = { 0 };
	struct lb_node_ctx ctx = { 0 };
	struct lb_err err = { "" };
	char msg[LB_ERR_MSG_MAX + 128];
	int r = 0;

	switch (j->kind) {
	case JOB_MANAGE:
		r = read_power(j, &ctx, &f, &err);
		if (r < 0)
			snprintf(msg, sizeof(msg), "Failed to get power state "
			    "for node %s. Error: %s", j->uuid, err.msg);
		break;
	case JOB_PROVIDE:
		/* lifeboat does not clean: available at once. */
		break;
	case JOB_ADOPT:
		r = read_power(j, &ctx, &f, &err);
		if (r < 0)
			snprintf(msg, sizeof(msg), "Error while attempting to "
			    "adopt node %s: %s", j->uuid, err.msg);
		break;
	case JOB_DEPLOY:
		r = lb_store_node_get(j->e->store, j->uuid, &ctx.node, &err);
		if (r == 0 &&
		    strcmp(ctx.node->iface[LB_IFACE_DEPLOY], "fake") != 0) {
			r = -ENOTSUP;
			snprintf(msg, sizeof(msg), "lifeboat does not deploy "
			    "images (deploy interface '%s'); bring running "
			    "servers under management with 'adopt'",
			    ctx.node->iface[LB_IFACE_DEPLOY]);
		} else if (r < 0) {
			snprintf(msg, sizeof(msg), "%s", err.msg);
		}
		break;
	case JOB_UNDEPLOY:
		r = lb_node_ctx_load(j->e, j->uuid, &ctx, &err);
		if (r == 0)
			r = lb_call_set_power(j->e, &ctx, LB_POWER_ACTION_OFF,
			    j->e->cfg->power_state_change_timeout, &err);
		/* Off first, so no ramdisk runs while its files go. */
		if (j->from_rescue)
			lb_rescue_leave(j->e, &ctx, false, &f);
		if (r == 0) {
			f.power = LB_POWER_OFF;
			f.set_power = true;
			f.clear_instance = true;
		} else {
			snprintf(msg, sizeof(msg), "Error while tearing down "
			    "node %s: %s", j->uuid, err.msg);
		}
		break;
	case JOB_POWER:
		run_power(j, &ctx, &f, msg, sizeof(msg));
		break;
	}
	if (j->kind != JOB_POWER) {
		f.event = r == 0 ? "done" : "fail";
		if (r < 0)
			f.error = msg;
	}
	f.ctx = &ctx;
	lb_engine_finish(j->e, j->uuid, &f, job_name(j->kind), j->started);
	lb_node_ctx_release(&ctx);
	free(j);
}

static void
job_drop(struct lb_job *base)
{
	free(base);
}

static struct engine_job *
job_new(struct lb_engine *e, enum job_kind kind, const char *uuid)
{
	struct engine_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->base.run = job_run;
	j->base.drop = job_drop;
	j->e = e;
	j->kind = kind;
	j->started = lb_engine_now(e);
	snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
	return j;
}

/* ---- verbs ---- */


struct begin {
	const char *verb;
	const char *event;
	const char *host;
	bool takes_lock;
	char uuid[LB_UUID_LEN + 1];
	char from[32];
	char to[32];
};

int
lb_node_can_fire(const struct lb_node *node, const char *verb,
    const char *event, struct lb_err *err)
{
	if (lb_fsm_next(node->provision_state, event) == NULL) {
		if (node->reservation != NULL)
			return lb_node_locked(node, err);
		return lb_err_set(err, -EINVAL, "The requested action \"%s\" "
		    "can not be performed on node \"%s\" while it is in state "
		    "\"%s\".", verb, node->uuid, node->provision_state);
	}
	if (node->reservation != NULL)
		return lb_node_locked(node, err);
	return 0;
}

int
lb_node_fire(struct lb_node *node, const char *verb, const char *event,
    const char *lock_host, bool clear_error, char from[32], char to[32],
    struct lb_err *err)
{
	const struct lb_transition *tr;
	char now[LB_TIME_LEN];
	int r;

	r = lb_node_can_fire(node, verb, event, err);
	if (r < 0)
		return r;
	tr = lb_fsm_next(node->provision_state, event);
	snprintf(from, 32, "%s", node->provision_state);
	snprintf(to, 32, "%s", tr->to);
	lb_time_now_iso(now);
	r = lb_replace_str(&node->provision_state, tr->to, err);
	r |= lb_replace_str(&node->target_provision_state, tr->target, err);
	r |= lb_replace_str(&node->provision_updated_at, now, err);
	if (clear_error)
		r |= lb_replace_str(&node->last_error, NULL, err);
	if (lock_host != NULL)
		r |= lb_replace_str(&node->reservation, lock_host, err);
	return r < 0 ? -ENOMEM : 0;
}

static int
begin_provision(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct begin *b = arg;

	memcpy(b->uuid, node->uuid, sizeof(b->uuid));
	if (node->maintenance && strcmp(b->event, "deploy") == 0)
		return lb_err_set(err, -EINVAL, "Cannot deploy node %s while "
		    "it is in maintenance mode.", node->uuid);
	return lb_node_fire(node, b->verb, b->event,
	    b->takes_lock ? b->host : NULL, true, b->from, b->to, err);
}

static int
job_for_event(const char *event, enum job_kind *ret)
{
	static const struct {
		const char *event;
		enum job_kind kind;
	} map[] = {
		{ "manage", JOB_MANAGE }, { "provide", JOB_PROVIDE },
		{ "adopt", JOB_ADOPT }, { "deploy", JOB_DEPLOY },
		{ "deleted", JOB_UNDEPLOY },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].event, event) == 0) {
			*ret = map[i].kind;
			return 0;
		}
	}
	return -ENOENT;
}

/* An abort in rescue wait has rescue's clean-up to do. */
static bool
abort_is_rescue(struct lb_engine *e, const char *ident)
{
	struct lb_node *node = NULL;
	struct lb_err err;
	bool yes;

	if (lb_store_node_get(e->store, ident, &node, &err) < 0)
		return false;
	yes = strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) == 0;
	lb_node_free(node);
	return yes;
}

int
lb_engine_provision(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err)
{
	struct begin b = { 0 };
	const char *key, *verb;
	json_t *value;
	enum job_kind kind = JOB_PROVIDE;
	struct engine_job *job = NULL;
	int r, need;

	if (!json_is_object(body))
		return lb_err_set(err, -EINVAL, "Invalid input: the request "
		    "body must be a JSON object");
	json_object_foreach((json_t *)body, key, value) {
		if (strcmp(key, "target") != 0 &&
		    strcmp(key, "rescue_password") != 0)
			return lb_err_set(err, -EINVAL, "Additional properties "
			    "are not allowed ('%s' was unexpected)", key);
	}
	verb = json_string_value(json_object_get(body, "target"));
	if (verb == NULL)
		return lb_err_set(err, -EINVAL, "'target' is a required "
		    "property and must be a string");
	b.verb = verb;
	b.event = lb_verb_event(verb, &need);
	b.host = e->cfg->host;
	if (b.event != NULL && minor < need)
		return lb_err_set(err, -ENOTSUP, "Request not acceptable.");
	if (b.event == NULL)
		b.event = verb;		/* fails the table lookup below */
	if (json_object_get(body, "rescue_password") != NULL &&
	    strcmp(b.event, "rescue") != 0)
		return lb_err_set(err, -EINVAL, "\"rescue_password\" is only "
		    "valid when setting target provision state to rescue");
	if (strcmp(b.event, "rescue") == 0 ||
	    strcmp(b.event, "unrescue") == 0 ||
	    (strcmp(b.event, "abort") == 0 && abort_is_rescue(e, ident)))
		return lb_rescue_verb(e, ident, verb, b.event, body, err);
	b.takes_lock = job_for_event(b.event, &kind) == 0;
	if (b.takes_lock) {
		r = lb_pool_reserve(&e->pool, 0);
		if (r < 0)
			return lb_err_set(err, -EAGAIN, "No free conductor "
			    "workers available");
		job = job_new(e, kind, "");
		if (job == NULL) {
			lb_pool_unreserve(&e->pool);
			return lb_err_set(err, -ENOMEM, "out of memory");
		}
	}
	r = lb_store_node_update(e->store, ident, begin_provision, &b, NULL,
	    err);
	if (r < 0) {
		if (job != NULL) {
			free(job);
			lb_pool_unreserve(&e->pool);
		}
		return r;
	}
	log_info("node %s: %s -> %s (%s)", b.uuid, b.from, b.to, b.verb);
	if (job != NULL) {
		snprintf(job->uuid, sizeof(job->uuid), "%s", b.uuid);
		job->from_rescue = lb_state_is_rescue(b.from);
		lb_pool_submit(&e->pool, &job->base);
	}
	return 0;
}

struct power_begin {
	const char *target_state;
	const char *host;
	bool wipe_agent;		/* off or reboot */
	char uuid[LB_UUID_LEN + 1];
};

static int
begin_power(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct power_begin *pb = arg;
	int r = 0;

	memcpy(pb->uuid, node->uuid, sizeof(pb->uuid));
	if (node->reservation != NULL)
		return lb_node_locked(node, err);
	if (strcmp(node->provision_state, LB_STATE_CLEANING) == 0 ||
	    strcmp(node->provision_state, LB_STATE_CLEAN_WAIT) == 0)
		return lb_err_set(err, -EINVAL, "Can not change power state "
		    "of node %s while it is in state \"%s\".", node->uuid,
		    node->provision_state);
	r |= lb_replace_str(&node->target_power_state, pb->target_state, err);
	r |= lb_replace_str(&node->last_error, NULL, err);
	r |= lb_replace_str(&node->reservation, pb->host, err);
	if (pb->wipe_agent)
		lb_node_wipe_agent_on_power_off(node);
	return r < 0 ? -ENOMEM : 0;
}

int
lb_engine_power(struct lb_engine *e, const char *ident, const json_t *body,
    int minor, struct lb_err *err)
{
	static const struct {
		const char *target;
		enum lb_power_action action;
		int minor;
	} targets[] = {
		{ "power on", LB_POWER_ACTION_ON, 1 },
		{ "power off", LB_POWER_ACTION_OFF, 1 },
		{ "rebooting", LB_POWER_ACTION_REBOOT, 1 },
		{ "soft power off", LB_POWER_ACTION_SOFT_OFF, 27 },
		{ "soft rebooting", LB_POWER_ACTION_SOFT_REBOOT, 27 },
	};
	struct power_begin pb = { 0 };
	struct engine_job *job;
	const char *key, *target;
	json_t *value, *timeout, *fallback;
	size_t i;
	int r;

	if (!json_is_object(body))
		return lb_err_set(err, -EINVAL, "Invalid input: the request "
		    "body must be a JSON object");
	json_object_foreach((json_t *)body, key, value) {
		/* hard_fallback is lifeboat's: soft off, then hard off. */
		if (strcmp(key, "target") != 0 && strcmp(key, "timeout") != 0 &&
		    strcmp(key, "hard_fallback") != 0)
			return lb_err_set(err, -EINVAL, "Additional properties "
			    "are not allowed ('%s' was unexpected)", key);
	}
	target = json_string_value(json_object_get(body, "target"));
	if (target == NULL)
		return lb_err_set(err, -EINVAL, "'target' is a required "
		    "property and must be a string");
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (strcmp(targets[i].target, target) == 0)
			break;
	}
	if (i == sizeof(targets) / sizeof(targets[0])) {
		struct lb_node *node = NULL;

		/* Ironic's wording names the node's current power state. */
		r = lb_store_node_get(e->store, ident, &node, err);
		if (r < 0)
			return r;
		r = lb_err_set(err, -EINVAL, "The requested action \"%s\" can "
		    "not be performed on node \"%s\" while it is in state "
		    "\"%s\".", target, node->uuid,
		    node->power_state ? node->power_state : "None");
		lb_node_free(node);
		return r;
	}
	if (minor < targets[i].minor)
		return lb_err_set(err, -ENOTSUP, "Request not acceptable.");
	timeout = json_object_get(body, "timeout");
	if (timeout != NULL) {
		if (minor < 27)
			return lb_err_set(err, -ENOTSUP, "Request not "
			    "acceptable.");
		if (!json_is_integer(timeout) ||
		    json_integer_value(timeout) <= 0 ||
		    json_integer_value(timeout) > 86400)
			return lb_err_set(err, -EINVAL, "Invalid timeout "
			    "value. The timeout value must be a positive "
			    "integer (at most 86400).");
	}
	fallback = json_object_get(body, "hard_fallback");
	if (fallback != NULL && !json_is_boolean(fallback))
		return lb_err_set(err, -EINVAL, "Invalid hard_fallback: "
		    "expected true or false.");
	if (lb_pool_reserve(&e->pool, 0) < 0)
		return lb_err_set(err, -EAGAIN, "No free conductor workers "
		    "available");
	job = job_new(e, JOB_POWER, "");
	if (job == NULL) {
		lb_pool_unreserve(&e->pool);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	job->action = targets[i].action;
	job->timeout = timeout ? (int)json_integer_value(timeout) :
	    e->cfg->power_state_change_timeout;
	job->hard_fallback = json_is_true(fallback);
	pb.target_state = action_target(job->action);
	pb.host = e->cfg->host;
	pb.wipe_agent = job->action != LB_POWER_ACTION_ON;
	r = lb_store_node_update(e->store, ident, begin_power, &pb, NULL, err);
	if (r < 0) {
		free(job);
		lb_pool_unreserve(&e->pool);
		return r;
	}
	log_info("node %s: power action '%s' started", pb.uuid, target);
	snprintf(job->uuid, sizeof(job->uuid), "%s", pb.uuid);
	lb_pool_submit(&e->pool, &job->base);
	return 0;
}

/* ---- life cycle ---- */

int
lb_engine_start(const struct lb_config *cfg, struct lb_store *store,
    const struct lb_engine_opts *opts, struct lb_engine **ret,
    struct lb_err *err)
{
	struct lb_engine *e = calloc(1, sizeof(*e));
	size_t threads = (size_t)cfg->workers_pool_size;
	int r;

	if (e == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	e->cfg = cfg;
	e->store = store;
	e->clock = opts && opts->clock ? opts->clock : &lb_clock_system;
	e->manual_timers = opts && opts->manual_timers;
	lb_bmc_limit_init(&e->bmc);
	pthread_mutex_init(&e->sync_lock, NULL);
	r = lb_rescue_setup(e, err);
	if (r < 0)
		goto fail;
	r = lb_engine_recover(e, err);
	if (r < 0)
		goto fail;
	r = lb_pool_start(&e->pool, threads, threads * 2);
	if (r < 0) {
		lb_err_set(err, r, "cannot start %zu worker threads", threads);
		goto fail;
	}
	r = lb_engine_timer_start(e, err);
	if (r < 0) {
		lb_pool_stop(&e->pool);
		goto fail;
	}
	lb_rescue_recover(e);
	*ret = e;
	return 0;
fail:
	lb_rescue_teardown(e);
	lb_bmc_limit_release_all(&e->bmc);
	pthread_mutex_destroy(&e->sync_lock);
	free(e);
	return r;
}

void
lb_engine_stop(struct lb_engine *e)
{
	if (e == NULL)
		return;
	lb_engine_timer_stop(e);
	lb_pool_stop(&e->pool);
	lb_engine_sync_release(e);
	lb_rescue_teardown(e);
	lb_bmc_limit_release_all(&e->bmc);
	pthread_mutex_destroy(&e->sync_lock);
	free(e);
}
