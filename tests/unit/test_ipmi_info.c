/*
 * test_ipmi_info.c - unit tests of power/ipmi_info.c: parsing and
 * validating the ipmi_* driver_info keys, with Ironic's exact messages.
 * Single-threaded cmocka runner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "power/ipmi_info.h"
#include "conductor/util/banned.h"

#define MISSING_ADDRESS "Missing the following IPMI credentials in " \
	"node's driver_info: ['ipmi_address']."

/* Parses a driver_info given as JSON text. */
static int
parse(const char *text, struct lb_ipmi_info *info, struct lb_err *err)
{
	json_error_t jerr;
	json_t *di = NULL;
	int r;

	if (text != NULL) {
		di = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		assert_non_null(di);
	}
	memset(err, 0, sizeof(*err));
	r = lb_ipmi_info_parse(di, info, err);
	json_decref(di);
	return r;
}

/* Asserts that text fails with exactly msg, leaving *info untouched. */
static void
assert_fails(const char *text, const char *msg)
{
	struct lb_ipmi_info info, before;
	struct lb_err err;

	memset(&info, 0xa5, sizeof(info));
	before = info;
	assert_int_equal(parse(text, &info, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_memory_equal(&info, &before, sizeof(info));
}

static void
assert_parses(const char *text, struct lb_ipmi_info *info)
{
	struct lb_err err;

	if (parse(text, info, &err) != 0)
		fail_msg("'%s' did not parse: %s", text, err.msg);
}

static void
test_defaults(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_parses("{\"ipmi_address\": \"10.0.0.5\"}", &info);
	assert_string_equal(info.address, "10.0.0.5");
	assert_false(info.address_is_ipv6);
	assert_int_equal(info.port, 623);
	assert_string_equal(info.username, "");
	assert_string_equal(info.password, "");
	assert_int_equal(info.kg_len, 0);
	assert_int_equal(info.priv_level, LB_IPMI_PRIV_ADMINISTRATOR);
	assert_int_equal(info.protocol, LB_IPMI_PROTOCOL_2_0);
	assert_int_equal(info.cipher_suite, -1);
	assert_int_equal(info.bridging, LB_IPMI_BRIDGING_NO);
	assert_int_equal(info.target_channel, -1);
	assert_int_equal(info.target_address, -1);
	assert_int_equal(info.transit_channel, -1);
	assert_int_equal(info.transit_address, -1);
	assert_int_equal(info.local_address, -1);
	assert_false(info.force_boot_device);
	assert_true(info.disable_boot_timeout);
	assert_int_equal(info.terminal_port, 0);
	lb_ipmi_info_clear(&info);
}

/* What `openstack baremetal node set --driver-info k=v` sends: strings. */
static void
test_all_keys_as_cli_strings(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_parses("{\"ipmi_address\": \"bmc-7.example.org\","
	    " \"ipmi_port\": \"6230\", \"ipmi_username\": \"admin\","
	    " \"ipmi_password\": \"s3cret\", \"ipmi_priv_level\": \"OPERATOR\","
	    " \"ipmi_protocol_version\": \"2.0\", \"ipmi_cipher_suite\": \"3\","
	    " \"ipmi_hex_kg_key\": \"0102aBfF\","
	    " \"ipmi_force_boot_device\": \"True\","
	    " \"ipmi_disable_boot_timeout\": \"false\","
	    " \"ipmi_terminal_port\": \"8023\", \"deploy_kernel\": \"x\"}",
	    &info);
	assert_string_equal(info.address, "bmc-7.example.org");
	assert_int_equal(info.port, 6230);
	assert_string_equal(info.username, "admin");
	assert_string_equal(info.password, "s3cret");
	assert_int_equal(info.priv_level, LB_IPMI_PRIV_OPERATOR);
	assert_int_equal(info.cipher_suite, 3);
	assert_int_equal(info.kg_len, 4);
	assert_memory_equal(info.kg, "\x01\x02\xab\xff", 4);
	assert_true(info.force_boot_device);
	assert_false(info.disable_boot_timeout);
	assert_int_equal(info.terminal_port, 8023);
	lb_ipmi_info_clear(&info);
	assert_string_equal(info.password, "");
	assert_int_equal(info.kg[0], 0);
}

static void
test_json_numbers(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_parses("{\"ipmi_address\": \"10.0.0.5\", \"ipmi_port\": 6231,"
	    " \"ipmi_cipher_suite\": 17, \"ipmi_protocol_version\": 2.0,"
	    " \"ipmi_password\": 1234, \"ipmi_force_boot_device\": true,"
	    " \"ipmi_disable_boot_timeout\": 0}", &info);
	assert_int_equal(info.port, 6231);
	assert_int_equal(info.cipher_suite, 17);
	assert_int_equal(info.protocol, LB_IPMI_PROTOCOL_2_0);
	assert_string_equal(info.password, "1234");
	assert_true(info.force_boot_device);
	assert_false(info.disable_boot_timeout);

	assert_parses("{\"ipmi_address\": \"10.0.0.5\","
	    " \"ipmi_protocol_version\": 1.5, \"ipmi_port\": \" 624 \"}",
	    &info);
	assert_int_equal(info.protocol, LB_IPMI_PROTOCOL_1_5);
	assert_int_equal(info.port, 624);
}

static void
test_missing_address(void **state)
{
	(void)state;
	assert_fails("{}", MISSING_ADDRESS);
	assert_fails("{\"ipmi_address\": \"\"}", MISSING_ADDRESS);
	assert_fails("{\"ipmi_address\": null}", MISSING_ADDRESS);
	assert_fails("{\"ipmi_username\": \"admin\"}", MISSING_ADDRESS);
	assert_fails("[]", MISSING_ADDRESS);
	assert_fails(NULL, MISSING_ADDRESS);
}

static void
test_bad_address(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"10.0.0.5:623\"}",
	    "Invalid value for ipmi_address: 10.0.0.5:623, expected a host "
	    "name or an IP address (the port goes in ipmi_port)");
	assert_fails("{\"ipmi_address\": \"bmc 1\"}",
	    "Invalid value for ipmi_address: bmc 1, expected a host name or "
	    "an IP address");
	assert_fails("{\"ipmi_address\": 10}",
	    "Invalid value for ipmi_address: 10, expected a host name or an "
	    "IP address");
}

static void
test_ipv6_address(void **state)
{
	struct lb_ipmi_info info;
	char buf[LB_IPMI_WHERE_MAX + 1];

	(void)state;
	assert_parses("{\"ipmi_address\": \"[fd00::5]\", \"ipmi_port\": 6230}",
	    &info);
	assert_string_equal(info.address, "fd00::5");
	assert_true(info.address_is_ipv6);
	assert_int_equal(lb_ipmi_info_where(&info, buf, sizeof(buf)), 14);
	assert_string_equal(buf, "[fd00::5]:6230");
	assert_parses("{\"ipmi_address\": \"::1\"}", &info);
	assert_true(info.address_is_ipv6);
	assert_int_equal(lb_ipmi_info_bmc_key(&info, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ipmi:[::1]:623");
}

static void
test_bmc_key(void **state)
{
	struct lb_ipmi_info info;
	char buf[64];

	(void)state;
	assert_parses("{\"ipmi_address\": \"10.0.0.5\"}", &info);
	assert_int_equal(lb_ipmi_info_bmc_key(&info, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ipmi:10.0.0.5:623");
	assert_int_equal(lb_ipmi_info_where(&info, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "10.0.0.5:623");
	assert_parses("{\"ipmi_address\": \"BMC.Example\", "
	    "\"ipmi_port\": 6230}", &info);
	assert_int_equal(lb_ipmi_info_bmc_key(&info, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ipmi:bmc.example:6230");
	assert_int_equal(lb_ipmi_info_bmc_key(&info, buf, 10), -EINVAL);
	assert_int_equal(lb_ipmi_info_where(&info, buf, 5), -ENAMETOOLONG);
}

static void
test_port_not_integer(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": \"abc\"}",
	    "ipmi_port \"abc\" is not a valid integer.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": \"0x26f\"}",
	    "ipmi_port \"0x26f\" is not a valid integer.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": 623.5}",
	    "ipmi_port \"623.5\" is not a valid integer.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": true}",
	    "ipmi_port \"True\" is not a valid integer.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": \"\"}",
	    "ipmi_port \"\" is not a valid integer.");
}

static void
test_port_out_of_range(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": 0}",
	    "ipmi_port \"0\" is out of range. Valid port numbers must be "
	    "between 1 and 65535.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": \"65536\"}",
	    "ipmi_port \"65536\" is out of range. Valid port numbers must be "
	    "between 1 and 65535.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": "
	    "\"99999999999999999999999\"}",
	    "ipmi_port \"99999999999999999999999\" is out of range. Valid "
	    "port numbers must be between 1 and 65535.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_port\": \"-1\"}",
	    "ipmi_port \"-1\" is out of range. Valid port numbers must be "
	    "between 1 and 65535.");
}

static void
test_terminal_port(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_terminal_port\": \"x\"}",
	    "ipmi_terminal_port \"x\" is not a valid integer.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_terminal_port\": "
	    "70000}", "ipmi_terminal_port \"70000\" is out of range. Valid "
	    "port numbers must be between 1 and 65535.");
}

static void
test_priv_level(void **state)
{
	struct lb_ipmi_info info;
	static const char *const names[] = { "CALLBACK", "USER", "OPERATOR",
	    "ADMINISTRATOR" };
	char text[128];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "{\"ipmi_address\": \"h\", "
		    "\"ipmi_priv_level\": \"%s\"}", names[i]);
		assert_parses(text, &info);
		assert_int_equal(info.priv_level, i + 1);
		assert_string_equal(lb_ipmi_priv_name(info.priv_level),
		    names[i]);
	}
	/* Case matters, as in Ironic. */
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_priv_level\": "
	    "\"admin\"}", "Invalid privilege level value:admin, the valid "
	    "value can be one of ADMINISTRATOR, CALLBACK, OPERATOR, USER");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_priv_level\": 4}",
	    "Invalid privilege level value:4, the valid value can be one of "
	    "ADMINISTRATOR, CALLBACK, OPERATOR, USER");
}

static void
test_protocol_version(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_protocol_version\": "
	    "\"3.0\"}", "Invalid IPMI protocol version value 3.0, the valid "
	    "value can be one of 2.0, 1.5");
	/* str(2) is "2", not "2.0", in Ironic too. */
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_protocol_version\": 2}",
	    "Invalid IPMI protocol version value 2, the valid value can be "
	    "one of 2.0, 1.5");
}

static void
test_bridging_invalid(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"triple\"}",
	    "Invalid value for ipmi_bridging: triple, the valid value can be "
	    "one of: ['single', 'dual', 'no']");
}

static void
test_bridging_missing_keys(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"single\"}",
	    "['ipmi_target_channel', 'ipmi_target_address'] not provided");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"single\","
	    " \"ipmi_target_channel\": \"7\"}",
	    "['ipmi_target_address'] not provided");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"dual\","
	    " \"ipmi_target_channel\": 0, \"ipmi_target_address\": \"0x72\"}",
	    "['ipmi_transit_channel', 'ipmi_transit_address'] not provided");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"dual\"}",
	    "['ipmi_target_channel', 'ipmi_target_address', "
	    "'ipmi_transit_channel', 'ipmi_transit_address'] not provided");
}

static void
test_bridging_values(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"dual\","
	    " \"ipmi_target_channel\": \"7\","
	    " \"ipmi_target_address\": \"0x72\", \"ipmi_transit_channel\": 0,"
	    " \"ipmi_transit_address\": \"130\","
	    " \"ipmi_local_address\": \"0x20\"}", &info);
	assert_int_equal(info.bridging, LB_IPMI_BRIDGING_DUAL);
	assert_int_equal(info.target_channel, 7);
	assert_int_equal(info.target_address, 0x72);
	assert_int_equal(info.transit_channel, 0);
	assert_int_equal(info.transit_address, 130);
	assert_int_equal(info.local_address, 0x20);

	/* Single bridging ignores the transit keys, as Ironic does. */
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_bridging\": "
	    "\"single\", \"ipmi_target_channel\": 0, \"ipmi_target_address\":"
	    " 32, \"ipmi_transit_channel\": \"junk\"}", &info);
	assert_int_equal(info.bridging, LB_IPMI_BRIDGING_SINGLE);
	assert_int_equal(info.transit_channel, -1);

	/* No bridging ignores every bridging key. */
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"no\","
	    " \"ipmi_target_address\": \"junk\"}", &info);
	assert_int_equal(info.target_address, -1);

	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"single\","
	    " \"ipmi_target_channel\": 0, \"ipmi_target_address\": \"0x1ff\"}",
	    "Invalid value for ipmi_target_address: 0x1ff, expected a number "
	    "from 0 to 255 (0xff)");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_bridging\": \"single\","
	    " \"ipmi_target_channel\": 16, \"ipmi_target_address\": 32}",
	    "Invalid value for ipmi_target_channel: 16, expected a number "
	    "from 0 to 15 (0xf)");
}

static void
test_kg_key(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_hex_kg_key\": \"abc\"}",
	    "Number of ipmi_hex_kg_key characters is not even");
	/* The key is a secret: the message does not quote it. */
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_hex_kg_key\": "
	    "\"zz11\"}", "ipmi_hex_kg_key is not a hexadecimal number");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_hex_kg_key\": "
	    "\"000102030405060708090a0b0c0d0e0f1011121314\"}",
	    "ipmi_hex_kg_key is longer than 40 hexadecimal digits (20 bytes)");
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_hex_kg_key\": "
	    "\"000102030405060708090a0b0c0d0e0f10111213\"}", &info);
	assert_int_equal(info.kg_len, 20);
	assert_int_equal(info.kg[19], 0x13);
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_hex_kg_key\": \"\"}",
	    &info);
	assert_int_equal(info.kg_len, 0);
}

static void
test_cipher_suite(void **state)
{
	struct lb_ipmi_info info;
	static const char *const bad = "the valid value can be one of: 0, 1, "
	    "2, 3, 6, 7, 8, 11, 12, 15, 16, 17";
	char msg[256];

	(void)state;
	snprintf(msg, sizeof(msg), "Invalid value for ipmi_cipher_suite: "
	    "abc, %s", bad);
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_cipher_suite\": "
	    "\"abc\"}", msg);
	snprintf(msg, sizeof(msg), "Invalid value for ipmi_cipher_suite: 4, "
	    "%s", bad);
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_cipher_suite\": 4}",
	    msg);
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_cipher_suite\": 3,"
	    " \"ipmi_protocol_version\": \"1.5\"}", "ipmi_cipher_suite is only "
	    "used with ipmi_protocol_version 2.0, not 1.5");
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_cipher_suite\": "
	    "\"0\"}", &info);
	assert_int_equal(info.cipher_suite, 0);
}

static void
test_username(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_username\": "
	    "\"a-very-long-user-name\"}", "Invalid value for ipmi_username: "
	    "a-very-long-user-name, IPMI user names have at most 16 "
	    "characters");
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_username\": \"\"}",
	    &info);
	assert_string_equal(info.username, "");
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_username\": "
	    "\"sixteen-chars-ok\"}", &info);
	assert_string_equal(info.username, "sixteen-chars-ok");
}

static void
test_password_never_in_messages(void **state)
{
	struct lb_ipmi_info info;
	struct lb_err err;

	(void)state;
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_password\": "
	    "\"TopSecret-TopSecret-1\"}", "ipmi_password is longer than 20 "
	    "characters, the most IPMI 2.0 allows");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_password\": "
	    "\"TopSecret-TopSecret\", \"ipmi_protocol_version\": \"1.5\"}",
	    "ipmi_password is longer than 16 characters, the most IPMI 1.5 "
	    "allows");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_password\": "
	    "\"Top\\u0000Secret\"}", "ipmi_password contains a NUL character");
	/* A later key failing leaves no password behind in the message. */
	assert_int_equal(parse("{\"ipmi_address\": \"h\", \"ipmi_password\": "
	    "\"TopSecret\", \"ipmi_force_boot_device\": \"TopSecret\"}", &info,
	    &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid value for ipmi_force_boot_device:"
	    " TopSecret, expected a boolean (true, false, yes, no, on, off, 1 "
	    "or 0)");
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_password\": "
	    "\"TopSecret-TopSecre\"}", &info);
	assert_string_equal(info.password, "TopSecret-TopSecre");
}

static void
test_booleans(void **state)
{
	static const char *const yes[] = { "\"yes\"", "\"On\"", "\"1\"", "1",
	    "true", "\" T \"" };
	static const char *const no[] = { "\"no\"", "\"OFF\"", "\"0\"", "0",
	    "false", "\"f\"" };
	struct lb_ipmi_info info;
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		snprintf(text, sizeof(text), "{\"ipmi_address\": \"h\", "
		    "\"ipmi_force_boot_device\": %s, "
		    "\"ipmi_disable_boot_timeout\": %s}", yes[i], no[i]);
		assert_parses(text, &info);
		assert_true(info.force_boot_device);
		assert_false(info.disable_boot_timeout);
	}
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_disable_boot_timeout\":"
	    " \"maybe\"}", "Invalid value for ipmi_disable_boot_timeout: maybe,"
	    " expected a boolean (true, false, yes, no, on, off, 1 or 0)");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_force_boot_device\": 2}",
	    "Invalid value for ipmi_force_boot_device: 2, expected a boolean "
	    "(true, false, yes, no, on, off, 1 or 0)");
}

/* Nulls are absent keys: defaults apply. */
static void
test_nulls_are_absent(void **state)
{
	struct lb_ipmi_info info;

	(void)state;
	assert_parses("{\"ipmi_address\": \"h\", \"ipmi_port\": null,"
	    " \"ipmi_priv_level\": null, \"ipmi_password\": null,"
	    " \"ipmi_bridging\": null, \"ipmi_cipher_suite\": null}", &info);
	assert_int_equal(info.port, 623);
	assert_int_equal(info.priv_level, LB_IPMI_PRIV_ADMINISTRATOR);
	assert_int_equal(info.cipher_suite, -1);
}

/* Several bad keys: the first in Ironic's order of checks is reported. */
static void
test_ironic_check_order(void **state)
{
	(void)state;
	assert_fails("{\"ipmi_priv_level\": \"x\", \"ipmi_port\": \"x\"}",
	    MISSING_ADDRESS);
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_priv_level\": \"x\","
	    " \"ipmi_port\": \"x\", \"ipmi_protocol_version\": \"9\"}",
	    "Invalid IPMI protocol version value 9, the valid value can be "
	    "one of 2.0, 1.5");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_priv_level\": \"x\","
	    " \"ipmi_port\": \"x\", \"ipmi_terminal_port\": \"y\"}",
	    "ipmi_terminal_port \"y\" is not a valid integer.");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_priv_level\": \"x\","
	    " \"ipmi_bridging\": \"x\"}", "Invalid value for ipmi_bridging: x,"
	    " the valid value can be one of: ['single', 'dual', 'no']");
	assert_fails("{\"ipmi_address\": \"h\", \"ipmi_priv_level\": \"x\","
	    " \"ipmi_hex_kg_key\": \"1\"}", "Invalid privilege level value:x, "
	    "the valid value can be one of ADMINISTRATOR, CALLBACK, OPERATOR, "
	    "USER");
}

static void
test_names_and_suites(void **state)
{
	(void)state;
	assert_string_equal(lb_ipmi_protocol_name(LB_IPMI_PROTOCOL_1_5), "1.5");
	assert_string_equal(lb_ipmi_protocol_name(LB_IPMI_PROTOCOL_2_0), "2.0");
	assert_string_equal(lb_ipmi_bridging_name(LB_IPMI_BRIDGING_DUAL),
	    "dual");
	assert_string_equal(lb_ipmi_bridging_name(LB_IPMI_BRIDGING_NO), "no");
	assert_true(lb_ipmi_cipher_suite_supported(3));
	assert_true(lb_ipmi_cipher_suite_supported(17));
	assert_false(lb_ipmi_cipher_suite_supported(5));
	assert_false(lb_ipmi_cipher_suite_supported(18));
	assert_false(lb_ipmi_cipher_suite_supported(-1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys_as_cli_strings),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_missing_address),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_ipv6_address),
		cmocka_unit_test(test_bmc_key),
		cmocka_unit_test(test_port_not_integer),
		cmocka_unit_test(test_port_out_of_range),
		cmocka_unit_test(test_terminal_port),
		cmocka_unit_test(test_priv_level),
		cmocka_unit_test(test_protocol_version),
		cmocka_unit_test(test_bridging_invalid),
		cmocka_unit_test(test_bridging_missing_keys),
		cmocka_unit_test(test_bridging_values),
		cmocka_unit_test(test_kg_key),
		cmocka_unit_test(test_cipher_suite),
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_password_never_in_messages),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_nulls_are_absent),
		cmocka_unit_test(test_ironic_check_order),
		cmocka_unit_test(test_names_and_suites),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
