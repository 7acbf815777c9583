/*
 * test_switch_per_vlan.c - the one-bridge-per-VLAN switch backend against
 * real bridges in a private network namespace (unshare(CLONE_NEWNET): the
 * kernel removes everything when the test ends).  Root only; skips (77)
 * otherwise.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "network/switch_backend.h"

static int
ip(const char *a1, const char *a2, const char *a3, const char *a4,
    const char *a5, const char *a6, const char *a7)
{
	const char *argv[] = { "ip", a1, a2, a3, a4, a5, a6, a7, NULL };
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execvp("ip", (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(ip("link", "add", "labv100", "type", "bridge", NULL,
	    NULL), 0);
	assert_int_equal(ip("link", "add", "labv200", "type", "bridge", NULL,
	    NULL), 0);
	assert_int_equal(ip("link", "add", "port0", "type", "veth", "peer",
	    "port1"), 0);
	assert_int_equal(ip("link", "set", "port0", "master", "labv100", NULL,
	    NULL), 0);
	return 0;
}

static void
test_move_and_back(void **state)
{
	const struct lb_switch_backend *be = &lb_switch_bridge_per_vlan;
	struct lb_err err = { "" };
	unsigned vid = 0;

	(void)state;
	assert_int_equal(be->get_access_vlan("lab", "port0", &vid, &err), 0);
	assert_int_equal(vid, 100);
	assert_int_equal(be->set_access_vlan("lab", "port0", 200, &err), 0);
	assert_int_equal(be->get_access_vlan("lab", "port0", &vid, &err), 0);
	assert_int_equal(vid, 200);
	/* Again: nothing to do, still fine. */
	assert_int_equal(be->set_access_vlan("lab", "port0", 200, &err), 0);
	assert_int_equal(be->set_access_vlan("lab", "port0", 100, &err), 0);
	assert_int_equal(be->get_access_vlan("lab", "port0", &vid, &err), 0);
	assert_int_equal(vid, 100);
}

static void
test_refusals(void **state)
{
	const struct lb_switch_backend *be = &lb_switch_bridge_per_vlan;
	struct lb_err err = { "" };
	unsigned vid = 0;

	(void)state;
	assert_int_equal(be->set_access_vlan("lab", "port0", 300, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "there is no bridge 'labv300' for VLAN "
	    "300");
	assert_int_equal(be->get_access_vlan("lab", "port1", &vid, &err),
	    -ENOENT);
	assert_int_equal(be->get_access_vlan("lab", "nope", &vid, &err),
	    -ENOENT);
	assert_int_equal(be->check_port("averylongprefix", "port0", &err),
	    -EINVAL);
	assert_int_equal(be->check_port("lab", "../x", &err), -EINVAL);
	assert_int_equal(be->set_access_vlan("lab", "port0", 5000, &err),
	    -EINVAL);
	/* Nothing moved by the refusals. */
	assert_int_equal(be->get_access_vlan("lab", "port0", &vid, &err), 0);
	assert_int_equal(vid, 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_move_and_back),
		cmocka_unit_test(test_refusals),
	};

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0 ||
	    access("/sbin/ip", X_OK) < 0) {
		printf("skipped: needs root, a network namespace and ip(8)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, NULL);
}
