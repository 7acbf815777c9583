/*
 * test_passwd.c - rescue password hashing: $5$/$6$, random salts, verify,
 * and Ironic's notion of a blank password.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conductor/util/passwd.h"

static void
test_sha256(void **state)
{
	char a[LB_PASSWD_HASH_MAX], b[LB_PASSWD_HASH_MAX];
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(lb_passwd_hash("S3cret!", "sha256", a, &err), 0);
	assert_int_equal(lb_passwd_hash("S3cret!", "sha256", b, &err), 0);
	assert_memory_equal(a, "$5$", 3);
	/* 16-character salt, as Ironic's samples show. */
	assert_int_equal(strchr(a + 3, '$') - (a + 3), 16);
	assert_string_not_equal(a, b);
	assert_null(strstr(a, "S3cret!"));
	assert_true(lb_passwd_verify("S3cret!", a));
	assert_true(lb_passwd_verify("S3cret!", b));
	assert_false(lb_passwd_verify("S3cret", a));
	assert_false(lb_passwd_verify("", a));
}

static void
test_sha512_and_bad_algorithm(void **state)
{
	char h[LB_PASSWD_HASH_MAX];
	struct lb_err err = { "" };

	(void)state;
	assert_int_equal(lb_passwd_hash("pw", "sha512", h, &err), 0);
	assert_memory_equal(h, "$6$", 3);
	assert_true(lb_passwd_verify("pw", h));
	assert_int_equal(lb_passwd_hash("pw", "md5", h, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown password hash algorithm 'md5'");
}

static void
test_blank(void **state)
{
	(void)state;
	assert_true(lb_passwd_is_blank(NULL));
	assert_true(lb_passwd_is_blank(""));
	assert_true(lb_passwd_is_blank(" \t\n"));
	assert_false(lb_passwd_is_blank(" x "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_sha512_and_bad_algorithm),
		cmocka_unit_test(test_blank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
