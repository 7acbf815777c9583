/*
 * verbs.c - the provision and power verbs (API threads: check, write the
 * transition and the lock, queue the job) and the jobs they queue (worker
 * threads): verify, provide, adopt, deploy, undeploy, power actions.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/job.h"
#include "conductor/rescue_verbs.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* ---- jobs ---- */

/* Reads the power state: verify and adopt both start with this. */
static int
read_power(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	int r = loaded;

	if (r == 0)
		r = lb_task_power_get(t, j->e->cfg->power_state_change_timeout,
		    &f->power, err);
	if (r == 0)
		f->set_power = true;
	return r;
}

/* The provision event a job's outcome fires. */
static void
provision_end(struct lb_engine_job *j, int r, struct lb_finish *f)
{
	f->event = r == 0 ? "done" : "fail";
	if (r < 0)
		f->error = j->msg;
}

/* Verify and adopt: the power state read, or Ironic's words for why not. */
static void
run_read_power(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f, bool adopt)
{
	int r = read_power(j, t, loaded, err, f);

	if (r < 0 && adopt)
		snprintf(j->msg, sizeof(j->msg), "Error while attempting to "
		    "adopt node %s: %s", j->uuid, err->msg);
	else if (r < 0)
		snprintf(j->msg, sizeof(j->msg), "Failed to get power state "
		    "for node %s. Error: %s", j->uuid, err->msg);
	provision_end(j, r, f);
}

static void
run_manage(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	run_read_power(j, t, loaded, err, f, false);
}

static void
run_adopt(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	run_read_power(j, t, loaded, err, f, true);
}

/* lifeboat does not clean: available at once. */
static void
run_provide(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	(void)t;
	(void)loaded;
	(void)err;
	provision_end(j, 0, f);
}

static void
run_deploy(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	int r = loaded;

	if (r == 0)
		r = lb_task_deploy(t, err);
	if (r < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", err->msg);
	provision_end(j, r, f);
}

static void
run_undeploy(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	int r = loaded;

	if (r == 0)
		r = lb_task_power_set(t, LB_POWER_ACTION_OFF,
		    j->e->cfg->power_state_change_timeout, err);
	/* Off first, so no ramdisk runs while its files go. */
	if (j->from_rescue)
		lb_task_rescue_leave(t, false, f);
	if (r == 0) {
		f->power = LB_POWER_OFF;
		f->set_power = true;
		f->clear_instance = true;
	} else {
		snprintf(j->msg, sizeof(j->msg), "Error while tearing down "
		    "node %s: %s", j->uuid, err->msg);
	}
	provision_end(j, r, f);
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

/* Who asked for what, from which state to which, and how long it took. */
static void
power_history(const struct lb_engine_job *j, const struct lb_node_task *t,
    enum lb_power_state now)
{
	const char *user = lb_job_user(j);

	lb_history_record(j->e, j->uuid, LB_HISTORY_INFO, "power", user,
	    "power action '%s' requested by %s: %s -> %s (%.2f s)",
	    action_target(j->action), user != NULL ? user : "the API",
	    t->node->power_state != NULL ? t->node->power_state : "None",
	    lb_power_state_name(now), lb_engine_now(j->e) - j->started);
}

static void
run_power(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	int r = loaded;

	f->power_job = true;
	if (r == 0)
		r = lb_task_power_set(t, j->action, j->timeout, err);
	if (r == -ETIMEDOUT && j->action == LB_POWER_ACTION_SOFT_OFF &&
	    j->hard_fallback) {
		log_warning("node %s: soft power off did not finish in %d s; "
		    "powering off hard as asked", j->uuid, j->timeout);
		r = lb_task_power_set(t, LB_POWER_ACTION_OFF,
		    j->e->cfg->power_state_change_timeout, err);
	}
	if (r == 0)
		r = lb_task_power_get(t, j->e->cfg->power_state_change_timeout,
		    &f->power, err);
	if (r == 0) {
		f->set_power = true;
		power_history(j, t, f->power);
		return;
	}
	snprintf(j->msg, sizeof(j->msg), "Failed to change power state to "
	    "'%s'. Error: %s", action_target(j->action), err->msg);
	f->error = j->msg;
}

static const struct lb_job_kind job_manage = { "verify", true, run_manage };
static const struct lb_job_kind job_provide = { "provide", false,
    run_provide };
static const struct lb_job_kind job_adopt = { "adopt", true, run_adopt };
static const struct lb_job_kind job_deploy = { "deploy", true, run_deploy };
static const struct lb_job_kind job_undeploy = { "undeploy", true,
    run_undeploy };
static const struct lb_job_kind job_power = { "power action", true,
    run_power };

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

/* The job an event queues; NULL: the event only moves the state. */
static const struct lb_job_kind *
job_for_event(const char *event)
{
	static const struct {
		const char *event;
		const struct lb_job_kind *kind;
	} map[] = {
		{ "manage", &job_manage }, { "provide", &job_provide },
		{ "adopt", &job_adopt }, { "deploy", &job_deploy },
		{ "deleted", &job_undeploy },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].event, event) == 0)
			return map[i].kind;
	}
	return NULL;
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
	const struct lb_job_kind *kind;
	struct lb_engine_job *job = NULL;
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
	kind = job_for_event(b.event);
	b.takes_lock = kind != NULL;
	if (kind != NULL) {
		r = lb_job_reserve(e, kind, 0, &job, err);
		if (r < 0)
			return r;
	}
	r = lb_store_node_update(e->store, ident, begin_provision, &b, NULL,
	    err);
	if (r < 0) {
		lb_job_cancel(job);
		return r;
	}
	log_info("node %s: %s -> %s (%s)", b.uuid, b.from, b.to, b.verb);
	if (job != NULL) {
		job->from_rescue = lb_state_is_rescue(b.from);
		lb_job_queue(job, b.uuid);
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

static const struct power_target {
	const char *target;
	enum lb_power_action action;
	int minor;
} power_targets[] = {
	{ "power on", LB_POWER_ACTION_ON, 1 },
	{ "power off", LB_POWER_ACTION_OFF, 1 },
	{ "rebooting", LB_POWER_ACTION_REBOOT, 1 },
	{ "soft power off", LB_POWER_ACTION_SOFT_OFF, 27 },
	{ "soft rebooting", LB_POWER_ACTION_SOFT_REBOOT, 27 },
};

/* An unknown target: Ironic's wording names the node's power state. */
static int
unknown_target(struct lb_engine *e, const char *ident, const char *target,
    struct lb_err *err)
{
	struct lb_node *node = NULL;
	int r;

	r = lb_store_node_get(e->store, ident, &node, err);
	if (r < 0)
		return r;
	r = lb_err_set(err, -EINVAL, "The requested action \"%s\" can not "
	    "be performed on node \"%s\" while it is in state \"%s\".",
	    target, node->uuid, node->power_state ? node->power_state :
	    "None");
	lb_node_free(node);
	return r;
}

/* The body's checks, in Ironic's order; *ret the target's row. */
static int
check_power_body(struct lb_engine *e, const char *ident, const json_t *body,
    int minor, const struct power_target **ret, struct lb_err *err)
{
	const char *key, *target;
	json_t *value, *timeout, *fallback;
	size_t i, n = sizeof(power_targets) / sizeof(power_targets[0]);

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
	for (i = 0; i < n && strcmp(power_targets[i].target, target) != 0; i++)
		;
	if (i == n)
		return unknown_target(e, ident, target, err);
	if (minor < power_targets[i].minor)
		return lb_err_set(err, -ENOTSUP, "Request not acceptable.");
	timeout = json_object_get(body, "timeout");
	if (timeout != NULL && minor < 27)
		return lb_err_set(err, -ENOTSUP, "Request not acceptable.");
	if (timeout != NULL && (!json_is_integer(timeout) ||
	    json_integer_value(timeout) <= 0 ||
	    json_integer_value(timeout) > 86400))
		return lb_err_set(err, -EINVAL, "Invalid timeout value. The "
		    "timeout value must be a positive integer (at most "
		    "86400).");
	fallback = json_object_get(body, "hard_fallback");
	if (fallback != NULL && !json_is_boolean(fallback))
		return lb_err_set(err, -EINVAL, "Invalid hard_fallback: "
		    "expected true or false.");
	*ret = &power_targets[i];
	return 0;
}

int
lb_engine_power(struct lb_engine *e, const char *ident, const json_t *body,
    int minor, struct lb_err *err)
{
	const struct power_target *pt = NULL;
	struct power_begin pb = { 0 };
	struct lb_engine_job *job;
	json_t *timeout;
	int r;

	r = check_power_body(e, ident, body, minor, &pt, err);
	if (r < 0)
		return r;
	r = lb_job_reserve(e, &job_power, 0, &job, err);
	if (r < 0)
		return r;
	job->action = pt->action;
	timeout = json_object_get(body, "timeout");
	job->timeout = timeout ? (int)json_integer_value(timeout) :
	    e->cfg->power_state_change_timeout;
	job->hard_fallback = json_is_true(json_object_get(body,
	    "hard_fallback"));
	pb.target_state = action_target(job->action);
	pb.host = e->cfg->host;
	pb.wipe_agent = job->action != LB_POWER_ACTION_ON;
	r = lb_store_node_update(e->store, ident, begin_power, &pb, NULL, err);
	if (r < 0) {
		lb_job_cancel(job);
		return r;
	}
	log_info("node %s: power action '%s' started", pb.uuid, pt->target);
	lb_job_queue(job, pb.uuid);
	return 0;
}
