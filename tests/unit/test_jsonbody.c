/*
 * test_jsonbody.c - a request body's JSON as jsonschema quotes it in its
 * messages (Python's repr), and the bound on that text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conductor/util/jsonbody.h"

static void
assert_repr(const char *json, const char *want)
{
	char out[256];
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	lb_json_pyrepr(v, out, sizeof(out));
	assert_string_equal(out, want);
	json_decref(v);
}

static void
test_scalars(void **state)
{
	(void)state;
	assert_repr("1", "1");
	assert_repr("-42", "-42");
	assert_repr("1.5", "1.5");
	assert_repr("0.1", "0.1");
	assert_repr("2.0", "2.0");
	assert_repr("1e300", "1e+300");
	assert_repr("true", "True");
	assert_repr("false", "False");
	assert_repr("null", "None");
}

static void
test_strings_quote_as_python(void **state)
{
	(void)state;
	assert_repr("\"x\"", "'x'");
	assert_repr("\"it's\"", "\"it's\"");
	assert_repr("\"it's \\\"q\\\"\"", "'it\\'s \"q\"'");
	assert_repr("\"a\\\\b\\n\\t\\u0001\"", "'a\\\\b\\n\\t\\x01'");
	assert_repr("\"caf\\u00e9\"", "'caf\xc3\xa9'");
}

static void
test_containers(void **state)
{
	(void)state;
	assert_repr("[]", "[]");
	assert_repr("{}", "{}");
	assert_repr("[1, \"x\", [true, null]]", "[1, 'x', [True, None]]");
	assert_repr("{\"k\": [{\"a\": false}]}", "{'k': [{'a': False}]}");
}

static void
test_long_text_is_cut(void **state)
{
	char big[2000], out[32];
	json_t *v;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	v = json_string(big);
	lb_json_pyrepr(v, out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_memory_equal(out, "'aaa", 4);
	assert_string_equal(out + sizeof(out) - 4, "...");
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_strings_quote_as_python),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_long_text_is_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
