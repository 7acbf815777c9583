/*
 * states.h - Ironic's provision state names, the rules the API applies
 * by state (update, delete, interface changes), and firing events on a
 * node record.  Any thread.
 */
#ifndef LB_STATES_H
#define LB_STATES_H

#include <stdbool.h>
#include <stddef.h>

#define LB_STATE_ENROLL "enroll"
#define LB_STATE_VERIFYING "verifying"
#define LB_STATE_MANAGEABLE "manageable"
#define LB_STATE_AVAILABLE "available"
#define LB_STATE_ACTIVE "active"
#define LB_STATE_ADOPTING "adopting"
#define LB_STATE_ADOPT_FAILED "adopt failed"
#define LB_STATE_DEPLOYING "deploying"
#define LB_STATE_DEPLOY_WAIT "wait call-back"
#define LB_STATE_DEPLOY_FAILED "deploy failed"
#define LB_STATE_DELETING "deleting"
#define LB_STATE_CLEANING "cleaning"
#define LB_STATE_CLEAN_WAIT "clean wait"
#define LB_STATE_CLEAN_FAILED "clean failed"
#define LB_STATE_ERROR "error"
#define LB_STATE_RESCUING "rescuing"
#define LB_STATE_RESCUE_WAIT "rescue wait"
#define LB_STATE_RESCUE "rescue"
#define LB_STATE_RESCUE_FAILED "rescue failed"
#define LB_STATE_UNRESCUING "unrescuing"
#define LB_STATE_UNRESCUE_FAILED "unrescue failed"
#define LB_STATE_INSPECTING "inspecting"
#define LB_STATE_INSPECT_WAIT "inspect wait"
#define LB_STATE_INSPECT_FAILED "inspect failed"

/* One of Ironic's provision state names. */
/* Every provision state Ironic names, NULL-terminated. */
extern const char *const lb_states[];
bool lb_state_is_known(const char *state);
/* PATCH is allowed during a transition only from these states. */
bool lb_state_allows_update_in_transition(const char *state);
/* Interfaces and the driver may change outside maintenance here. */
bool lb_state_allows_interface_change(const char *state);
/*
 * A state of the rescue flow: leaving one runs the rescue's clean-up
 * (lb_rescue_leave), whatever the verb.
 */
bool lb_state_is_rescue(const char *state);
/*
 * The node's ports are in use by a rescue here (their MACs name staged
 * files, their switch ports sit on the rescuing VLAN): no port changes.
 */
bool lb_state_locks_ports(const char *state);
/* A node may be deleted outside maintenance here. */
bool lb_state_allows_delete(const char *state, bool allow_available);

struct lb_node;
struct lb_err;

/* Replaces a string field with a copy of 'value' (NULL clears it). */
int lb_replace_str(char **field, const char *value, struct lb_err *err);
/* Removes the rescue password and/or the agent's record from a node. */
void lb_node_drop_password(struct lb_node *node);
void lb_node_forget_agent(struct lb_node *node);
/*
 * agent_url, agent_verify_ca, agent_lookup_at and a token not baked into
 * the boot medium.
 */
void lb_node_wipe_agent_on_power_off(struct lb_node *node);
/* The API-facing node lock message, shared by every verb. */
int lb_node_locked(const struct lb_node *node, struct lb_err *err);

/*
 * Fires 'event' for the API verb 'verb' with Ironic's checks: not allowed
 * from this state is 409 when the node is locked and 400 otherwise; a
 * locked node is 409.  Sets state, target and provision_updated_at,
 * clears last_error when asked, and takes the lock for 'lock_host'
 * (NULL: no lock).  from/to receive the state names for the log line.
 */
int lb_node_fire(struct lb_node *node, const char *verb, const char *event,
    const char *lock_host, bool clear_error, char from[32], char to[32],
    struct lb_err *err);
/* The same checks without firing: 0 when 'event' may fire now. */
int lb_node_can_fire(const struct lb_node *node, const char *verb,
    const char *event, struct lb_err *err);

#endif

/*
 * The provision state machine: (state, event) -> (new state, target).  The
 * target of a stable state is NULL; transient and failed states keep the
 * state they were heading for.  Every transition lifeboat makes is a row of
 * the table in states.c, and no other transition is possible.
 */
struct lb_transition {
	const char *from;
	const char *event;
	const char *to;
	const char *target;		/* NULL in stable states */
};

/* The table, for tests and documentation. */
const struct lb_transition *lb_transitions(size_t *ret_n);
/* The row for (state, event), or NULL when the event is not allowed. */
const struct lb_transition *lb_fsm_next(const char *state, const char *event);
/* Stable states: enroll, manageable, available, active, error, rescue. */
bool lb_state_is_stable(const char *state);

/*
 * An API verb (PUT .../states/provision "target") as the event it fires,
 * and the microversion it needs.  NULL for a verb lifeboat does not know.
 */
const char *lb_verb_event(const char *verb, int *ret_min_minor);
