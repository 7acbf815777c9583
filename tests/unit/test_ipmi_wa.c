/*
 * test_ipmi_wa.c - unit tests of power/ipmi_wa.c, FreeIPMI's workaround
 * flags: the driver_info key ipmi_workarounds through lb_ipmi_info_parse(),
 * the parser the config shares, the mapping to libfreeipmi's and
 * libipmiconsole's flags, the names and the hints.  Single-threaded cmocka
 * runner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#ifdef LB_HAVE_FREEIPMI_H
#include <freeipmi/freeipmi.h>
#endif
#ifdef LB_HAVE_IPMICONSOLE_H
#include <ipmiconsole.h>
#endif

#include "power/ipmi_info.h"
#include "conductor/util/banned.h"

/* ipmi_wa.c's table, in its order: what every message lists. */
#define NAMES "authcap, nochecksumcheck, idzero, unexpectedauth, " \
	"forcepermsg, endianseq, noauthcodecheck, intel20, supermicro20, " \
	"sun20, opensesspriv, integritycheckvalue, solpayloadsize, solport, " \
	"solstatus, solchannelsupport, serialalertsdeferred, solpacketseq, " \
	"or none"
#define VALID "the valid names are " NAMES
#define EMPTY_NAME "Invalid value for ipmi_workarounds: expected a " \
	"comma-separated list of FreeIPMI workaround flags, with no empty " \
	"name: " NAMES

/* driver_info {"ipmi_address": ..., "ipmi_workarounds": <json>}. */
static int
parse_key(const char *json, struct lb_ipmi_info *info, struct lb_err *err)
{
	char text[2048];
	json_error_t jerr;
	json_t *di;
	int r;

	snprintf(text, sizeof(text), "{\"ipmi_address\": \"10.0.0.5\", "
	    "\"ipmi_workarounds\": %s}", json);
	di = json_loads(text, JSON_ALLOW_NUL, &jerr);
	assert_non_null(di);
	memset(err, 0, sizeof(*err));
	r = lb_ipmi_info_parse(di, info, err);
	json_decref(di);
	return r;
}

static unsigned int
wa_of(const char *json)
{
	struct lb_ipmi_info info;
	struct lb_err err;

	if (parse_key(json, &info, &err) != 0)
		fail_msg("%s did not parse: %s", json, err.msg);
	assert_true(info.workarounds_given);
	return info.workarounds;
}

static void
assert_key_fails(const char *json, const char *msg)
{
	struct lb_ipmi_info info, before;
	struct lb_err err;

	memset(&info, 0xa5, sizeof(info));
	before = info;
	assert_int_equal(parse_key(json, &info, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_memory_equal(&info, &before, sizeof(info));
}

static void
test_absent_and_null(void **state)
{
	struct lb_ipmi_info info;
	struct lb_err err;

	(void)state;
	assert_int_equal(parse_key("null", &info, &err), 0);
	assert_false(info.workarounds_given);
	assert_int_equal(info.workarounds, 0);
}

static void
test_valid(void **state)
{
	(void)state;
	assert_int_equal(wa_of("\"opensesspriv\""), LB_IPMI_WA_OPENSESSPRIV);
	assert_int_equal(wa_of("\"opensesspriv,solpayloadsize\""),
	    LB_IPMI_WA_OPENSESSPRIV | LB_IPMI_WA_SOLPAYLOADSIZE);
	/* Every name, in any case, with blanks around the commas. */
	assert_int_equal(wa_of("\" AuthCap ,nochecksumcheck,IDZERO,\\t"
	    "unexpectedauth , forcepermsg,endianseq,noauthcodecheck,intel20,"
	    "supermicro20,sun20,opensesspriv,integritycheckvalue,"
	    "solpayloadsize,solport,solstatus,solchannelsupport,"
	    "serialalertsdeferred,SolPacketSeq \""), LB_IPMI_WA_ALL);
	/* A name given twice is the same set. */
	assert_int_equal(wa_of("\"solport,solport\""), LB_IPMI_WA_SOLPORT);
	/* "none" is the empty set, and still counts as given. */
	assert_int_equal(wa_of("\"none\""), 0);
	assert_int_equal(wa_of("\" NONE \""), 0);
}

static void
test_unknown_and_empty(void **state)
{
	(void)state;
	assert_key_fails("\"opensesspriv,bogus\"", "Invalid value for "
	    "ipmi_workarounds: 'bogus' is not a FreeIPMI workaround flag; "
	    VALID);
	/* ipmipower's own "ipmiping" is not a session flag. */
	assert_key_fails("\"ipmiping\"", "Invalid value for ipmi_workarounds: "
	    "'ipmiping' is not a FreeIPMI workaround flag; " VALID);
	/* A long or binary name is cut and cleaned in the message. */
	assert_key_fails("\"abc\\u0001defghijklmnopqrstuvwxyz0123\"",
	    "Invalid value for ipmi_workarounds: 'abc?defghijklmnopqrstuvw...' "
	    "is not a FreeIPMI workaround flag; " VALID);
	assert_key_fails("\"\"", EMPTY_NAME);
	assert_key_fails("\"solport,,solstatus\"", EMPTY_NAME);
	assert_key_fails("\"solport, \"", EMPTY_NAME);
	assert_key_fails("\"none,opensesspriv\"", "Invalid value for "
	    "ipmi_workarounds: 'none' (no workaround) cannot be combined "
	    "with other names");
	assert_key_fails("\"opensesspriv,none\"", "Invalid value for "
	    "ipmi_workarounds: 'none' (no workaround) cannot be combined "
	    "with other names");
}

static void
test_type_errors(void **state)
{
	(void)state;
	assert_key_fails("16", "Invalid value for ipmi_workarounds: 16, "
	    "expected a string of comma-separated FreeIPMI workaround flags");
	assert_key_fails("true", "Invalid value for ipmi_workarounds: true, "
	    "expected a string of comma-separated FreeIPMI workaround flags");
	assert_key_fails("[\"opensesspriv\"]", "Invalid value for "
	    "ipmi_workarounds: [\"opensesspriv\"], expected a string of "
	    "comma-separated FreeIPMI workaround flags");
	assert_key_fails("\"opensesspriv\\u0000solport\"", "Invalid value for "
	    "ipmi_workarounds: \"opensesspriv\\u0000solport\", expected a "
	    "string of comma-separated FreeIPMI workaround flags");
	/* What is quoted of a long value is bounded. */
	assert_key_fails("[\"opensesspriv\", \"solpayloadsize\", \"solport\"]",
	    "Invalid value for ipmi_workarounds: [\"opensesspriv\", "
	    "\"solpayloadsize\", \"solp..., expected a string of "
	    "comma-separated FreeIPMI workaround flags");
}

static void
test_too_long(void **state)
{
	char json[LB_IPMI_WA_VALUE_MAX + 64], *p = json;
	struct lb_ipmi_info info;
	struct lb_err err;

	(void)state;
	/* 512 characters of valid names parse; one more is refused. */
	*p++ = '"';
	for (int i = 0; i < 64; i++) {
		memcpy(p, "solport,", 8);
		p += 8;
	}
	p[-1] = ' ';
	*p++ = '"';
	*p = '\0';
	assert_int_equal(strlen(json), LB_IPMI_WA_VALUE_MAX + 2);
	assert_int_equal(parse_key(json, &info, &err), 0);
	assert_int_equal(info.workarounds, LB_IPMI_WA_SOLPORT);
	memcpy(p - 1, " \"", 3);
	assert_key_fails(json, "Invalid value for ipmi_workarounds: longer "
	    "than 512 characters");
}

/* The parser the config option shares writes only the reason. */
static void
test_parse_direct(void **state)
{
	unsigned int wa = 12345;
	char why[512];

	(void)state;
	assert_int_equal(lb_ipmi_wa_parse("Sun20", &wa, why, sizeof(why)), 0);
	assert_int_equal(wa, LB_IPMI_WA_SUN20);
	wa = 12345;
	assert_int_equal(lb_ipmi_wa_parse("sun", &wa, why, sizeof(why)),
	    -EINVAL);
	assert_int_equal(wa, 12345);
	assert_string_equal(why, "'sun' is not a FreeIPMI workaround flag; "
	    VALID);
	/* A short buffer is cut, not overrun. */
	assert_int_equal(lb_ipmi_wa_parse("sun", &wa, why, 8), -EINVAL);
	assert_string_equal(why, "'sun' i");
}

/* The node's key replaces [ipmi] workarounds; "none" too. */
static void
test_effective(void **state)
{
	struct lb_ipmi_info info;
	struct lb_err err;
	unsigned int wa = 12345;

	(void)state;
	assert_int_equal(parse_key("null", &info, &err), 0);
	assert_int_equal(lb_ipmi_wa_effective(&info, NULL, &wa, &err), 0);
	assert_int_equal(wa, 0);
	assert_int_equal(lb_ipmi_wa_effective(&info, "opensesspriv, SOLPORT",
	    &wa, &err), 0);
	assert_int_equal(wa, LB_IPMI_WA_OPENSESSPRIV | LB_IPMI_WA_SOLPORT);
	assert_int_equal(parse_key("\"solstatus\"", &info, &err), 0);
	assert_int_equal(lb_ipmi_wa_effective(&info, "opensesspriv", &wa,
	    &err), 0);
	assert_int_equal(wa, LB_IPMI_WA_SOLSTATUS);
	assert_int_equal(parse_key("\"none\"", &info, &err), 0);
	assert_int_equal(lb_ipmi_wa_effective(&info, "opensesspriv", &wa,
	    &err), 0);
	assert_int_equal(wa, 0);
	/* A default lifeboatd's start-up would have refused. */
	assert_int_equal(parse_key("null", &info, &err), 0);
	wa = 12345;
	assert_int_equal(lb_ipmi_wa_effective(&info, "nope", &wa, &err),
	    -EINVAL);
	assert_int_equal(wa, 12345);
	assert_string_equal(err.msg, "Invalid value for [ipmi] workarounds: "
	    "'nope' is not a FreeIPMI workaround flag; " VALID);
}

/* What node create and PATCH run: the key alone, null and absent pass. */
static void
test_check_driver_info(void **state)
{
	json_t *di;
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_ipmi_wa_check_driver_info(NULL, &err), 0);
	di = json_pack("{s:s}", "ipmi_priv_level", "bogus");
	assert_int_equal(lb_ipmi_wa_check_driver_info(di, &err), 0);
	json_object_set_new(di, "ipmi_workarounds", json_null());
	assert_int_equal(lb_ipmi_wa_check_driver_info(di, &err), 0);
	json_object_set_new(di, "ipmi_workarounds", json_string("SUN20 "));
	assert_int_equal(lb_ipmi_wa_check_driver_info(di, &err), 0);
	json_object_set_new(di, "ipmi_workarounds", json_string("sun"));
	assert_int_equal(lb_ipmi_wa_check_driver_info(di, &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid value for ipmi_workarounds: "
	    "'sun' is not a FreeIPMI workaround flag; " VALID);
	json_object_set_new(di, "ipmi_workarounds", json_integer(1));
	assert_int_equal(lb_ipmi_wa_check_driver_info(di, &err), -EINVAL);
	json_decref(di);
}

static void
test_names(void **state)
{
	char buf[LB_IPMI_WA_NAMES_MAX], small[12];

	(void)state;
	assert_int_equal(lb_ipmi_wa_names(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(lb_ipmi_wa_names(LB_IPMI_WA_SOLPAYLOADSIZE |
	    LB_IPMI_WA_OPENSESSPRIV, buf, sizeof(buf)), 27);
	assert_string_equal(buf, "opensesspriv,solpayloadsize");
	assert_true(lb_ipmi_wa_names(LB_IPMI_WA_ALL, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "authcap,nochecksumcheck,idzero,"
	    "unexpectedauth,forcepermsg,endianseq,noauthcodecheck,intel20,"
	    "supermicro20,sun20,opensesspriv,integritycheckvalue,"
	    "solpayloadsize,solport,solstatus,solchannelsupport,"
	    "serialalertsdeferred,solpacketseq");
	/* The names read back as the same set. */
	{
		unsigned int wa;
		char why[512];

		assert_int_equal(lb_ipmi_wa_parse(buf, &wa, why, sizeof(why)),
		    0);
		assert_int_equal(wa, LB_IPMI_WA_ALL);
	}
	assert_int_equal(lb_ipmi_wa_names(LB_IPMI_WA_OPENSESSPRIV |
	    LB_IPMI_WA_SOLPORT, small, sizeof(small)), -ENAMETOOLONG);
	assert_string_equal(small, "");
}

#ifdef LB_HAVE_FREEIPMI_H
static void
test_freeipmi_flags(void **state)
{
	unsigned int two = LB_IPMI_WA_IDZERO | LB_IPMI_WA_INTEL20;

	(void)state;
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(0, LB_IPMI_PROTOCOL_2_0),
	    IPMI_WORKAROUND_FLAGS_DEFAULT);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_OPENSESSPRIV,
	    LB_IPMI_PROTOCOL_2_0),
	    IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE);
	/* Not a 1.5 flag, nor a power one. */
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_OPENSESSPRIV,
	    LB_IPMI_PROTOCOL_1_5), 0);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_SOLPAYLOADSIZE |
	    LB_IPMI_WA_SOLPACKETSEQ, LB_IPMI_PROTOCOL_2_0), 0);
	/* 0x2 is idzero for 1.5 and intel20 for 2.0: each only for its own. */
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(two, LB_IPMI_PROTOCOL_1_5),
	    IPMI_WORKAROUND_FLAGS_OUTOFBAND_ACCEPT_SESSION_ID_ZERO);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_IDZERO,
	    LB_IPMI_PROTOCOL_2_0), 0);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(two, LB_IPMI_PROTOCOL_2_0),
	    IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_ALL,
	    LB_IPMI_PROTOCOL_1_5), 0x7f);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_ALL,
	    LB_IPMI_PROTOCOL_2_0), 0x7f);
	assert_int_equal(lb_ipmi_wa_freeipmi_flags(LB_IPMI_WA_AUTHCAP |
	    LB_IPMI_WA_NOCHECKSUMCHECK, LB_IPMI_PROTOCOL_1_5),
	    IPMI_WORKAROUND_FLAGS_OUTOFBAND_AUTHENTICATION_CAPABILITIES |
	    IPMI_WORKAROUND_FLAGS_OUTOFBAND_NO_CHECKSUM_CHECK);
}

static void
test_power_hints(void **state)
{
	char buf[LB_IPMI_WA_NAMES_MAX + 32];

	(void)state;
	/* What ipmi_sim 2.0.33 makes libfreeipmi report without the flag. */
	assert_string_equal(lb_ipmi_wa_hint(
	    IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED, LB_IPMI_PROTOCOL_2_0,
	    0), "opensesspriv");
	/* A hint already set is not repeated; opensesspriv is 2.0 only. */
	assert_null(lb_ipmi_wa_hint(IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED,
	    LB_IPMI_PROTOCOL_2_0, LB_IPMI_WA_OPENSESSPRIV));
	assert_null(lb_ipmi_wa_hint(IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED,
	    LB_IPMI_PROTOCOL_1_5, 0));
	/* Several flags for one error: the next one not yet set. */
	assert_string_equal(lb_ipmi_wa_hint(IPMI_ERR_K_G_INVALID,
	    LB_IPMI_PROTOCOL_2_0, 0), "opensesspriv");
	assert_string_equal(lb_ipmi_wa_hint(IPMI_ERR_K_G_INVALID,
	    LB_IPMI_PROTOCOL_2_0, LB_IPMI_WA_OPENSESSPRIV), "authcap");
	assert_null(lb_ipmi_wa_hint(IPMI_ERR_K_G_INVALID, LB_IPMI_PROTOCOL_2_0,
	    LB_IPMI_WA_OPENSESSPRIV | LB_IPMI_WA_AUTHCAP));
	assert_string_equal(lb_ipmi_wa_hint(
	    IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE, LB_IPMI_PROTOCOL_1_5, 0),
	    "authcap");
	/* Failures no flag fixes get none. */
	assert_null(lb_ipmi_wa_hint(IPMI_ERR_CONNECTION_TIMEOUT,
	    LB_IPMI_PROTOCOL_2_0, 0));
	assert_null(lb_ipmi_wa_hint(IPMI_ERR_IPMI_ERROR,
	    LB_IPMI_PROTOCOL_2_0, 0));
	/* The value to set keeps the flags already set. */
	assert_int_equal(lb_ipmi_wa_suggest("opensesspriv", 0, buf,
	    sizeof(buf)), 29);
	assert_string_equal(buf, "ipmi_workarounds=opensesspriv");
	assert_true(lb_ipmi_wa_suggest("opensesspriv",
	    LB_IPMI_WA_SOLPAYLOADSIZE | LB_IPMI_WA_AUTHCAP, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf,
	    "ipmi_workarounds=authcap,opensesspriv,solpayloadsize");
	assert_int_equal(lb_ipmi_wa_suggest("nonesuch", 0, buf, sizeof(buf)),
	    -EINVAL);
	assert_int_equal(lb_ipmi_wa_suggest(NULL, 0, buf, sizeof(buf)),
	    -EINVAL);
	assert_int_equal(lb_ipmi_wa_suggest("solport", 0, buf, 10),
	    -ENAMETOOLONG);
}
#endif

#ifdef LB_HAVE_IPMICONSOLE_H
static void
test_console_flags_and_hints(void **state)
{
	(void)state;
	assert_int_equal(lb_ipmi_wa_console_flags(0), 0);
	assert_int_equal(lb_ipmi_wa_console_flags(LB_IPMI_WA_OPENSESSPRIV |
	    LB_IPMI_WA_SOLPAYLOADSIZE),
	    IPMICONSOLE_WORKAROUND_OPEN_SESSION_PRIVILEGE |
	    IPMICONSOLE_WORKAROUND_IGNORE_SOL_PAYLOAD_SIZE);
	/* IPMI 1.5-only flags mean nothing to SOL (IPMI 2.0). */
	assert_int_equal(lb_ipmi_wa_console_flags(LB_IPMI_WA_IDZERO |
	    LB_IPMI_WA_ENDIANSEQ | LB_IPMI_WA_NOAUTHCODECHECK), 0);
	assert_int_equal(lb_ipmi_wa_console_flags(LB_IPMI_WA_ALL),
	    0x1ff | 0x0f000000);
	assert_int_equal(lb_ipmi_wa_console_flags(LB_IPMI_WA_SOLCHANNELSUPPORT),
	    IPMICONSOLE_WORKAROUND_SKIP_CHANNEL_PAYLOAD_SUPPORT);
	assert_string_equal(lb_ipmi_wa_hint_console(
	    IPMICONSOLE_ERR_BMC_IMPLEMENTATION, 0), "solpayloadsize");
	assert_null(lb_ipmi_wa_hint_console(IPMICONSOLE_ERR_BMC_IMPLEMENTATION,
	    LB_IPMI_WA_SOLPAYLOADSIZE));
	assert_string_equal(lb_ipmi_wa_hint_console(
	    IPMICONSOLE_ERR_SOL_UNAVAILABLE, 0), "solchannelsupport");
	assert_string_equal(lb_ipmi_wa_hint_console(IPMICONSOLE_ERR_BMC_ERROR,
	    0), "solstatus");
	assert_string_equal(lb_ipmi_wa_hint_console(IPMICONSOLE_ERR_BMC_ERROR,
	    LB_IPMI_WA_SOLSTATUS), "solchannelsupport");
	assert_string_equal(lb_ipmi_wa_hint_console(
	    IPMICONSOLE_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED, 0),
	    "opensesspriv");
	assert_null(lb_ipmi_wa_hint_console(IPMICONSOLE_ERR_SOL_INUSE, 0));
	assert_null(lb_ipmi_wa_hint_console(IPMICONSOLE_ERR_CONNECTION_TIMEOUT,
	    0));
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_and_null),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_unknown_and_empty),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_parse_direct),
		cmocka_unit_test(test_effective),
		cmocka_unit_test(test_check_driver_info),
		cmocka_unit_test(test_names),
#ifdef LB_HAVE_FREEIPMI_H
		cmocka_unit_test(test_freeipmi_flags),
		cmocka_unit_test(test_power_hints),
#endif
#ifdef LB_HAVE_IPMICONSOLE_H
		cmocka_unit_test(test_console_flags_and_hints),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
