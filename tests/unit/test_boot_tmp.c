/*
 * test_boot_tmp.c - the boot files' temporary names (boot/boot_tmp.c):
 * what lb_boot_tmp_name() makes is what lb_boot_is_tmp_name() knows and
 * nothing else is, and the sweep at start removes exactly the temporaries
 * in a root and one level below it, never through a symlink.
 * Single-threaded, in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_tmp.h"
#include "conductor/util/banned.h"

static char top[] = "/tmp/lb-boot-tmp-XXXXXX";

static void
put(const char *rel, bool dir)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	if (dir) {
		assert_int_equal(mkdir(p, 0755), 0);
		return;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	close(fd);
}

static bool
exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	return lstat(p, &st) == 0;
}

static void
test_names(void **state)
{
	char buf[300];

	(void)state;
	lb_boot_tmp_name(buf, sizeof(buf), "ironic-52:54:00:00:00:01.conf");
	assert_true(lb_boot_is_tmp_name(buf));
	assert_int_equal(strncmp(buf, ".ironic-52:54:00:00:00:01.conf.", 31),
	    0);
	assert_int_equal(strlen(buf), 31 + LB_BOOT_TMP_RANDOM);
	assert_true(lb_boot_is_tmp_name(".c.0123456789ab"));
	assert_false(lb_boot_is_tmp_name("config"));
	assert_false(lb_boot_is_tmp_name(".config"));
	assert_false(lb_boot_is_tmp_name("c.0123456789ab"));
	assert_false(lb_boot_is_tmp_name("..0123456789ab"));
	assert_false(lb_boot_is_tmp_name(".c.0123456789a"));
	assert_false(lb_boot_is_tmp_name(".c-0123456789ab"));
	assert_false(lb_boot_is_tmp_name(".c.0123456789AB"));
	assert_false(lb_boot_is_tmp_name(".c.0123456789ag"));
}

static int
rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
test_sweep(void **state)
{
	char p[PATH_MAX], outside[] = "/tmp/lb-boot-tmp-out-XXXXXX";
	char far[PATH_MAX];
	struct lb_err err = { "" };
	int fd;

	(void)state;
	assert_non_null(mkdtemp(top));
	put("ironic-52:54:00:00:00:01.conf", false);
	put(".ironic-52:54:00:00:00:01.conf.0123456789ab", false);
	put(".hidden", false);
	put("pxelinux.cfg", true);
	put("pxelinux.cfg/01-52-54-00-00-00-01", false);
	snprintf(p, sizeof(p), "%s/pxelinux.cfg/.01-52-54-00-00-00-02."
	    "fedcba987654", top);
	assert_int_equal(symlink("../node/config", p), 0);
	put("node", true);
	put("node/sub", true);
	put("node/sub/.config.0123456789ab", false);	/* two levels down */
	put("out", true);
	put("out/.config.0123456789ab", false);
	/* A symlink to a directory outside the root is not followed. */
	assert_non_null(mkdtemp(outside));
	snprintf(far, sizeof(far), "%s/.config.0123456789ab", outside);
	fd = open(far, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/link", top);
	assert_int_equal(symlink(outside, p), 0);

	assert_int_equal(lb_boot_sweep_tmp(top, "tftp root", &err), 3);
	assert_false(exists(".ironic-52:54:00:00:00:01.conf.0123456789ab"));
	assert_false(exists("pxelinux.cfg/.01-52-54-00-00-00-02.fedcba987654"));
	assert_false(exists("out/.config.0123456789ab"));	/* one down */
	assert_true(exists("ironic-52:54:00:00:00:01.conf"));
	assert_true(exists(".hidden"));
	assert_true(exists("pxelinux.cfg/01-52-54-00-00-00-01"));
	assert_true(exists("node/sub/.config.0123456789ab"));
	assert_true(exists("link"));
	assert_int_equal(access(far, F_OK), 0);
	assert_int_equal(unlink(far), 0);
	assert_int_equal(rmdir(outside), 0);
	/* Nothing left: nothing removed; a missing root is no error. */
	assert_int_equal(lb_boot_sweep_tmp(top, "tftp root", &err), 0);
	nftw(top, rm, 16, FTW_DEPTH | FTW_PHYS);
	assert_int_equal(lb_boot_sweep_tmp(top, "tftp root", &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
