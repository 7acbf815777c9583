/*
 * rescue_verbs.c - the rescue, unrescue and rescue-abort verbs (contract
 * 3.1) on API threads: Ironic's checks in Ironic's order, the rescue
 * interface's validation, the password hashed, then the transition, the
 * node's lock and the job in one go.
 */
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/job.h"
#include "conductor/rescue_flow.h"
#include "conductor/rescue_verbs.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/passwd.h"
#include "conductor/util/banned.h"

/* The rescue interface's checks; none: the driver does not rescue. */
static int
validate_rescue(struct lb_node_task *t, struct lb_err *err)
{
	if (!lb_task_has_rescue(t))
		return lb_err_set(err, -EINVAL, "Driver %s does not support "
		    "rescue (disabled or not implemented).", t->node->driver);
	return lb_task_rescue_validate(t, err);
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

/*
 * Reserves a worker, writes the transition (and lock), queues the job.
 * The reply goes out only after the write, so a poll right after the 202
 * sees the new state with its target.
 */
static int
start_job(struct lb_engine *e, const char *ident, struct rescue_begin *b,
    const struct lb_job_kind *kind, struct lb_err *err)
{
	struct lb_engine_job *j;
	int r;

	r = lb_job_reserve(e, kind, 0, &j, err);
	if (r < 0)
		return r;
	if (b->abort)
		j->what = "abort clean-up";
	r = lb_store_node_update(e->store, ident, begin_rescue, b, NULL, err);
	if (r < 0) {
		lb_job_cancel(j);
		return r;
	}
	log_info("node %s: %s -> %s (%s)", b->uuid, b->from, b->to, b->verb);
	lb_job_queue(j, b->uuid);
	return 0;
}

int
lb_rescue_verb(struct lb_engine *e, const char *ident, const char *verb,
    const char *event, const json_t *body, struct lb_err *err)
{
	struct rescue_begin b = { .verb = verb, .event = event,
	    .host = e->cfg->host };
	struct lb_node_task t;
	const char *password = NULL;
	char hash[LB_PASSWD_HASH_MAX], why[LB_ERR_MSG_MAX];
	int r;

	if (strcmp(event, "abort") == 0) {
		b.abort = true;
		return start_job(e, ident, &b, &lb_rescue_job_clean_up, err);
	}
	r = lb_task_load(e, ident, &t, err);
	if (r == -ENOENT)
		return r;
	/* Ironic's order: the state first, then the password, then the rest. */
	if (r == 0 && lb_fsm_next(t.node->provision_state, event) == NULL) {
		r = lb_node_can_fire(t.node, verb, event, err);
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
	if (t.node->maintenance) {
		r = lb_err_set(err, -EINVAL, "The %s operation can't be "
		    "performed on node %s because it's in maintenance mode.",
		    strcmp(event, "rescue") == 0 ? "rescuing" : "unrescuing",
		    t.node->uuid);
		goto out;
	}
	if (strcmp(event, "rescue") == 0) {
		r = validate_rescue(&t, err);
		if (r < 0) {
			snprintf(why, sizeof(why), "%s", err->msg);
			r = lb_err_set(err, -EINVAL, "Failed to rescue instance "
			    "%s for node %s: Validation failed: %s",
			    t.node->instance_uuid ? t.node->instance_uuid :
			    "None", t.node->uuid, why);
			goto out;
		}
		r = lb_passwd_hash(password,
		    e->cfg->rescue_password_hash_algorithm, hash, err);
		if (r < 0)
			goto out;
		b.hash = hash;
	}
	r = start_job(e, t.node->uuid, &b, strcmp(event, "rescue") == 0 ?
	    &lb_rescue_job_rescue : &lb_rescue_job_unrescue, err);
out:
	lb_task_release(&t);
	memset(hash, 0, sizeof(hash));
	return r;
}

