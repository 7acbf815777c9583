/*
 * test_node.c - node and port records: rendering by microversion, secret
 * masking, create checks and Ironic's PATCH rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conductor/node.h"

static json_t *
render(const struct lb_node *node, int minor, bool detail)
{
	struct lb_render r = { minor, "http://h:1", "cond", detail, NULL };
	struct lb_buf b;
	json_t *v;
	char *text;

	lb_buf_init(&b);
	lb_node_render(node, &r, &b);
	text = lb_buf_steal(&b, NULL);
	assert_non_null(text);
	v = json_loads(text, 0, NULL);
	assert_non_null(v);
	free(text);
	return v;
}

static struct lb_node *
make_node(const char *body_text, int minor)
{
	struct lb_node *node = lb_node_new();
	struct lb_err err = { "" };
	json_t *body = json_loads(body_text, 0, NULL);

	assert_non_null(body);
	assert_int_equal(lb_node_from_create(node, body, minor, &err), 0);
	json_decref(body);
	snprintf(node->uuid, sizeof(node->uuid),
	    "1be26c0b-03f2-4d2e-ae87-c02d7f33c123");
	node->provision_state = strdup("enroll");
	return node;
}

static void
test_render_detail_has_every_178_field(void **state)
{
	struct lb_node *node = make_node("{\"driver\": \"ipmi\"}", 78);
	json_t *doc = render(node, 78, true);

	(void)state;
	/* The real Ironic 21.4.4 document at 1.78 has 62 keys. */
	assert_int_equal(json_object_size(doc), 62);
	assert_string_equal(json_string_value(json_object_get(doc,
	    "conductor")), "cond");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "ports"), 0), "href")),
	    "http://h:1/v1/nodes/1be26c0b-03f2-4d2e-ae87-c02d7f33c123/ports");
	assert_true(json_is_null(json_object_get(doc, "power_state")));
	assert_true(json_is_object(json_object_get(doc, "driver_info")));
	json_decref(doc);
	lb_node_free(node);
}

static void
test_render_hides_newer_fields(void **state)
{
	struct lb_node *node = make_node("{\"driver\": \"ipmi\"}", 78);
	json_t *doc = render(node, 1, true);

	(void)state;
	assert_null(json_object_get(doc, "name"));		/* 1.5 */
	assert_null(json_object_get(doc, "rescue_interface"));	/* 1.38 */
	assert_null(json_object_get(doc, "driver_internal_info"));	/* 1.3 */
	assert_non_null(json_object_get(doc, "driver_info"));
	json_decref(doc);
	doc = render(node, 38, true);
	assert_non_null(json_object_get(doc, "rescue_interface"));
	assert_null(json_object_get(doc, "bios_interface"));	/* 1.40 */
	json_decref(doc);
	lb_node_free(node);
}

static void
test_render_summary(void **state)
{
	struct lb_node *node = make_node("{\"driver\": \"ipmi\", "
	    "\"name\": \"n1\"}", 78);
	json_t *doc = render(node, 78, false);
	const char *keys[] = { "uuid", "name", "instance_uuid", "power_state",
	    "provision_state", "maintenance", "links" };

	(void)state;
	assert_int_equal(json_object_size(doc), 7);
	for (size_t i = 0; i < 7; i++)
		assert_non_null(json_object_get(doc, keys[i]));
	json_decref(doc);
	lb_node_free(node);
}

static void
test_render_masks_secrets(void **state)
{
	struct lb_node *node = make_node("{\"driver\": \"ipmi\", "
	    "\"driver_info\": {\"ipmi_password\": \"s3cret\", "
	    "\"ipmi_address\": \"10.0.0.5\", \"empty_password\": \"\"}, "
	    "\"instance_info\": {\"configdrive\": \"abc\", "
	    "\"image_url\": \"http://x\", \"foo\": \"bar\"}}", 78);
	json_t *doc = render(node, 78, true), *di, *ii;
	char *text;

	(void)state;
	di = json_object_get(doc, "driver_info");
	ii = json_object_get(doc, "instance_info");
	assert_string_equal(json_string_value(json_object_get(di,
	    "ipmi_password")), "******");
	assert_string_equal(json_string_value(json_object_get(di,
	    "ipmi_address")), "10.0.0.5");
	assert_string_equal(json_string_value(json_object_get(di,
	    "empty_password")), "");
	assert_string_equal(json_string_value(json_object_get(ii,
	    "configdrive")), "******");
	assert_string_equal(json_string_value(json_object_get(ii,
	    "image_url")), "******");
	assert_string_equal(json_string_value(json_object_get(ii, "foo")),
	    "bar");
	text = json_dumps(doc, 0);
	assert_null(strstr(text, "s3cret"));
	free(text);
	/* The record itself keeps the real value. */
	assert_string_equal(json_string_value(json_object_get(
	    node->driver_info, "ipmi_password")), "s3cret");
	json_decref(doc);
	lb_node_free(node);
}

static void
expect_create_error(const char *body_text, int minor, int want,
    const char *want_msg)
{
	struct lb_node *node = lb_node_new();
	struct lb_err err = { "" };
	json_t *body = json_loads(body_text, JSON_DECODE_ANY, NULL);

	assert_non_null(body);
	assert_int_equal(lb_node_from_create(node, body, minor, &err), want);
	assert_non_null(strstr(err.msg, want_msg));
	json_decref(body);
	lb_node_free(node);
}

static void
test_create_errors(void **state)
{
	(void)state;
	expect_create_error("{}", 78, -EINVAL, "'driver' is a required");
	expect_create_error("[1]", 78, -EINVAL, "must be a JSON object");
	expect_create_error("{\"driver\": \"ipmi\", \"bogus\": 1}", 78,
	    -EINVAL, "('bogus' was unexpected)");
	expect_create_error("{\"driver\": \"ipmi\", \"driver_info\": \"x\"}",
	    78, -EINVAL, "Expected 'dict'");
	expect_create_error("{\"driver\": 5}", 78, -EINVAL,
	    "Expected 'string'");
	expect_create_error("{\"driver\": \"ipmi\", \"name\": \"a b\"}", 78,
	    -EINVAL, "Expected a logical name");
	expect_create_error("{\"driver\": \"ipmi\", \"name\": "
	    "\"1cb19e89-1027-433d-83ab-867b2599d6bf\"}", 78, -EINVAL,
	    "can not be a UUID");
	expect_create_error("{\"driver\": \"ipmi\", \"uuid\": \"nope\"}", 78,
	    -EINVAL, "Expected a UUID");
	expect_create_error("{\"driver\": \"ipmi\", \"rescue_interface\": "
	    "\"agent\"}", 37, -ENOTSUP, "needs API version 1.38");
	expect_create_error("{\"driver\": \"ipmi\", \"provision_state\": "
	    "\"active\"}", 78, -EINVAL, "('provision_state' was unexpected)");
	expect_create_error("{\"driver\": \"ipmi\", \"chassis_uuid\": "
	    "\"1be26c0b-03f2-4d2e-ae87-c02d7f33c123\"}", 78, -EINVAL,
	    "Chassis");
	expect_create_error("{\"driver\": \"ipmi\", \"automated_clean\": "
	    "\"maybe\"}", 78, -EINVAL, "Expected 'boolean'");
}

static int
patch(struct lb_node *node, const char *text, uint64_t *changed,
    struct lb_err *err)
{
	json_t *p = json_loads(text, JSON_DECODE_ANY, NULL);
	int r;

	assert_non_null(p);
	r = lb_node_patch(node, p, 78, changed, err);
	json_decref(p);
	return r;
}

static void
test_patch_rules(void **state)
{
	struct lb_node *node = make_node("{\"driver\": \"ipmi\", "
	    "\"name\": \"n1\", \"driver_info\": {\"a\": \"1\"}}", 78);
	struct lb_err err = { "" };
	uint64_t changed = 0;

	(void)state;
	assert_int_equal(patch(node, "[{\"op\": \"add\", \"path\": "
	    "\"/driver_info/b\", \"value\": \"2\"}, {\"op\": \"replace\", "
	    "\"path\": \"/name\", \"value\": \"n2\"}]", &changed, &err), 0);
	assert_string_equal(node->name, "n2");
	assert_string_equal(json_string_value(json_object_get(
	    node->driver_info, "b")), "2");
	assert_true((changed >> lb_node_field_index("name")) & 1);
	assert_true((changed >> lb_node_field_index("driver_info")) & 1);
	assert_false((changed >> lb_node_field_index("extra")) & 1);

	assert_int_equal(patch(node, "[{\"op\": \"replace\", \"path\": "
	    "\"/provision_state\", \"value\": \"active\"}]", &changed, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "'/provision_state' is an internal "
	    "attribute and can not be updated");
	assert_string_equal(node->provision_state, "enroll");

	assert_int_equal(patch(node, "[{\"op\": \"add\", \"path\": \"/foo\", "
	    "\"value\": 1}]", &changed, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Adding a new attribute (/foo)"));

	/* Removing a root field resets it. */
	assert_int_equal(patch(node, "[{\"op\": \"remove\", \"path\": "
	    "\"/name\"}, {\"op\": \"remove\", \"path\": \"/driver_info\"}]",
	    &changed, &err), 0);
	assert_null(node->name);
	assert_int_equal(json_object_size(node->driver_info), 0);

	assert_int_equal(patch(node, "[{\"op\": \"replace\", \"path\": "
	    "\"/maintenance\", \"value\": \"true\"}]", &changed, &err), 0);
	assert_true(node->maintenance);
	assert_int_equal(patch(node, "[{\"op\": \"replace\", \"path\": "
	    "\"/maintenance\", \"value\": \"perhaps\"}]", &changed, &err),
	    -EINVAL);
	assert_int_equal(patch(node, "{\"op\": \"add\"}", &changed, &err),
	    -EINVAL);
	assert_int_equal(patch(node, "[{\"op\": \"remove\", \"path\": "
	    "\"/driver\"}]", &changed, &err), -EINVAL);
	assert_string_equal(node->driver, "ipmi");
	lb_node_free(node);
}

static void
test_patch_newer_field_is_406(void **state)
{
	struct lb_node *node = make_node("{\"driver\": \"ipmi\"}", 78);
	struct lb_err err = { "" };
	json_t *p = json_loads("[{\"op\": \"add\", \"path\": "
	    "\"/rescue_interface\", \"value\": \"agent\"}]", 0, NULL);

	(void)state;
	assert_int_equal(lb_node_patch(node, p, 31, NULL, &err), -ENOTSUP);
	json_decref(p);
	lb_node_free(node);
}

static void
test_fields_parse(void **state)
{
	struct lb_err err = { "" };
	uint64_t bits = 0;

	(void)state;
	assert_int_equal(lb_node_fields_parse("uuid, name", 78, &bits, &err),
	    0);
	assert_int_equal(__builtin_popcountll(bits), 2);
	assert_true((bits >> lb_node_field_index("name")) & 1);
	assert_int_equal(lb_node_fields_parse("uuid,bogus", 78, &bits, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "Field(s) \"bogus\" are not valid");
	assert_int_equal(lb_node_fields_parse("rescue_interface", 37, &bits,
	    &err), -EINVAL);
	assert_int_equal(lb_node_fields_parse("", 78, &bits, &err), -EINVAL);
}

static void
test_port_create(void **state)
{
	struct lb_port *port = lb_port_new();
	struct lb_err err = { "" };
	json_t *body = json_loads("{\"address\": \"52:54:00:AA:BB:CC\", "
	    "\"node_uuid\": \"1BE26C0B-03F2-4D2E-AE87-C02D7F33C123\", "
	    "\"local_link_connection\": {\"switch_id\": \"0a:1b:2c:3d:4e:5f\","
	    " \"port_id\": \"swp1\", \"switch_info\": \"br0\"}}", 0, NULL);

	(void)state;
	assert_int_equal(lb_port_from_create(port, body, 78, &err), 0);
	assert_string_equal(port->address, "52:54:00:aa:bb:cc");
	assert_string_equal(port->node_uuid,
	    "1be26c0b-03f2-4d2e-ae87-c02d7f33c123");
	assert_true(port->pxe_enabled);
	json_decref(body);
	lb_port_free(port);

	port = lb_port_new();
	body = json_loads("{\"address\": \"52:54:00:aa:bb\", \"node_uuid\": "
	    "\"1be26c0b-03f2-4d2e-ae87-c02d7f33c123\"}", 0, NULL);
	assert_int_equal(lb_port_from_create(port, body, 78, &err), -EINVAL);
	assert_string_equal(err.msg, "Expected a MAC address but received "
	    "52:54:00:aa:bb.");
	json_decref(body);
	lb_port_free(port);

	port = lb_port_new();
	body = json_loads("{\"address\": \"52:54:00:aa:bb:cc\", \"node_uuid\": "
	    "\"1be26c0b-03f2-4d2e-ae87-c02d7f33c123\", "
	    "\"local_link_connection\": {\"vlan\": \"7\"}}", 0, NULL);
	assert_int_equal(lb_port_from_create(port, body, 78, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown key 'vlan'"));
	json_decref(body);
	lb_port_free(port);

	port = lb_port_new();
	body = json_loads("{\"address\": \"52:54:00:aa:bb:cc\"}", 0, NULL);
	assert_int_equal(lb_port_from_create(port, body, 78, &err), -EINVAL);
	assert_string_equal(err.msg, "'node_uuid' is a required property");
	json_decref(body);
	lb_port_free(port);
}

/* driver_info rescue_soft_power_off_timeout: what is a number of seconds. */
static void
test_soft_off_timeout(void **state)
{
	static const struct {
		const char *info;
		int want, seconds;
	} cases[] = {
		{ "{}", -ENOENT, -1 },
		{ "{\"rescue_soft_power_off_timeout\": 0}", 0, 0 },
		{ "{\"rescue_soft_power_off_timeout\": 30}", 0, 30 },
		{ "{\"rescue_soft_power_off_timeout\": \"5\"}", 0, 5 },
		{ "{\"rescue_soft_power_off_timeout\": \"0\"}", 0, 0 },
		{ "{\"rescue_soft_power_off_timeout\": \"3600\"}", 0, 3600 },
		{ "{\"rescue_soft_power_off_timeout\": 3601}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": -1}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": \"-1\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": \"+5\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": \" 5\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": \"5s\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": \"\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": \"0x10\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": "
		  "\"99999999999999999999\"}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": 1.5}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": true}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": null}", -EINVAL, -1 },
		{ "{\"rescue_soft_power_off_timeout\": [5]}", -EINVAL, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *info = json_loads(cases[i].info, 0, NULL);
		struct lb_err err = { "" };
		int seconds = -1;

		assert_non_null(info);
		assert_int_equal(lb_node_soft_off_timeout(info, &seconds, &err),
		    cases[i].want);
		assert_int_equal(seconds, cases[i].seconds);
		assert_int_equal(lb_node_check_driver_info(info, &err),
		    cases[i].want == -EINVAL ? -EINVAL : 0);
		if (cases[i].want == -EINVAL)
			assert_non_null(strstr(err.msg, "Invalid driver_info "
			    "rescue_soft_power_off_timeout "));
		json_decref(info);
	}
}

/* A bad value is refused at create and at patch, and the patch is not made. */
static void
test_soft_off_timeout_create_and_patch(void **state)
{
	struct lb_node *node;
	struct lb_err err = { "" };
	uint64_t changed = 0;

	(void)state;
	expect_create_error("{\"driver\": \"ipmi\", \"driver_info\": "
	    "{\"rescue_soft_power_off_timeout\": \"abc\"}}", 78, -EINVAL,
	    "Invalid driver_info rescue_soft_power_off_timeout \"abc\": "
	    "expected a whole number of seconds from 0 to 3600 (an integer, "
	    "or a string of digits)");
	/* A long or odd value is shown escaped and cut short. */
	expect_create_error("{\"driver\": \"ipmi\", \"driver_info\": "
	    "{\"rescue_soft_power_off_timeout\": \"\\u0007xxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxx\"}}", 78, -EINVAL,
	    "timeout \"\\u0007xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...: expected");
	node = make_node("{\"driver\": \"ipmi\", \"driver_info\": "
	    "{\"rescue_soft_power_off_timeout\": \"5\"}}", 78);
	assert_int_equal(patch(node, "[{\"op\": \"replace\", \"path\": "
	    "\"/driver_info/rescue_soft_power_off_timeout\", \"value\": -3}]",
	    &changed, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "timeout -3: expected"));
	assert_int_equal(patch(node, "[{\"op\": \"replace\", \"path\": "
	    "\"/driver_info/rescue_soft_power_off_timeout\", \"value\": 0}]",
	    &changed, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(node->driver_info,
	    "rescue_soft_power_off_timeout")), 0);
	lb_node_free(node);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_detail_has_every_178_field),
		cmocka_unit_test(test_render_hides_newer_fields),
		cmocka_unit_test(test_render_summary),
		cmocka_unit_test(test_render_masks_secrets),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_patch_rules),
		cmocka_unit_test(test_patch_newer_field_is_406),
		cmocka_unit_test(test_fields_parse),
		cmocka_unit_test(test_port_create),
		cmocka_unit_test(test_soft_off_timeout),
		cmocka_unit_test(test_soft_off_timeout_create_and_patch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
