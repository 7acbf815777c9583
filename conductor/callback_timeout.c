/*
 * callback_timeout.c - the periodic check for rescues whose ramdisk never
 * called back ([conductor] rescue_callback_timeout): each such node moves
 * to rescue failed, with a message saying how far the ramdisk got, and
 * its clean-up is queued.  Runs on the timer thread (it registers with
 * the engine's timers); the clean-up on the worker pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/callback_timeout.h"
#include "conductor/ring.h"
#include "conductor/console_verbs.h"
#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/job.h"
#include "conductor/rescue_flow.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

struct timeout_begin {
	const char *host;
	const char *api_url;	/* what the ramdisk was told to call */
	double now;
	double deadline;		/* provision_updated_at before this */
	const char *tail;		/* the console's last lines, or NULL */
	bool fired;
	char error[1024 + 4096];	/* last_error when fired */
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

/* The node as listed is past the deadline (begin_timeout checks again). */
static bool
expired(const struct lb_node *node, const struct timeout_begin *t)
{
	double since;

	return lb_time_parse_iso(node->provision_updated_at, &since) == 0 &&
	    since < t->deadline;
}

static int
begin_timeout(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct timeout_begin *t = arg;
	const struct lb_transition *tr;
	char now[LB_TIME_LEN], msg[1024 + 4096];
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
	if (t->tail != NULL)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "\n%s",
		    t->tail);
	tr = lb_fsm_next(node->provision_state, "fail");
	lb_time_now_iso(now);
	r |= lb_replace_str(&node->provision_state, tr->to, err);
	r |= lb_replace_str(&node->target_provision_state, tr->target, err);
	r |= lb_replace_str(&node->provision_updated_at, now, err);
	r |= lb_replace_str(&node->last_error, msg, err);
	r |= lb_replace_str(&node->reservation, t->host, err);
	snprintf(t->error, sizeof(t->error), "%s", msg);
	t->fired = true;
	return r < 0 ? -ENOMEM : 0;
}

static void
check_timeouts(void *arg)
{
	struct lb_engine *e = arg;
	struct lb_node_query q = { .provision_state = LB_STATE_RESCUE_WAIT,
	    .maintenance = 0, .associated = -1, .retired = -1,
	    .reservation = "" };
	struct timeout_begin t = { .host = e->cfg->host,
	    .api_url = e->api_url };
	struct lb_node_list list;
	struct lb_err err = { "" };
	int r;

	if (e->cfg->rescue_callback_timeout <= 0)
		return;
	t.now = e->clock->realtime(e->clock);
	t.deadline = (double)(long long)t.now -
	    e->cfg->rescue_callback_timeout;
	if (lb_store_node_list(e->store, &q, &list, &err) < 0) {
		log_error("rescue timeout check: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < list.n; i++) {
		struct lb_engine_job *j;
		char *tail;

		if (!expired(list.items[i], &t) ||
		    !lb_engine_owns(e, list.items[i]))
			continue;
		if (lb_job_reserve(e, &lb_rescue_job_clean_up, 0, &j,
		    &err) < 0)
			break;	/* the next check picks the rest up */
		/*
		 * Read before the write lock: the client sees it with the
		 * failure, as `rescue --wait` prints last_error then.
		 */
		tail = lb_console_failure_tail(e, list.items[i]);
		t.tail = tail;
		r = lb_store_node_update(e->store, list.items[i]->uuid,
		    begin_timeout, &t, NULL, &err);
		free(tail);
		if (r < 0 || !t.fired) {
			lb_job_cancel(j);
			continue;
		}
		log_warning("node %s: rescue wait -> rescue failed (timeout "
		    "after %d s)", list.items[i]->uuid,
		    e->cfg->rescue_callback_timeout);
		lb_history_record(e, list.items[i]->uuid, LB_HISTORY_ERROR,
		    "rescue", NULL, "%s", t.error);
		j->power_off = true;
		j->what = "timeout clean-up";
		lb_job_queue(j, list.items[i]->uuid);
	}
	lb_node_list_release(&list);
}

int
lb_callback_timeout_register(struct lb_engine *e)
{
	if (e->cfg->rescue_callback_timeout <= 0)
		return 0;
	return lb_timers_add(&e->timers, e->cfg->check_rescue_state_interval,
	    check_timeouts, e);
}
