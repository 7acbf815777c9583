/*
 * test_redfish_vmedia_live.c - the redfish insert_cd/eject_cd against the
 * lab's Redfish BMC (tests/lab/redfish_bmc.py, in-memory machines), plain
 * and with its sticky-inserted and no-insert-action quirks, each started on
 * free 127.0.0.1 ports and stopped by PID, with the ISO served by a
 * `python3 -m http.server` started and stopped the same way.  Exits 77
 * (skipped) without /usr/bin/python3 or the lab, found in $LB_LAB_DIR,
 * $LB_SOURCE_ROOT/tests/lab or ./tests/lab.  Main thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
#include <curl/curl.h>
#include <jansson.h>

#include "power/redfish_client.h"
#include "power/redfish_quirks.h"
#include "power/redfish_vmedia.h"
#include "tests/unit/lab_proc.h"
#include "conductor/util/banned.h"

#define USER		"admin"
#define PASSWORD	"Vm3dia-Lab-Secret"
#define CD_PATH		"/redfish/v1/Managers/1/VirtualMedia/Cd"


static struct lab_proc bmc_plain, bmc_sticky, bmc_patch, images;
static char lab_script_path[512];
static char image_dir[64];
static char url1[128], url2[128], url_missing[128];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
bmc_start(struct lab_proc *b, const char *quirk)
{
	char port[16], control[16];
	char *argv[] = {
		"python3", lab_script_path, "--address", "127.0.0.1", "--port", port,
		"--control-port", control, "--user", USER, "--password",
		PASSWORD, "--session-limit", "8",
		quirk != NULL ? "--quirk" : NULL, (char *)quirk, NULL,
	};

	b->port = lab_free_tcp_port();
	b->control_port = lab_free_tcp_port();
	if (b->port < 0 || b->control_port < 0)
		return -1;
	snprintf(port, sizeof(port), "%d", b->port);
	snprintf(control, sizeof(control), "%d", b->control_port);
	return lab_proc_start(b, argv, "ready");
}

static int
write_file(const char *path, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	for (size_t i = 0; i < size; i++)
		fputc((int)(i * 7 % 251), f);
	return fclose(f);
}

static int
setup(void **state)
{
	char port[16], path[128];
	char *argv[] = {
		"python3", "-m", "http.server", port, "--bind", "127.0.0.1",
		"--directory", image_dir, NULL,
	};

	(void)state;
	snprintf(image_dir, sizeof(image_dir), "/tmp/lb-vmedia-img-XXXXXX");
	if (mkdtemp(image_dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/boot-1.iso", image_dir);
	if (write_file(path, 64 * 1024) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/boot-2.iso", image_dir);
	if (write_file(path, 32 * 1024) < 0)
		return -1;
	images.port = lab_free_tcp_port();
	snprintf(port, sizeof(port), "%d", images.port);
	snprintf(url1, sizeof(url1), "http://127.0.0.1:%d/boot-1.iso",
	    images.port);
	snprintf(url2, sizeof(url2), "http://127.0.0.1:%d/boot-2.iso",
	    images.port);
	snprintf(url_missing, sizeof(url_missing),
	    "http://127.0.0.1:%d/missing.iso", images.port);
	if (lab_proc_start(&images, argv, NULL) < 0 ||
	    bmc_start(&bmc_plain, NULL) < 0 ||
	    bmc_start(&bmc_sticky, "sticky-inserted") < 0 ||
	    bmc_start(&bmc_patch, "no-insert-action") < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	lb_redfish_shutdown();
	lab_proc_stop(&bmc_plain);
	lab_proc_stop(&bmc_sticky);
	lab_proc_stop(&bmc_patch);
	lab_proc_stop(&images);
	snprintf(path, sizeof(path), "%s/boot-1.iso", image_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/boot-2.iso", image_dir);
	unlink(path);
	rmdir(image_dir);
	return 0;
}

/* ---- the machine, seen through the lab's control endpoint ---- */

static size_t
sink(char *data, size_t size, size_t n, void *userdata)
{
	char **buf = userdata;
	size_t old = *buf != NULL ? strlen(*buf) : 0;
	char *p = realloc(*buf, old + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + old, data, size * n);
	p[old + size * n] = '\0';
	*buf = p;
	return size * n;
}

/* machines/0 "media": {"image", "inserted"} behind the BMC's back. */
static void
machine_media(const struct lab_proc *b, char *image, size_t size,
    bool *ret_inserted)
{
	char url[128], *body = NULL;
	json_t *j, *media;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/machines/0",
	    b->control_port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	media = json_object_get(j, "media");
	*ret_inserted = json_is_true(json_object_get(media, "inserted"));
	snprintf(image, size, "%s", json_is_string(json_object_get(media,
	    "image")) ? json_string_value(json_object_get(media, "image")) :
	    "");
	json_decref(j);
	free(body);
}

static void
assert_machine(const struct lab_proc *b, const char *want_image)
{
	char image[256];
	bool inserted;

	machine_media(b, image, sizeof(image), &inserted);
	if (want_image == NULL) {
		assert_false(inserted);
	} else {
		assert_true(inserted);
		assert_string_equal(image, want_image);
	}
}

struct node {
	json_t *di;
	json_t *internal;
	struct lb_task task;
};

static void
node_init(struct node *n, const struct lab_proc *b)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", b->port);
	n->di = json_pack("{s:s, s:s, s:s}", "redfish_address", addr,
	    "redfish_username", USER, "redfish_password", PASSWORD);
	n->internal = json_object();
	memset(&n->task, 0, sizeof(n->task));
	n->task.node_uuid = "0b7d2f4e-51c8-4f7e-9a55-3c2b1e0d9f86";
	n->task.driver_info = n->di;
	n->task.driver_internal_info = n->internal;
}

static void
node_release(struct node *n)
{
	json_decref(n->di);
	json_decref(n->internal);
}

static bool
quirk_applied(const struct node *n, const char *name)
{
	json_t *list = json_object_get(n->internal, LB_REDFISH_QUIRKS_KEY);
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

/* The slot as the BMC reports it. */
static void
slot_get(struct node *n, bool *ret_inserted, bool *ret_has_image)
{
	struct lb_redfish_conn *conn;
	struct lb_redfish_reply reply;
	struct lb_redfish_vmedia *vm;
	struct lb_err err;

	assert_int_equal(lb_redfish_conn_new(n->di, &conn, &err), 0);
	if (lb_redfish_request(conn, "GET", CD_PATH, NULL, NULL, &reply,
	    &err) != 0)
		fail_msg("GET slot: %s", err.msg);
	assert_int_equal(lb_redfish_vmedia_parse(reply.body, reply.len, &vm,
	    &err), 0);
	*ret_inserted = vm->inserted;
	*ret_has_image = vm->image != NULL;
	lb_redfish_vmedia_free(vm);
	lb_redfish_reply_release(&reply);
	lb_redfish_conn_free(conn);
}

static void
check(int r, const struct lb_err *err, const char *what)
{
	if (r != 0)
		fail_msg("%s: %s", what, err->msg);
	assert_null(strstr(err->msg, PASSWORD));
}

/* Insert, insert over it, boot from it, eject twice, and a bad image. */
static void
round_trip(struct node *n, const struct lab_proc *b)
{
	struct lb_err err = { .msg = "" };
	double t0 = now_s();
	int r;

	check(lb_management_redfish.insert_cd(&n->task, url1, &err), &err,
	    "insert");
	assert_machine(b, url1);
	check(lb_management_redfish.insert_cd(&n->task, url2, &err), &err,
	    "insert over an inserted image");
	assert_machine(b, url2);
	check(lb_management_redfish.set_boot_device(&n->task,
	    LB_BOOT_DEV_CDROM, false, LB_BOOT_MODE_UNSET, &err), &err,
	    "boot from cd");
	check(lb_management_redfish.eject_cd(&n->task, &err), &err, "eject");
	assert_machine(b, NULL);
	check(lb_management_redfish.eject_cd(&n->task, &err), &err,
	    "eject again");
	assert_machine(b, NULL);
	/* The BMC cannot download it: no slot takes it. */
	r = lb_management_redfish.insert_cd(&n->task, url_missing, &err);
	assert_int_equal(r, -ENODEV);
	assert_non_null(strstr(err.msg, "could not be downloaded"));
	assert_null(strstr(err.msg, PASSWORD));
	assert_machine(b, NULL);
	printf("    %.2f s; last error: %s\n", now_s() - t0, err.msg);
}

static void
test_plain(void **state)
{
	struct node n;
	bool inserted, has_image;

	(void)state;
	node_init(&n, &bmc_plain);
	round_trip(&n, &bmc_plain);
	slot_get(&n, &inserted, &has_image);
	assert_false(inserted);
	assert_false(has_image);
	/* Nothing vendor- or BMC-specific was needed. */
	assert_null(json_object_get(n.internal, LB_REDFISH_QUIRKS_KEY));
	node_release(&n);
}

static void
test_sticky_inserted(void **state)
{
	struct node n;
	bool inserted, has_image;
	double t0;

	(void)state;
	node_init(&n, &bmc_sticky);
	round_trip(&n, &bmc_sticky);
	/* The BMC still says Inserted, without an Image; it was accepted. */
	slot_get(&n, &inserted, &has_image);
	assert_true(inserted);
	assert_false(has_image);
	assert_true(quirk_applied(&n, "sticky_inserted"));
	/* Remembered: the next eject does not wait for the flag to clear. */
	t0 = now_s();
	assert_int_equal(lb_management_redfish.eject_cd(&n.task, NULL), 0);
	assert_true(now_s() - t0 < LB_REDFISH_EJECT_CHECK_DELAY_S);
	node_release(&n);
}

static void
test_no_insert_action(void **state)
{
	struct node n;

	(void)state;
	node_init(&n, &bmc_patch);
	round_trip(&n, &bmc_patch);
	assert_true(quirk_applied(&n, "patch_instead_of_action"));
	node_release(&n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_sticky_inserted),
		cmocka_unit_test(test_no_insert_action),
	};
	if (!lab_script("redfish_bmc.py", lab_script_path,
	    sizeof(lab_script_path))) {
		fprintf(stderr, "skipped: needs %s and %s\n", LAB_PYTHON,
		    lab_script_path);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
