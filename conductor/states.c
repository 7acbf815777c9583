/*
 * states.c - provision state names and per-state API rules.  Pure; any
 * thread.
 */
#include "conductor/states.h"

#include <string.h>

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

bool
lb_state_is_known(const char *state)
{
	static const char *const all[] = {
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

	return in_list(state, all);
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
lb_state_allows_delete(const char *state, bool allow_available)
{
	static const char *const ok[] = {
		LB_STATE_MANAGEABLE, LB_STATE_ENROLL, LB_STATE_ADOPT_FAILED,
		NULL,
	};

	return in_list(state, ok) ||
	    (allow_available && strcmp(state, LB_STATE_AVAILABLE) == 0);
}
