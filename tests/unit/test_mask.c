/*
 * test_mask.c - which keys are secrets, and what masking leaves alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "conductor/util/mask.h"

static void
test_secret_words(void **state)
{
	(void)state;
	assert_true(lb_mask_key_is_secret("ipmi_password"));
	assert_true(lb_mask_key_is_secret("redfish_password"));
	assert_true(lb_mask_key_is_secret("some_PASSWORD"));
	assert_true(lb_mask_key_is_secret("agent_secret_token"));
	assert_true(lb_mask_key_is_secret("hashed_rescue_password"));
	assert_true(lb_mask_key_is_secret("snmp_auth_key"));
	assert_true(lb_mask_key_is_secret("ssh_private_key"));
	assert_false(lb_mask_key_is_secret("ipmi_address"));
	assert_false(lb_mask_key_is_secret("ipmi_username"));
	assert_false(lb_mask_key_is_secret("agent_url"));
}

static void
test_mask_dict(void **state)
{
	json_t *in = json_pack("{s:s, s:s, s:s, s:n, s:i}", "ipmi_password",
	    "x", "user", "admin", "empty_password", "", "null_token",
	    "num_secret", 5);
	json_t *out = lb_mask_dict(in, NULL);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(out,
	    "ipmi_password")), LB_MASK);
	assert_string_equal(json_string_value(json_object_get(out, "user")),
	    "admin");
	assert_string_equal(json_string_value(json_object_get(out,
	    "empty_password")), "");
	assert_true(json_is_null(json_object_get(out, "null_token")));
	assert_string_equal(json_string_value(json_object_get(out,
	    "num_secret")), LB_MASK);
	/* The input is not changed. */
	assert_string_equal(json_string_value(json_object_get(in,
	    "ipmi_password")), "x");
	json_decref(out);
	json_decref(in);
}

static void
test_no_copy_when_nothing_to_mask(void **state)
{
	json_t *in = json_pack("{s:s}", "ipmi_address", "10.0.0.1");
	json_t *out = lb_mask_dict(in, NULL);
	static const char *const extra[] = { "ipmi_address", NULL };

	(void)state;
	assert_ptr_equal(in, out);
	json_decref(out);
	out = lb_mask_dict(in, extra);
	assert_ptr_not_equal(in, out);
	assert_string_equal(json_string_value(json_object_get(out,
	    "ipmi_address")), LB_MASK);
	json_decref(out);
	json_decref(in);
}

static void
test_nested_secrets(void **state)
{
	json_t *in = json_loads("{\"creds\": {\"password\": \"n3sted\", "
	    "\"user\": \"u\"}, \"list\": [{\"token\": \"t0k\"}, 5], "
	    "\"plain\": {\"a\": 1}}", 0, NULL);
	json_t *out = lb_mask_dict(in, NULL);
	char *text = json_dumps(out, JSON_SORT_KEYS);

	(void)state;
	assert_non_null(in);
	assert_string_equal(text, "{\"creds\": {\"password\": \"******\", "
	    "\"user\": \"u\"}, \"list\": [{\"token\": \"******\"}, 5], "
	    "\"plain\": {\"a\": 1}}");
	/* What has nothing to hide is shared, not copied. */
	assert_ptr_equal(json_object_get(out, "plain"),
	    json_object_get(in, "plain"));
	free(text);
	json_decref(out);
	json_decref(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_words),
		cmocka_unit_test(test_mask_dict),
		cmocka_unit_test(test_no_copy_when_nothing_to_mask),
		cmocka_unit_test(test_nested_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
