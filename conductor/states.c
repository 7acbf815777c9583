/*
 * states.c - provision state names, per-state API rules, and the helpers
 * that move a node record through the state machine (fire an event, the
 * lock message, what a rescue leaves on the node).  On the record given;
 * any thread.
 */
#include "conductor/states.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/node.h"

#include "conductor/util/banned.h"

static bool
in_list(const char *state, const char *const *list)
{
	for (size_t i = 0; state != NULL && list[i] != NULL; i++) {
		if (strcmp(state, list[i]) == 0)
			return true;
	}
	return false;
}

/* Every provision state, NULL-terminated. */
const char *const lb_states[] = {
	LB_STATE_ENROLL, LB_STATE_VERIFYING, LB_STATE_MANAGEABLE,
	LB_STATE_AVAILABLE, LB_STATE_ACTIVE, LB_STATE_ADOPTING,
	LB_STATE_ADOPT_FAILED, LB_STATE_DEPLOYING,
	LB_STATE_DEPLOY_WAIT, LB_STATE_DEPLOY_FAILED,
	LB_STATE_DELETING, LB_STATE_CLEANING, LB_STATE_CLEAN_WAIT,
	LB_STATE_CLEAN_FAILED, LB_STATE_ERROR, LB_STATE_RESCUING,
	LB_STATE_RESCUE_WAIT, LB_STATE_RESCUE, LB_STATE_RESCUE_FAILED,
	LB_STATE_UNRESCUING, LB_STATE_UNRESCUE_FAILED,
	LB_STATE_INSPECTING, LB_STATE_INSPECT_WAIT,
	LB_STATE_INSPECT_FAILED, NULL,
};

bool
lb_state_is_known(const char *state)
{
	return in_list(state, lb_states);
}

bool
lb_state_allows_update_in_transition(const char *state)
{
	static const char *const ok[] = {
		LB_STATE_DEPLOY_FAILED, LB_STATE_INSPECTING,
		LB_STATE_INSPECT_FAILED, LB_STATE_INSPECT_WAIT,
		LB_STATE_CLEAN_FAILED, LB_STATE_ERROR, LB_STATE_VERIFYING,
		LB_STATE_ADOPT_FAILED, LB_STATE_RESCUE_FAILED,
		LB_STATE_UNRESCUE_FAILED, NULL,
	};

	return in_list(state, ok);
}

bool
lb_state_allows_interface_change(const char *state)
{
	static const char *const ok[] = {
		LB_STATE_ENROLL, LB_STATE_INSPECTING, LB_STATE_INSPECT_WAIT,
		LB_STATE_MANAGEABLE, LB_STATE_AVAILABLE, NULL,
	};

	return in_list(state, ok);
}

bool
lb_state_is_rescue(const char *state)
{
	static const char *const rescue[] = {
		LB_STATE_RESCUING, LB_STATE_RESCUE_WAIT, LB_STATE_RESCUE,
		LB_STATE_RESCUE_FAILED, LB_STATE_UNRESCUING,
		LB_STATE_UNRESCUE_FAILED, NULL,
	};

	return in_list(state, rescue);
}

bool
lb_state_locks_ports(const char *state)
{
	static const char *const busy[] = {
		LB_STATE_RESCUING, LB_STATE_RESCUE_WAIT, LB_STATE_RESCUE,
		LB_STATE_UNRESCUING, NULL,
	};

	return in_list(state, busy);
}

bool
lb_state_allows_delete(const char *state, bool allow_available)
{
	static const char *const ok[] = {
		LB_STATE_MANAGEABLE, LB_STATE_ENROLL, LB_STATE_ADOPT_FAILED,
		NULL,
	};

	return in_list(state, ok) ||
	    (allow_available && strcmp(state, LB_STATE_AVAILABLE) == 0);
}

#define T(from, event, to, target) { from, event, to, target }

static const struct lb_transition transitions[] = {
	/* enrolment and verification */
	T(LB_STATE_ENROLL, "manage", LB_STATE_VERIFYING, LB_STATE_MANAGEABLE),
	T(LB_STATE_VERIFYING, "done", LB_STATE_MANAGEABLE, NULL),
	T(LB_STATE_VERIFYING, "fail", LB_STATE_ENROLL, NULL),
	/* manageable <-> available (no cleaning in lifeboat: it is instant) */
	T(LB_STATE_MANAGEABLE, "provide", LB_STATE_CLEANING,
	    LB_STATE_AVAILABLE),
	T(LB_STATE_CLEANING, "done", LB_STATE_AVAILABLE, NULL),
	T(LB_STATE_CLEANING, "fail", LB_STATE_CLEAN_FAILED,
	    LB_STATE_AVAILABLE),
	T(LB_STATE_CLEAN_FAILED, "manage", LB_STATE_MANAGEABLE, NULL),
	T(LB_STATE_AVAILABLE, "manage", LB_STATE_MANAGEABLE, NULL),
	T(LB_STATE_MANAGEABLE, "manage", LB_STATE_MANAGEABLE, NULL),
	/* adoption: the normal way to bring a running server in */
	T(LB_STATE_MANAGEABLE, "adopt", LB_STATE_ADOPTING, LB_STATE_ACTIVE),
	T(LB_STATE_ADOPTING, "done", LB_STATE_ACTIVE, NULL),
	T(LB_STATE_ADOPTING, "fail", LB_STATE_ADOPT_FAILED, LB_STATE_ACTIVE),
	T(LB_STATE_ADOPT_FAILED, "adopt", LB_STATE_ADOPTING, LB_STATE_ACTIVE),
	T(LB_STATE_ADOPT_FAILED, "manage", LB_STATE_MANAGEABLE, NULL),
	/* the fake deploy, for tests */
	T(LB_STATE_AVAILABLE, "deploy", LB_STATE_DEPLOYING, LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOYING, "wait", LB_STATE_DEPLOY_WAIT, LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOYING, "done", LB_STATE_ACTIVE, NULL),
	T(LB_STATE_DEPLOYING, "fail", LB_STATE_DEPLOY_FAILED,
	    LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOY_WAIT, "resume", LB_STATE_DEPLOYING,
	    LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOY_WAIT, "done", LB_STATE_ACTIVE, NULL),
	T(LB_STATE_DEPLOY_WAIT, "fail", LB_STATE_DEPLOY_FAILED,
	    LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOY_WAIT, "abort", LB_STATE_DEPLOY_FAILED,
	    LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOY_FAILED, "deploy", LB_STATE_DEPLOYING,
	    LB_STATE_ACTIVE),
	T(LB_STATE_DEPLOY_FAILED, "deleted", LB_STATE_DELETING,
	    LB_STATE_AVAILABLE),
	/* tear-down */
	T(LB_STATE_ACTIVE, "deleted", LB_STATE_DELETING, LB_STATE_AVAILABLE),
	T(LB_STATE_DELETING, "done", LB_STATE_AVAILABLE, NULL),
	T(LB_STATE_DELETING, "fail", LB_STATE_ERROR, NULL),
	T(LB_STATE_ERROR, "deleted", LB_STATE_DELETING, LB_STATE_AVAILABLE),
	/* rescue (contract 2.2) */
	T(LB_STATE_ACTIVE, "rescue", LB_STATE_RESCUING, LB_STATE_RESCUE),
	T(LB_STATE_RESCUE, "rescue", LB_STATE_RESCUING, LB_STATE_RESCUE),
	T(LB_STATE_RESCUE_FAILED, "rescue", LB_STATE_RESCUING,
	    LB_STATE_RESCUE),
	T(LB_STATE_UNRESCUE_FAILED, "rescue", LB_STATE_RESCUING,
	    LB_STATE_RESCUE),
	T(LB_STATE_RESCUING, "wait", LB_STATE_RESCUE_WAIT, LB_STATE_RESCUE),
	T(LB_STATE_RESCUING, "done", LB_STATE_RESCUE, NULL),
	T(LB_STATE_RESCUING, "fail", LB_STATE_RESCUE_FAILED, LB_STATE_RESCUE),
	T(LB_STATE_RESCUE_WAIT, "resume", LB_STATE_RESCUING, LB_STATE_RESCUE),
	T(LB_STATE_RESCUE_WAIT, "fail", LB_STATE_RESCUE_FAILED,
	    LB_STATE_RESCUE),
	T(LB_STATE_RESCUE_WAIT, "abort", LB_STATE_RESCUE_FAILED,
	    LB_STATE_RESCUE),
	T(LB_STATE_RESCUE_WAIT, "deleted", LB_STATE_DELETING,
	    LB_STATE_AVAILABLE),
	T(LB_STATE_RESCUE, "unrescue", LB_STATE_UNRESCUING, LB_STATE_ACTIVE),
	T(LB_STATE_RESCUE_FAILED, "unrescue", LB_STATE_UNRESCUING,
	    LB_STATE_ACTIVE),
	T(LB_STATE_UNRESCUE_FAILED, "unrescue", LB_STATE_UNRESCUING,
	    LB_STATE_ACTIVE),
	T(LB_STATE_UNRESCUING, "done", LB_STATE_ACTIVE, NULL),
	T(LB_STATE_UNRESCUING, "fail", LB_STATE_UNRESCUE_FAILED,
	    LB_STATE_ACTIVE),
	T(LB_STATE_RESCUE, "deleted", LB_STATE_DELETING, LB_STATE_AVAILABLE),
	T(LB_STATE_RESCUE_FAILED, "deleted", LB_STATE_DELETING,
	    LB_STATE_AVAILABLE),
	T(LB_STATE_UNRESCUE_FAILED, "deleted", LB_STATE_DELETING,
	    LB_STATE_AVAILABLE),
};

const struct lb_transition *
lb_transitions(size_t *ret_n)
{
	*ret_n = sizeof(transitions) / sizeof(transitions[0]);
	return transitions;
}

const struct lb_transition *
lb_fsm_next(const char *state, const char *event)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]);
	    i++) {
		if (strcmp(transitions[i].from, state) == 0 &&
		    strcmp(transitions[i].event, event) == 0)
			return &transitions[i];
	}
	return NULL;
}

bool
lb_state_is_stable(const char *state)
{
	static const char *const stable[] = {
		LB_STATE_ENROLL, LB_STATE_MANAGEABLE, LB_STATE_AVAILABLE,
		LB_STATE_ACTIVE, LB_STATE_ERROR, LB_STATE_RESCUE, NULL,
	};

	return in_list(state, stable);
}

const char *
lb_verb_event(const char *verb, int *ret_min_minor)
{
	static const struct {
		const char *verb;
		const char *event;
		int minor;
	} verbs[] = {
		{ "manage", "manage", 4 },
		{ "provide", "provide", 4 },
		{ "adopt", "adopt", 17 },
		{ "active", "deploy", 1 },
		{ "deploy", "deploy", 73 },
		{ "deleted", "deleted", 1 },
		{ "undeploy", "deleted", 73 },
		{ "abort", "abort", 13 },
		{ "rescue", "rescue", 38 },
		{ "unrescue", "unrescue", 38 },
	};

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].verb, verb) == 0) {
			*ret_min_minor = verbs[i].minor;
			return verbs[i].event;
		}
	}
	return NULL;
}

/* ---- a node record through the state machine ---- */

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
