/*
 * test_boot_vmedia.c - the redfish-virtual-media boot interface against a
 * temporary http root, a recording management interface and an ISO
 * builder script that writes its arguments into the "ISO": the published
 * name (per node, random, no '?' or '='), the kernel parameters handed to
 * the builder, the URL given to the BMC, a prebuilt rescue_iso, clean-up
 * (eject, then the node's files go), and failures that leave nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_vmedia.h"
#include "conductor/util/config.h"
#include "conductor/util/banned.h"

#define UUID "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
#define MAC1 "52:54:00:12:34:56"
#define REQ "req-5c1e0b7e-8f5d-4e0e-9a0c-3b1c2d3e4f50"
#define HTTP_URL "http://10.99.0.1:8088"
#define EXT_URL "http://[fd00:99::1]:8089"
#define TOKEN_PARAM "ipa-agent-token=Tok3n-Value_x"
#define STDIN_MARK "--- stdin"

/* The recording management interface. */
static char inserted_url[1024];
static int inserts, ejects, insert_result;

static int
rec_insert(const struct lb_task *task, const char *url, struct lb_err *err)
{
	(void)task;
	inserts++;
	snprintf(inserted_url, sizeof(inserted_url), "%s", url);
	if (insert_result < 0)
		return lb_err_set(err, insert_result, "BMC refused the image");
	return 0;
}

static int
rec_eject(const struct lb_task *task, struct lb_err *err)
{
	(void)task;
	(void)err;
	ejects++;
	inserted_url[0] = '\0';
	return 0;
}

static const struct lb_management_ops recorder = {
	.name = "recorder",
	.insert_cd = rec_insert,
	.eject_cd = rec_eject,
};

/* The engine's hooks, as task.c gives them: here straight to 'arg'. */
static int
hook_insert(void *arg, const char *url, struct lb_err *err)
{
	const struct lb_management_ops *m = arg;

	return m->insert_cd(NULL, url, err);
}

static int
hook_eject(void *arg, struct lb_err *err)
{
	const struct lb_management_ops *m = arg;

	return m->eject_cd(NULL, err);
}

static void
use_media(struct lb_boot_env *env, const struct lb_management_ops *m)
{
	env->media_insert = m->insert_cd != NULL ? hook_insert : NULL;
	env->media_eject = m->eject_cd != NULL ? hook_eject : NULL;
	env->media_arg = (void *)m;
}

struct fixture {
	char top[256];
	char http[512];
	char kernel[512];
	char ramdisk[512];
	char builder[512];
	char argv_log[512];
	struct lb_config cfg;
	struct lb_boot_env env;
	struct lb_boot_images images;
	struct lb_task task;
	const char *macs[1];
	json_t *driver_info;
	json_t *instance_info;
	json_t *properties;
	struct lb_err err;
};

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *
read_path(const char *path)
{
	struct stat st;
	char *data;
	FILE *fp = fopen(path, "rb");

	if (fp == NULL)
		fail_msg("cannot read '%s'", path);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)st.st_size, fp),
	    (size_t)st.st_size);
	data[st.st_size] = '\0';
	fclose(fp);
	return data;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char script[2048];

	assert_non_null(f);
	snprintf(f->top, sizeof(f->top), "%s/lb-vmedia-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->http, sizeof(f->http), "%s/http", f->top);
	assert_int_equal(mkdir(f->http, 0755), 0);
	snprintf(f->kernel, sizeof(f->kernel), "%s/kernel", f->top);
	snprintf(f->ramdisk, sizeof(f->ramdisk), "%s/ramdisk", f->top);
	snprintf(f->builder, sizeof(f->builder), "%s/mkiso", f->top);
	write_file(f->kernel, "KERNEL\n", 0644);
	write_file(f->ramdisk, "RAMDISK\n", 0644);
	/*
	 * mkiso KERNEL RAMDISK OUT --append-file -: the "ISO" holds its
	 * arguments, a separator line, then what it read on stdin; the
	 * arguments also go to 'argv' beside it, as ps would see them.
	 */
	snprintf(f->argv_log, sizeof(f->argv_log), "%s/argv", f->top);
	snprintf(script, sizeof(script), "#!/bin/sh\nprintf '%%s\\n' \"$@\" "
	    "> '%s'\n{ printf '%%s\\n' \"$@\"; echo '%s'; cat; } > \"$3\"\n",
	    f->argv_log, STDIN_MARK);
	write_file(f->builder, script, 0755);

	lb_config_init(&f->cfg);
	free(f->cfg.deploy_http_root);
	f->cfg.deploy_http_root = strdup(f->http);
	free(f->cfg.redfish_iso_builder);
	f->cfg.redfish_iso_builder = strdup(f->builder);
	assert_non_null(f->cfg.deploy_http_root);
	assert_non_null(f->cfg.redfish_iso_builder);
	f->env.cfg = &f->cfg;
	f->env.api_url = "http://10.99.0.1:6385";
	f->env.http_url = HTTP_URL;
	use_media(&f->env, &recorder);
	f->images.kernel = f->kernel;
	f->images.ramdisk = f->ramdisk;
	f->driver_info = json_object();
	f->instance_info = json_object();
	f->properties = json_object();
	f->macs[0] = MAC1;
	f->task.node_uuid = UUID;
	f->task.driver = "redfish";
	f->task.driver_info = f->driver_info;
	f->task.instance_info = f->instance_info;
	f->task.properties = f->properties;
	f->task.port_macs = f->macs;
	f->task.nports = 1;
	inserted_url[0] = '\0';
	inserts = ejects = insert_result = 0;
	*state = f;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(f->driver_info);
	json_decref(f->instance_info);
	json_decref(f->properties);
	lb_config_release(&f->cfg);
	free(f);
	return 0;
}

static int
prepare(struct fixture *f)
{
	return lb_boot_vmedia.prepare_ramdisk(&f->env, &f->task, &f->images,
	    REQ, TOKEN_PARAM, &f->err);
}

static void
assert_ok(struct fixture *f, int r)
{
	if (r != 0)
		fail_msg("failed (%d): %s", r, f->err.msg);
}

/* The files in http/redfish/<uuid>, as "name name ..." (sorted: 1 max). */
static int
node_files(const struct fixture *f, char *names, size_t size)
{
	char dir[1024];
	struct dirent *de;
	int n = 0;
	DIR *d;

	names[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/redfish/%s", f->http, UUID);
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? -1 : -2;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    strcmp(de->d_name, "..") == 0))
			continue;
		snprintf(names + strlen(names), size - strlen(names), "%s%s",
		    n ? " " : "", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* The local path of the published ISO the BMC was told about. */
static void
published_path(const struct fixture *f, char *out, size_t size)
{
	const char *prefix = HTTP_URL "/redfish/" UUID "/";

	assert_true(strncmp(inserted_url, prefix, strlen(prefix)) == 0);
	snprintf(out, size, "%s/redfish/%s/%s", f->http, UUID,
	    inserted_url + strlen(prefix));
}

static void
test_built_iso_published_and_inserted(void **state)
{
	struct fixture *f = *state;
	char names[256], path[2048];
	const char *name;
	struct stat st;
	char *args;

	assert_ok(f, prepare(f));
	assert_int_equal(inserts, 1);
	/* http_url/redfish/<uuid>/<22 URL-safe chars>.iso, no '?' or '=' */
	assert_null(strpbrk(inserted_url, "?=&"));
	name = strrchr(inserted_url, '/') + 1;
	assert_int_equal(strlen(name), 22 + 4);
	assert_string_equal(name + 22, ".iso");
	assert_int_equal(strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), 22);
	/* only the ISO: the temporary file is gone */
	assert_int_equal(node_files(f, names, sizeof(names)), 1);
	assert_string_equal(names, name);
	published_path(f, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* the builder got the images, and the parameters baked in */
	args = read_path(path);
	assert_true(strncmp(args, f->kernel, strlen(f->kernel)) == 0);
	assert_non_null(strstr(args, f->ramdisk));
	assert_non_null(strstr(args, "\n--append-file\n-\n" STDIN_MARK "\n"));
	assert_non_null(strstr(args, "ipa-api-url=http://10.99.0.1:6385"));
	assert_non_null(strstr(args, " " TOKEN_PARAM));
	assert_non_null(strstr(args, " boot_method=vmedia"));
	assert_non_null(strstr(args, " BOOTIF=" MAC1));
	free(args);
}

/*
 * The builder's argv (readable by every local user in /proc) holds
 * neither the agent token nor the published ISO's name; the parameters
 * come on its standard input.
 */
static void
test_builder_argv_has_no_secrets(void **state)
{
	struct fixture *f = *state;
	const char *name;
	char *argv, *iso, path[2048], stem[23];

	assert_ok(f, prepare(f));
	argv = read_path(f->argv_log);
	assert_null(strstr(argv, "Tok3n"));
	assert_null(strstr(argv, "ipa-agent-token"));
	assert_null(strstr(argv, "ipa-api-url"));
	name = strrchr(inserted_url, '/') + 1;
	snprintf(stem, sizeof(stem), "%.22s", name);
	assert_null(strstr(argv, stem));
	published_path(f, path, sizeof(path));
	iso = read_path(path);
	assert_non_null(strstr(strstr(iso, STDIN_MARK "\n"), " " TOKEN_PARAM));
	free(iso);
	free(argv);
}

static void
test_no_bootif_with_two_ports(void **state)
{
	struct fixture *f = *state;
	const char *macs[2] = { MAC1, "52:54:00:ab:cd:ef" };
	char path[2048];
	char *args;

	f->task.port_macs = macs;
	f->task.nports = 2;
	assert_ok(f, prepare(f));
	published_path(f, path, sizeof(path));
	args = read_path(path);
	assert_null(strstr(args, "BOOTIF="));
	assert_non_null(strstr(args, "boot_method=vmedia"));
	free(args);
}

static void
test_each_rescue_gets_a_new_name(void **state)
{
	struct fixture *f = *state;
	char first[1024], names[256];

	assert_ok(f, prepare(f));
	snprintf(first, sizeof(first), "%s", inserted_url);
	assert_ok(f, prepare(f));
	assert_string_not_equal(first, inserted_url);
	/* the earlier ISO is gone: one file, the new one */
	assert_int_equal(node_files(f, names, sizeof(names)), 1);
	assert_string_equal(names, strrchr(inserted_url, '/') + 1);
}

static void
test_clean_up_ejects_and_removes(void **state)
{
	struct fixture *f = *state;
	char names[256], path[1024];

	assert_ok(f, prepare(f));
	assert_ok(f, lb_boot_vmedia.clean_up_ramdisk(&f->env, &f->task,
	    &f->err));
	assert_int_equal(ejects, 1);
	assert_int_equal(node_files(f, names, sizeof(names)), -1);
	/* the shared directory stays; a second clean-up is fine */
	snprintf(path, sizeof(path), "%s/redfish", f->http);
	assert_int_equal(access(path, F_OK), 0);
	assert_ok(f, lb_boot_vmedia.clean_up_ramdisk(&f->env, &f->task,
	    &f->err));
	assert_int_equal(ejects, 2);
}

static void
test_clean_up_without_anything_published(void **state)
{
	struct fixture *f = *state;

	assert_ok(f, lb_boot_vmedia.clean_up_ramdisk(&f->env, &f->task,
	    &f->err));
	assert_int_equal(ejects, 1);
}

static void
test_prebuilt_iso_used_as_is(void **state)
{
	struct fixture *f = *state;
	char iso[512], path[2048];
	char *data;

	snprintf(iso, sizeof(iso), "%s/given.iso", f->top);
	write_file(iso, "PREBUILT ISO\n", 0644);
	f->images.iso = iso;
	/* a builder that would fail: it must not run */
	write_file(f->builder, "#!/bin/sh\nexit 9\n", 0755);
	assert_ok(f, prepare(f));
	published_path(f, path, sizeof(path));
	data = read_path(path);
	assert_string_equal(data, "PREBUILT ISO\n");
	free(data);
}

static void
test_builder_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char names[256];

	write_file(f->builder, "#!/bin/sh\necho half > \"$3\"\nexit 3\n",
	    0755);
	assert_int_equal(prepare(f), -EIO);
	assert_non_null(strstr(f->err.msg, "cannot build the rescue ISO"));
	assert_non_null(strstr(f->err.msg, "exited with status 3"));
	/* the token never reaches the error (the builder's output is dropped) */
	assert_null(strstr(f->err.msg, "Tok3n"));
	assert_int_equal(inserts, 0);
	assert_int_equal(node_files(f, names, sizeof(names)), 0);
}

static void
test_insert_failure_reported(void **state)
{
	struct fixture *f = *state;

	insert_result = -EIO;
	assert_int_equal(prepare(f), -EIO);
	/* The BMC's words, and where the BMC had to fetch the ISO from. */
	assert_string_equal(f->err.msg, "the rescue ISO could not be "
	    "inserted: BMC refused the image (the BMC downloads it from "
	    "[deploy] http_url http://10.99.0.1:8088)");
}

/*
 * A BMC that echoes the URL in its error: the ISO's random name reaches
 * neither the message (last_error, the log) nor anything else said.
 */
static int
echo_insert(const struct lb_task *task, const char *url, struct lb_err *err)
{
	(void)task;
	inserts++;
	snprintf(inserted_url, sizeof(inserted_url), "%s", url);
	return lb_err_set(err, -EIO, "cannot fetch '%s' (tried '%s' twice)",
	    url, url);
}

static void
test_insert_failure_hides_the_iso_name(void **state)
{
	struct fixture *f = *state;
	struct lb_management_ops echo = recorder;
	char stem[23], want[512];

	echo.insert_cd = echo_insert;
	use_media(&f->env, &echo);
	assert_int_equal(prepare(f), -EIO);
	snprintf(stem, sizeof(stem), "%.22s", strrchr(inserted_url, '/') + 1);
	assert_null(strstr(f->err.msg, stem));
	snprintf(want, sizeof(want), "the rescue ISO could not be inserted: "
	    "cannot fetch '%s/redfish/%s/\u2026.iso' (tried '%s/redfish/%s/"
	    "\u2026.iso' twice) (the BMC downloads it from [deploy] http_url "
	    "%s)", HTTP_URL, UUID, HTTP_URL, UUID, HTTP_URL);
	assert_string_equal(f->err.msg, want);
}

/*
 * [deploy] external_http_url: the BMC is handed that URL (it may not
 * reach http_url), the ISO published in the same place, and a failure
 * names the option the BMC was pointed at.
 */
static void
test_external_http_url_inserted(void **state)
{
	struct fixture *f = *state;
	const char *prefix = EXT_URL "/redfish/" UUID "/";
	char names[256];

	f->env.external_http_url = EXT_URL;
	assert_ok(f, prepare(f));
	assert_int_equal(inserts, 1);
	assert_true(strncmp(inserted_url, prefix, strlen(prefix)) == 0);
	assert_int_equal(node_files(f, names, sizeof(names)), 1);
	assert_string_equal(names, inserted_url + strlen(prefix));
	/* no http_url at all: virtual media needs only the BMC's URL */
	f->env.http_url = "";
	inserts = 0;
	assert_ok(f, prepare(f));
	assert_int_equal(inserts, 1);
	assert_true(strncmp(inserted_url, prefix, strlen(prefix)) == 0);
	insert_result = -EIO;
	assert_int_equal(prepare(f), -EIO);
	assert_string_equal(f->err.msg, "the rescue ISO could not be "
	    "inserted: BMC refused the image (the BMC downloads it from "
	    "[deploy] external_http_url " EXT_URL ")");
	/* "" is unset */
	insert_result = 0;
	f->env.http_url = HTTP_URL;
	f->env.external_http_url = "";
	assert_ok(f, prepare(f));
	assert_true(strncmp(inserted_url, HTTP_URL "/redfish/",
	    strlen(HTTP_URL "/redfish/")) == 0);
}

static void
test_refusals(void **state)
{
	struct fixture *f = *state;
	struct lb_management_ops none = { .name = "none" };

	f->env.http_url = "";
	assert_int_equal(prepare(f), -EINVAL);
	assert_string_equal(f->err.msg, "virtual media needs [deploy] "
	    "external_http_url or http_url");
	f->env.http_url = HTTP_URL;
	use_media(&f->env, &none);
	assert_int_equal(prepare(f), -ENOTSUP);
	assert_non_null(strstr(f->err.msg, "no virtual media"));
	use_media(&f->env, &recorder);
	f->task.node_uuid = "../../etc";
	assert_int_equal(prepare(f), -EINVAL);
	assert_int_equal(inserts, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_built_iso_published_and_inserted, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_external_http_url_inserted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_bootif_with_two_ports,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_each_rescue_gets_a_new_name, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_clean_up_ejects_and_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_clean_up_without_anything_published, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prebuilt_iso_used_as_is,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_builder_failure_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_failure_reported,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_builder_argv_has_no_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_insert_failure_hides_the_iso_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
