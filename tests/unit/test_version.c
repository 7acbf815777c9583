/*
 * test_version.c - microversion negotiation as Ironic does it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "conductor/util/version.h"

static int
parse(const char *ironic, const char *generic, int *minor)
{
	struct lb_err err = { "" };

	return lb_version_parse(ironic, generic, 1, 78, minor, &err);
}

static void
test_accepted(void **state)
{
	int m = 0;

	(void)state;
	assert_int_equal(parse(NULL, NULL, &m), 0);
	assert_int_equal(m, 1);		/* no header: the minimum */
	assert_int_equal(parse("latest", NULL, &m), 0);
	assert_int_equal(m, 78);
	assert_int_equal(parse("1.38", NULL, &m), 0);
	assert_int_equal(m, 38);
	assert_int_equal(parse(" 1.78 ", NULL, &m), 0);
	assert_int_equal(m, 78);
	assert_int_equal(parse(NULL, "baremetal 1.50", &m), 0);
	assert_int_equal(m, 50);
	/* The Ironic header wins over the generic one. */
	assert_int_equal(parse("1.20", "baremetal 1.50", &m), 0);
	assert_int_equal(m, 20);
	/* A generic header for another service is not ours. */
	assert_int_equal(parse(NULL, "compute 2.1", &m), 0);
	assert_int_equal(m, 1);
}

static void
test_refused(void **state)
{
	struct lb_err err = { "" };
	int m = 0;

	(void)state;
	assert_int_equal(lb_version_parse("1.99", NULL, 1, 78, &m, &err),
	    -ENOTSUP);
	assert_string_equal(err.msg, "Version 1.99 was requested but the "
	    "minor version is not supported by this service. The supported "
	    "version range is: [1.1, 1.78].");
	assert_int_equal(parse("1.0", NULL, &m), -ENOTSUP);
	assert_int_equal(parse("2.1", NULL, &m), -ENOTSUP);
	assert_int_equal(parse("junk", NULL, &m), -ENOTSUP);
	assert_int_equal(parse("1.", NULL, &m), -ENOTSUP);
	assert_int_equal(parse("1.5x", NULL, &m), -ENOTSUP);
	assert_int_equal(parse("1.-5", NULL, &m), -ENOTSUP);
	assert_int_equal(parse("1.99999999999999999999", NULL, &m), -ENOTSUP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
