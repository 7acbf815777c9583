/*
 * test_redfish_parse.c - Redfish reply parsing (power/redfish_parse.c) over
 * recorded-style replies in tests/unit/fixtures/redfish, and the driver_info
 * checks of power/redfish_client.c (no network).  Single-threaded.
 * Fixtures: $LB_REDFISH_FIXTURES, else $LB_SOURCE_ROOT/REDFISH_FIXTURES.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "power/redfish_client.h"
#include "power/redfish_parse.h"
#include "conductor/util/banned.h"

#ifndef REDFISH_FIXTURES
#define REDFISH_FIXTURES "tests/unit/fixtures/redfish"
#endif

static char *
fixture(const char *name, size_t *ret_len)
{
	const char *dir = getenv("LB_REDFISH_FIXTURES");
	const char *root = getenv("LB_SOURCE_ROOT");
	char path[4096];
	char *data;
	long size;
	FILE *f;

	if (dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else if (root != NULL)
		snprintf(path, sizeof(path), "%s/%s/%s", root,
		    REDFISH_FIXTURES, name);
	else
		snprintf(path, sizeof(path), "%s/%s", REDFISH_FIXTURES, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open fixture '%s'", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	data[size] = '\0';
	fclose(f);
	*ret_len = (size_t)size;
	return data;
}

/* ---- redfish_address ---- */

static void
test_address_bare_host(void **state)
{
	struct lb_redfish_address a;

	(void)state;
	assert_int_equal(lb_redfish_address_parse("BMC-7.Example.org", &a,
	    NULL), 0);
	assert_string_equal(a.scheme, "https");
	assert_string_equal(a.host, "bmc-7.example.org");
	assert_int_equal(a.port, 443);
	assert_string_equal(a.root, "/redfish/v1/");
	assert_string_equal(a.base, "https://bmc-7.example.org:443");
}

static void
test_address_http_port_path(void **state)
{
	struct lb_redfish_address a;

	(void)state;
	assert_int_equal(lb_redfish_address_parse(
	    "HTTP://127.0.0.1:8000/custom/redfish/v1", &a, NULL), 0);
	assert_string_equal(a.scheme, "http");
	assert_int_equal(a.port, 8000);
	assert_string_equal(a.root, "/custom/redfish/v1/");
	assert_string_equal(a.base, "http://127.0.0.1:8000");
	assert_int_equal(lb_redfish_address_parse("http://h/", &a, NULL), 0);
	assert_int_equal(a.port, 80);
	assert_string_equal(a.root, "/redfish/v1/");
}

static void
test_address_ipv6(void **state)
{
	struct lb_redfish_address a;

	(void)state;
	assert_int_equal(lb_redfish_address_parse("https://[FD00::1]:8443",
	    &a, NULL), 0);
	assert_string_equal(a.host, "[fd00::1]");
	assert_int_equal(a.port, 8443);
	assert_string_equal(a.base, "https://[fd00::1]:8443");
	assert_int_equal(lb_redfish_address_parse("[::1]", &a, NULL), 0);
	assert_int_equal(a.port, 443);
	assert_int_equal(lb_redfish_address_parse("[::1", &a, NULL), -EINVAL);
	assert_int_equal(lb_redfish_address_parse("[zz::1]", &a, NULL),
	    -EINVAL);
	assert_int_equal(lb_redfish_address_parse("[::1]x", &a, NULL),
	    -EINVAL);
}

static void
test_address_invalid(void **state)
{
	static const char *const bad[] = {
		"ftp://bmc", "https://", "https://:443", "bmc:0", "bmc:65536",
		"bmc:80a", "bmc:", "bmc:123456", "https://bmc/x?y=1",
		"https://bmc#frag", "bmc with space", "bmc\n", "b!mc",
		"://bmc",
	};
	struct lb_redfish_address a;
	struct lb_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		if (lb_redfish_address_parse(bad[i], &a, &err) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err.msg, "redfish_address"));
	}
}

static void
test_address_userinfo_not_echoed(void **state)
{
	struct lb_redfish_address a;
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_redfish_address_parse(
	    "https://admin:s3cr3tpw@bmc:443/", &a, &err), -EINVAL);
	assert_null(strstr(err.msg, "s3cr3tpw"));
	assert_non_null(strstr(err.msg, "redfish_password"));
}

static void
test_path_is_valid(void **state)
{
	char long_path[LB_REDFISH_PATH_MAX + 8];

	(void)state;
	assert_true(lb_redfish_path_is_valid("/redfish/v1/Systems/1"));
	assert_false(lb_redfish_path_is_valid(NULL));
	assert_false(lb_redfish_path_is_valid(""));
	assert_false(lb_redfish_path_is_valid("redfish/v1"));
	assert_false(lb_redfish_path_is_valid("https://x/redfish"));
	assert_false(lb_redfish_path_is_valid("/a b"));
	assert_false(lb_redfish_path_is_valid("/a\r\nHost: x"));
	assert_false(lb_redfish_path_is_valid("/caf\xc3\xa9"));
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_false(lb_redfish_path_is_valid(long_path));
	long_path[LB_REDFISH_PATH_MAX - 1] = '\0';
	assert_true(lb_redfish_path_is_valid(long_path));
}

/* ---- service root ---- */

static void
test_root_dmtf(void **state)
{
	struct lb_redfish_root *root;
	size_t len;
	char *body = fixture("root_dmtf.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_root_parse(body, len, &root, NULL), 0);
	assert_string_equal(root->redfish_version, "1.11.0");
	assert_string_equal(root->systems, "/redfish/v1/Systems");
	assert_string_equal(root->managers, "/redfish/v1/Managers");
	assert_string_equal(root->session_service,
	    "/redfish/v1/SessionService");
	assert_string_equal(root->sessions,
	    "/redfish/v1/SessionService/Sessions");
	lb_redfish_root_free(root);
	free(body);
}

static void
test_root_sushy_tools_no_sessions(void **state)
{
	struct lb_redfish_root *root;
	size_t len;
	char *body = fixture("root_sushy_tools.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_root_parse(body, len, &root, NULL), 0);
	assert_string_equal(root->systems, "/redfish/v1/Systems");
	assert_null(root->session_service);
	assert_null(root->sessions);
	lb_redfish_root_free(root);
	free(body);
}

static void
test_root_sessions_derived(void **state)
{
	struct lb_redfish_root *root;
	size_t len;
	char *body = fixture("root_session_service_only.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_root_parse(body, len, &root, NULL), 0);
	assert_string_equal(root->sessions,
	    "/redfish/v1/SessionService/Sessions");
	lb_redfish_root_free(root);
	free(body);
}

static void
test_root_rejects(void **state)
{
	struct lb_redfish_root *root = NULL;
	struct lb_err err;
	size_t len;
	char *body = fixture("root_no_systems.json", &len);

	(void)state;
	/* An absolute URL to another host is not a Systems link. */
	assert_int_equal(lb_redfish_root_parse(body, len, &root, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "Systems"));
	free(body);
	body = fixture("html_error.txt", &len);
	assert_int_equal(lb_redfish_root_parse(body, len, &root, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "not JSON"));
	free(body);
	assert_int_equal(lb_redfish_root_parse("[1,2]", 5, &root, &err),
	    -EINVAL);
	assert_int_equal(lb_redfish_root_parse(NULL, 0, &root, &err), -EINVAL);
	assert_int_equal(lb_redfish_root_parse("{\"Systems\"", 10, &root,
	    &err), -EINVAL);
	assert_null(root);
}

/* ---- collections ---- */

static void
test_collection_one(void **state)
{
	struct lb_redfish_collection *coll;
	size_t len;
	char *body = fixture("systems_one.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_collection_parse(body, len, &coll, NULL),
	    0);
	assert_int_equal(coll->members.n, 1);
	assert_int_equal(coll->count, 1);
	assert_string_equal(coll->members.v[0],
	    "/redfish/v1/Systems/437XR1138R2");
	lb_redfish_collection_free(coll);
	free(body);
}

static void
test_collection_two_and_empty(void **state)
{
	struct lb_redfish_collection *coll;
	size_t len;
	char *body = fixture("systems_two.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_collection_parse(body, len, &coll, NULL),
	    0);
	assert_int_equal(coll->members.n, 2);
	assert_string_equal(coll->members.v[1], "/redfish/v1/Systems/node-1");
	lb_redfish_collection_free(coll);
	free(body);
	body = fixture("systems_empty.json", &len);
	assert_int_equal(lb_redfish_collection_parse(body, len, &coll, NULL),
	    0);
	assert_int_equal(coll->members.n, 0);
	assert_null(coll->members.v);
	assert_int_equal(coll->count, 0);
	lb_redfish_collection_free(coll);
	free(body);
}

static void
test_collection_bad_members_skipped(void **state)
{
	struct lb_redfish_collection *coll;
	size_t len;
	char *body = fixture("systems_bad_members.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_collection_parse(body, len, &coll, NULL),
	    0);
	assert_int_equal(coll->members.n, 2);
	assert_string_equal(coll->members.v[0], "/redfish/v1/Systems/ok");
	assert_string_equal(coll->members.v[1], "/redfish/v1/Systems/ok2");
	assert_int_equal(coll->count, -1);
	lb_redfish_collection_free(coll);
	free(body);
}

static void
test_collection_no_members(void **state)
{
	struct lb_redfish_collection *coll;
	struct lb_err err;
	const char *body = "{\"Members\": {\"@odata.id\": \"/x\"}}";

	(void)state;
	assert_int_equal(lb_redfish_collection_parse(body, strlen(body), &coll,
	    &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Members"));
}

static void
test_collection_bounded(void **state)
{
	struct lb_redfish_collection *coll;
	json_t *j = json_object(), *members = json_array();
	char path[64], *body;

	(void)state;
	for (int i = 0; i < LB_REDFISH_LIST_MAX + 50; i++) {
		snprintf(path, sizeof(path), "/redfish/v1/Systems/%d", i);
		json_array_append_new(members, json_pack("{s:s}", "@odata.id",
		    path));
	}
	json_object_set_new(j, "Members", members);
	body = json_dumps(j, 0);
	assert_int_equal(lb_redfish_collection_parse(body, strlen(body), &coll,
	    NULL), 0);
	assert_int_equal(coll->members.n, LB_REDFISH_LIST_MAX);
	lb_redfish_collection_free(coll);
	free(body);
	json_decref(j);
}

/* ---- ComputerSystem ---- */

static void
test_system_dmtf(void **state)
{
	struct lb_redfish_system *sys;
	size_t len;
	char *body = fixture("system_dmtf.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_string_equal(sys->odata_id, "/redfish/v1/Systems/437XR1138R2");
	assert_string_equal(sys->etag, "W/\"3b2e8f1a\"");
	assert_string_equal(sys->power_state_raw, "On");
	assert_int_equal(sys->power_state, LB_POWER_ON);
	assert_string_equal(sys->boot_target, "Pxe");
	assert_string_equal(sys->boot_enabled, "Once");
	assert_string_equal(sys->boot_mode, "UEFI");
	assert_int_equal(sys->boot_target_allowed.n, 10);
	assert_true(lb_redfish_strv_contains(&sys->boot_target_allowed,
	    "BiosSetup"));
	assert_false(lb_redfish_strv_contains(&sys->boot_target_allowed,
	    "UefiHttp"));
	assert_int_equal(sys->boot_enabled_allowed.n, 0);
	assert_string_equal(sys->reset_target,
	    "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset");
	assert_int_equal(sys->reset_allowed.n, 8);
	assert_true(lb_redfish_strv_contains(&sys->reset_allowed, "ForceOff"));
	assert_null(sys->reset_action_info);
	assert_int_equal(sys->managed_by.n, 1);
	assert_string_equal(sys->managed_by.v[0], "/redfish/v1/Managers/BMC");
	assert_null(sys->virtual_media);
	lb_redfish_system_free(sys);
	free(body);
}

static void
test_system_sushy_tools(void **state)
{
	struct lb_redfish_system *sys;
	size_t len;
	char *body = fixture("system_sushy_tools.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_int_equal(sys->power_state, LB_POWER_OFF);
	assert_null(sys->etag);
	assert_string_equal(sys->boot_enabled, "Continuous");
	assert_string_equal(sys->boot_target, "Hdd");
	assert_string_equal(sys->boot_mode, "Legacy");
	assert_int_equal(sys->boot_target_allowed.n, 3);
	assert_false(lb_redfish_strv_contains(&sys->boot_target_allowed,
	    "BiosSetup"));
	assert_true(lb_redfish_strv_contains(&sys->reset_allowed,
	    "GracefulShutdown"));
	assert_string_equal(sys->virtual_media, "/redfish/v1/Systems/"
	    "c4a1b2d3-0f1e-4d5c-9b8a-7e6f5d4c3b2a/VirtualMedia");
	assert_string_equal(sys->managed_by.v[0], "/redfish/v1/Managers/"
	    "58893887-8974-2487-2389-841168418919");
	lb_redfish_system_free(sys);
	free(body);
}

static void
test_system_powering_on_action_info(void **state)
{
	struct lb_redfish_system *sys;
	size_t len;
	char *body = fixture("system_powering_on.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_int_equal(sys->power_state, LB_POWER_ON);
	assert_string_equal(sys->boot_enabled, "Disabled");
	assert_string_equal(sys->boot_target, "None");
	assert_null(sys->boot_mode);
	assert_int_equal(sys->boot_enabled_allowed.n, 2);
	assert_int_equal(sys->boot_mode_allowed.n, 1);
	assert_string_equal(sys->boot_mode_allowed.v[0], "UEFI");
	assert_int_equal(sys->reset_allowed.n, 0);
	assert_string_equal(sys->reset_action_info,
	    "/redfish/v1/Systems/1/ResetActionInfo");
	lb_redfish_system_free(sys);
	free(body);
}

static void
test_system_paused_and_minimal(void **state)
{
	struct lb_redfish_system *sys;
	enum lb_boot_device dev;
	size_t len;
	char *body = fixture("system_paused.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_int_equal(sys->power_state, LB_POWER_UNKNOWN);
	assert_string_equal(sys->power_state_raw, "Paused");
	assert_int_equal(lb_redfish_boot_target_parse(sys->boot_target, &dev),
	    0);
	assert_int_equal(dev, LB_BOOT_DEV_CDROM);
	lb_redfish_system_free(sys);
	free(body);
	body = fixture("system_minimal.json", &len);
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_int_equal(sys->power_state, LB_POWER_UNKNOWN);
	assert_null(sys->power_state_raw);
	assert_null(sys->reset_target);
	assert_null(sys->boot_target);
	assert_int_equal(sys->managed_by.n, 0);
	lb_redfish_system_free(sys);
	free(body);
}

static void
test_system_bad_types_ignored(void **state)
{
	struct lb_redfish_system *sys;
	size_t len;
	char *body = fixture("system_bad_types.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_null(sys->odata_id);
	assert_null(sys->etag);
	assert_null(sys->power_state_raw);
	assert_int_equal(sys->power_state, LB_POWER_UNKNOWN);
	assert_null(sys->boot_target);
	/* A target with CR LF or another host must never reach a URL. */
	assert_null(sys->reset_target);
	assert_int_equal(sys->reset_allowed.n, 0);
	assert_null(sys->virtual_media);
	assert_int_equal(sys->managed_by.n, 0);
	lb_redfish_system_free(sys);
	free(body);
}

static void
test_system_boot_bad_types(void **state)
{
	struct lb_redfish_system *sys;
	size_t len;
	char *body = fixture("system_boot_bad_types.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, NULL), 0);
	assert_int_equal(sys->power_state, LB_POWER_ON);
	assert_null(sys->boot_enabled);
	assert_null(sys->boot_target);
	assert_null(sys->boot_mode);
	assert_int_equal(sys->boot_target_allowed.n, 2);
	assert_string_equal(sys->boot_target_allowed.v[1], "Hdd");
	assert_int_equal(sys->managed_by.n, 1);
	assert_null(sys->reset_target);
	lb_redfish_system_free(sys);
	free(body);
}

static void
test_system_not_object(void **state)
{
	struct lb_redfish_system *sys = NULL;
	struct lb_err err;
	const char *body;

	(void)state;
	assert_int_equal(lb_redfish_system_parse("\"On\"", 4, &sys, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "System"));
	body = "{\"PowerState\": \"On\"} x";
	assert_int_equal(lb_redfish_system_parse(body, strlen(body), &sys,
	    &err), -EINVAL);
	/* A NUL inside a string is refused, not cut short. */
	body = "{\"PowerState\": \"On\\u0000x\"}";
	assert_int_equal(lb_redfish_system_parse(body, strlen(body), &sys,
	    &err), -EINVAL);
	assert_null(sys);
	lb_redfish_system_free(NULL);
}

/* ---- Manager and VirtualMedia ---- */

static void
test_manager(void **state)
{
	struct lb_redfish_manager *mgr;
	size_t len;
	char *body = fixture("manager_bmc.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_manager_parse(body, len, &mgr, NULL), 0);
	assert_string_equal(mgr->odata_id, "/redfish/v1/Managers/BMC");
	assert_string_equal(mgr->manager_type, "BMC");
	assert_string_equal(mgr->virtual_media,
	    "/redfish/v1/Managers/BMC/VirtualMedia");
	lb_redfish_manager_free(mgr);
	free(body);
}

static void
test_vmedia_collection(void **state)
{
	struct lb_redfish_collection *coll;
	size_t len;
	char *body = fixture("vmedia_collection.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_collection_parse(body, len, &coll, NULL),
	    0);
	assert_int_equal(coll->members.n, 2);
	assert_string_equal(coll->members.v[1],
	    "/redfish/v1/Managers/BMC/VirtualMedia/CD1");
	lb_redfish_collection_free(coll);
	free(body);
}

static void
test_vmedia_inserted(void **state)
{
	struct lb_redfish_vmedia *vm;
	size_t len;
	char *body = fixture("vmedia_cd_inserted.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_vmedia_parse(body, len, &vm, NULL), 0);
	assert_true(vm->inserted);
	assert_true(vm->write_protected);
	assert_true(lb_redfish_strv_contains(&vm->media_types, "CD"));
	assert_true(lb_redfish_strv_contains(&vm->media_types, "DVD"));
	assert_non_null(strstr(vm->image, "boot-1be26c0b"));
	assert_non_null(strstr(vm->insert_target, "VirtualMedia.InsertMedia"));
	assert_non_null(strstr(vm->eject_target, "VirtualMedia.EjectMedia"));
	lb_redfish_vmedia_free(vm);
	free(body);
}

static void
test_vmedia_empty(void **state)
{
	struct lb_redfish_vmedia *vm;
	size_t len;
	char *body = fixture("vmedia_cd_empty.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_vmedia_parse(body, len, &vm, NULL), 0);
	assert_false(vm->inserted);
	assert_false(vm->write_protected);
	assert_null(vm->image);
	assert_string_equal(vm->etag, "\"cd1-7\"");
	assert_string_equal(vm->eject_target, "/redfish/v1/Managers/BMC/"
	    "VirtualMedia/CD1/Actions/VirtualMedia.EjectMedia");
	lb_redfish_vmedia_free(vm);
	free(body);
}

static void
test_vmedia_inferred_and_patch_only(void **state)
{
	struct lb_redfish_vmedia *vm;
	size_t len;
	char *body = fixture("vmedia_no_inserted.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_vmedia_parse(body, len, &vm, NULL), 0);
	assert_true(vm->inserted);	/* no Inserted, but an Image */
	assert_true(vm->write_protected);
	assert_null(vm->insert_target);
	lb_redfish_vmedia_free(vm);
	free(body);
	body = fixture("vmedia_floppy_patch.json", &len);
	assert_int_equal(lb_redfish_vmedia_parse(body, len, &vm, NULL), 0);
	assert_false(vm->inserted);	/* "no" is not a boolean */
	assert_null(vm->image);
	assert_false(lb_redfish_strv_contains(&vm->media_types, "CD"));
	assert_true(lb_redfish_strv_contains(&vm->media_types, "USBStick"));
	assert_null(vm->insert_target);
	assert_null(vm->eject_target);
	lb_redfish_vmedia_free(vm);
	free(body);
}

static void
test_odata_id(void **state)
{
	char out[LB_REDFISH_PATH_MAX], tiny[8];
	size_t len;
	char *body = fixture("session_created.json", &len);

	(void)state;
	assert_int_equal(lb_redfish_odata_id_parse(body, len, out, sizeof(out)),
	    0);
	assert_string_equal(out,
	    "/redfish/v1/SessionService/Sessions/1234567890ABCDEF");
	assert_int_equal(lb_redfish_odata_id_parse(body, len, tiny,
	    sizeof(tiny)), -ENOSPC);
	free(body);
	assert_int_equal(lb_redfish_odata_id_parse("{}", 2, out, sizeof(out)),
	    -EINVAL);
	assert_int_equal(lb_redfish_odata_id_parse("nope", 4, out,
	    sizeof(out)), -EINVAL);
}

/* ---- error bodies ---- */

static void
test_error_extended(void **state)
{
	char out[512];
	size_t len;
	char *body = fixture("error_extended.json", &len);

	(void)state;
	assert_true(lb_redfish_error_summary(body, len, out, sizeof(out)) > 0);
	assert_string_equal(out, "The value Continuous for the property "
	    "BootSourceOverrideEnabled is not in the list of acceptable "
	    "values.; The property BootSourceOverrideMode is a read only "
	    "property and cannot be assigned a value.");
	free(body);
}

static void
test_error_fallbacks(void **state)
{
	char out[256];
	size_t len;
	char *body;

	(void)state;
	body = fixture("error_sushy_tools.json", &len);
	lb_redfish_error_summary(body, len, out, sizeof(out));
	assert_string_equal(out, "Requested resource not found");
	free(body);
	body = fixture("error_ids_only.json", &len);
	lb_redfish_error_summary(body, len, out, sizeof(out));
	assert_string_equal(out,
	    "Base.1.4.ResourceInUse; Base.1.4.ActionNotSupported");
	free(body);
	body = fixture("error_code_only.json", &len);
	lb_redfish_error_summary(body, len, out, sizeof(out));
	assert_string_equal(out, "iLO.2.14.UnauthorizedLoginAttempt");
	free(body);
	body = fixture("error_top_level_info.json", &len);
	lb_redfish_error_summary(body, len, out, sizeof(out));
	/* The newline became a space. */
	assert_string_equal(out, "Reset operation is not allowed when the "
	    "system is already powered on.");
	free(body);
}

static void
test_error_nothing_usable(void **state)
{
	char out[64];
	size_t len;
	char *body = fixture("html_error.txt", &len);

	(void)state;
	assert_int_equal(lb_redfish_error_summary(body, len, out, sizeof(out)),
	    0);
	assert_string_equal(out, "");
	free(body);
	assert_int_equal(lb_redfish_error_summary(NULL, 0, out, sizeof(out)),
	    0);
	assert_int_equal(lb_redfish_error_summary("{}", 2, out, sizeof(out)),
	    0);
	assert_int_equal(lb_redfish_error_summary("{\"error\": 5}", 12, out,
	    sizeof(out)), 0);
	assert_int_equal(lb_redfish_error_summary("{}", 2, out, 0), 0);
}

static void
test_error_truncated_utf8(void **state)
{
	/* "ééééé…": two bytes each, cut must not split one. */
	const char *body = "{\"error\": {\"message\": \"\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\"}}";
	char out[6];
	json_t *j;
	size_t n;

	(void)state;
	n = lb_redfish_error_summary(body, strlen(body), out, sizeof(out));
	assert_int_equal(n, 4);
	assert_string_equal(out, "\xc3\xa9\xc3\xa9");
	j = json_string(out);	/* still valid UTF-8 */
	assert_non_null(j);
	json_decref(j);
}

/* ---- value maps ---- */

static void
test_power_state_map(void **state)
{
	(void)state;
	assert_int_equal(lb_redfish_power_state_map("On"), LB_POWER_ON);
	assert_int_equal(lb_redfish_power_state_map("PoweringOn"), LB_POWER_ON);
	assert_int_equal(lb_redfish_power_state_map("Off"), LB_POWER_OFF);
	assert_int_equal(lb_redfish_power_state_map("PoweringOff"),
	    LB_POWER_OFF);
	assert_int_equal(lb_redfish_power_state_map("Paused"),
	    LB_POWER_UNKNOWN);
	assert_int_equal(lb_redfish_power_state_map(""), LB_POWER_UNKNOWN);
	assert_int_equal(lb_redfish_power_state_map(NULL), LB_POWER_UNKNOWN);
}

static void
test_boot_maps(void **state)
{
	enum lb_boot_device dev;

	(void)state;
	assert_string_equal(lb_redfish_boot_target_name(LB_BOOT_DEV_PXE),
	    "Pxe");
	assert_string_equal(lb_redfish_boot_target_name(LB_BOOT_DEV_DISK),
	    "Hdd");
	assert_string_equal(lb_redfish_boot_target_name(LB_BOOT_DEV_CDROM),
	    "Cd");
	assert_string_equal(lb_redfish_boot_target_name(LB_BOOT_DEV_BIOS),
	    "BiosSetup");
	assert_int_equal(lb_redfish_boot_target_parse("Hdd", &dev), 0);
	assert_int_equal(dev, LB_BOOT_DEV_DISK);
	assert_int_equal(lb_redfish_boot_target_parse("BiosSetup", &dev), 0);
	assert_int_equal(dev, LB_BOOT_DEV_BIOS);
	assert_int_equal(lb_redfish_boot_target_parse("None", &dev), -EINVAL);
	assert_int_equal(lb_redfish_boot_target_parse("pxe", &dev), -EINVAL);
	assert_int_equal(lb_redfish_boot_target_parse(NULL, &dev), -EINVAL);
	assert_string_equal(lb_redfish_boot_mode_name(LB_BOOT_MODE_UEFI),
	    "UEFI");
	assert_string_equal(lb_redfish_boot_mode_name(LB_BOOT_MODE_BIOS),
	    "Legacy");
	assert_null(lb_redfish_boot_mode_name(LB_BOOT_MODE_UNSET));
}

/* ---- driver_info (redfish_client.c, no traffic) ---- */

static int
info_parse(const char *json, struct lb_redfish_info **ret,
    struct lb_err *err)
{
	json_t *di = json_loads(json, 0, NULL);
	int r;

	assert_non_null(di);
	r = lb_redfish_info_parse(di, ret, err);
	json_decref(di);
	return r;
}

static void
test_info_missing_address(void **state)
{
	struct lb_redfish_info *info;
	struct lb_err err;

	(void)state;
	assert_int_equal(info_parse("{\"redfish_username\": \"u\"}", &info,
	    &err), -EINVAL);
	assert_string_equal(err.msg, "Missing the following Redfish "
	    "properties in node's driver_info: redfish_address");
	assert_int_equal(info_parse("{\"redfish_address\": \"\"}", &info,
	    &err), -EINVAL);
	assert_int_equal(info_parse("{\"redfish_address\": 5}", &info, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "redfish_address"));
}

static void
test_info_defaults_and_values(void **state)
{
	struct lb_redfish_info *info;

	(void)state;
	assert_int_equal(info_parse("{\"redfish_address\": \"10.0.0.5\"}",
	    &info, NULL), 0);
	assert_string_equal(info->address.base, "https://10.0.0.5:443");
	assert_true(info->verify);
	assert_null(info->ca_path);
	assert_int_equal(info->auth, LB_REDFISH_AUTH_AUTO);
	assert_null(info->username);
	assert_null(info->system_id);
	lb_redfish_info_free(info);
	assert_int_equal(info_parse("{\"redfish_address\": \"http://h:8000\", "
	    "\"redfish_system_id\": \"/redfish/v1/Systems/1\", "
	    "\"redfish_username\": \"admin\", \"redfish_password\": \"pw\", "
	    "\"redfish_verify_ca\": \"False\", \"redfish_auth_type\": "
	    "\"session\"}", &info, NULL), 0);
	assert_string_equal(info->system_id, "/redfish/v1/Systems/1");
	assert_string_equal(info->username, "admin");
	assert_string_equal(info->password, "pw");
	assert_false(info->verify);
	assert_int_equal(info->auth, LB_REDFISH_AUTH_SESSION);
	lb_redfish_info_free(info);
	assert_int_equal(info_parse("{\"redfish_address\": \"h\", "
	    "\"redfish_verify_ca\": \"/\", \"redfish_auth_type\": \"basic\", "
	    "\"redfish_system_id\": \"node-1\"}", &info, NULL), 0);
	assert_true(info->verify);
	assert_string_equal(info->ca_path, "/");
	assert_true(info->ca_is_dir);
	assert_int_equal(info->auth, LB_REDFISH_AUTH_BASIC);
	assert_string_equal(info->system_id, "node-1");
	lb_redfish_info_free(info);
}

static void
test_info_invalid_values(void **state)
{
	struct lb_redfish_info *info;
	struct lb_err err;

	(void)state;
	assert_int_equal(info_parse("{\"redfish_address\": \"h\", "
	    "\"redfish_auth_type\": \"digest\"}", &info, &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid value \"digest\" set in "
	    "driver_info/redfish_auth_type. The value should be one of "
	    "\"basic, session, auto\"");
	assert_int_equal(info_parse("{\"redfish_address\": \"h\", "
	    "\"redfish_verify_ca\": \"ca.pem\"}", &info, &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid value type set in "
	    "driver_info/redfish_verify_ca. The value should be a Boolean or "
	    "the absolute path to a file/directory, not \"ca.pem\"");
	assert_int_equal(info_parse("{\"redfish_address\": \"h\", "
	    "\"redfish_verify_ca\": 1}", &info, &err), -EINVAL);
	assert_int_equal(info_parse("{\"redfish_address\": \"h\", "
	    "\"redfish_system_id\": \"a/../b c\"}", &info, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "redfish_system_id"));
	assert_int_equal(info_parse("{\"redfish_address\": \"h\", "
	    "\"redfish_password\": 12345678}", &info, &err), -EINVAL);
	assert_null(strstr(err.msg, "12345678"));
}

/*
 * Whether a path exists on the conductor is none of an API user's business:
 * an existing file, a missing one and one that cannot be read are all taken
 * alike (a bad one fails later, at the BMC, like an untrusted certificate).
 */
static void
test_info_verify_ca_is_no_oracle(void **state)
{
	static const char *const paths[] = { "/etc/hostname", "/no/such/ca.pem",
	    "/etc/shadow", "/proc/self/environ" };
	struct lb_redfish_info *info;
	struct lb_err err;
	char body[256];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(body, sizeof(body), "{\"redfish_address\": \"h\", "
		    "\"redfish_verify_ca\": \"%s\"}", paths[i]);
		memset(&err, 0, sizeof(err));
		assert_int_equal(info_parse(body, &info, &err), 0);
		assert_string_equal(err.msg, "");
		assert_true(info->verify);
		assert_string_equal(info->ca_path, paths[i]);
		assert_false(info->ca_is_dir);
		lb_redfish_info_free(info);
	}
}

static void
test_bmc_key(void **state)
{
	json_t *di = json_pack("{s:s}", "redfish_address",
	    "HTTPS://Bmc.Example:8443/redfish/v1/");
	char key[64], tiny[8];

	(void)state;
	assert_int_equal(lb_redfish_bmc_key(di, key, sizeof(key)), 0);
	assert_string_equal(key, "redfish:https://bmc.example:8443");
	assert_int_equal(lb_redfish_bmc_key(di, tiny, sizeof(tiny)), -EINVAL);
	json_object_set_new(di, "redfish_address", json_string("10.1.2.3"));
	assert_int_equal(lb_redfish_bmc_key(di, key, sizeof(key)), 0);
	assert_string_equal(key, "redfish:https://10.1.2.3:443");
	json_object_del(di, "redfish_address");
	assert_int_equal(lb_redfish_bmc_key(di, key, sizeof(key)), -EINVAL);
	json_decref(di);
}

static void
test_ops_exported(void **state)
{
	(void)state;
	assert_string_equal(lb_power_redfish.name, "redfish");
	assert_string_equal(lb_management_redfish.name, "redfish");
	assert_non_null(lb_power_redfish.set_state);
	assert_non_null(lb_management_redfish.get_boot_device);
	assert_int_equal(lb_redfish_session_count(), 0);
	lb_redfish_shutdown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_bare_host),
		cmocka_unit_test(test_address_http_port_path),
		cmocka_unit_test(test_address_ipv6),
		cmocka_unit_test(test_address_invalid),
		cmocka_unit_test(test_address_userinfo_not_echoed),
		cmocka_unit_test(test_path_is_valid),
		cmocka_unit_test(test_root_dmtf),
		cmocka_unit_test(test_root_sushy_tools_no_sessions),
		cmocka_unit_test(test_root_sessions_derived),
		cmocka_unit_test(test_root_rejects),
		cmocka_unit_test(test_collection_one),
		cmocka_unit_test(test_collection_two_and_empty),
		cmocka_unit_test(test_collection_bad_members_skipped),
		cmocka_unit_test(test_collection_no_members),
		cmocka_unit_test(test_collection_bounded),
		cmocka_unit_test(test_system_dmtf),
		cmocka_unit_test(test_system_sushy_tools),
		cmocka_unit_test(test_system_powering_on_action_info),
		cmocka_unit_test(test_system_paused_and_minimal),
		cmocka_unit_test(test_system_bad_types_ignored),
		cmocka_unit_test(test_system_boot_bad_types),
		cmocka_unit_test(test_system_not_object),
		cmocka_unit_test(test_manager),
		cmocka_unit_test(test_vmedia_collection),
		cmocka_unit_test(test_vmedia_inserted),
		cmocka_unit_test(test_vmedia_empty),
		cmocka_unit_test(test_vmedia_inferred_and_patch_only),
		cmocka_unit_test(test_odata_id),
		cmocka_unit_test(test_error_extended),
		cmocka_unit_test(test_error_fallbacks),
		cmocka_unit_test(test_error_nothing_usable),
		cmocka_unit_test(test_error_truncated_utf8),
		cmocka_unit_test(test_power_state_map),
		cmocka_unit_test(test_boot_maps),
		cmocka_unit_test(test_info_missing_address),
		cmocka_unit_test(test_info_defaults_and_values),
		cmocka_unit_test(test_info_invalid_values),
		cmocka_unit_test(test_info_verify_ca_is_no_oracle),
		cmocka_unit_test(test_bmc_key),
		cmocka_unit_test(test_ops_exported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
