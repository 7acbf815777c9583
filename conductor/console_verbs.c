/*
 * console_verbs.c - the node console (contract wave 2, section 1): PUT and
 * GET /v1/nodes/{n}/states/console with Ironic's checks and words (API
 * threads), the enable and disable job (workers), consoles started again
 * at start-up, and the capture of the console during a rescue with its
 * last lines under last_error when the rescue fails (workers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/console_verbs.h"
#include "conductor/engine_ctx.h"
#include "conductor/job.h"
#include "conductor/ring.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/oslo.h"
#include "conductor/util/banned.h"

/* ---- the checks (API threads) ---- */

/* oslo's strict bool_from_string, as Ironic's args.boolean. */
static int
parse_enabled(const json_t *v, const char *text, bool *ret,
    struct lb_err *err)
{
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (v != NULL)
		text = json_string_value(v);
	if (text != NULL && lb_oslo_bool(text, ret) == 0)
		return 0;
	if (text == NULL && json_is_number(v))
		text = "a number";
	else if (text == NULL)
		text = "a non-string value";
	return lb_err_set(err, -EINVAL, "Invalid enabled: Unrecognized value "
	    "'%.64s', acceptable values are: " LB_OSLO_BOOL_VALUES, text);
}

/* The request's 'enabled': the body's, else the query's. */
static int
request_enabled(const json_t *body, const char *query, bool *ret,
    struct lb_err *err)
{
	const char *key;
	json_t *value;

	if (body != NULL && !json_is_object(body))
		return lb_err_set(err, -EINVAL, "Invalid input: the request "
		    "body must be a JSON object");
	json_object_foreach((json_t *)body, key, value) {
		if (strcmp(key, "enabled") != 0)
			return lb_err_set(err, -EINVAL, "Unexpected arguments: "
			    "%.64s", key);
	}
	value = json_object_get(body, "enabled");
	if (value == NULL && query == NULL)
		return lb_err_set(err, -EINVAL, "Missing mandatory parameter: "
		    "enabled");
	return parse_enabled(value, query, ret, err);
}

/*
 * The console interface's checks on a node read outside a job (Ironic's
 * console.validate): no console is Ironic's UnsupportedDriverExtension.
 */
static int
console_validate(struct lb_engine *e, const struct lb_node *node,
    struct lb_err *err)
{
	const char *name = node->iface[LB_IFACE_CONSOLE];
	const struct lb_iface_impl *impl = name != NULL ?
	    e->iface_find(LB_IFACE_CONSOLE, name) : NULL;
	struct lb_task task;

	lb_task_of_node(&task, e->cfg, node);

	if (impl == NULL || (impl->flags & LB_IMPL_NONE))
		return lb_err_set(err, -EINVAL, "Driver %s does not support "
		    "console (disabled or not implemented).", node->driver);
	if (!(impl->flags & LB_IMPL_BUILT))
		return lb_err_set(err, -EINVAL, "The console interface '%s' "
		    "is known but not built into this lifeboatd.", name);
	if (impl->validate != NULL && impl->validate(&task, err) < 0)
		return -EINVAL;
	return 0;
}

/* ---- the job (workers) ---- */

static void
run_console(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	int r = loaded;

	if (r == 0 && j->console_on)
		r = lb_task_console_start(t, err);
	else if (r == 0)
		r = lb_task_console_stop(t, err);
	if (r == 0) {
		f->set_console = true;
		f->console_on = j->console_on;
		log_info("node %s: console %s", j->uuid, j->console_on ?
		    "enabled" : "disabled");
		return;
	}
	/* Ironic's words; console_enabled stays as it was. */
	snprintf(j->msg, sizeof(j->msg), "Error %s the console on node %s. "
	    "Reason: %s", j->console_on ? "enabling" : "disabling", j->uuid,
	    err->msg);
	f->error = j->msg;
}

static const struct lb_job_kind job_console = { "console", true,
    run_console };

/* ---- the verbs (API threads) ---- */

struct console_begin {
	const char *host;
	bool want;
	bool queued;		/* out: the job runs */
	char uuid[LB_UUID_LEN + 1];
};

static int
begin_console(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct console_begin *cb = arg;
	int r = 0;

	memcpy(cb->uuid, node->uuid, sizeof(cb->uuid));
	cb->queued = false;
	/* Re-checked under the write lock: another request may have won. */
	if (node->console_enabled == cb->want)
		return LB_STORE_UNCHANGED;
	if (node->reservation != NULL)
		return lb_node_locked(node, err);
	r |= lb_replace_str(&node->last_error, NULL, err);
	r |= lb_replace_str(&node->reservation, cb->host, err);
	cb->queued = true;
	return r < 0 ? -ENOMEM : 0;
}

int
lb_engine_console_set(struct lb_engine *e, const char *ident,
    const json_t *body, const char *query_enabled, struct lb_err *err)
{
	struct console_begin cb = { .host = e->cfg->host };
	struct lb_engine_job *job;
	struct lb_node *node = NULL;
	int r;

	r = request_enabled(body, query_enabled, &cb.want, err);
	if (r < 0)
		return r;
	r = lb_store_node_get(e->store, ident, &node, err);
	if (r < 0)
		return r;
	r = console_validate(e, node, err);
	if (r == 0 && node->console_enabled == cb.want)
		r = 1;		/* as asked already: 202, nothing to do */
	lb_node_free(node);
	if (r != 0)
		return r < 0 ? r : 0;
	r = lb_job_reserve(e, &job_console, 0, &job, err);
	if (r < 0)
		return r;
	job->console_on = cb.want;
	r = lb_store_node_update(e->store, ident, begin_console, &cb, NULL,
	    err);
	if (r < 0 || !cb.queued) {
		lb_job_cancel(job);
		return r < 0 ? r : 0;
	}
	log_info("node %s: console %s requested", cb.uuid, cb.want ?
	    "enable" : "disable");
	lb_job_queue(job, cb.uuid);
	return 0;
}

int
lb_engine_console_get(struct lb_engine *e, const char *ident, json_t **ret,
    struct lb_err *err)
{
	struct lb_node *node = NULL;
	json_t *info = NULL;
	int r;

	r = lb_store_node_get(e->store, ident, &node, err);
	if (r < 0)
		return r;
	if (node->console_enabled) {
		r = console_validate(e, node, err);
		if (r == 0)
			r = lb_task_console_describe(e->iface_find(
			    LB_IFACE_CONSOLE, node->iface[LB_IFACE_CONSOLE]),
			    e->cfg, node, &info, err);
	}
	if (r == 0) {
		*ret = json_pack("{s:b, s:o}", "console_enabled",
		    node->console_enabled, "console_info",
		    info != NULL ? info : json_null());
		if (*ret == NULL)
			r = lb_err_set(err, -ENOMEM, "out of memory");
	}
	lb_node_free(node);
	return r;
}

/* ---- start-up ---- */

static void
take_over_staging(struct lb_node_task *t, struct lb_err *err)
{
	if (lb_task_rescue_take_over(t, err) < 0) {
		log_warning("node %s: rescue wait taken over, but its ramdisk "
		    "could not be staged here: %s", t->node->uuid, err->msg);
		return;
	}
	log_info("node %s: rescue wait taken over: its ramdisk is staged "
	    "here", t->node->uuid);
	LB_METRIC_INC(LB_M_TAKEN_OVER, "restaged");
}

/*
 * j->console_on: the console was enabled; else only a capture resumes.
 * j->take_over: a dead conductor's node, staged again first.
 */
static void
run_restore(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	int r = loaded;

	f->keep_error = true;
	if (r == 0 && j->take_over &&
	    strcmp(t->node->provision_state, LB_STATE_RESCUE_WAIT) == 0)
		take_over_staging(t, err);
	if (r == 0 && j->console_on)
		r = lb_task_console_start(t, err);
	if (r < 0 && j->console_on) {
		/* Ironic's words; the console is off until asked again. */
		snprintf(j->msg, sizeof(j->msg), "Failed to start console of "
		    "node %s while starting the conductor, so changing the "
		    "console_enabled status to False, error: %s", j->uuid,
		    err->msg);
		f->keep_error = false;
		f->error = j->msg;
		f->set_console = true;
		f->console_on = false;
		log_warning("node %s: %s", j->uuid, j->msg);
		return;
	}
	if (r < 0) {
		log_warning("node %s: console capture not resumed: %s",
		    j->uuid, err->msg);
		return;
	}
	if (j->console_on)
		log_info("node %s: console started again", j->uuid);
	if (j->take_over)
		LB_METRIC_INC(LB_M_TAKEN_OVER, "console");
	if (strcmp(t->node->provision_state, LB_STATE_RESCUE_WAIT) == 0)
		lb_console_capture_begin(t, true);
}

static const struct lb_job_kind job_restore = { "console restore", true,
    run_restore };

struct restore_one {
	char uuid[LB_UUID_LEN + 1];
	bool enabled;		/* the console was on, not only a capture */
};

struct restore_walk {
	struct lb_engine *e;
	lb_console_pick_fn pick;	/* NULL: every node */
	void *pick_arg;
	bool take_over;			/* every rescue wait too */
	struct restore_one *nodes;
	size_t n, cap;
};

/* Consoles that were on, and rescues whose console was being captured. */
static int
restore_wanted(const struct lb_node *node, void *arg)
{
	struct restore_walk *w = arg;
	const char *name = node->iface[LB_IFACE_CONSOLE];
	const struct lb_iface_impl *impl = name != NULL ?
	    w->e->iface_find(LB_IFACE_CONSOLE, name) : NULL;
	bool console = impl != NULL && (impl->flags & LB_IMPL_BUILT) &&
	    !(impl->flags & LB_IMPL_NONE);
	bool waits = strcmp(node->provision_state, LB_STATE_RESCUE_WAIT) == 0;

	if (!node->console_enabled && !(waits && (w->take_over || (console &&
	    w->e->cfg->console_capture_during_rescue))))
		return 0;
	if (w->pick != NULL && !w->pick(w->e, node, w->pick_arg))
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		void *p = realloc(w->nodes, cap * sizeof(*w->nodes));

		if (p == NULL)
			return -ENOMEM;
		w->nodes = p;
		w->cap = cap;
	}
	snprintf(w->nodes[w->n].uuid, LB_UUID_LEN + 1, "%s", node->uuid);
	w->nodes[w->n++].enabled = node->console_enabled;
	return 0;
}

static int
begin_restore(struct lb_node *node, void *arg, struct lb_err *err)
{
	const char *host = arg;

	if (node->reservation != NULL) {
		log_info("node %s: locked by %s: its console and staging are "
		    "not started again now", node->uuid, node->reservation);
		return -EBUSY;
	}
	return lb_replace_str(&node->reservation, host, err) < 0 ? -ENOMEM :
	    0;
}

static bool
owned(struct lb_engine *e, const struct lb_node *node, void *arg)
{
	(void)arg;
	return lb_engine_owns(e, node);
}

void
lb_console_restore(struct lb_engine *e)
{
	lb_console_take_over(e, owned, NULL, false, NULL);
}

void
lb_console_take_over(struct lb_engine *e, lb_console_pick_fn pick,
    void *arg, bool take_over, lb_console_busy_fn busy)
{
	int r;

	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	struct restore_walk w = { .e = e, .pick = pick, .pick_arg = arg,
	    .take_over = take_over };
	struct lb_err err = { "" };

	if (lb_store_node_each(e->store, &q, restore_wanted, &w, &err) < 0)
		log_error("console start-up: %s", err.msg);
	for (size_t i = 0; i < w.n; i++) {
		struct lb_engine_job *j;
		/* A full pool at start: run it here rather than leave it. */
		bool here = lb_job_reserve(e, &job_restore, 0, &j, &err) < 0;

		if (here && (j = lb_job_new(e, &job_restore)) == NULL)
			break;
		j->console_on = w.nodes[i].enabled;
		j->take_over = take_over;
		r = lb_store_node_update(e->store, w.nodes[i].uuid,
		    begin_restore, (void *)e->cfg->host, NULL, &err);
		if (r == -EBUSY && busy != NULL)
			busy(e, w.nodes[i].uuid, arg);
		if (r < 0) {
			if (here)
				free(j);
			else
				lb_job_cancel(j);
			continue;
		}
		if (here) {
			snprintf(j->uuid, sizeof(j->uuid), "%s",
			    w.nodes[i].uuid);
			lb_job_run_here(j);
		} else {
			lb_job_queue(j, w.nodes[i].uuid);
		}
	}
	free(w.nodes);
}

/* ---- the rescue's hooks (workers) ---- */

void
lb_console_capture_begin(struct lb_node_task *t, bool resume)
{
	struct lb_err err = { "" };

	if (!t->engine->cfg->console_capture_during_rescue ||
	    !lb_task_console_captures(t))
		return;
	/* The capture keeps trying SOL; the rescue goes on regardless. */
	if (lb_task_console_capture_start(t, resume, &err) < 0)
		log_warning("node %s: console capture: %s; the rescue goes on "
		    "and the capture keeps trying", t->node->uuid, err.msg);
}

void
lb_console_capture_end(struct lb_node_task *t)
{
	if (t->node != NULL)
		lb_task_console_capture_stop(t);
}

char *
lb_console_failure_tail(struct lb_engine *e, const struct lb_node *node)
{
	unsigned int lines = (unsigned int)e->cfg->console_capture_error_lines;
	const char *name = node->iface[LB_IFACE_CONSOLE];
	struct lb_err err = { "" };
	char *tail = NULL, *out;
	size_t n;

	if (lines == 0 || name == NULL)
		return NULL;
	if (lb_task_console_tail_node(e->iface_find(LB_IFACE_CONSOLE, name),
	    e->cfg, node, lines, &tail, &err) < 0) {
		log_warning("node %s: cannot read the console capture: %s",
		    node->uuid, err.msg);
		return NULL;
	}
	if (tail == NULL || tail[0] == '\0') {
		free(tail);
		return NULL;
	}
	n = strlen(tail) + 64;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "Last lines of the node's console:\n%s", tail);
	free(tail);
	return out;
}

void
lb_console_error_tail(struct lb_node_task *t, struct lb_finish *f)
{
	if (t->node == NULL)
		return;
	free(f->error_tail);
	f->error_tail = lb_console_failure_tail(t->engine, t->node);
}

void
lb_console_forget(struct lb_engine *e, const char *uuid, const char *iface)
{
	if (iface[0] != '\0')
		lb_task_console_forget_node(e->iface_find(LB_IFACE_CONSOLE,
		    iface), e->cfg, uuid);
}
