/*
 * recovery.c - what a previous run of lifeboatd left behind, settled at
 * start: boot files it was still writing removed, its locks released,
 * interrupted transitions failed, and the clean-up of rescues cut short
 * queued once the pool runs.  The main thread, before and just after the
 * pool starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot_tmp.h"
#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/job.h"
#include "conductor/recovery.h"
#include "conductor/rescue_flow.h"
#include "conductor/ring.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/banned.h"

struct recover {
	const char *host;	/* whose locks: this one's, or a dead one's */
	const char *self;	/* who holds them next: this conductor */
	const char *why;	/* "restarted", "went offline" */
	char from[32];
	char to[32];
	bool touched;
	bool cleanup;		/* locked until lb_recovery_clean_up's job ends */
	char power_error[512];	/* the power action's last_error, or "" */
};

/* Transient states that hold a lock while a job runs. */
static bool
is_busy_state(const char *state)
{
	return !lb_state_is_stable(state) &&
	    strcmp(state, LB_STATE_RESCUE_WAIT) != 0 &&
	    strcmp(state, LB_STATE_DEPLOY_WAIT) != 0 &&
	    strstr(state, " failed") == NULL;
}

/*
 * Where an interrupted job may have left a rescue half done (boot files
 * staged, ports on the rescuing VLAN, an agent token): the failed state
 * it ends in keeps this conductor's lock, and lb_recovery_clean_up cleans
 * up once the pool runs.  A node found locked in one of these failed
 * states was waiting for that clean-up when the previous run died.
 */
static bool
needs_rescue_clean_up(const char *interrupted)
{
	return strcmp(interrupted, LB_STATE_RESCUING) == 0 ||
	    strcmp(interrupted, LB_STATE_UNRESCUING) == 0 ||
	    strcmp(interrupted, LB_STATE_DELETING) == 0;
}

static bool
awaits_rescue_clean_up(const struct lb_node *node)
{
	return strcmp(node->provision_state, LB_STATE_RESCUE_FAILED) == 0 ||
	    strcmp(node->provision_state, LB_STATE_UNRESCUE_FAILED) == 0 ||
	    strcmp(node->provision_state, LB_STATE_ERROR) == 0;
}

static int
recover_node(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct recover *rc = arg;
	const struct lb_transition *tr;
	char msg[512], now[LB_TIME_LEN];
	bool keep_lock = false;

	(void)err;
	rc->touched = false;
	rc->cleanup = false;
	rc->power_error[0] = '\0';
	snprintf(rc->from, sizeof(rc->from), "%s", node->provision_state);
	snprintf(rc->to, sizeof(rc->to), "%s", node->provision_state);
	if (node->reservation != NULL && strcmp(node->reservation,
	    rc->host) != 0)
		return 0;	/* another conductor's */
	if (node->reservation != NULL && node->target_power_state == NULL &&
	    awaits_rescue_clean_up(node)) {
		rc->cleanup = true;
		return -EALREADY;	/* still ours: the clean-up follows */
	}
	if (node->reservation != NULL) {
		free(node->reservation);
		node->reservation = NULL;
		rc->touched = true;
	}
	if (node->target_power_state != NULL) {
		snprintf(msg, sizeof(msg), "Conductor %s %s during a power "
		    "action to '%s'; it may not have completed.", rc->host,
		    rc->why, node->target_power_state);
		free(node->target_power_state);
		node->target_power_state = NULL;
		free(node->last_error);
		node->last_error = strdup(msg);
		snprintf(rc->power_error, sizeof(rc->power_error), "%s", msg);
		rc->touched = true;
	}
	if (is_busy_state(node->provision_state) &&
	    (tr = lb_fsm_next(node->provision_state, "fail")) != NULL) {
		snprintf(msg, sizeof(msg), "Conductor %s %s while the node was "
		    "in state \"%s\"; the operation was interrupted.",
		    rc->host, rc->why, node->provision_state);
		lb_time_now_iso(now);
		free(node->provision_state);
		node->provision_state = strdup(tr->to);
		free(node->target_provision_state);
		node->target_provision_state = tr->target ?
		    strdup(tr->target) : NULL;
		free(node->provision_updated_at);
		node->provision_updated_at = strdup(now);
		free(node->last_error);
		node->last_error = strdup(msg);
		snprintf(rc->to, sizeof(rc->to), "%s", tr->to);
		rc->touched = true;
		keep_lock = needs_rescue_clean_up(rc->from);
		/* An interrupted rescue keeps no password and no agent. */
		if (strcmp(rc->from, LB_STATE_RESCUING) == 0 ||
		    strcmp(rc->from, LB_STATE_UNRESCUING) == 0) {
			lb_node_drop_password(node);
			lb_node_forget_agent(node);
		}
	}
	if (keep_lock) {
		/* The clean-up job's end releases it. */
		free(node->reservation);
		node->reservation = strdup(rc->self);
		rc->cleanup = true;
	}
	return rc->touched ? 0 : -EALREADY;
}

/*
 * A kill between a boot file's write and its rename leaves the temporary
 * in a root nothing else cleans (the dnsmasq directories, pxelinux.cfg/):
 * nothing writes there yet, so every one found is such a leftover.
 */
static void
sweep_boot_roots(const struct lb_config *cfg)
{
	const struct {
		const char *root, *what;
	} roots[] = {
		{ cfg->pxe_tftp_root, "tftp root" },
		{ cfg->deploy_http_root, "http root" },
		{ cfg->dnsmasq_hostsdir, "dnsmasq hostsdir" },
		{ cfg->dnsmasq_optsdir, "dnsmasq optsdir" },
	};

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		struct lb_err err = { "" };
		int n;

		if (roots[i].root == NULL)
			continue;
		n = lb_boot_sweep_tmp(roots[i].root, roots[i].what, &err);
		if (n < 0)
			log_error("recovery: %s", err.msg);
		else if (n > 0)
			log_warning("recovery: removed %d half-written file(s) "
			    "a previous run left in %s %s", n, roots[i].what,
			    roots[i].root);
	}
}

struct recover_walk {
	struct lb_engine *e;
	struct recover rc;
	size_t fixed;
	bool take_over;		/* only the nodes the ring gives us */
	struct lb_uuid_set clean, power;	/* the take-over hands on */
};

static void
uuids_add(struct lb_uuid_set *u, const char *uuid)
{
	if (lb_uuid_set_add(u, uuid) < 0)
		log_error("node %s: out of memory for its take-over", uuid);
}

static int
recover_one(const struct lb_node *n, void *arg)
{
	struct recover_walk *w = arg;
	struct lb_err uerr = { "" };
	int r;

	if (n->reservation == NULL && n->target_power_state == NULL &&
	    !is_busy_state(n->provision_state))
		return 0;
	if (w->take_over && !lb_engine_owns(w->e, n))
		return 0;
	r = lb_store_node_update(w->e->store, n->uuid, recover_node, &w->rc,
	    NULL, &uerr);
	if (r == -EALREADY)
		return 0;
	if (r < 0) {
		log_error("node %s: cannot recover: %s", n->uuid, uerr.msg);
		return 0;
	}
	w->fixed++;
	if (w->rc.power_error[0] != '\0')
		lb_history_record(w->e, n->uuid, LB_HISTORY_ERROR,
		    "transition", NULL, "%s", w->rc.power_error);
	/* Ironic's words for a transition a start cannot resume. */
	if (strcmp(w->rc.from, w->rc.to) != 0)
		lb_history_record(w->e, n->uuid, LB_HISTORY_ERROR,
		    "transition", NULL, "The %s state can't be resumed by "
		    "conductor %s. Moving to fail state.", w->rc.from,
		    w->rc.host);
	log_warning("node %s: recovered: conductor %s %s: %s -> %s, %s",
	    n->uuid, w->rc.host, w->rc.why, w->rc.from, w->rc.to,
	    w->rc.cleanup ? "locked for the rescue clean-up" :
	    "lock released");
	if (w->take_over)
		LB_METRIC_INC(LB_M_TAKEN_OVER, "lock");
	if (w->take_over && w->rc.cleanup)
		uuids_add(&w->clean, n->uuid);
	if (w->take_over && w->rc.power_error[0] != '\0')
		uuids_add(&w->power, n->uuid);
	return 0;
}

int
lb_recovery_run(struct lb_engine *e, struct lb_err *err)
{
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1 };
	struct recover_walk w = { .e = e, .rc = { .host = e->cfg->host,
	    .self = e->cfg->host, .why = "restarted" } };
	int r;

	sweep_boot_roots(e->cfg);
	/* A page at a time: 10,000 full records would stay in the heap. */
	r = lb_store_node_each(e->store, &q, recover_one, &w, err);
	if (r < 0)
		return r;
	if (w.fixed > 0)
		log_info("recovered %zu node(s) left busy by a previous run",
		    w.fixed);
	return 0;
}

/* Queues the clean-up of a rescue cut short; the node is locked by us. */
static void
clean_up_one(struct lb_engine *e, const char *uuid, const char *why)
{
	struct lb_engine_job *j;
	struct lb_err err = { "" };
	/* A full pool at start: run it here rather than leave it. */
	bool here = lb_job_reserve(e, &lb_rescue_job_clean_up, 0, &j,
	    &err) < 0;

	if (here)
		j = lb_job_new(e, &lb_rescue_job_clean_up);
	if (j == NULL) {
		log_error("node %s: out of memory for its clean-up", uuid);
		return;
	}
	/*
	 * Power stays as it is: the job may have been cut short
	 * before it touched the node (an image download), and an
	 * instance that still runs must not go off for a restart.
	 * The agent, if one boots, finds no token and no files.
	 */
	j->keep_power = true;
	j->console_tail = true;
	j->what = "recovery clean-up";
	log_info("node %s: %s: cleaning up the rescue", uuid, why);
	if (here) {
		snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
		lb_job_run_here(j);
	} else {
		lb_job_queue(j, uuid);
	}
}

static void
recover_failed_state(struct lb_engine *e, const char *state)
{
	struct lb_node_query q = { .provision_state = state,
	    .maintenance = -1, .associated = -1, .retired = -1,
	    .reservation = e->cfg->host };
	struct lb_node_list list;
	struct lb_err err = { "" };
	char why[64];

	if (lb_store_node_list(e->store, &q, &list, &err) < 0) {
		log_error("rescue recovery: %s", err.msg);
		return;
	}
	snprintf(why, sizeof(why), "%s after restart", state);
	for (size_t i = 0; i < list.n; i++)
		clean_up_one(e, list.items[i]->uuid, why);
	lb_node_list_release(&list);
}

void
lb_recovery_clean_up(struct lb_engine *e)
{
	recover_failed_state(e, LB_STATE_RESCUE_FAILED);
	recover_failed_state(e, LB_STATE_UNRESCUE_FAILED);
	recover_failed_state(e, LB_STATE_ERROR);
}

int
lb_recovery_take_over(struct lb_engine *e, const char *gone,
    struct lb_uuid_set *ret_power)
{
	struct lb_node_query q = { .maintenance = -1, .associated = -1,
	    .retired = -1, .reservation = gone };
	struct recover_walk w = { .e = e, .take_over = true, .rc = {
	    .host = gone, .self = e->cfg->host, .why = "went offline" } };
	struct lb_err err = { "" };
	int r;

	r = lb_store_node_each(e->store, &q, recover_one, &w, &err);
	if (r < 0)
		log_error("take-over from conductor %s: %s", gone, err.msg);
	for (size_t i = 0; i < w.clean.n; i++)
		clean_up_one(e, w.clean.v[i], "take-over");
	lb_uuid_set_free(&w.clean);
	*ret_power = w.power;
	return (int)w.fixed;
}

