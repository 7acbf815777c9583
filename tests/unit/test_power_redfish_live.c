/*
 * test_power_redfish_live.c - the redfish power/management interfaces
 * against a live Redfish BMC: the one LB_REDFISH_URL names (a real BMC or
 * sushy-tools; user/password LB_REDFISH_USER, LB_REDFISH_PASSWORD, default
 * admin/password), else the lab's tests/lab/redfish_bmc.py started on a
 * free 127.0.0.1 port and stopped by PID.  Skipped (77) only when neither
 * is there.
 * Main thread, plus a few threads sharing one session.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "power/redfish_client.h"
#include "tests/unit/lab_proc.h"
#include "conductor/util/banned.h"

#define SESSIONS_PATH "/redfish/v1/SessionService/Sessions"
#define THREADS 4
#define CALLS_PER_THREAD 5

static const char *url, *user, *password;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *
driver_info(const char *auth, const char *pw)
{
	json_t *di = json_pack("{s:s, s:s, s:s}", "redfish_address", url,
	    "redfish_username", user, "redfish_password", pw);

	if (auth != NULL)
		json_object_set_new(di, "redfish_auth_type", json_string(auth));
	return di;
}

static struct lb_task
task_of(json_t *di, json_t *internal)
{
	struct lb_task t = {
		.node_uuid = "2f1e0c6a-59a4-4a53-9e64-0d3c8f2b7a11",
		.driver_info = di,
		.driver_internal_info = internal,
	};

	return t;
}

/* Sessions the BMC holds, asked over basic auth. */
static int
server_sessions(struct lb_redfish_strv *ret_ids)
{
	json_t *di = driver_info("basic", password);
	struct lb_redfish_conn *conn;
	struct lb_redfish_reply reply;
	struct lb_redfish_collection *coll;
	struct lb_err err;
	int n;

	assert_int_equal(lb_redfish_conn_new(di, &conn, &err), 0);
	if (lb_redfish_request(conn, "GET", SESSIONS_PATH, NULL, NULL, &reply,
	    &err) != 0)
		fail_msg("GET sessions: %s", err.msg);
	assert_int_equal(lb_redfish_collection_parse(reply.body, reply.len,
	    &coll, &err), 0);
	n = (int)coll->members.n;
	if (ret_ids != NULL) {
		*ret_ids = coll->members;
		coll->members.v = NULL;
		coll->members.n = 0;
	}
	lb_redfish_collection_free(coll);
	lb_redfish_reply_release(&reply);
	lb_redfish_conn_free(conn);
	json_decref(di);
	return n;
}

/* Deletes every session on the BMC, behind the client's back. */
static void
server_sessions_kill(void)
{
	json_t *di = driver_info("basic", password);
	struct lb_redfish_conn *conn;
	struct lb_redfish_reply reply;
	struct lb_redfish_strv ids;
	struct lb_err err;

	server_sessions(&ids);
	assert_int_equal(lb_redfish_conn_new(di, &conn, &err), 0);
	for (size_t i = 0; i < ids.n; i++) {
		assert_int_equal(lb_redfish_request(conn, "DELETE", ids.v[i],
		    NULL, NULL, &reply, &err), 0);
		lb_redfish_reply_release(&reply);
		free(ids.v[i]);
	}
	free(ids.v);
	lb_redfish_conn_free(conn);
	json_decref(di);
}

static enum lb_power_state
power_get(void)
{
	json_t *di = driver_info(NULL, password);
	struct lb_task t = task_of(di, NULL);
	enum lb_power_state st = LB_POWER_UNKNOWN;
	struct lb_err err;

	if (lb_power_redfish.get_state(&t, &st, &err) != 0)
		fail_msg("get_state: %s", err.msg);
	json_decref(di);
	return st;
}

static void
power_set(enum lb_power_action action)
{
	json_t *di = driver_info(NULL, password);
	struct lb_task t = task_of(di, json_object());
	struct lb_err err;

	if (lb_power_redfish.set_state(&t, action, 20, &err) != 0)
		fail_msg("set_state %d: %s", (int)action, err.msg);
	json_decref((json_t *)t.driver_internal_info);
	json_decref(di);
}

static void
test_validate_and_key(void **state)
{
	json_t *di = driver_info(NULL, password);
	struct lb_task t = task_of(di, NULL);
	struct lb_err err;
	char key[128];

	(void)state;
	assert_int_equal(lb_power_redfish.validate(&t, &err), 0);
	assert_int_equal(lb_management_redfish.validate(&t, &err), 0);
	assert_int_equal(lb_power_redfish.bmc_key(&t, key, sizeof(key)), 0);
	assert_int_equal(strncmp(key, "redfish:http", 12), 0);
	json_decref(di);
}

static void
test_session_created_and_reused(void **state)
{
	(void)state;
	assert_int_equal(server_sessions(NULL), 0);
	power_get();
	assert_int_equal(lb_redfish_session_count(), 1);
	assert_int_equal(server_sessions(NULL), 1);
	for (int i = 0; i < 10; i++)
		power_get();
	assert_int_equal(lb_redfish_session_count(), 1);
	assert_int_equal(server_sessions(NULL), 1);
}

static void *
thread_calls(void *arg)
{
	int *fails = arg;
	json_t *di = driver_info(NULL, password);
	struct lb_task t = task_of(di, NULL);
	enum lb_power_state st;
	struct lb_err err;

	for (int i = 0; i < CALLS_PER_THREAD; i++)
		if (lb_power_redfish.get_state(&t, &st, &err) != 0)
			(*fails)++;
	json_decref(di);
	return NULL;
}

static void
test_session_shared_by_threads(void **state)
{
	pthread_t th[THREADS];
	int fails[THREADS] = { 0 };

	(void)state;
	/* Start without a session, so that the threads race to log in. */
	lb_redfish_shutdown();
	assert_int_equal(server_sessions(NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_calls,
		    &fails[i]), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(fails[i], 0);
	}
	assert_int_equal(server_sessions(NULL), 1);
}

static void
test_session_recreated_after_401(void **state)
{
	(void)state;
	server_sessions_kill();
	assert_int_equal(server_sessions(NULL), 0);
	power_get();		/* 401 with the old token, then a new login */
	assert_int_equal(server_sessions(NULL), 1);
	assert_int_equal(lb_redfish_session_count(), 1);
}

static void
test_power_on_off_reboot(void **state)
{
	(void)state;
	power_set(LB_POWER_ACTION_OFF);
	assert_int_equal(power_get(), LB_POWER_OFF);
	power_set(LB_POWER_ACTION_OFF);		/* again: already off */
	assert_int_equal(power_get(), LB_POWER_OFF);
	power_set(LB_POWER_ACTION_ON);
	assert_int_equal(power_get(), LB_POWER_ON);
	power_set(LB_POWER_ACTION_ON);		/* again: already on */
	power_set(LB_POWER_ACTION_REBOOT);
	assert_int_equal(power_get(), LB_POWER_ON);
	power_set(LB_POWER_ACTION_SOFT_REBOOT);
	assert_int_equal(power_get(), LB_POWER_ON);
	power_set(LB_POWER_ACTION_SOFT_OFF);
	assert_int_equal(power_get(), LB_POWER_OFF);
	power_set(LB_POWER_ACTION_REBOOT);	/* from off: just On */
	assert_int_equal(power_get(), LB_POWER_ON);
	assert_int_equal(server_sessions(NULL), 1);
}

static void
test_boot_device(void **state)
{
	json_t *di = driver_info(NULL, password);
	json_t *internal = json_object();
	struct lb_task t = task_of(di, internal);
	enum lb_boot_device dev;
	bool persistent;
	struct lb_err err;

	(void)state;
	if (lb_management_redfish.set_boot_device(&t, LB_BOOT_DEV_PXE, true,
	    LB_BOOT_MODE_UNSET, &err) != 0)
		fail_msg("set pxe: %s", err.msg);
	assert_int_equal(lb_management_redfish.get_boot_device(&t, &dev,
	    &persistent, &err), 0);
	assert_int_equal(dev, LB_BOOT_DEV_PXE);
	assert_true(persistent);
	if (lb_management_redfish.set_boot_device(&t, LB_BOOT_DEV_CDROM,
	    false, LB_BOOT_MODE_UEFI, &err) != 0)
		fail_msg("set cdrom uefi: %s", err.msg);
	assert_int_equal(lb_management_redfish.get_boot_device(&t, &dev,
	    &persistent, &err), 0);
	assert_int_equal(dev, LB_BOOT_DEV_CDROM);
	assert_false(persistent);
	if (lb_management_redfish.set_boot_device(&t, LB_BOOT_DEV_DISK, true,
	    LB_BOOT_MODE_BIOS, &err) != 0)
		fail_msg("set disk bios: %s", err.msg);
	assert_int_equal(lb_management_redfish.get_boot_device(&t, &dev,
	    &persistent, &err), 0);
	assert_int_equal(dev, LB_BOOT_DEV_DISK);
	assert_true(persistent);
	assert_null(json_object_get(internal, "redfish_boot_device"));
	json_decref(internal);
	json_decref(di);
}

static void
test_wrong_password(void **state)
{
	static const char *const auths[] = { NULL, "session", "basic" };
	const char *bad = "Wr0ngPassw0rd";

	(void)state;
	for (size_t i = 0; i < sizeof(auths) / sizeof(auths[0]); i++) {
		json_t *di = driver_info(auths[i], bad);
		struct lb_task t = task_of(di, NULL);
		enum lb_power_state st;
		struct lb_err err;

		assert_int_equal(lb_power_redfish.get_state(&t, &st, &err),
		    -EACCES);
		assert_non_null(strstr(err.msg, "authentication failed"));
		assert_null(strstr(err.msg, bad));
		printf("    auth %s: %s\n", auths[i] ? auths[i] : "auto",
		    err.msg);
		json_decref(di);
	}
	/* The good session is still the only one. */
	assert_int_equal(server_sessions(NULL), 1);
}

static void
test_basic_auth_no_session(void **state)
{
	json_t *di = driver_info("basic", password);
	struct lb_task t = task_of(di, NULL);
	enum lb_power_state st;
	struct lb_err err;

	(void)state;
	lb_redfish_shutdown();
	assert_int_equal(lb_power_redfish.get_state(&t, &st, &err), 0);
	assert_int_equal(lb_redfish_session_count(), 0);
	assert_int_equal(server_sessions(NULL), 0);
	json_decref(di);
}

static void
test_system_not_found(void **state)
{
	json_t *di = driver_info(NULL, password);
	struct lb_task t = task_of(di, NULL);
	enum lb_power_state st;
	struct lb_err err;

	(void)state;
	json_object_set_new(di, "redfish_system_id",
	    json_string("/redfish/v1/Systems/does-not-exist"));
	assert_int_equal(lb_power_redfish.get_state(&t, &st, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "does-not-exist"));
	printf("    %s\n", err.msg);
	json_decref(di);
}

static void
test_dead_port_unreachable(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char dead[64];
	json_t *di;
	struct lb_task t;
	enum lb_power_state st;
	struct lb_err err;
	double start;
	int fd;

	(void)state;
	/* A port that was free a moment ago: nothing listens there. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u",
	    (unsigned int)ntohs(sa.sin_port));
	di = json_pack("{s:s, s:s, s:s}", "redfish_address", dead,
	    "redfish_username", user, "redfish_password", password);
	t = task_of(di, NULL);
	start = now_s();
	assert_int_equal(lb_power_redfish.get_state(&t, &st, &err),
	    -EHOSTUNREACH);
	assert_true(now_s() - start < 5);
	assert_non_null(strstr(err.msg, "cannot reach"));
	printf("    %.3f s: %s\n", now_s() - start, err.msg);
	json_decref(di);
}

static void
test_shutdown_deletes_sessions(void **state)
{
	(void)state;
	power_get();
	assert_int_equal(server_sessions(NULL), 1);
	lb_redfish_shutdown();
	assert_int_equal(lb_redfish_session_count(), 0);
	assert_int_equal(server_sessions(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_and_key),
		cmocka_unit_test(test_session_created_and_reused),
		cmocka_unit_test(test_session_shared_by_threads),
		cmocka_unit_test(test_session_recreated_after_401),
		cmocka_unit_test(test_power_on_off_reboot),
		cmocka_unit_test(test_boot_device),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_basic_auth_no_session),
		cmocka_unit_test(test_system_not_found),
		cmocka_unit_test(test_dead_port_unreachable),
		cmocka_unit_test(test_shutdown_deletes_sessions),
	};
	struct lab_proc bmc = { .pid = 0 };
	char script[512], port[16], control[16], lab_url[64];
	char *argv[] = {
		"python3", script, "--address", "127.0.0.1", "--port", port,
		"--control-port", control, NULL,
	};
	int r;

	url = getenv("LB_REDFISH_URL");
	user = getenv("LB_REDFISH_USER") ? getenv("LB_REDFISH_USER") : "admin";
	password = getenv("LB_REDFISH_PASSWORD") ?
	    getenv("LB_REDFISH_PASSWORD") : "password";
	if (url == NULL || url[0] == '\0') {
		if (!lab_script("redfish_bmc.py", script, sizeof(script))) {
			fprintf(stderr, "no LB_REDFISH_URL, and no %s or %s: "
			    "skipped\n", LAB_PYTHON, script);
			return 77;
		}
		bmc.port = lab_free_tcp_port();
		bmc.control_port = lab_free_tcp_port();
		snprintf(port, sizeof(port), "%d", bmc.port);
		snprintf(control, sizeof(control), "%d", bmc.control_port);
		if (lab_proc_start(&bmc, argv, "ready") < 0) {
			fprintf(stderr, "the lab Redfish BMC did not start\n");
			lab_proc_stop(&bmc);
			return 1;
		}
		snprintf(lab_url, sizeof(lab_url), "http://127.0.0.1:%d",
		    bmc.port);
		url = lab_url;
		user = "admin";
		password = "password";
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	lb_redfish_shutdown();
	lab_proc_stop(&bmc);
	return r;
}
