/*
 * test_ownfile.c - lifeboat's own files found from the binary's location:
 * the installed layout, the build tree (told by its meson-private/), and
 * names it does not know.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conductor/util/ownfile.h"

static void
expect(const char *exe, const char *want, enum lb_layout want_layout)
{
	enum lb_layout layout = (enum lb_layout)-1;
	char *got = lb_own_file_for(exe, "mkiso", &layout);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(layout, want_layout);
	free(got);
}

static void
test_installed(void **state)
{
	char dir[] = "/tmp/lb-ownfile-XXXXXX";
	char exe[PATH_MAX], want[PATH_MAX];

	(void)state;
	/* (the build's sbindir is the default, sbin) */
	expect("/usr/sbin/lifeboatd", "/usr/lib/lifeboat/mkiso",
	    LB_LAYOUT_INSTALLED);
	expect("/usr/local/sbin/lifeboatd", "/usr/local/lib/lifeboat/mkiso",
	    LB_LAYOUT_INSTALLED);
	expect("/sbin/lifeboatd", "/lib/lifeboat/mkiso", LB_LAYOUT_INSTALLED);
	/* a DESTDIR tree is just another prefix */
	assert_non_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/usr/sbin/lifeboatd", dir);
	snprintf(want, sizeof(want), "%s/usr/lib/lifeboat/mkiso", dir);
	expect(exe, want, LB_LAYOUT_INSTALLED);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_build_tree(void **state)
{
	char dir[] = "/tmp/lb-ownfile-XXXXXX";
	char marker[PATH_MAX], exe[PATH_MAX], want[PATH_MAX];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(marker, sizeof(marker), "%s/meson-private", dir);
	snprintf(exe, sizeof(exe), "%s/conductor/lifeboatd", dir);
	/* no meson-private/: the same tree is an installed one */
	snprintf(want, sizeof(want), "%s/lib/lifeboat/mkiso", dir);
	expect(exe, want, LB_LAYOUT_INSTALLED);
	assert_int_equal(mkdir(marker, 0700), 0);
	snprintf(want, sizeof(want), "%s/ramdisk/mkiso", dir);
	expect(exe, want, LB_LAYOUT_BUILD);
	assert_int_equal(rmdir(marker), 0);
	/* a file of that name is no build tree */
	assert_int_equal(close(creat(marker, 0600)), 0);
	snprintf(want, sizeof(want), "%s/lib/lifeboat/mkiso", dir);
	expect(exe, want, LB_LAYOUT_INSTALLED);
	assert_int_equal(unlink(marker), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_no_exe_and_unknown_names(void **state)
{
	enum lb_layout layout;
	char *p;

	(void)state;
	/* no /proc: the prefix this was built for */
	p = lb_own_file_for(NULL, "mkiso", &layout);
	assert_non_null(p);
	assert_true(p[0] == '/');
	assert_non_null(strstr(p, "/lib/lifeboat/mkiso"));
	assert_int_equal(layout, LB_LAYOUT_INSTALLED);
	free(p);
	errno = 0;
	assert_null(lb_own_file_for("/usr/sbin/lifeboatd", "../etc/shadow",
	    &layout));
	assert_int_equal(errno, EINVAL);
	assert_null(lb_own_file_for("/usr/sbin/lifeboatd", "", NULL));
	/* the running binary: this test, in the build tree's tests/ */
	p = lb_own_file("mkiso", &layout);
	assert_non_null(p);
	assert_true(p[0] == '/');
	free(p);
	assert_string_equal(lb_layout_name(LB_LAYOUT_BUILD), "build tree");
	assert_string_equal(lb_layout_name(LB_LAYOUT_INSTALLED),
	    "installed tree");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_installed),
		cmocka_unit_test(test_build_tree),
		cmocka_unit_test(test_no_exe_and_unknown_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
