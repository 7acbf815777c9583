/*
 * test_power_ipmi_live.c - power_ipmi.c against live IPMI 2.0 BMCs: the
 * lab's emulator (tests/lab/ipmi_bmc.py) started on free 127.0.0.1 ports and
 * stopped by PID; exits 77 (skipped) without /usr/bin/python3 or the lab,
 * found in $LB_LAB_DIR, $LB_SOURCE_ROOT/tests/lab or ./tests/lab.  Main
 * thread, plus one test's own threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "power/power_ipmi.h"
#include "conductor/util/banned.h"

#define PYTHON		"/usr/bin/python3"
#define USER		"admin"
#define PASSWORD	"Lab-Secret-7"
#define SOFT_OFF_DELAY	"2"

struct bmc {
	pid_t pid;
	int port;
	char log[64];
};

static struct bmc bmc_acpi;	/* soft off completes after 2 s */
static struct bmc bmc_deaf;	/* ignores ACPI: soft off never completes */
static int dead_fd = -1;	/* a bound UDP port that never answers */
static int dead_port;
static char lab_script[512];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A UDP port on 127.0.0.1; keep_fd holds it bound if not NULL. */
static int
free_udp_port(int *keep_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	port = ntohs(sa.sin_port);
	if (keep_fd != NULL)
		*keep_fd = fd;
	else
		close(fd);
	return port;
}

static bool
log_has(const char *path, const char *word)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;
	bool found;

	if (f == NULL)
		return false;
	found = getdelim(&buf, &size, '\0', f) > 0 &&
	    strstr(buf, word) != NULL;
	free(buf);
	fclose(f);
	return found;
}

static int
bmc_start(struct bmc *b, const char *extra)
{
	char port[16];
	int fd;

	b->port = free_udp_port(NULL);
	snprintf(port, sizeof(port), "%d", b->port);
	snprintf(b->log, sizeof(b->log), "/tmp/lb-ipmi-live-XXXXXX");
	fd = mkstemp(b->log);
	if (b->port < 0 || fd < 0)
		return -1;
	b->pid = fork();
	if (b->pid == 0) {
		dup2(fd, 2);
		dup2(fd, 1);
		execl(PYTHON, "python3", lab_script, "--address", "127.0.0.1",
		    "--port", port, "--count", "1", "--user", USER,
		    "--password", PASSWORD, "--soft-off-delay", SOFT_OFF_DELAY,
		    extra, (char *)NULL);
		_exit(127);
	}
	close(fd);
	for (double t0 = now_s(); now_s() - t0 < 20;) {
		if (log_has(b->log, "ready"))
			return 0;
		if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
			b->pid = 0;
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

static void
bmc_stop(struct bmc *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
				b->pid = 0;
				break;
			}
			usleep(100000);
		}
		if (b->pid > 0) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, NULL, 0);
		}
	}
	if (b->log[0] != '\0')
		unlink(b->log);
}

static int
setup_bmcs(void **state)
{
	(void)state;
	if (bmc_start(&bmc_acpi, "--boot-mode=bios") < 0 ||
	    bmc_start(&bmc_deaf, "--ignore-acpi") < 0)
		return -1;
	dead_port = free_udp_port(&dead_fd);
	return dead_port < 0 ? -1 : 0;
}

static int
teardown_bmcs(void **state)
{
	(void)state;
	bmc_stop(&bmc_acpi);
	bmc_stop(&bmc_deaf);
	if (dead_fd >= 0)
		close(dead_fd);
	return 0;
}

/* A task for port; extra is more driver_info as JSON members, or "". */
struct node {
	json_t *driver_info;
	json_t *internal;
	struct lb_task task;
};

static void
node_init(struct node *n, int port, const char *password, const char *extra)
{
	char text[1024];
	json_error_t jerr;

	snprintf(text, sizeof(text), "{\"ipmi_address\": \"127.0.0.1\", "
	    "\"ipmi_port\": \"%d\", \"ipmi_username\": \"" USER "\", "
	    "\"ipmi_password\": \"%s\"%s%s}", port, password,
	    extra[0] ? ", " : "", extra);
	n->driver_info = json_loads(text, 0, &jerr);
	assert_non_null(n->driver_info);
	n->internal = json_object();
	memset(&n->task, 0, sizeof(n->task));
	n->task.node_uuid = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123";
	n->task.driver_info = n->driver_info;
	n->task.driver_internal_info = n->internal;
}

static void
node_release(struct node *n)
{
	json_decref(n->driver_info);
	json_decref(n->internal);
}

static enum lb_power_state
power(struct node *n)
{
	enum lb_power_state state = LB_POWER_UNKNOWN;
	struct lb_err err;

	if (lb_power_ipmitool.get_state(&n->task, &state, &err) != 0)
		fail_msg("get_state: %s", err.msg);
	return state;
}

static void
set_power(struct node *n, enum lb_power_action action)
{
	struct lb_err err;

	if (lb_power_ipmitool.set_state(&n->task, action, 10, &err) != 0)
		fail_msg("set_state %d: %s", (int)action, err.msg);
}

static void
test_validate_and_key(void **state)
{
	struct node n;
	struct lb_err err;
	char key[64], want[64];

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD, "");
	assert_int_equal(lb_power_ipmitool.validate(&n.task, &err), 0);
	assert_int_equal(lb_management_ipmitool.validate(&n.task, &err), 0);
	assert_int_equal(lb_power_ipmitool.bmc_key(&n.task, key, sizeof(key)),
	    0);
	snprintf(want, sizeof(want), "ipmi:127.0.0.1:%d", bmc_acpi.port);
	assert_string_equal(key, want);
	assert_string_equal(lb_power_ipmitool.name, "ipmitool");
	assert_string_equal(lb_management_ipmitool.name, "ipmitool");
	node_release(&n);

	node_init(&n, bmc_acpi.port, PASSWORD, "\"ipmi_bridging\": \"dual\", "
	    "\"ipmi_target_channel\": 0, \"ipmi_target_address\": 32, "
	    "\"ipmi_transit_channel\": 0, \"ipmi_transit_address\": 32");
	assert_int_equal(lb_power_ipmitool.validate(&n.task, &err), -EINVAL);
	assert_string_equal(err.msg, "Value for ipmi_bridging is provided as "
	    "dual, but dual IPMI bridging is not supported by lifeboat's IPMI "
	    "client (libfreeipmi); use single");
	node_release(&n);
}

static void
test_power_on_off_reboot(void **state)
{
	struct node n;

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD, "\"ipmi_cipher_suite\": 3");
	set_power(&n, LB_POWER_ACTION_OFF);
	assert_int_equal(power(&n), LB_POWER_OFF);
	set_power(&n, LB_POWER_ACTION_OFF);	/* already off: no command */
	set_power(&n, LB_POWER_ACTION_ON);
	assert_int_equal(power(&n), LB_POWER_ON);
	set_power(&n, LB_POWER_ACTION_REBOOT);
	assert_int_equal(power(&n), LB_POWER_ON);
	set_power(&n, LB_POWER_ACTION_OFF);
	set_power(&n, LB_POWER_ACTION_REBOOT);	/* from off: just on */
	assert_int_equal(power(&n), LB_POWER_ON);
	node_release(&n);
}

static void
test_soft_off(void **state)
{
	struct node n;
	double t0;

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD, "");
	set_power(&n, LB_POWER_ACTION_ON);
	t0 = now_s();
	set_power(&n, LB_POWER_ACTION_SOFT_OFF);
	assert_true(now_s() - t0 >= 1.5);	/* the OS took ~2 s */
	assert_int_equal(power(&n), LB_POWER_OFF);
	set_power(&n, LB_POWER_ACTION_ON);
	set_power(&n, LB_POWER_ACTION_SOFT_REBOOT);
	assert_int_equal(power(&n), LB_POWER_ON);
	node_release(&n);
}

static void
test_soft_off_ignored(void **state)
{
	struct node n;
	struct lb_err err;
	char want[256];
	double t0;
	int r;

	(void)state;
	node_init(&n, bmc_deaf.port, PASSWORD, "");
	set_power(&n, LB_POWER_ACTION_ON);
	t0 = now_s();
	r = lb_power_ipmitool.set_state(&n.task, LB_POWER_ACTION_SOFT_OFF, 3,
	    &err);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(now_s() - t0 < 5);
	snprintf(want, sizeof(want), "soft power off did not complete within "
	    "3 s: BMC 127.0.0.1:%d still reports power on (the operating "
	    "system did not act on the ACPI power button)", bmc_deaf.port);
	assert_string_equal(err.msg, want);
	assert_int_equal(power(&n), LB_POWER_ON);
	set_power(&n, LB_POWER_ACTION_OFF);	/* the engine's fallback */
	assert_int_equal(power(&n), LB_POWER_OFF);
	node_release(&n);
}

static void
test_boot_device(void **state)
{
	struct node n;
	struct lb_err err;
	enum lb_boot_device dev;
	bool persistent;

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD, "");
	set_power(&n, LB_POWER_ACTION_OFF);
	for (int d = LB_BOOT_DEV_PXE; d <= LB_BOOT_DEV_BIOS; d++) {
		for (int p = 0; p < 2; p++) {
			if (lb_management_ipmitool.set_boot_device(&n.task, d,
			    p, p ? LB_BOOT_MODE_UEFI : LB_BOOT_MODE_BIOS,
			    &err) != 0)
				fail_msg("set_boot_device: %s", err.msg);
			if (lb_management_ipmitool.get_boot_device(&n.task,
			    &dev, &persistent, &err) != 0)
				fail_msg("get_boot_device: %s", err.msg);
			assert_int_equal(dev, d);
			assert_int_equal(persistent, p);
		}
	}
	/* Mode unset keeps the BMC's, here UEFI from the last call. */
	assert_int_equal(lb_management_ipmitool.set_boot_device(&n.task,
	    LB_BOOT_DEV_PXE, false, LB_BOOT_MODE_UNSET, &err), 0);
	/* A one-time device is used up by the next boot. */
	set_power(&n, LB_POWER_ACTION_ON);
	assert_int_equal(lb_management_ipmitool.get_boot_device(&n.task, &dev,
	    &persistent, &err), -ENODATA);
	node_release(&n);
}

static void
test_force_boot_device(void **state)
{
	struct node n;
	struct lb_err err;
	enum lb_boot_device dev;
	bool persistent;

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD,
	    "\"ipmi_force_boot_device\": \"true\"");
	set_power(&n, LB_POWER_ACTION_OFF);
	assert_int_equal(lb_management_ipmitool.set_boot_device(&n.task,
	    LB_BOOT_DEV_PXE, true, LB_BOOT_MODE_UEFI, &err), 0);
	assert_string_equal(json_string_value(json_object_get(n.internal,
	    "persistent_boot_device")), "pxe");
	assert_string_equal(json_string_value(json_object_get(n.internal,
	    "ipmi_persistent_boot_mode")), "uefi");
	assert_int_equal(lb_management_ipmitool.get_boot_device(&n.task, &dev,
	    &persistent, &err), 0);
	assert_int_equal(dev, LB_BOOT_DEV_PXE);
	assert_true(persistent);
	/* Every power on sends it again: the BMC only ever had "once". */
	set_power(&n, LB_POWER_ACTION_ON);
	set_power(&n, LB_POWER_ACTION_OFF);
	set_power(&n, LB_POWER_ACTION_ON);
	assert_true(log_has(bmc_acpi.log, "Set System Boot Options [05 a0 04"));
	/* A one-time device is not re-sent. */
	assert_int_equal(lb_management_ipmitool.set_boot_device(&n.task,
	    LB_BOOT_DEV_DISK, false, LB_BOOT_MODE_BIOS, &err), 0);
	assert_true(json_is_false(json_object_get(n.internal,
	    "is_next_boot_persistent")));
	set_power(&n, LB_POWER_ACTION_OFF);
	set_power(&n, LB_POWER_ACTION_ON);
	assert_null(json_object_get(n.internal, "is_next_boot_persistent"));
	node_release(&n);
}

/* pyghmi answers a cipher suite 17 request with suite 3's algorithms. */
static void
test_cipher_probe(void **state)
{
	struct node n;

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD, "");
	power(&n);
	assert_int_equal(json_integer_value(json_object_get(n.internal,
	    "ipmi_probed_cipher_suite")), 3);
	power(&n);
	node_release(&n);
}

static void
test_wrong_password(void **state)
{
	struct node n;
	struct lb_err err;
	enum lb_power_state st;
	char want[512];

	(void)state;
	node_init(&n, bmc_acpi.port, "Wrong-Pass-99", "");
	assert_int_equal(lb_power_ipmitool.get_state(&n.task, &st, &err),
	    -EACCES);
	snprintf(want, sizeof(want), "IPMI authentication to 127.0.0.1:%d "
	    "failed: wrong password for user 'admin' (check ipmi_password; "
	    "cipher suites 17 and 3); libfreeipmi: \"password invalid\" (the "
	    "BMC may need ipmi_workarounds=opensesspriv)", bmc_acpi.port);
	assert_string_equal(err.msg, want);
	assert_null(strstr(err.msg, "Wrong-Pass-99"));
	node_release(&n);
}

static void
test_unknown_user(void **state)
{
	struct node n;
	struct lb_err err;
	enum lb_power_state st;
	char want[512];

	(void)state;
	node_init(&n, bmc_acpi.port, PASSWORD, "");
	json_object_set_new(n.driver_info, "ipmi_username",
	    json_string("nobody"));
	assert_int_equal(lb_power_ipmitool.get_state(&n.task, &st, &err),
	    -EACCES);
	snprintf(want, sizeof(want), "IPMI authentication to 127.0.0.1:%d "
	    "failed: the BMC does not know user 'nobody' (check "
	    "ipmi_username); libfreeipmi: \"username invalid\" (the BMC may "
	    "need ipmi_workarounds=authcap)", bmc_acpi.port);
	assert_string_equal(err.msg, want);
	node_release(&n);
}

static void
test_dead_port(void **state)
{
	struct node n;
	struct lb_err err;
	enum lb_power_state st;
	char want[256];
	double t0, took;

	(void)state;
	node_init(&n, dead_port, PASSWORD, "");
	t0 = now_s();
	assert_int_equal(lb_power_ipmitool.get_state(&n.task, &st, &err),
	    -ETIMEDOUT);
	took = now_s() - t0;
	print_message("dead BMC: failed after %.2f s\n", took);
	assert_true(took >= 8.5 && took < 10.5);
	snprintf(want, sizeof(want), "IPMI call to 127.0.0.1:%d timed out: "
	    "no answer within 9 s (check ipmi_address, ipmi_port and that the "
	    "BMC is reachable)", dead_port);
	assert_string_equal(err.msg, want);
	node_release(&n);
}

/*
 * A power action left with one second of its caller's time (it waited for
 * the BMC behind another call) still gets an honest timeout within about
 * that second, not libfreeipmi's "invalid parameters".
 */
static void
test_dead_port_short_budget(void **state)
{
	struct node n;
	struct lb_err err;
	char want[256];
	double t0, took;

	(void)state;
	node_init(&n, dead_port, PASSWORD, "");
	t0 = now_s();
	assert_int_equal(lb_power_ipmitool.set_state(&n.task,
	    LB_POWER_ACTION_OFF, 1, &err), -ETIMEDOUT);
	took = now_s() - t0;
	print_message("dead BMC, 1 s budget: failed after %.2f s\n", took);
	assert_true(took >= 0.9 && took < 2.5);
	snprintf(want, sizeof(want), "IPMI call to 127.0.0.1:%d timed out: "
	    "no answer within 1 s (check ipmi_address, ipmi_port and that the "
	    "BMC is reachable)", dead_port);
	assert_string_equal(err.msg, want);
	node_release(&n);
}

static void *
poll_thread(void *arg)
{
	struct node n;
	struct lb_err err;
	enum lb_power_state st;
	long failures = 0;

	(void)arg;
	node_init(&n, bmc_acpi.port, PASSWORD, "\"ipmi_cipher_suite\": \"3\"");
	for (int i = 0; i < 5; i++)
		if (lb_power_ipmitool.get_state(&n.task, &st, &err) != 0)
			failures++;
	node_release(&n);
	return (void *)failures;
}

/* One session per call: threads share nothing but the BMC. */
static void
test_concurrent_calls(void **state)
{
	pthread_t threads[8];
	void *failures;

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&threads[i], NULL,
		    poll_thread, NULL), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(threads[i], &failures), 0);
		assert_null(failures);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_and_key),
		cmocka_unit_test(test_power_on_off_reboot),
		cmocka_unit_test(test_soft_off),
		cmocka_unit_test(test_soft_off_ignored),
		cmocka_unit_test(test_boot_device),
		cmocka_unit_test(test_force_boot_device),
		cmocka_unit_test(test_cipher_probe),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_dead_port),
		cmocka_unit_test(test_dead_port_short_budget),
		cmocka_unit_test(test_concurrent_calls),
	};
	const char *dir = getenv("LB_LAB_DIR");
	const char *root = getenv("LB_SOURCE_ROOT");

	if (dir != NULL)
		snprintf(lab_script, sizeof(lab_script), "%s/ipmi_bmc.py", dir);
	else
		snprintf(lab_script, sizeof(lab_script),
		    "%s/tests/lab/ipmi_bmc.py", root != NULL ? root : ".");
	if (access(PYTHON, X_OK) != 0 || access(lab_script, R_OK) != 0) {
		fprintf(stderr, "skipped: needs %s and %s\n", PYTHON,
		    lab_script);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup_bmcs, teardown_bmcs);
}
