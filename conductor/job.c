/*
 * job.c - the one job model (see job.h): reserving a worker, queueing,
 * running a job of any kind on a worker thread, and the single store
 * write with its transition line that ends every job (tried again while
 * the store cannot write).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/job.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/stop.h"
#include "conductor/util/banned.h"

/* ---- finishing ---- */

/* last_error, then a new line and 'tail' (the console's last lines). */
static int
append_error(struct lb_node *node, const char *tail, struct lb_err *err)
{
	size_t n = strlen(node->last_error) + strlen(tail) + 2;
	char *s = malloc(n);

	if (s == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	snprintf(s, n, "%s\n%s", node->last_error, tail);
	free(node->last_error);
	node->last_error = s;
	return 0;
}

static int
finish_cb(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct lb_finish *f = arg;
	char now[LB_TIME_LEN];
	int r = 0;

	if (f->task != NULL)
		lb_task_apply_driver_changes(node, f->task);

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
	if (f->error_tail != NULL && node->last_error != NULL)
		r |= append_error(node, f->error_tail, err);
	if (f->set_console)
		node->console_enabled = f->console_on;
	r |= lb_replace_str(&node->reservation, NULL, err);
	return r < 0 ? -ENOMEM : 0;
}

/*
 * The job's outcome must reach the store: until it does, the node stays
 * reserved by this conductor (nothing else starts on it) and no log line
 * claims the transition.  A store that cannot write now - a full disk
 * (-ENOSPC), another process holding its lock (-EAGAIN), an I/O error -
 * is tried again, 0.1 s doubling to 1 s apart, until the write lands or a
 * stop begins (lb_stop_sleep's safe point); after a stop the node stays
 * reserved, and recovery at the next start releases it.
 */
static int
finish_write(struct lb_engine *e, const char *uuid, struct lb_finish *f,
    const char *what)
{
	struct lb_err err = { "" };
	double delay = 0.1;
	int r, tries = 1;

	while ((r = lb_store_node_update(e->store, uuid, finish_cb, f, NULL,
	    &err)) < 0 && (r == -ENOSPC || r == -EAGAIN || r == -EIO)) {
		if (tries++ == 1)
			log_error("node %s: cannot record the end of %s, "
			    "trying again until it can: %s", uuid, what,
			    err.msg);
		if (lb_stop_sleep(e->clock, delay) < 0)
			break;
		delay = delay * 2 < 1.0 ? delay * 2 : 1.0;
	}
	if (r < 0)
		log_error("node %s: cannot record the end of %s: %s", uuid,
		    what, err.msg);
	else if (tries > 1)
		log_info("node %s: the end of %s recorded after %d tries",
		    uuid, what, tries);
	return r;
}

/* The history's event_type of a job's failure: Ironic's where it has one. */
static const char *
history_type(const char *what)
{
	static const struct {
		const char *what, *type;
	} types[] = {
		{ "verify", "verify" }, { "provide", "provisioning" },
		{ "adopt", "adoption" }, { "deploy", "deploying" },
		{ "undeploy", "unprovision" }, { "power action", "power" },
		{ "console", "console" },
		{ "console restore", "startup failure" },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].what, what) == 0)
			return types[i].type;
	return "rescue";	/* rescue, unrescue, finalize, clean-ups */
}

void
lb_job_finish(struct lb_engine *e, const char *uuid, struct lb_finish *f,
    const char *what, double started)
{
	if (finish_write(e, uuid, f, what) < 0)
		return;
	if (f->error != NULL && !f->keep_error)
		lb_history_record(e, uuid, LB_HISTORY_ERROR,
		    history_type(what), f->user, "%s%s%s", f->error,
		    f->error_tail ? "\n" : "", f->error_tail ?
		    f->error_tail : "");
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

/* ---- running ---- */

static void
job_run(struct lb_job *base)
{
	struct lb_engine_job *j = (struct lb_engine_job *)base;
	struct lb_finish f = { 0 };
	struct lb_node_task t = { 0 };
	struct lb_err err = { "" };
	int r = 0;

	log_debug("node %s: %s started", j->uuid,
	    j->what ? j->what : j->kind->name);
	if (j->kind->load)
		r = lb_task_load(j->e, j->uuid, &t, &err);
	t.user = lb_job_user(j);
	j->kind->run(j, &t, r, &err, &f);
	f.task = &t;
	f.user = lb_job_user(j);
	lb_job_finish(j->e, j->uuid, &f, j->what ? j->what : j->kind->name,
	    j->started);
	LB_METRIC_OBSERVE(LB_M_JOB_SECONDS, lb_engine_now(j->e) - j->started,
	    j->kind->name);
	free(f.error_tail);
	lb_task_release(&t);
	free(j);
}

/*
 * A queued job that a graceful stop never started.  Ironic 21.4.4 leaves
 * such nodes for the next start to fail (_fail_transient_state); failing
 * the transition now, with the reason, gives the same end state without
 * leaving the lock or a state that claims work is going on.  As in
 * recovery, a target power state marks a power action: it is cleared and
 * the provision state left alone.
 */
static void
job_drop(struct lb_job *base)
{
	struct lb_engine_job *j = (struct lb_engine_job *)base;
	const char *what = j->what ? j->what : j->kind->name;
	struct lb_finish f = { .power_job = true, .event = "fail" };
	struct lb_node *node = NULL;
	struct lb_err err = { "" };
	char msg[160];

	if (j->uuid[0] == '\0') {
		free(j);
		return;
	}
	if (lb_store_node_get(j->e->store, j->uuid, &node, &err) == 0 &&
	    node->target_power_state != NULL)
		f.event = NULL;
	lb_node_free(node);
	snprintf(msg, sizeof(msg), "lifeboatd stopped before the %s began",
	    what);
	f.error = msg;
	lb_job_finish(j->e, j->uuid, &f, what, j->started);
	free(j);
}

struct lb_engine_job *
lb_job_new(struct lb_engine *e, const struct lb_job_kind *kind)
{
	struct lb_engine_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->base.run = job_run;
	j->base.drop = job_drop;
	j->e = e;
	j->kind = kind;
	j->started = lb_engine_now(e);
	if (lb_history_user() != NULL) {
		snprintf(j->user, sizeof(j->user), "%s", lb_history_user());
		j->has_user = true;
	}
	return j;
}

int
lb_job_reserve(struct lb_engine *e, const struct lb_job_kind *kind,
    size_t margin, struct lb_engine_job **ret, struct lb_err *err)
{
	struct lb_engine_job *j;

	if (lb_engine_stopping(e))
		return lb_engine_stopping_err(e, err);
	if (lb_pool_reserve(&e->pool, margin) < 0)
		return lb_err_set(err, -EAGAIN, "No free conductor workers "
		    "available");
	j = lb_job_new(e, kind);
	if (j == NULL) {
		lb_pool_unreserve(&e->pool);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	*ret = j;
	return 0;
}

void
lb_job_cancel(struct lb_engine_job *j)
{
	if (j == NULL)
		return;
	lb_pool_unreserve(&j->e->pool);
	free(j);
}

void
lb_job_queue(struct lb_engine_job *j, const char *uuid)
{
	snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
	lb_pool_submit(&j->e->pool, &j->base);
}

void
lb_job_run_here(struct lb_engine_job *j)
{
	job_run(&j->base);
}
