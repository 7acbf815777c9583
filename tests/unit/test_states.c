/*
 * test_states.c - the provision state machine: every row of the table as
 * Ironic defines it, and no transition outside the table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conductor/states.h"

/* The expected machine, written out independently of states.c. */
static const char *const expected[][4] = {
	{ "enroll", "manage", "verifying", "manageable" },
	{ "verifying", "done", "manageable", NULL },
	{ "verifying", "fail", "enroll", NULL },
	{ "manageable", "provide", "cleaning", "available" },
	{ "cleaning", "done", "available", NULL },
	{ "cleaning", "fail", "clean failed", "available" },
	{ "clean failed", "manage", "manageable", NULL },
	{ "available", "manage", "manageable", NULL },
	{ "manageable", "manage", "manageable", NULL },
	{ "manageable", "adopt", "adopting", "active" },
	{ "adopting", "done", "active", NULL },
	{ "adopting", "fail", "adopt failed", "active" },
	{ "adopt failed", "adopt", "adopting", "active" },
	{ "adopt failed", "manage", "manageable", NULL },
	{ "available", "deploy", "deploying", "active" },
	{ "deploying", "wait", "wait call-back", "active" },
	{ "deploying", "done", "active", NULL },
	{ "deploying", "fail", "deploy failed", "active" },
	{ "wait call-back", "resume", "deploying", "active" },
	{ "wait call-back", "done", "active", NULL },
	{ "wait call-back", "fail", "deploy failed", "active" },
	{ "wait call-back", "abort", "deploy failed", "active" },
	{ "deploy failed", "deploy", "deploying", "active" },
	{ "deploy failed", "deleted", "deleting", "available" },
	{ "active", "deleted", "deleting", "available" },
	{ "deleting", "done", "available", NULL },
	{ "deleting", "fail", "error", NULL },
	{ "error", "deleted", "deleting", "available" },
	{ "active", "rescue", "rescuing", "rescue" },
	{ "rescue", "rescue", "rescuing", "rescue" },
	{ "rescue failed", "rescue", "rescuing", "rescue" },
	{ "unrescue failed", "rescue", "rescuing", "rescue" },
	{ "rescuing", "wait", "rescue wait", "rescue" },
	{ "rescuing", "done", "rescue", NULL },
	{ "rescuing", "fail", "rescue failed", "rescue" },
	{ "rescue wait", "resume", "rescuing", "rescue" },
	{ "rescue wait", "fail", "rescue failed", "rescue" },
	{ "rescue wait", "abort", "rescue failed", "rescue" },
	{ "rescue wait", "deleted", "deleting", "available" },
	{ "rescue", "unrescue", "unrescuing", "active" },
	{ "rescue failed", "unrescue", "unrescuing", "active" },
	{ "unrescue failed", "unrescue", "unrescuing", "active" },
	{ "unrescuing", "done", "active", NULL },
	{ "unrescuing", "fail", "unrescue failed", "active" },
	{ "rescue", "deleted", "deleting", "available" },
	{ "rescue failed", "deleted", "deleting", "available" },
	{ "unrescue failed", "deleted", "deleting", "available" },
};

#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static const char *const all_states[] = {
	"enroll", "verifying", "manageable", "available", "active",
	"adopting", "adopt failed", "deploying", "wait call-back",
	"deploy failed", "deleting", "cleaning", "clean wait", "clean failed",
	"error", "rescuing", "rescue wait", "rescue", "rescue failed",
	"unrescuing", "unrescue failed", "inspecting", "inspect wait",
	"inspect failed",
};

static const char *const all_events[] = {
	"manage", "provide", "adopt", "deploy", "deleted", "abort", "rescue",
	"unrescue", "done", "fail", "wait", "resume", "inspect", "clean",
	"rebuild", "bogus",
};

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
test_every_row(void **state)
{
	size_t n;

	(void)state;
	lb_transitions(&n);
	assert_int_equal(n, NEXPECTED);
	for (size_t i = 0; i < NEXPECTED; i++) {
		const struct lb_transition *t = lb_fsm_next(expected[i][0],
		    expected[i][1]);

		assert_non_null(t);
		assert_string_equal(t->to, expected[i][2]);
		assert_true(same(t->target, expected[i][3]));
	}
}

static void
test_nothing_else(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(all_states) / sizeof(all_states[0]);
	    s++) {
		for (size_t e = 0; e < sizeof(all_events) /
		    sizeof(all_events[0]); e++) {
			bool listed = false;

			for (size_t i = 0; i < NEXPECTED; i++) {
				if (strcmp(expected[i][0], all_states[s]) == 0
				    && strcmp(expected[i][1],
				    all_events[e]) == 0)
					listed = true;
			}
			assert_int_equal(lb_fsm_next(all_states[s],
			    all_events[e]) != NULL, listed);
		}
	}
}

static void
test_targets_follow_stability(void **state)
{
	size_t n;
	const struct lb_transition *t = lb_transitions(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		/* A stable state has no target; every other state has one. */
		assert_int_equal(t[i].target == NULL,
		    lb_state_is_stable(t[i].to));
		assert_true(lb_state_is_known(t[i].from));
		assert_true(lb_state_is_known(t[i].to));
	}
}

static void
test_verbs(void **state)
{
	int minor;

	(void)state;
	assert_string_equal(lb_verb_event("active", &minor), "deploy");
	assert_int_equal(minor, 1);
	assert_string_equal(lb_verb_event("rescue", &minor), "rescue");
	assert_int_equal(minor, 38);
	assert_string_equal(lb_verb_event("adopt", &minor), "adopt");
	assert_int_equal(minor, 17);
	assert_string_equal(lb_verb_event("abort", &minor), "abort");
	assert_int_equal(minor, 13);
	assert_string_equal(lb_verb_event("manage", &minor), "manage");
	assert_int_equal(minor, 4);
	assert_null(lb_verb_event("bogus", &minor));
	assert_null(lb_verb_event("done", &minor));
}

static void
test_api_state_rules(void **state)
{
	(void)state;
	assert_true(lb_state_allows_delete("enroll", false));
	assert_true(lb_state_allows_delete("available", true));
	assert_false(lb_state_allows_delete("available", false));
	assert_false(lb_state_allows_delete("active", true));
	assert_true(lb_state_allows_interface_change("manageable"));
	assert_false(lb_state_allows_interface_change("active"));
	assert_true(lb_state_allows_update_in_transition("rescue failed"));
	assert_false(lb_state_allows_update_in_transition("rescuing"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row),
		cmocka_unit_test(test_nothing_else),
		cmocka_unit_test(test_targets_follow_stability),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_api_state_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
