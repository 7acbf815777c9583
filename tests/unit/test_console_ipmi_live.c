/*
 * test_console_ipmi_live.c - the ipmitool-socat console (console/)
 * against OpenIPMI's real ipmi_sim (tests/lab/ipmi_sim_bmc.py, its stand-in
 * machine played through its wire port), on free 127.0.0.1 ports, stopped
 * by PID: bytes both ways, a second client refused, the idle timeout, SOL
 * dropped by the BMC and back, the capture log, and the errors of a wrong
 * password and of a missing workaround flag.  Exits 77 (skipped) without
 * /usr/bin/python3, ipmi_sim or the lab.  Main thread; the console's own
 * threads run underneath.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "conductor/util/clock.h"
#include "conductor/util/config.h"
#include "console/console_ipmi.h"
#include "tests/unit/lab_proc.h"
#include "conductor/util/banned.h"

#define UUID		"4c1b7d38-3b5e-4c3a-9a4e-1b1e4d5c6a7f"
#define USER		"admin"
#define PASSWORD	"Lab-Sol-9"
#define WA		"opensesspriv,solpayloadsize"

static struct lab_proc bmc;
static char work[64];
static int bmc_port, wire_port;
static int wire = -1;		/* the machine's side of its serial port */
static struct lb_config cfg;
static json_t *dii;		/* driver_internal_info across the tests */

/*
 * 'count' consecutive free ports of 'type' below 32768, out of the way of
 * ephemeral ports (and libipmiconsole takes no BMC port above 32767).
 */
static int
free_port(int type, int count)
{
	for (int i = 0; i < 200; i++) {
		int p = 10000 + (int)(((unsigned)getpid() * 7919u +
		    (unsigned)i * 104729u + (unsigned)type * 337u) % 22000u);
		int ok = 0;

		for (int k = 0; k < count; k++) {
			struct sockaddr_in sa = { .sin_family = AF_INET };
			int fd = socket(AF_INET, type, 0);

			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sa.sin_port = htons((uint16_t)(p + k));
			ok += bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
			close(fd);
		}
		if (ok == count)
			return p;
	}
	return -1;
}

static int
run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ipmitool lanplus -C 3 against the lab BMC (it needs no workaround). */
static int
ipmitool(const char *a, const char *b)
{
	char port[16];
	char *argv[] = { "ipmitool", "-I", "lanplus", "-C", "3", "-H",
	    "127.0.0.1", "-p", port, "-U", USER, "-P", PASSWORD, (char *)a,
	    (char *)b, NULL };

	snprintf(port, sizeof(port), "%d", bmc_port);
	return run(argv);
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Reads fd until 'needle' arrived (true) or EOF or 'timeout' s passed;
 * what came is kept in buf.  needle NULL: until EOF.
 */
static bool
read_until(int fd, const char *needle, double timeout, char *buf,
    size_t size)
{
	size_t len = 0;
	double end = lb_monotonic() + timeout;

	buf[0] = '\0';
	while (lb_monotonic() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			return needle == NULL;
		/* the console passes NULs (keepalives); drop them to compare */
		for (size_t i = len, stop = len + (size_t)n; i < stop; i++)
			if (buf[i] != '\0')
				buf[len++] = buf[i];
		buf[len] = '\0';
		if (needle != NULL && strstr(buf, needle) != NULL)
			return true;
		if (len + 1 >= size)
			len = 0;
	}
	return false;
}

static void
machine_prints(const char *s)
{
	assert_int_equal(write(wire, s, strlen(s)), (ssize_t)strlen(s));
}

/* An op's result, with its message when it failed. */
static void
check_ok(int r, const struct lb_err *err)
{
	if (r != 0)
		print_error("op failed %d: %s\n", r, err->msg);
	assert_int_equal(r, 0);
}

static json_t *
driver_info(const char *password, const char *wa)
{
	json_t *di = json_pack("{s:s, s:i, s:s, s:s}", "ipmi_address",
	    "127.0.0.1", "ipmi_port", bmc_port, "ipmi_username", USER,
	    "ipmi_password", password);

	if (wa != NULL)
		json_object_set_new(di, "ipmi_workarounds", json_string(wa));
	return di;
}

static struct lb_task
task_of(const json_t *di)
{
	return (struct lb_task){ .node_uuid = UUID, .driver = "ipmi",
	    .driver_info = di, .driver_internal_info = dii, .cfg = &cfg };
}

static int
console_port(void)
{
	return (int)json_integer_value(json_object_get(dii,
	    "allocated_ipmi_terminal_port"));
}

static int
setup(void **state)
{
	char script[512], port[16], path[PATH_MAX], range[32];
	json_t *st;
	int lo;

	(void)state;
	if (!lab_script("ipmi_sim_bmc.py", script, sizeof(script)) ||
	    access("/usr/bin/ipmi_sim", X_OK) != 0 ||
	    access("/usr/bin/ipmitool", X_OK) != 0)
		exit(77);
	snprintf(work, sizeof(work), "/tmp/lb-console-live-XXXXXX");
	assert_non_null(mkdtemp(work));
	bmc_port = free_port(SOCK_DGRAM, 2);
	assert_true(bmc_port > 0);
	snprintf(port, sizeof(port), "%d", bmc_port);
	bmc.port = -1;
	{
		char *argv[] = { LAB_PYTHON, script, "--port", port, "--user",
		    USER, "--password", PASSWORD, "--work-dir", work, NULL };

		assert_int_equal(lab_proc_start(&bmc, argv, " ready"), 0);
	}
	snprintf(path, sizeof(path), "%s/state.json", work);
	st = json_load_file(path, 0, NULL);
	assert_non_null(st);
	wire_port = (int)json_integer_value(json_object_get(
	    json_object_get(st, "ports"), "wire"));
	json_decref(st);
	/* the machine runs (and its serial port exists) while powered on */
	assert_int_equal(ipmitool("power", "on"), 0);
	for (double t0 = lb_monotonic(); wire < 0 && lb_monotonic() - t0 < 10;
	    usleep(50000))
		wire = tcp_connect(wire_port);
	assert_true(wire >= 0);

	lb_config_init(&cfg);
	free(cfg.state_path);
	cfg.state_path = strdup(work);
	/* below the ephemeral ports, which outgoing connections may hold */
	lo = free_port(SOCK_STREAM, 1);
	assert_true(lo > 0);
	snprintf(range, sizeof(range), "%d:%d", lo, lo + 1);
	cfg.console_port_range = strdup(range);
	cfg.console_subprocess_timeout = 5;
	dii = json_object();
	return 0;
}

static int
teardown(void **state)
{
	char path[PATH_MAX];

	(void)state;
	lb_console_ipmitool_shutdown();
	if (wire >= 0)
		close(wire);
	lab_proc_stop(&bmc);
	lb_config_release(&cfg);
	json_decref(dii);
	snprintf(path, sizeof(path), "rm -rf '%s'", work);
	{
		char *argv[] = { "/bin/sh", "-c", path, NULL };

		run(argv);
	}
	return 0;
}

static void
test_validate(void **state)
{
	json_t *di = driver_info(PASSWORD, WA);
	struct lb_task t = task_of(di);
	char *range = cfg.console_port_range;
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_console_ipmitool_validate(&t, &err), 0);
	cfg.console_port_range = NULL;
	assert_int_equal(lb_console_ipmitool_validate(&t, &err), -EINVAL);
	assert_string_equal(err.msg, "Either missing 'ipmi_terminal_port' "
	    "parameter in node's driver_info or [console]port_range is not "
	    "configured");
	json_object_set_new(di, "ipmi_terminal_port", json_string("10000"));
	assert_int_equal(lb_console_ipmitool_validate(&t, &err), 0);
	cfg.console_port_range = range;
	json_object_set_new(di, "ipmi_protocol_version", json_string("1.5"));
	assert_int_equal(lb_console_ipmitool_validate(&t, &err), -EINVAL);
	assert_string_equal(err.msg, "Serial over lan only works with IPMI "
	    "protocol version 2.0. Check the 'ipmi_protocol_version' "
	    "parameter in node's driver_info");
	json_decref(di);
}

static void
test_bytes_both_ways_one_client(void **state)
{
	json_t *di = driver_info(PASSWORD, WA), *info = NULL;
	struct lb_task t = task_of(di);
	char buf[4096];
	struct lb_err err;
	int c1, c2;

	(void)state;
	check_ok(lb_console_ipmitool.start(&t, &err), &err);
	assert_true(console_port() > 0);
	assert_int_equal(lb_console_ipmitool.info(&t, &info, &err), 0);
	snprintf(buf, sizeof(buf), "tcp://127.0.0.1:%d", console_port());
	assert_string_equal(json_string_value(json_object_get(info, "url")),
	    buf);
	json_decref(info);

	c1 = tcp_connect(console_port());
	assert_true(c1 >= 0);
	machine_prints("login: ");
	assert_true(read_until(c1, "login: ", 10, buf, sizeof(buf)));
	assert_int_equal(write(c1, "root\r", 5), 5);
	assert_true(read_until(wire, "root\r", 10, buf, sizeof(buf)));

	/* a second client is told and closed; the first goes on */
	c2 = tcp_connect(console_port());
	assert_true(c2 >= 0);
	assert_true(read_until(c2, NULL, 5, buf, sizeof(buf)));
	snprintf(buf + 1024, 1024, "lifeboat: the console of node %s is in "
	    "use by another client\r\n", UUID);
	assert_string_equal(buf, buf + 1024);
	close(c2);
	machine_prints("Password: ");
	assert_true(read_until(c1, "Password: ", 10, buf, sizeof(buf)));
	close(c1);
	json_decref(di);
}

static void
test_idle_timeout(void **state)
{
	json_t *di = driver_info(PASSWORD, WA);
	struct lb_task t = task_of(di);
	int port = console_port(), c;
	char buf[1024];
	struct lb_err err;
	double t0;

	(void)state;
	/* starting a started console restarts it, with the new settings */
	cfg.console_terminal_timeout = 1;
	check_ok(lb_console_ipmitool.start(&t, &err), &err);
	assert_int_equal(console_port(), port);
	c = tcp_connect(port);
	assert_true(c >= 0);
	t0 = lb_monotonic();
	assert_true(read_until(c, NULL, 10, buf, sizeof(buf)));
	assert_true(lb_monotonic() - t0 >= 0.9);
	assert_non_null(strstr(buf, "lifeboat: closing the console of node "
	    UUID ": no data for 1 s"));
	close(c);
	cfg.console_terminal_timeout = 600;
	check_ok(lb_console_ipmitool.start(&t, &err), &err);
	json_decref(di);
}

static void
test_sol_dropped_and_back(void **state)
{
	char buf[4096];
	int c = tcp_connect(console_port());

	(void)state;
	assert_true(c >= 0);
	machine_prints("before\r\n");
	assert_true(read_until(c, "before", 10, buf, sizeof(buf)));
	/* the BMC deactivates SOL from another session, as field BMCs do */
	assert_int_equal(ipmitool("sol", "deactivate"), 0);
	assert_true(read_until(c, "is back\r\n", 40, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "lifeboat: Serial-over-LAN of node " UUID
	    " lost (the BMC stopped answering"));
	machine_prints("after\r\n");
	assert_true(read_until(c, "after", 10, buf, sizeof(buf)));
	close(c);
}

static bool
file_has(const char *path, const char *word, double timeout)
{
	char buf[8192];

	for (double t0 = lb_monotonic(); lb_monotonic() - t0 < timeout; usleep(50000)) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f != NULL)
			fclose(f);
		buf[n] = '\0';
		if (strstr(buf, word) != NULL)
			return true;
	}
	return false;
}

static void
test_capture(void **state)
{
	json_t *di = driver_info(PASSWORD, WA);
	struct lb_task t = task_of(di);
	char path[PATH_MAX], *tail = NULL;
	struct stat st;
	struct lb_err err;

	(void)state;
	snprintf(path, sizeof(path), "%s/console/%s.log", work, UUID);
	/* shared with the started console */
	check_ok(lb_console_ipmitool.capture_start(&t, false, &err), &err);
	machine_prints("Kernel command line: ipa-agent-token=Tok3nV4lue "
	    "ip=dhcp\r\nagent start\r\n");
	assert_true(file_has(path, "agent start", 10));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lb_console_ipmitool.capture_tail(&t, 2, &tail, &err),
	    0);
	assert_string_equal(tail, "Kernel command line: ipa-agent-token=*** "
	    "ip=dhcp\nagent start");
	free(tail);
	assert_false(file_has(path, "Tok3nV4lue", 0.1));
	lb_console_ipmitool.capture_stop(&t);

	/* without a started console, capture opens its own session */
	assert_int_equal(lb_console_ipmitool.stop(&t, &err), 0);
	check_ok(lb_console_ipmitool.capture_start(&t, false, &err), &err);
	for (double t0 = lb_monotonic(); lb_monotonic() - t0 < 10; usleep(200000)) {
		machine_prints("rescue ramdisk\r\n");
		if (file_has(path, "rescue ramdisk", 0.2))
			break;
	}
	assert_true(file_has(path, "rescue ramdisk", 0.1));
	assert_false(file_has(path, "agent start", 0.1));
	lb_console_ipmitool.capture_stop(&t);
	lb_console_ipmitool.forget(&t);
	assert_int_equal(stat(path, &st), -1);
	json_decref(di);
}

/* A capture whose SOL cannot come up is retried; it never fails. */
static void
test_capture_without_sol(void **state)
{
	json_t *di = driver_info("not-it", WA);
	struct lb_task t = task_of(di);
	char *tail = NULL;
	struct lb_err err;

	(void)state;
	/* It says why SOL is not up, and the capture stays (and retries). */
	assert_int_equal(lb_console_ipmitool.capture_start(&t, false, &err),
	    -EACCES);
	assert_non_null(strstr(err.msg, "wrong password"));
	check_ok(lb_console_ipmitool.capture_tail(&t, 5, &tail, &err), &err);
	assert_string_equal(tail, "");
	free(tail);
	lb_console_ipmitool.capture_stop(&t);
	lb_console_ipmitool.forget(&t);
	json_decref(di);
}

static void
test_stop_frees_port(void **state)
{
	json_t *di = driver_info(PASSWORD, WA);
	struct lb_task t = task_of(di);
	struct lb_err err;
	int port, c;

	(void)state;
	check_ok(lb_console_ipmitool.start(&t, &err), &err);
	port = console_port();
	assert_int_equal(lb_console_ipmitool.stop(&t, &err), 0);
	assert_null(json_object_get(dii, "allocated_ipmi_terminal_port"));
	c = tcp_connect(port);
	assert_true(c < 0);
	json_decref(di);
}

static void
test_wrong_password(void **state)
{
	json_t *di = driver_info("not-it", WA);
	struct lb_task t = task_of(di);
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_console_ipmitool.start(&t, &err), -EACCES);
	assert_non_null(strstr(err.msg, "wrong password for user 'admin'"));
	assert_null(strstr(err.msg, "not-it"));
	assert_null(json_object_get(dii, "allocated_ipmi_terminal_port"));
	json_decref(di);
}

static void
test_high_ipmi_port_refused(void **state)
{
	json_t *di = json_pack("{s:s, s:s, s:s, s:s}", "ipmi_address",
	    "127.0.0.1", "ipmi_port", "40000", "ipmi_username", USER,
	    "ipmi_password", PASSWORD);
	struct lb_task t = task_of(di);
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_console_ipmitool_validate(&t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cannot reach ipmi_port 40000"));
	json_object_set_new(di, "ipmi_port", json_string("32767"));
	check_ok(lb_console_ipmitool_validate(&t, &err), &err);
	json_decref(di);
}

static void
test_missing_workaround(void **state)
{
	json_t *di = driver_info(PASSWORD, "opensesspriv");
	struct lb_task t = task_of(di);
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_console_ipmitool.start(&t, &err), -EIO);
	assert_non_null(strstr(err.msg, "; libipmiconsole: \"BMC "
	    "Implementation\" (the BMC may need ipmi_workarounds="
	    "opensesspriv,solpayloadsize)"));
	json_decref(di);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_bytes_both_ways_one_client),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_sol_dropped_and_back),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_capture_without_sol),
		cmocka_unit_test(test_stop_frees_port),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_missing_workaround),
		cmocka_unit_test(test_high_ipmi_port_refused),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
