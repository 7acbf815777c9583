/*
 * test_redfish_quirks.c - the vendor quirk table (power/redfish_quirks.c)
 * against recorded-style System/Manager replies of Supermicro, AMI, Dell
 * and HPE BMCs (tests/unit/fixtures/redfish/vendor_*.json), and the
 * requests the redfish driver sends for each (virtual media insert/eject,
 * boot override, power on after 409), through a fake BMC plugged in as the
 * Redfish transport: no network, no sleeping.  Single-threaded.
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
#include "power/redfish_quirks.h"
#include "power/redfish_vmedia.h"
#include "conductor/util/banned.h"

#ifndef REDFISH_FIXTURES
#define REDFISH_FIXTURES "tests/unit/fixtures/redfish"
#endif

#define URL "http://10.0.0.1:8080/redfish/boot-3f2a.iso"
#define LOG_MAX 64

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
	if (ret_len != NULL)
		*ret_len = (size_t)size;
	return data;
}

/* ---- the fake BMC ---- */

/*
 * One scripted answer.  Routes are tried in order; one with 'times' > 0 is
 * used up after that many answers, so a later route for the same request
 * takes over (a slot that reads inserted once, then empty).
 */
struct route {
	const char *method;
	const char *path;
	long status;
	const char *file;	/* a fixture, or */
	const char *text;	/* an inline body, or neither */
	const char *allow;
	const char *etag;
	int times;
	int used;
};

#define ANSWER(m, p, st, f, t) { m, p, st, f, t, NULL, NULL, 0, 0 }
#define GET_FILE(p, f) ANSWER("GET", p, 200, f, NULL)
#define GET_TEXT(p, t) ANSWER("GET", p, 200, NULL, t)
#define OK(m, p) ANSWER(m, p, 204, NULL, NULL)

struct exchange {
	char method[8];
	char path[256];
	json_t *body;
	bool has_body;
	char if_match[64];
};

static struct {
	struct route *routes;
	size_t nroutes;
	struct exchange log[LOG_MAX];
	size_t nlog;
	double clock;
	unsigned int slept;
} fake;

static int
fake_request(void *ctx, const char *method, const char *path,
    const char *body, const char *if_match, struct lb_redfish_reply *reply)
{
	struct exchange *ex;
	struct route *rt = NULL;
	const char *text;

	(void)ctx;
	assert_true(fake.nlog < LOG_MAX);
	ex = &fake.log[fake.nlog++];
	snprintf(ex->method, sizeof(ex->method), "%s", method);
	snprintf(ex->path, sizeof(ex->path), "%s", path);
	snprintf(ex->if_match, sizeof(ex->if_match), "%s",
	    if_match != NULL ? if_match : "");
	ex->has_body = body != NULL;
	if (body != NULL) {
		ex->body = json_loads(body, 0, NULL);
		assert_non_null(ex->body);
	}
	for (size_t i = 0; i < fake.nroutes && rt == NULL; i++) {
		struct route *c = &fake.routes[i];

		if (strcmp(c->method, method) == 0 &&
		    strcmp(c->path, path) == 0 &&
		    (c->times == 0 || c->used < c->times)) {
			c->used++;
			rt = c;
		}
	}
	if (rt == NULL) {
		reply->status = 404;
		reply->body = strdup("{\"error\": {\"code\": "
		    "\"Base.1.8.ResourceMissingAtURI\", \"message\": "
		    "\"not scripted\"}}");
	} else {
		reply->status = rt->status;
		if (rt->file != NULL)
			reply->body = fixture(rt->file, NULL);
		else if ((text = rt->text) != NULL)
			reply->body = strdup(text);
		reply->allow = rt->allow != NULL ? strdup(rt->allow) : NULL;
		reply->etag = rt->etag != NULL ? strdup(rt->etag) : NULL;
	}
	reply->len = reply->body != NULL ? strlen(reply->body) : 0;
	return 0;
}

static void
fake_sleep(void *ctx, unsigned int s)
{
	(void)ctx;
	fake.slept += s;
	fake.clock += s;
}

static double
fake_now(void *ctx)
{
	(void)ctx;
	return fake.clock;
}

static const struct lb_redfish_transport fake_transport = {
	.request = fake_request,
	.sleep = fake_sleep,
	.now = fake_now,
};

static void
fake_log_clear(void)
{
	for (size_t i = 0; i < fake.nlog; i++)
		json_decref(fake.log[i].body);
	memset(fake.log, 0, sizeof(fake.log));
	fake.nlog = 0;
	fake.slept = 0;
}

static void
fake_start(struct route *routes, size_t n)
{
	fake_log_clear();
	for (size_t i = 0; i < n; i++)
		routes[i].used = 0;
	fake.routes = routes;
	fake.nroutes = n;
	fake.clock = 1000;
	lb_redfish_transport_set(&fake_transport);
}

#define FAKE(r) fake_start((r), sizeof(r) / sizeof((r)[0]))

static int
teardown(void **state)
{
	(void)state;
	fake_log_clear();
	lb_redfish_transport_set(NULL);
	return 0;
}

/* The k-th (0-based) exchange with 'method'. */
static const struct exchange *
nth(const char *method, size_t k)
{
	size_t seen = 0;

	for (size_t i = 0; i < fake.nlog; i++)
		if (strcmp(fake.log[i].method, method) == 0 && seen++ == k)
			return &fake.log[i];
	fail_msg("no %s number %zu", method, k);
	return NULL;
}

static size_t
count(const char *method, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < fake.nlog; i++)
		n += strcmp(fake.log[i].method, method) == 0 &&
		    (path == NULL || strcmp(fake.log[i].path, path) == 0);
	return n;
}

static void
assert_exchange(const struct exchange *ex, const char *path,
    const char *body)
{
	json_t *want;

	assert_string_equal(ex->path, path);
	if (body == NULL) {
		assert_false(ex->has_body);
		return;
	}
	want = json_loads(body, 0, NULL);
	assert_non_null(want);
	if (!json_equal(want, ex->body)) {
		char *got = json_dumps(ex->body, JSON_SORT_KEYS);

		fail_msg("%s %s: body %s, wanted %s", ex->method, path, got,
		    body);
	}
	json_decref(want);
}

/* driver_internal_info's quirk list equals the JSON array 'names'. */
static void
assert_quirks(const json_t *internal, const char *names)
{
	json_t *want = json_loads(names, 0, NULL);
	json_t *got = json_object_get(internal, LB_REDFISH_QUIRKS_KEY);

	assert_non_null(want);
	if (got == NULL)
		got = json_array();
	else
		json_incref(got);
	if (!json_equal(want, got)) {
		char *s = json_dumps(got, 0);

		fail_msg("quirks %s, wanted %s", s, names);
	}
	json_decref(want);
	json_decref(got);
}

struct node {
	json_t *di;
	json_t *internal;
	struct lb_task task;
};

static void
node_init(struct node *n, const char *system_path)
{
	n->di = json_pack("{s:s, s:s}", "redfish_address", "http://bmc.test",
	    "redfish_system_id", system_path);
	n->internal = json_object();
	memset(&n->task, 0, sizeof(n->task));
	n->task.node_uuid = "6d3c1a0e-8f7b-4a39-b0c2-5e1f9d2a7c44";
	n->task.driver_info = n->di;
	n->task.driver_internal_info = n->internal;
}

static void
node_release(struct node *n)
{
	json_decref(n->di);
	json_decref(n->internal);
}

/* ---- the table ---- */

static void
match_files(const char *system_file, const char *manager_file,
    struct lb_redfish_quirks *q, struct lb_redfish_quirks *q_system_only)
{
	struct lb_redfish_system *sys;
	struct lb_redfish_manager *mgr;
	struct lb_redfish_ident ids[2];
	struct lb_err err;
	size_t len;
	char *body;

	body = fixture(system_file, &len);
	assert_int_equal(lb_redfish_system_parse(body, len, &sys, &err), 0);
	free(body);
	body = fixture(manager_file, &len);
	assert_int_equal(lb_redfish_manager_parse(body, len, &mgr, &err), 0);
	free(body);
	ids[0].manufacturer = sys->manufacturer;
	ids[0].model = sys->model;
	ids[1].manufacturer = mgr->manufacturer;
	ids[1].model = mgr->model;
	lb_redfish_quirks_match(ids, 2, q);
	lb_redfish_quirks_match(ids, 1, q_system_only);
	lb_redfish_system_free(sys);
	lb_redfish_manager_free(mgr);
}

static void
test_table_vendor_fixtures(void **state)
{
	struct lb_redfish_quirks q, qs;

	(void)state;
	match_files("vendor_supermicro_system.json",
	    "vendor_supermicro_manager.json", &q, &qs);
	assert_string_equal(q.vendor, "supermicro");
	assert_int_equal(q.flags, LB_RFQ_RETRY_INSERT_ON_5XX |
	    LB_RFQ_USBCD_INSTEAD_OF_CD | LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED);
	assert_string_equal(qs.vendor, "supermicro");

	/* A whitebox AMI board: only its Manager says who made the BMC. */
	match_files("vendor_ami_system.json", "vendor_ami_manager.json", &q,
	    &qs);
	assert_string_equal(q.vendor, "ami");
	assert_int_equal(q.flags, LB_RFQ_RETRY_INSERT_ON_5XX |
	    LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED | LB_RFQ_SEND_OVERRIDE_MODE);
	assert_string_equal(qs.vendor, "generic");

	match_files("vendor_dell_system.json", "vendor_dell_manager.json", &q,
	    &qs);
	assert_string_equal(q.vendor, "dell");
	assert_int_equal(q.flags, LB_RFQ_RETRY_INSERT_ON_5XX |
	    LB_RFQ_EJECT_BEFORE_INSERT);

	match_files("vendor_hpe_system.json", "vendor_hpe_manager.json", &q,
	    &qs);
	assert_string_equal(q.vendor, "hpe");
	assert_int_equal(q.flags, LB_RFQ_RETRY_INSERT_ON_5XX |
	    LB_RFQ_EJECT_EMPTY_BODY);
	assert_int_equal(q.power_on_409_window_s,
	    LB_REDFISH_POWER_ON_409_WINDOW_S);
}

static void
test_table_identities(void **state)
{
	static const struct {
		const char *manufacturer, *model, *vendor;
		unsigned int flags;
	} cases[] = {
		{ "Lenovo", "ThinkSystem SR650 V2", "lenovo",
		    LB_RFQ_RETRY_INSERT_ON_5XX |
		    LB_RFQ_PATCH_INSTEAD_OF_ACTION },
		{ "Supermicro", "ARS-111GL-NHR", "supermicro",
		    LB_RFQ_RETRY_INSERT_ON_5XX |
		    LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED },
		{ "SUPERMICRO", "X11DPi-N", "supermicro",
		    LB_RFQ_RETRY_INSERT_ON_5XX | LB_RFQ_USBCD_INSTEAD_OF_CD |
		    LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED },
		{ "ASRockRack", "ROMED8-2T", "ami",
		    LB_RFQ_RETRY_INSERT_ON_5XX |
		    LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED |
		    LB_RFQ_SEND_OVERRIDE_MODE },
		{ "AMI", NULL, "ami", LB_RFQ_RETRY_INSERT_ON_5XX |
		    LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED |
		    LB_RFQ_SEND_OVERRIDE_MODE },
		{ "Hewlett Packard Enterprise", "ProLiant DL380 Gen10",
		    "hpe", LB_RFQ_RETRY_INSERT_ON_5XX |
		    LB_RFQ_EJECT_EMPTY_BODY },
		{ "Dell Inc.", "PowerEdge R640", "dell",
		    LB_RFQ_RETRY_INSERT_ON_5XX | LB_RFQ_EJECT_BEFORE_INSERT },
		/* The lab BMC, and words that only contain a pattern. */
		{ "lifeboat-lab", "In-memory machine", "generic",
		    LB_RFQ_RETRY_INSERT_ON_5XX },
		{ "General Dynamics", "Dellta", "generic",
		    LB_RFQ_RETRY_INSERT_ON_5XX },
		{ "Sushy Emulator", NULL, "generic",
		    LB_RFQ_RETRY_INSERT_ON_5XX },
		{ NULL, NULL, "generic", LB_RFQ_RETRY_INSERT_ON_5XX },
	};
	struct lb_redfish_quirks q;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lb_redfish_ident id = { cases[i].manufacturer,
			cases[i].model };

		lb_redfish_quirks_match(&id, 1, &q);
		if (strcmp(q.vendor, cases[i].vendor) != 0 ||
		    q.flags != cases[i].flags)
			fail_msg("%s/%s: %s %#x, wanted %s %#x",
			    cases[i].manufacturer, cases[i].model, q.vendor,
			    q.flags, cases[i].vendor, cases[i].flags);
		assert_int_equal(q.power_on_409_window_s, 60);
	}
	lb_redfish_quirks_match(NULL, 0, &q);
	assert_string_equal(q.vendor, "generic");
}

static void
test_quirk_names_and_notes(void **state)
{
	json_t *internal = json_object();

	(void)state;
	for (unsigned int i = 0; i < LB_RFQ_COUNT; i++) {
		assert_non_null(lb_redfish_quirk_name(1u << i));
		for (unsigned int k = 0; k < i; k++)
			assert_string_not_equal(lb_redfish_quirk_name(1u << i),
			    lb_redfish_quirk_name(1u << k));
	}
	assert_null(lb_redfish_quirk_name(0));
	assert_null(lb_redfish_quirk_name(3));
	assert_null(lb_redfish_quirk_name(1u << LB_RFQ_COUNT));

	assert_int_equal(lb_redfish_quirk_note(NULL, LB_RFQ_STICKY_INSERTED),
	    0);
	json_object_set_new(internal, LB_REDFISH_QUIRKS_KEY,
	    json_string("garbage"));
	assert_int_equal(lb_redfish_quirk_note(internal,
	    LB_RFQ_STICKY_INSERTED), 0);
	assert_int_equal(lb_redfish_quirk_note(internal,
	    LB_RFQ_USBCD_INSTEAD_OF_CD), 0);
	assert_int_equal(lb_redfish_quirk_note(internal,
	    LB_RFQ_STICKY_INSERTED), 0);
	assert_quirks(internal, "[\"sticky_inserted\", "
	    "\"usbcd_instead_of_cd\"]");
	/* Only what the BMC showed it needs is remembered. */
	assert_int_equal(lb_redfish_quirks_noted(internal),
	    LB_RFQ_STICKY_INSERTED);
	assert_int_equal(lb_redfish_quirks_noted(NULL), 0);
	json_decref(internal);
}

static void
test_error_mentions(void **state)
{
	static const struct {
		const char *file, *word;
		bool found;
	} cases[] = {
		{ "error_insert_needs_transfer_protocol.json",
		    "TransferProtocolType", true },
		{ "error_insert_needs_transfer_protocol.json",
		    "TransferMethod", false },
		{ "error_insert_needs_transfer_method.json", "TransferMethod",
		    true },
		{ "error_insert_needs_credentials.json", "UserName", true },
		{ "error_insert_needs_credentials.json",
		    "TransferProtocolType", false },
		{ "error_eject_unrecognized_body.json", "UnrecognizedRequest",
		    true },
		{ "error_top_level_info.json", "TransferMethod", false },
		{ "html_error.txt", "html", false },
	};
	size_t len;
	char *body;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		body = fixture(cases[i].file, &len);
		if (lb_redfish_error_mentions(body, len, cases[i].word) !=
		    cases[i].found)
			fail_msg("%s mentions %s: wanted %d", cases[i].file,
			    cases[i].word, cases[i].found);
		free(body);
	}
	assert_false(lb_redfish_error_mentions(NULL, 0, "x"));
	assert_false(lb_redfish_error_mentions("{}", 2, ""));
}

/* ---- Supermicro ---- */

#define SMC_SYS "/redfish/v1/Systems/1"
#define SMC_CD1 "/redfish/v1/Managers/1/VirtualMedia/CD1"
#define SMC_INSERT SMC_CD1 "/Actions/VirtualMedia.InsertMedia"

static void
test_supermicro_insert_transfer_protocol(void **state)
{
	struct route routes[] = {
		GET_FILE(SMC_SYS, "vendor_supermicro_system.json"),
		GET_FILE("/redfish/v1/Managers/1",
		    "vendor_supermicro_manager.json"),
		GET_FILE("/redfish/v1/Managers/1/VirtualMedia",
		    "vendor_supermicro_vmedia_collection.json"),
		GET_FILE("/redfish/v1/Managers/1/VirtualMedia/USB1",
		    "vendor_supermicro_vmedia_usb1.json"),
		GET_FILE(SMC_CD1, "vendor_supermicro_vmedia_cd1.json"),
		{ "POST", SMC_INSERT, 400,
		    "error_insert_needs_transfer_protocol.json", NULL, NULL,
		    NULL, 1, 0 },
		OK("POST", SMC_INSERT),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, SMC_SYS);
	FAKE(routes);
	if (lb_redfish_insert_cd(&n.task, URL, &err) != 0)
		fail_msg("insert: %s", err.msg);
	/* The USB slot is left alone, the empty CD is not ejected. */
	assert_int_equal(count("POST", NULL), 2);
	assert_exchange(nth("POST", 0), SMC_INSERT,
	    "{\"Image\": \"" URL "\"}");
	assert_exchange(nth("POST", 1), SMC_INSERT,
	    "{\"Image\": \"" URL "\", \"TransferProtocolType\": \"HTTP\"}");
	assert_quirks(n.internal, "[\"transfer_protocol_type\"]");

	/* Remembered: the next insert sends it at once; HTTPS by scheme. */
	fake_log_clear();
	if (lb_redfish_insert_cd(&n.task, "https://10.0.0.1/boot.iso",
	    &err) != 0)
		fail_msg("insert: %s", err.msg);
	assert_int_equal(count("POST", NULL), 1);
	assert_exchange(nth("POST", 0), SMC_INSERT, "{\"Image\": "
	    "\"https://10.0.0.1/boot.iso\", \"TransferProtocolType\": "
	    "\"HTTPS\"}");
	node_release(&n);
}

static void
test_supermicro_boot_override(void **state)
{
	struct route routes[] = {
		GET_FILE(SMC_SYS, "vendor_supermicro_system.json"),
		OK("PATCH", SMC_SYS),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, SMC_SYS);
	FAKE(routes);
	if (lb_management_redfish.set_boot_device(&n.task, LB_BOOT_DEV_CDROM,
	    false, LB_BOOT_MODE_UNSET, &err) != 0)
		fail_msg("set cdrom: %s", err.msg);
	assert_int_equal(count("PATCH", NULL), 1);
	/* Enabled is "Once" already: sent anyway; UsbCd for the CD. */
	assert_exchange(nth("PATCH", 0), SMC_SYS, "{\"Boot\": "
	    "{\"BootSourceOverrideTarget\": \"UsbCd\", "
	    "\"BootSourceOverrideEnabled\": \"Once\"}}");
	assert_string_equal(nth("PATCH", 0)->if_match,
	    "\"b2d6e1a4c0f0c3e97e1b2a3f4d5c6b7a\"");
	/* The Manager was not needed to know the vendor. */
	assert_int_equal(count("GET", "/redfish/v1/Managers/1"), 0);
	assert_quirks(n.internal, "[\"always_send_override_enabled\", "
	    "\"usbcd_instead_of_cd\"]");

	fake_log_clear();
	if (lb_management_redfish.set_boot_device(&n.task, LB_BOOT_DEV_PXE,
	    false, LB_BOOT_MODE_UNSET, &err) != 0)
		fail_msg("set pxe: %s", err.msg);
	assert_exchange(nth("PATCH", 0), SMC_SYS, "{\"Boot\": "
	    "{\"BootSourceOverrideTarget\": \"Pxe\", "
	    "\"BootSourceOverrideEnabled\": \"Once\"}}");
	node_release(&n);
}

/* ---- AMI ---- */

#define AMI_SYS "/redfish/v1/Systems/Self"
#define AMI_CD1 "/redfish/v1/Managers/Self/VirtualMedia/CD1"

static void
test_ami_boot_override(void **state)
{
	struct route routes[] = {
		GET_FILE(AMI_SYS, "vendor_ami_system.json"),
		GET_FILE("/redfish/v1/Managers/Self",
		    "vendor_ami_manager.json"),
		OK("PATCH", AMI_SYS),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, AMI_SYS);
	FAKE(routes);
	if (lb_management_redfish.set_boot_device(&n.task, LB_BOOT_DEV_CDROM,
	    false, LB_BOOT_MODE_UNSET, &err) != 0)
		fail_msg("set cdrom: %s", err.msg);
	/* The System says "To Be Filled By O.E.M.": the Manager is asked. */
	assert_int_equal(count("GET", "/redfish/v1/Managers/Self"), 1);
	assert_int_equal(count("PATCH", NULL), 1);
	assert_exchange(nth("PATCH", 0), AMI_SYS, "{\"Boot\": "
	    "{\"BootSourceOverrideTarget\": \"Cd\", "
	    "\"BootSourceOverrideEnabled\": \"Once\", "
	    "\"BootSourceOverrideMode\": \"UEFI\"}}");
	assert_quirks(n.internal, "[\"send_override_mode\"]");

	/* A mode change first, then all three fields with the new mode. */
	fake_log_clear();
	if (lb_management_redfish.set_boot_device(&n.task, LB_BOOT_DEV_DISK,
	    true, LB_BOOT_MODE_BIOS, &err) != 0)
		fail_msg("set disk: %s", err.msg);
	assert_int_equal(count("PATCH", NULL), 2);
	assert_exchange(nth("PATCH", 0), AMI_SYS, "{\"Boot\": "
	    "{\"BootSourceOverrideMode\": \"Legacy\"}}");
	assert_exchange(nth("PATCH", 1), AMI_SYS, "{\"Boot\": "
	    "{\"BootSourceOverrideTarget\": \"Hdd\", "
	    "\"BootSourceOverrideEnabled\": \"Continuous\", "
	    "\"BootSourceOverrideMode\": \"Legacy\"}}");
	node_release(&n);
}

static void
test_ami_insert_ejects_first(void **state)
{
	struct route routes[] = {
		GET_FILE(AMI_SYS, "vendor_ami_system.json"),
		GET_FILE("/redfish/v1/Managers/Self",
		    "vendor_ami_manager.json"),
		GET_FILE("/redfish/v1/Managers/Self/VirtualMedia",
		    "vendor_ami_vmedia_collection.json"),
		GET_FILE("/redfish/v1/Managers/Self/VirtualMedia/USBStick1",
		    "vendor_ami_vmedia_usbstick1.json"),
		{ "GET", AMI_CD1, 200, "vendor_ami_vmedia_cd1_inserted.json",
		    NULL, NULL, NULL, 1, 0 },
		GET_FILE(AMI_CD1, "vendor_ami_vmedia_cd1_empty.json"),
		OK("POST", AMI_CD1 "/Actions/VirtualMedia.EjectMedia"),
		OK("POST", AMI_CD1 "/Actions/VirtualMedia.InsertMedia"),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, AMI_SYS);
	FAKE(routes);
	if (lb_redfish_insert_cd(&n.task, URL, &err) != 0)
		fail_msg("insert: %s", err.msg);
	assert_int_equal(count("POST", NULL), 2);
	assert_exchange(nth("POST", 0), AMI_CD1
	    "/Actions/VirtualMedia.EjectMedia", NULL);
	assert_exchange(nth("POST", 1), AMI_CD1
	    "/Actions/VirtualMedia.InsertMedia", "{\"Image\": \"" URL "\"}");
	assert_quirks(n.internal, "[]");
	node_release(&n);
}

/* ---- Dell ---- */

#define DELL_SYS "/redfish/v1/Systems/System.Embedded.1"
#define DELL_VM DELL_SYS "/VirtualMedia"

static void
test_dell_eject_before_insert_and_5xx(void **state)
{
	struct route routes[] = {
		GET_FILE(DELL_SYS, "vendor_dell_system.json"),
		GET_FILE(DELL_VM, "vendor_dell_vmedia_collection.json"),
		GET_FILE(DELL_VM "/1", "vendor_dell_vmedia_1.json"),
		GET_FILE(DELL_VM "/2", "vendor_dell_vmedia_2.json"),
		OK("POST", DELL_VM "/1/Actions/VirtualMedia.EjectMedia"),
		OK("POST", DELL_VM "/2/Actions/VirtualMedia.EjectMedia"),
		{ "POST", DELL_VM "/1/Actions/VirtualMedia.InsertMedia", 500,
		    "error_dell_insert_busy.json", NULL, NULL, NULL, 2, 0 },
		OK("POST", DELL_VM "/1/Actions/VirtualMedia.InsertMedia"),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, DELL_SYS);
	FAKE(routes);
	if (lb_redfish_insert_cd(&n.task, URL, &err) != 0)
		fail_msg("insert: %s", err.msg);
	/* Both slots ejected though they report empty, then 3 tries. */
	assert_int_equal(count("POST", NULL), 5);
	assert_exchange(nth("POST", 0), DELL_VM
	    "/1/Actions/VirtualMedia.EjectMedia", NULL);
	assert_exchange(nth("POST", 1), DELL_VM
	    "/2/Actions/VirtualMedia.EjectMedia", NULL);
	for (size_t i = 2; i < 5; i++)
		assert_exchange(nth("POST", i), DELL_VM
		    "/1/Actions/VirtualMedia.InsertMedia",
		    "{\"Image\": \"" URL "\"}");
	assert_int_equal(fake.slept, 2 * LB_REDFISH_INSERT_RETRY_DELAY_S);
	/* The System's own VirtualMedia: the iDRAC Manager is not read. */
	assert_int_equal(count("GET", "/redfish/v1/Managers/iDRAC.Embedded.1"),
	    0);
	assert_quirks(n.internal, "[\"eject_before_insert\", "
	    "\"retry_insert_on_5xx\"]");
	node_release(&n);
}

static void
test_dell_insert_5xx_gives_up(void **state)
{
	struct route routes[] = {
		GET_FILE(DELL_SYS, "vendor_dell_system.json"),
		GET_FILE(DELL_VM, "vendor_dell_vmedia_collection.json"),
		GET_FILE(DELL_VM "/1", "vendor_dell_vmedia_1.json"),
		GET_FILE(DELL_VM "/2", "vendor_dell_vmedia_2.json"),
		OK("POST", DELL_VM "/1/Actions/VirtualMedia.EjectMedia"),
		OK("POST", DELL_VM "/2/Actions/VirtualMedia.EjectMedia"),
		ANSWER("POST", DELL_VM "/1/Actions/VirtualMedia.InsertMedia",
		    503, "error_dell_insert_busy.json", NULL),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, DELL_SYS);
	FAKE(routes);
	assert_int_equal(lb_redfish_insert_cd(&n.task, URL, &err), -EIO);
	assert_non_null(strstr(err.msg, "busy"));
	/* A 5xx is not a reason to try slot 2. */
	assert_int_equal(count("POST", DELL_VM
	    "/1/Actions/VirtualMedia.InsertMedia"),
	    LB_REDFISH_INSERT_ATTEMPTS);
	assert_int_equal(count("POST", DELL_VM
	    "/2/Actions/VirtualMedia.InsertMedia"), 0);
	node_release(&n);
}

/* ---- HPE ---- */

#define HPE_SYS "/redfish/v1/Systems/1/"
#define HPE_CD "/redfish/v1/Managers/1/VirtualMedia/2/"

static struct route hpe_routes[] = {
	GET_FILE(HPE_SYS, "vendor_hpe_system.json"),
	GET_FILE("/redfish/v1/Managers/1/", "vendor_hpe_manager.json"),
	GET_FILE("/redfish/v1/Managers/1/VirtualMedia/",
	    "vendor_hpe_vmedia_collection.json"),
	GET_FILE("/redfish/v1/Managers/1/VirtualMedia/1/",
	    "vendor_hpe_vmedia_1.json"),
	{ "GET", HPE_CD, 200, "vendor_hpe_vmedia_2_inserted.json", NULL, NULL,
	    NULL, 1, 0 },
	GET_FILE(HPE_CD, "vendor_hpe_vmedia_2_empty.json"),
	OK("POST", HPE_CD "Actions/VirtualMedia.EjectMedia/"),
	OK("POST", HPE_CD "Actions/VirtualMedia.InsertMedia/"),
	OK("PATCH", HPE_SYS),
};

static void
test_hpe_eject_empty_body(void **state)
{
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, HPE_SYS);
	FAKE(hpe_routes);
	if (lb_redfish_eject_cd(&n.task, &err) != 0)
		fail_msg("eject: %s", err.msg);
	assert_int_equal(count("POST", NULL), 1);
	assert_exchange(nth("POST", 0), HPE_CD
	    "Actions/VirtualMedia.EjectMedia/", "{}");
	assert_quirks(n.internal, "[\"eject_empty_body\"]");
	node_release(&n);
}

static void
test_hpe_boot_override_generic(void **state)
{
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, HPE_SYS);
	FAKE(hpe_routes);
	if (lb_management_redfish.set_boot_device(&n.task, LB_BOOT_DEV_CDROM,
	    false, LB_BOOT_MODE_UNSET, &err) != 0)
		fail_msg("set cdrom: %s", err.msg);
	/* Already "Once": left out, as Ironic does for everyone else. */
	assert_exchange(nth("PATCH", 0), HPE_SYS, "{\"Boot\": "
	    "{\"BootSourceOverrideTarget\": \"Cd\"}}");
	assert_string_equal(nth("PATCH", 0)->if_match, "W/\"8F6B5D5C\"");
	assert_quirks(n.internal, "[]");
	node_release(&n);
}

/* ---- what any BMC may do (the lab's layout) ---- */

#define GEN_SYS "/redfish/v1/Systems/1"
#define GEN_MGR "/redfish/v1/Managers/1"
#define GEN_VM GEN_MGR "/VirtualMedia"
#define CD GEN_VM "/Cd"
#define CD2 GEN_VM "/Cd2"
#define EJECT(p) p "/Actions/VirtualMedia.EjectMedia"
#define INSERT(p) p "/Actions/VirtualMedia.InsertMedia"
#define ACTIONS(p) ", \"Actions\": {\"#VirtualMedia.InsertMedia\": " \
	"{\"target\": \"" INSERT(p) "\"}, \"#VirtualMedia.EjectMedia\": " \
	"{\"target\": \"" EJECT(p) "\"}}"
#define SLOT(p, types, image, inserted, more) "{\"@odata.id\": \"" p \
	"\", \"MediaTypes\": " types ", \"Image\": " image ", " \
	"\"Inserted\": " inserted more "}"
#define CD_TYPES "[\"CD\", \"DVD\"]"
#define OLD "\"http://10.0.0.5/old.iso\""

static const char gen_system[] = "{\"@odata.id\": \"" GEN_SYS "\", "
    "\"Manufacturer\": \"lifeboat-lab\", \"Model\": \"In-memory machine\", "
    "\"PowerState\": \"Off\", \"Boot\": {\"BootSourceOverrideEnabled\": "
    "\"Disabled\", \"BootSourceOverrideTarget\": \"None\"}, "
    "\"Links\": {\"ManagedBy\": [{\"@odata.id\": \"" GEN_MGR "\"}]}, "
    "\"Actions\": {\"#ComputerSystem.Reset\": {\"target\": \"" GEN_SYS
    "/Actions/ComputerSystem.Reset\"}}}";
static const char gen_manager[] = "{\"@odata.id\": \"" GEN_MGR "\", "
    "\"Model\": \"lifeboat-lab\", \"VirtualMedia\": {\"@odata.id\": \""
    GEN_VM "\"}}";
static const char gen_one_cd[] = "{\"Members\": [{\"@odata.id\": \"" CD
    "\"}]}";
static const char gen_two_cds[] = "{\"Members\": [{\"@odata.id\": \"" CD
    "\"}, {\"@odata.id\": \"" CD2 "\"}]}";

#define GEN_ROUTES(coll) \
	GET_TEXT(GEN_SYS, gen_system), \
	GET_TEXT(GEN_MGR, gen_manager), \
	GET_TEXT(GEN_VM, coll)

static void
test_generic_eject_415_then_empty_body(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, OLD, "true",
		    ACTIONS(CD)), NULL, NULL, 1, 0 },
		GET_TEXT(CD, SLOT(CD, CD_TYPES, "null", "false",
		    ACTIONS(CD))),
		{ "POST", EJECT(CD), 415, NULL, NULL, NULL, NULL, 1, 0 },
		OK("POST", EJECT(CD)),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	if (lb_redfish_eject_cd(&n.task, &err) != 0)
		fail_msg("eject: %s", err.msg);
	assert_int_equal(count("POST", NULL), 2);
	assert_exchange(nth("POST", 0), EJECT(CD), NULL);
	assert_exchange(nth("POST", 1), EJECT(CD), "{}");
	assert_quirks(n.internal, "[\"eject_empty_body\"]");
	node_release(&n);
}

static void
test_generic_patch_slot(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		/* Discovery sees e1; a 412 makes the driver read e2. */
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, "null", "false",
		    ""), "GET, HEAD, PATCH", "W/\"e1\"", 1, 0 },
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, "null", "false",
		    ""), "GET, HEAD, PATCH", "W/\"e2\"", 1, 0 },
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, OLD, "true", ""),
		    "GET, HEAD, PATCH", "W/\"e3\"", 1, 0 },
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, "null", "false",
		    ""), "GET, HEAD, PATCH", "W/\"e4\"", 0, 0 },
		{ "PATCH", CD, 412, NULL, NULL, NULL, NULL, 1, 0 },
		OK("PATCH", CD),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	if (lb_redfish_insert_cd(&n.task, URL, &err) != 0)
		fail_msg("insert: %s", err.msg);
	assert_int_equal(count("PATCH", NULL), 2);
	assert_int_equal(count("POST", NULL), 0);
	assert_exchange(nth("PATCH", 0), CD, "{\"Image\": \"" URL "\", "
	    "\"Inserted\": true, \"WriteProtected\": true}");
	assert_string_equal(nth("PATCH", 0)->if_match, "W/\"e1\"");
	assert_exchange(nth("PATCH", 1), CD, "{\"Image\": \"" URL "\", "
	    "\"Inserted\": true, \"WriteProtected\": true}");
	assert_string_equal(nth("PATCH", 1)->if_match, "W/\"e2\"");
	assert_quirks(n.internal, "[\"patch_instead_of_action\"]");

	/* Eject: the slot reads inserted (e3), then empty (e4). */
	fake_log_clear();
	if (lb_redfish_eject_cd(&n.task, &err) != 0)
		fail_msg("eject: %s", err.msg);
	assert_int_equal(count("PATCH", NULL), 1);
	assert_exchange(nth("PATCH", 0), CD,
	    "{\"Image\": null, \"Inserted\": false}");
	assert_string_equal(nth("PATCH", 0)->if_match, "W/\"e3\"");
	node_release(&n);
}

static void
test_generic_no_way_to_insert(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, OLD, "true", ""),
		    "GET, HEAD", NULL, 0, 0 },
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	assert_int_equal(lb_redfish_eject_cd(&n.task, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "no EjectMedia action"));
	routes[3].text = SLOT(CD, CD_TYPES, "null", "false", "");
	assert_int_equal(lb_redfish_insert_cd(&n.task, URL, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no InsertMedia action"));
	assert_int_equal(count("POST", NULL) + count("PATCH", NULL), 0);
	node_release(&n);
}

static void
test_generic_sticky_inserted(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		{ "GET", CD, 200, NULL, SLOT(CD, CD_TYPES, OLD, "true",
		    ACTIONS(CD)), NULL, NULL, 1, 0 },
		GET_TEXT(CD, SLOT(CD, CD_TYPES, "null", "true",
		    ACTIONS(CD))),
		OK("POST", EJECT(CD)),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	if (lb_redfish_eject_cd(&n.task, &err) != 0)
		fail_msg("eject: %s", err.msg);
	/* Discovery plus the checks, then an empty Image is enough. */
	assert_int_equal(count("GET", CD), 1 + LB_REDFISH_EJECT_CHECK_READS);
	assert_int_equal(fake.slept, (LB_REDFISH_EJECT_CHECK_READS - 1) *
	    LB_REDFISH_EJECT_CHECK_DELAY_S);
	assert_quirks(n.internal, "[\"sticky_inserted\"]");

	/* Known now: the still "Inserted" slot is accepted at once. */
	fake_log_clear();
	if (lb_redfish_eject_cd(&n.task, &err) != 0)
		fail_msg("eject again: %s", err.msg);
	assert_int_equal(count("POST", NULL), 1);
	assert_int_equal(count("GET", CD), 2);
	assert_int_equal(fake.slept, 0);
	node_release(&n);
}

static void
test_generic_image_stays(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		GET_TEXT(CD, SLOT(CD, CD_TYPES, OLD, "true", ACTIONS(CD))),
		OK("POST", EJECT(CD)),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	assert_int_equal(lb_redfish_eject_cd(&n.task, &err), -EIO);
	assert_non_null(strstr(err.msg, "still holds an image"));
	assert_int_equal(count("GET", CD), 1 + LB_REDFISH_EJECT_CHECK_READS);
	assert_int_equal(lb_redfish_insert_cd(&n.task, URL, &err), -EIO);
	assert_int_equal(count("POST", INSERT(CD)), 0);
	node_release(&n);
}

static void
test_generic_next_slot(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_two_cds),
		GET_TEXT(CD, SLOT(CD, CD_TYPES, "null", "false", ACTIONS(CD))),
		GET_TEXT(CD2, SLOT(CD2, "[\"DVD\"]", "null", "false",
		    ACTIONS(CD2))),
		ANSWER("POST", INSERT(CD), 405, NULL, NULL),
		OK("POST", INSERT(CD2)),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	if (lb_redfish_insert_cd(&n.task, URL, &err) != 0)
		fail_msg("insert: %s", err.msg);
	assert_int_equal(count("POST", NULL), 2);
	assert_exchange(nth("POST", 0), INSERT(CD), "{\"Image\": \"" URL "\"}");
	assert_exchange(nth("POST", 1), INSERT(CD2), "{\"Image\": \"" URL
	    "\"}");

	/* Both refuse: -ENODEV with the BMC's last word. */
	routes[6].status = 400;
	routes[6].text = "{\"error\": {\"message\": \"Image not reachable\"}}";
	assert_int_equal(lb_redfish_insert_cd(&n.task, URL, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "accepted the image"));
	assert_non_null(strstr(err.msg, "Image not reachable"));

	/* A 409 is an answer, not a reason to try the next slot. */
	routes[5].status = 409;
	fake_log_clear();
	assert_int_equal(lb_redfish_insert_cd(&n.task, URL, &err), -EIO);
	assert_int_equal(count("POST", INSERT(CD2)), 0);
	node_release(&n);
}

static void
test_generic_method_and_credentials(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		GET_TEXT(CD, SLOT(CD, CD_TYPES, "null", "false", ACTIONS(CD))),
		{ "POST", INSERT(CD), 400,
		    "error_insert_needs_transfer_method.json", NULL, NULL,
		    NULL, 1, 0 },
		{ "POST", INSERT(CD), 400,
		    "error_insert_needs_credentials.json", NULL, NULL, NULL,
		    1, 0 },
		OK("POST", INSERT(CD)),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	if (lb_redfish_insert_cd(&n.task, URL, &err) != 0)
		fail_msg("insert: %s", err.msg);
	assert_int_equal(count("POST", NULL), 3);
	assert_exchange(nth("POST", 0), INSERT(CD), "{\"Image\": \"" URL "\"}");
	assert_exchange(nth("POST", 1), INSERT(CD), "{\"Image\": \"" URL "\", "
	    "\"TransferMethod\": \"Stream\"}");
	assert_exchange(nth("POST", 2), INSERT(CD), "{\"Image\": \"" URL "\", "
	    "\"TransferMethod\": \"Stream\", \"UserName\": \"none\", "
	    "\"Password\": \"none\"}");
	assert_quirks(n.internal, "[\"transfer_method_stream\", "
	    "\"image_credentials_none\"]");
	node_release(&n);
}

static void
test_generic_no_cd(void **state)
{
	struct route routes[] = {
		GEN_ROUTES(gen_one_cd),
		GET_TEXT(CD, SLOT(CD, "[\"Floppy\", \"USBStick\"]", OLD,
		    "true", ACTIONS(CD))),
	};
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	assert_int_equal(lb_redfish_insert_cd(&n.task, URL, &err), -ENODEV);
	assert_non_null(strstr(err.msg, "no virtual CD"));
	/* Nothing to eject is success; the floppy is not touched. */
	assert_int_equal(lb_redfish_eject_cd(&n.task, &err), 0);
	assert_int_equal(count("POST", NULL), 0);
	node_release(&n);
}

static void
test_bad_url(void **state)
{
	static const char *const bad[] = {
		"ftp://10.0.0.1/boot.iso", "http://", "http:///boot.iso",
		"http://10.0.0.1/a b.iso", "10.0.0.1/boot.iso",
		"http://10.0.0.1/x\r\n.iso?sig=Sekr1tSig",
	};
	struct route routes[] = { GEN_ROUTES(gen_one_cd) };
	struct node n;
	struct lb_err err;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(lb_redfish_insert_cd(&n.task, bad[i], &err),
		    -EINVAL);
		assert_null(strstr(err.msg, "Sekr1tSig"));
	}
	assert_int_equal(lb_redfish_insert_cd(&n.task, NULL, &err), -EINVAL);
	assert_int_equal(fake.nlog, 0);
	node_release(&n);
}

static void
test_power_on_409_window(void **state)
{
	struct route routes[] = {
		GET_TEXT(GEN_SYS, gen_system),
		GET_TEXT(GEN_MGR, gen_manager),
		ANSWER("POST", GEN_SYS "/Actions/ComputerSystem.Reset", 409,
		    NULL, "{\"error\": {\"message\": \"not ready\"}}"),
	};
	struct node n;
	struct lb_err err;
	size_t posts;

	(void)state;
	node_init(&n, GEN_SYS);
	FAKE(routes);
	assert_int_equal(lb_power_redfish.set_state(&n.task,
	    LB_POWER_ACTION_ON, 30, &err), -EIO);
	posts = count("POST", NULL);
	/* Backing off 1, 2, 4, 8, 8, ... s within the generic 60 s. */
	assert_true(posts >= 8 && posts <= 12);
	assert_true(fake.slept <= LB_REDFISH_POWER_ON_409_WINDOW_S);
	assert_true(fake.slept >= LB_REDFISH_POWER_ON_409_WINDOW_S - 8);
	assert_quirks(n.internal, "[\"power_on_409_retry\"]");
	node_release(&n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_vendor_fixtures),
		cmocka_unit_test(test_table_identities),
		cmocka_unit_test(test_quirk_names_and_notes),
		cmocka_unit_test(test_error_mentions),
		cmocka_unit_test_teardown(
		    test_supermicro_insert_transfer_protocol, teardown),
		cmocka_unit_test_teardown(test_supermicro_boot_override,
		    teardown),
		cmocka_unit_test_teardown(test_ami_boot_override, teardown),
		cmocka_unit_test_teardown(test_ami_insert_ejects_first,
		    teardown),
		cmocka_unit_test_teardown(
		    test_dell_eject_before_insert_and_5xx, teardown),
		cmocka_unit_test_teardown(test_dell_insert_5xx_gives_up,
		    teardown),
		cmocka_unit_test_teardown(test_hpe_eject_empty_body, teardown),
		cmocka_unit_test_teardown(test_hpe_boot_override_generic,
		    teardown),
		cmocka_unit_test_teardown(
		    test_generic_eject_415_then_empty_body, teardown),
		cmocka_unit_test_teardown(test_generic_patch_slot, teardown),
		cmocka_unit_test_teardown(test_generic_no_way_to_insert,
		    teardown),
		cmocka_unit_test_teardown(test_generic_sticky_inserted,
		    teardown),
		cmocka_unit_test_teardown(test_generic_image_stays, teardown),
		cmocka_unit_test_teardown(test_generic_next_slot, teardown),
		cmocka_unit_test_teardown(test_generic_method_and_credentials,
		    teardown),
		cmocka_unit_test_teardown(test_generic_no_cd, teardown),
		cmocka_unit_test_teardown(test_bad_url, teardown),
		cmocka_unit_test_teardown(test_power_on_409_window, teardown),
	};
	int r;

	r = cmocka_run_group_tests(tests, NULL, NULL);
	lb_redfish_shutdown();
	return r;
}
