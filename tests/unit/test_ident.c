/*
 * test_ident.c - UUIDs, MACs, logical names, time stamps, random tokens.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conductor/util/ident.h"

static void
test_uuid(void **state)
{
	char a[LB_UUID_LEN + 1], b[LB_UUID_LEN + 1];

	(void)state;
	assert_int_equal(lb_uuid_generate(a), 0);
	assert_int_equal(lb_uuid_generate(b), 0);
	assert_true(lb_uuid_is_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_true(lb_uuid_is_valid("1BE26C0B-03F2-4D2E-AE87-C02D7F33C123"));
	assert_int_equal(lb_uuid_normalize(
	    "1BE26C0B-03F2-4D2E-AE87-C02D7F33C123", a), 0);
	assert_string_equal(a, "1be26c0b-03f2-4d2e-ae87-c02d7f33c123");
	assert_false(lb_uuid_is_valid("1be26c0b03f24d2eae87c02d7f33c123"));
	assert_false(lb_uuid_is_valid("1be26c0b-03f2-4d2e-ae87-c02d7f33c12g"));
	assert_false(lb_uuid_is_valid(NULL));
}

static void
test_mac(void **state)
{
	char m[LB_MAC_LEN + 1];

	(void)state;
	assert_int_equal(lb_mac_normalize("52:54:00:AA:BB:CC", m), 0);
	assert_string_equal(m, "52:54:00:aa:bb:cc");
	assert_int_equal(lb_mac_normalize("52-54-00-aa-bb-cc", m), 0);
	assert_string_equal(m, "52:54:00:aa:bb:cc");
	assert_int_equal(lb_mac_normalize("52:54:00-aa:bb:cc", m), -EINVAL);
	assert_int_equal(lb_mac_normalize("52:54:00:aa:bb", m), -EINVAL);
	assert_int_equal(lb_mac_normalize("52:54:00:aa:bb:cg", m), -EINVAL);
	assert_int_equal(lb_mac_normalize("52:54:00:aa:bb:cc:", m), -EINVAL);
	assert_int_equal(lb_mac_normalize("", m), -EINVAL);
}

static void
test_names(void **state)
{
	char long_name[300];

	(void)state;
	assert_true(lb_logical_name_is_valid("node-1.rack_2~a"));
	assert_false(lb_logical_name_is_valid("a b"));
	assert_false(lb_logical_name_is_valid("a/b"));
	assert_false(lb_logical_name_is_valid(""));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(lb_logical_name_is_valid(long_name));
}

static void
test_time_round_trip(void **state)
{
	char t[LB_TIME_LEN];
	double s;

	(void)state;
	lb_time_now_iso(t);
	assert_int_equal(strlen(t), 32);
	assert_string_equal(t + 26, "+00:00");
	assert_int_equal(lb_time_parse_iso(t, &s), 0);
	assert_true(s > 1.7e9);
	assert_int_equal(lb_time_parse_iso("2026-11-22T04:01:03.953060+00:00",
	    &s), 0);
	assert_true(s > 1795320063.9 && s < 1795320064.0);
	assert_int_equal(lb_time_parse_iso("yesterday", &s), -EINVAL);
}

static void
test_token(void **state)
{
	char a[64], b[64];

	(void)state;
	assert_int_equal(lb_random_token(a, sizeof(a), 32), 0);
	assert_int_equal(lb_random_token(b, sizeof(b), 32), 0);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-_"), 43);
	assert_int_equal(lb_random_token(a, 10, 32), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
