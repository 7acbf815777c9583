/*
 * ipmi_wa.c - FreeIPMI's workaround flags (driver_info ipmi_workarounds,
 * [ipmi] workarounds): the one table that names each flag with its lifeboat
 * bit and its libfreeipmi and libipmiconsole flags, their one parser, and
 * which flag would help after which session error.  Pure (no I/O); any
 * thread.  Built with or without FreeIPMI: the flag and error values come
 * from its headers where meson found them, and read 0 (no hints) where not,
 * as nothing can pass them to a library that is not there.
 */
#include "power/ipmi_info.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef LB_HAVE_FREEIPMI_H
#include <freeipmi/freeipmi.h>
#define FI15(x)	IPMI_WORKAROUND_FLAGS_OUTOFBAND_##x
#define FI20(x)	IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_##x
#else
#define FI15(x)	0
#define FI20(x)	0
#endif
#ifdef LB_HAVE_IPMICONSOLE_H
#include <ipmiconsole.h>
#define IC(x)	IPMICONSOLE_WORKAROUND_##x
#else
#define IC(x)	0
#endif

#include "conductor/util/banned.h"

/* The longest name in the table, and room for a bad one in a message. */
#define NAME_MAX_LEN	24

struct wa_row {
	const char *name;	/* FreeIPMI's, as ipmipower/ipmiconsole -W */
	unsigned int bit;	/* LB_IPMI_WA_* */
	unsigned int fi_1_5;	/* ipmi_ctx_open_outofband() */
	unsigned int fi_2_0;	/* ipmi_ctx_open_outofband_2_0() */
	unsigned int console;	/* ipmiconsole_protocol_config */
};

/*
 * FreeIPMI's order (ipmipower(8), then ipmiconsole(8)'s SOL flags).  Left
 * out: ipmipower's "ipmiping" (the tool's pings, not the library's session)
 * and freeipmi.conf's in-band and SDR/SEL tool flags.
 */
static const struct wa_row rows[] = {
	{ "authcap", LB_IPMI_WA_AUTHCAP, FI15(AUTHENTICATION_CAPABILITIES),
	  FI20(AUTHENTICATION_CAPABILITIES), IC(AUTHENTICATION_CAPABILITIES) },
	{ "nochecksumcheck", LB_IPMI_WA_NOCHECKSUMCHECK,
	  FI15(NO_CHECKSUM_CHECK), FI20(NO_CHECKSUM_CHECK),
	  IC(NO_CHECKSUM_CHECK) },
	{ "idzero", LB_IPMI_WA_IDZERO, FI15(ACCEPT_SESSION_ID_ZERO), 0, 0 },
	{ "unexpectedauth", LB_IPMI_WA_UNEXPECTEDAUTH,
	  FI15(CHECK_UNEXPECTED_AUTHCODE), 0, 0 },
	{ "forcepermsg", LB_IPMI_WA_FORCEPERMSG,
	  FI15(FORCE_PERMSG_AUTHENTICATION), 0, 0 },
	{ "endianseq", LB_IPMI_WA_ENDIANSEQ,
	  FI15(BIG_ENDIAN_SEQUENCE_NUMBER), 0, 0 },
	{ "noauthcodecheck", LB_IPMI_WA_NOAUTHCODECHECK,
	  FI15(NO_AUTH_CODE_CHECK), 0, 0 },
	{ "intel20", LB_IPMI_WA_INTEL20, 0, FI20(INTEL_2_0_SESSION),
	  IC(INTEL_2_0_SESSION) },
	{ "supermicro20", LB_IPMI_WA_SUPERMICRO20, 0,
	  FI20(SUPERMICRO_2_0_SESSION), IC(SUPERMICRO_2_0_SESSION) },
	{ "sun20", LB_IPMI_WA_SUN20, 0, FI20(SUN_2_0_SESSION),
	  IC(SUN_2_0_SESSION) },
	{ "opensesspriv", LB_IPMI_WA_OPENSESSPRIV, 0,
	  FI20(OPEN_SESSION_PRIVILEGE), IC(OPEN_SESSION_PRIVILEGE) },
	{ "integritycheckvalue", LB_IPMI_WA_INTEGRITYCHECKVALUE, 0,
	  FI20(NON_EMPTY_INTEGRITY_CHECK_VALUE),
	  IC(NON_EMPTY_INTEGRITY_CHECK_VALUE) },
	{ "solpayloadsize", LB_IPMI_WA_SOLPAYLOADSIZE, 0, 0,
	  IC(IGNORE_SOL_PAYLOAD_SIZE) },
	{ "solport", LB_IPMI_WA_SOLPORT, 0, 0, IC(IGNORE_SOL_PORT) },
	{ "solstatus", LB_IPMI_WA_SOLSTATUS, 0, 0,
	  IC(SKIP_SOL_ACTIVATION_STATUS) },
	{ "solchannelsupport", LB_IPMI_WA_SOLCHANNELSUPPORT, 0, 0,
	  IC(SKIP_CHANNEL_PAYLOAD_SUPPORT) },
	{ "serialalertsdeferred", LB_IPMI_WA_SERIALALERTSDEFERRED, 0, 0,
	  IC(SERIAL_ALERTS_DEFERRED) },
	{ "solpacketseq", LB_IPMI_WA_SOLPACKETSEQ, 0, 0,
	  IC(INCREMENT_SOL_PACKET_SEQUENCE) },
};
#define NROWS	(sizeof(rows) / sizeof(rows[0]))
_Static_assert(NROWS == 18 && LB_IPMI_WA_ALL == (1u << 18) - 1,
    "one row per LB_IPMI_WA_* bit");

/*
 * Which flag fixes which session error: FreeIPMI's man pages ("those
 * hitting this issue may see ..."), and the lab's ipmi_sim 2.0.33, which
 * needs opensesspriv and otherwise refuses the privilege level.  Rows for
 * one error are tried in order; the first flag not yet set is the hint.
 */
#define P15	0x1
#define P20	0x2

struct hint_row {
	int errnum;
	unsigned int protocols;	/* P15 | P20; the console is 2.0 */
	unsigned int bit;
};

static const struct hint_row power_hints[] = {
#ifdef LB_HAVE_FREEIPMI_H
	{ IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED, P20,
	  LB_IPMI_WA_OPENSESSPRIV },
	{ IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE, P20, LB_IPMI_WA_OPENSESSPRIV },
	{ IPMI_ERR_PASSWORD_INVALID, P20, LB_IPMI_WA_OPENSESSPRIV },
	{ IPMI_ERR_K_G_INVALID, P20, LB_IPMI_WA_OPENSESSPRIV },
	{ IPMI_ERR_K_G_INVALID, P15 | P20, LB_IPMI_WA_AUTHCAP },
	{ IPMI_ERR_USERNAME_INVALID, P15 | P20, LB_IPMI_WA_AUTHCAP },
	{ IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE, P15, LB_IPMI_WA_AUTHCAP },
#endif
	{ -1, 0, 0 },
};

static const struct hint_row console_hints[] = {
#ifdef LB_HAVE_IPMICONSOLE_H
	{ IPMICONSOLE_ERR_BMC_IMPLEMENTATION, P20, LB_IPMI_WA_SOLPAYLOADSIZE },
	{ IPMICONSOLE_ERR_SOL_UNAVAILABLE, P20, LB_IPMI_WA_SOLCHANNELSUPPORT },
	{ IPMICONSOLE_ERR_BMC_ERROR, P20, LB_IPMI_WA_SOLSTATUS },
	{ IPMICONSOLE_ERR_BMC_ERROR, P20, LB_IPMI_WA_SOLCHANNELSUPPORT },
	{ IPMICONSOLE_ERR_EXCESS_RETRANSMISSIONS_SENT, P20,
	  LB_IPMI_WA_SERIALALERTSDEFERRED },
	{ IPMICONSOLE_ERR_EXCESS_RETRANSMISSIONS_SENT, P20,
	  LB_IPMI_WA_SOLPACKETSEQ },
	{ IPMICONSOLE_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED, P20,
	  LB_IPMI_WA_OPENSESSPRIV },
	{ IPMICONSOLE_ERR_PASSWORD_INVALID, P20, LB_IPMI_WA_OPENSESSPRIV },
	{ IPMICONSOLE_ERR_K_G_INVALID, P20, LB_IPMI_WA_OPENSESSPRIV },
	{ IPMICONSOLE_ERR_K_G_INVALID, P20, LB_IPMI_WA_AUTHCAP },
	{ IPMICONSOLE_ERR_USERNAME_INVALID, P20, LB_IPMI_WA_AUTHCAP },
#endif
	{ -1, 0, 0 },
};

/* "authcap, nochecksumcheck, ..., solpacketseq or none", for messages. */
static void
valid_names(char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NROWS && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s, ",
		    rows[i].name);
	if (used < size)
		snprintf(buf + used, size - used, "or none");
}

static const struct wa_row *
row_by_name(const char *name, size_t len)
{
	for (size_t i = 0; i < NROWS; i++)
		if (strlen(rows[i].name) == len &&
		    strncasecmp(rows[i].name, name, len) == 0)
			return &rows[i];
	return NULL;
}

/* A bad name as a message shows it: bounded, control bytes made '?'. */
static void
shown_name(const char *name, size_t len, char *buf, size_t size)
{
	size_t n = len < size - 4 ? len : size - 4;

	for (size_t i = 0; i < n; i++)
		buf[i] = isprint((unsigned char)name[i]) ? name[i] : '?';
	if (n < len)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
}

int
lb_ipmi_wa_parse(const char *value, unsigned int *ret_wa, char *why,
    size_t size)
{
	char valid[LB_IPMI_WA_NAMES_MAX + 32], bad[NAME_MAX_LEN + 4];
	const char *p = value, *end, *comma;
	const struct wa_row *row;
	unsigned int wa = 0;
	size_t n = 0;
	bool none = false;

	if (strlen(value) > LB_IPMI_WA_VALUE_MAX) {
		snprintf(why, size, "longer than %d characters",
		    LB_IPMI_WA_VALUE_MAX);
		return -EINVAL;
	}
	valid_names(valid, sizeof(valid));
	for (;; n++, p = comma + 1) {
		comma = strchr(p, ',');
		end = comma != NULL ? comma : p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (p == end) {
			snprintf(why, size, "expected a comma-separated list "
			    "of FreeIPMI workaround flags, with no empty "
			    "name: %s", valid);
			return -EINVAL;
		}
		row = row_by_name(p, (size_t)(end - p));
		if (row != NULL) {
			wa |= row->bit;
		} else if ((size_t)(end - p) == 4 &&
		    strncasecmp(p, "none", 4) == 0) {
			none = true;
		} else {
			shown_name(p, (size_t)(end - p), bad, sizeof(bad));
			snprintf(why, size, "'%s' is not a FreeIPMI workaround "
			    "flag; the valid names are %s", bad, valid);
			return -EINVAL;
		}
		if (comma == NULL)
			break;
	}
	if (none && n > 0) {
		snprintf(why, size, "'none' (no workaround) cannot be "
		    "combined with other names");
		return -EINVAL;
	}
	*ret_wa = wa;
	return 0;
}

int
lb_ipmi_wa_parse_json(const json_t *v, unsigned int *ret_wa,
    struct lb_err *err)
{
	char why[LB_ERR_MSG_MAX - 64];
	char *shown;

	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		/* ASCII-escaped: nothing the client sent breaks a log line. */
		shown = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		lb_err_set(err, -EINVAL, "Invalid value for ipmi_workarounds: "
		    "%.40s%s, expected a string of comma-separated FreeIPMI "
		    "workaround flags", shown != NULL ? shown : "?",
		    shown != NULL && strlen(shown) > 40 ? "..." : "");
		free(shown);
		return -EINVAL;
	}
	if (lb_ipmi_wa_parse(json_string_value(v), ret_wa, why,
	    sizeof(why)) < 0)
		return lb_err_set(err, -EINVAL, "Invalid value for "
		    "ipmi_workarounds: %s", why);
	return 0;
}

int
lb_ipmi_wa_check_driver_info(const json_t *driver_info, struct lb_err *err)
{
	const json_t *v = json_object_get(driver_info, "ipmi_workarounds");
	unsigned int wa;

	if (v == NULL || json_is_null(v))
		return 0;
	return lb_ipmi_wa_parse_json(v, &wa, err);
}

int
lb_ipmi_wa_check(const char *value, char *why, size_t size)
{
	unsigned int wa;

	return lb_ipmi_wa_parse(value, &wa, why, size);
}

int
lb_ipmi_wa_effective(const struct lb_ipmi_info *info, const char *def,
    unsigned int *ret_wa, struct lb_err *err)
{
	char why[LB_ERR_MSG_MAX - 64];

	if (info->workarounds_given || def == NULL) {
		*ret_wa = info->workarounds;
		return 0;
	}
	if (lb_ipmi_wa_parse(def, ret_wa, why, sizeof(why)) < 0)
		return lb_err_set(err, -EINVAL, "Invalid value for [ipmi] "
		    "workarounds: %s", why);
	return 0;
}

unsigned int
lb_ipmi_wa_freeipmi_flags(unsigned int wa, enum lb_ipmi_protocol protocol)
{
	unsigned int flags = 0;

	for (size_t i = 0; i < NROWS; i++)
		if (wa & rows[i].bit)
			flags |= protocol == LB_IPMI_PROTOCOL_1_5 ?
			    rows[i].fi_1_5 : rows[i].fi_2_0;
	return flags;
}

unsigned int
lb_ipmi_wa_console_flags(unsigned int wa)
{
	unsigned int flags = 0;

	for (size_t i = 0; i < NROWS; i++)
		if (wa & rows[i].bit)
			flags |= rows[i].console;
	return flags;
}

int
lb_ipmi_wa_names(unsigned int wa, char *buf, size_t size)
{
	size_t used = 0;
	int n;

	if (size == 0)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	for (size_t i = 0; i < NROWS; i++) {
		if (!(wa & rows[i].bit))
			continue;
		n = snprintf(buf + used, size - used, "%s%s",
		    used > 0 ? "," : "", rows[i].name);
		if (n < 0 || (size_t)n >= size - used) {
			buf[0] = '\0';
			return -ENAMETOOLONG;
		}
		used += (size_t)n;
	}
	return (int)used;
}

static const char *
hint(const struct hint_row *table, int errnum, unsigned int protocols,
    unsigned int wa_set)
{
	for (; table->errnum >= 0; table++) {
		if (table->errnum != errnum ||
		    !(table->protocols & protocols) || (wa_set & table->bit))
			continue;
		for (size_t i = 0; i < NROWS; i++)
			if (rows[i].bit == table->bit)
				return rows[i].name;
	}
	return NULL;
}

const char *
lb_ipmi_wa_hint(int ipmi_errnum, enum lb_ipmi_protocol protocol,
    unsigned int wa_set)
{
	return hint(power_hints, ipmi_errnum,
	    protocol == LB_IPMI_PROTOCOL_1_5 ? P15 : P20, wa_set);
}

const char *
lb_ipmi_wa_hint_console(int ipmiconsole_errnum, unsigned int wa_set)
{
	return hint(console_hints, ipmiconsole_errnum, P20, wa_set);
}

int
lb_ipmi_wa_suggest(const char *hint_name, unsigned int wa_set, char *buf,
    size_t size)
{
	char names[LB_IPMI_WA_NAMES_MAX];
	const struct wa_row *row;
	int n;

	row = hint_name != NULL ? row_by_name(hint_name, strlen(hint_name)) :
	    NULL;
	if (row == NULL)
		return -EINVAL;
	if (lb_ipmi_wa_names(wa_set | row->bit, names, sizeof(names)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf, size, "ipmi_workarounds=%s", names);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}
