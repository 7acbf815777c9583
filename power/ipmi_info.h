/*
 * ipmi_info.h - a node's ipmi_* driver_info keys, parsed and validated into
 * a plain struct with Ironic's messages, and FreeIPMI's workaround flags
 * (ipmi_wa.c).  Pure (no I/O, no resolver), so it is unit tested and
 * fuzzed; the IPMI power driver, the console and node create/PATCH (for
 * ipmi_workarounds) use it.  Any thread.
 */
#ifndef LB_IPMI_INFO_H
#define LB_IPMI_INFO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

#define LB_IPMI_DEFAULT_PORT	623
#define LB_IPMI_ADDRESS_MAX	255	/* a DNS name, or an IP literal */
#define LB_IPMI_USERNAME_MAX	16	/* IPMI user names */
#define LB_IPMI_PASSWORD_MAX	20	/* IPMI 2.0; 1.5 allows 16 */
#define LB_IPMI_PASSWORD_MAX_1_5 16
#define LB_IPMI_KG_MAX		20	/* bytes, so 40 hex digits */
/* "[" address "]:" port, the form both messages and libfreeipmi take. */
#define LB_IPMI_WHERE_MAX	(LB_IPMI_ADDRESS_MAX + 9)

/* The values are the IPMI spec's privilege level codes. */
enum lb_ipmi_priv {
	LB_IPMI_PRIV_CALLBACK = 1,
	LB_IPMI_PRIV_USER = 2,
	LB_IPMI_PRIV_OPERATOR = 3,
	LB_IPMI_PRIV_ADMINISTRATOR = 4,
};

enum lb_ipmi_protocol {
	LB_IPMI_PROTOCOL_2_0,	/* RMCP+, ipmitool's "lanplus" */
	LB_IPMI_PROTOCOL_1_5,	/* ipmitool's "lan" */
};

enum lb_ipmi_bridging {
	LB_IPMI_BRIDGING_NO,
	LB_IPMI_BRIDGING_SINGLE,
	LB_IPMI_BRIDGING_DUAL,
};

/*
 * Holds the password and the Kg key: wipe it with lb_ipmi_info_clear() when
 * done.  Bridging numbers are -1 where not given or not used by the
 * bridging type (Ironic ignores them then, and so do we).
 */
struct lb_ipmi_info {
	char address[LB_IPMI_ADDRESS_MAX + 1];	/* IPv6: no brackets */
	bool address_is_ipv6;
	unsigned int port;			/* ipmi_port, default 623 */
	char username[LB_IPMI_USERNAME_MAX + 1];	/* "": null user */
	char password[LB_IPMI_PASSWORD_MAX + 1];	/* "" when not given */
	unsigned char kg[LB_IPMI_KG_MAX];
	size_t kg_len;				/* 0: no Kg key */
	enum lb_ipmi_priv priv_level;		/* default ADMINISTRATOR */
	enum lb_ipmi_protocol protocol;		/* default 2.0 */
	int cipher_suite;			/* -1: probe 17, then 3 */
	enum lb_ipmi_bridging bridging;
	int local_address;
	int transit_channel;
	int transit_address;
	int target_channel;
	int target_address;
	bool force_boot_device;			/* default false */
	bool disable_boot_timeout;		/* default true, as Ironic */
	unsigned int terminal_port;		/* console only; 0: none */
	unsigned int workarounds;		/* LB_IPMI_WA_* */
	bool workarounds_given;			/* ipmi_workarounds set ("none"
						 * too): replaces the default */
};

/*
 * Parses the ipmi_* keys of driver_info (an object, or NULL for none) into
 * *ret_info, written only on success.  Values may be JSON strings or
 * numbers, as the CLI sends strings.  On failure returns -EINVAL and the
 * message Ironic gives (lifeboat's own where Ironic has none); no message
 * ever contains the password or the Kg key.
 */
int lb_ipmi_info_parse(const json_t *driver_info,
    struct lb_ipmi_info *ret_info, struct lb_err *err);

/* Wipes the secrets (and everything else). */
void lb_ipmi_info_clear(struct lb_ipmi_info *info);

/*
 * "10.0.0.5:623", "[fd00::5]:623", "bmc.example:6230": how messages name
 * the BMC, and the host string libfreeipmi takes.  Returns the length, or
 * -ENAMETOOLONG if it does not fit (it always fits LB_IPMI_WHERE_MAX + 1).
 */
int lb_ipmi_info_where(const struct lb_ipmi_info *info, char *buf,
    size_t size);

/* "ipmi:<address>:<port>", lower case, IPv6 in brackets.  0 or -EINVAL. */
int lb_ipmi_info_bmc_key(const struct lb_ipmi_info *info, char *buf,
    size_t size);

/* "ADMINISTRATOR", ...; "2.0" / "1.5"; "no" / "single" / "dual". */
const char *lb_ipmi_priv_name(enum lb_ipmi_priv priv);
const char *lb_ipmi_protocol_name(enum lb_ipmi_protocol protocol);
const char *lb_ipmi_bridging_name(enum lb_ipmi_bridging bridging);

/* True for the RMCP+ cipher suites libfreeipmi can speak. */
bool lb_ipmi_cipher_suite_supported(long suite);

/*
 * FreeIPMI's workaround flags (ipmi_workarounds, [ipmi] workarounds), as
 * lifeboat's own bits, one per name FreeIPMI's tools take with -W
 * (ipmi_wa.c's table maps each to libfreeipmi's and libipmiconsole's
 * flags).  The values are lifeboat's, not FreeIPMI's: never stored.
 */
#define LB_IPMI_WA_AUTHCAP		(1u << 0)
#define LB_IPMI_WA_NOCHECKSUMCHECK	(1u << 1)
#define LB_IPMI_WA_IDZERO		(1u << 2)
#define LB_IPMI_WA_UNEXPECTEDAUTH	(1u << 3)
#define LB_IPMI_WA_FORCEPERMSG		(1u << 4)
#define LB_IPMI_WA_ENDIANSEQ		(1u << 5)
#define LB_IPMI_WA_NOAUTHCODECHECK	(1u << 6)
#define LB_IPMI_WA_INTEL20		(1u << 7)
#define LB_IPMI_WA_SUPERMICRO20		(1u << 8)
#define LB_IPMI_WA_SUN20		(1u << 9)
#define LB_IPMI_WA_OPENSESSPRIV		(1u << 10)
#define LB_IPMI_WA_INTEGRITYCHECKVALUE	(1u << 11)
#define LB_IPMI_WA_SOLPAYLOADSIZE	(1u << 12)
#define LB_IPMI_WA_SOLPORT		(1u << 13)
#define LB_IPMI_WA_SOLSTATUS		(1u << 14)
#define LB_IPMI_WA_SOLCHANNELSUPPORT	(1u << 15)
#define LB_IPMI_WA_SERIALALERTSDEFERRED	(1u << 16)
#define LB_IPMI_WA_SOLPACKETSEQ		(1u << 17)
#define LB_IPMI_WA_ALL			((1u << 18) - 1)

/* Longest ipmi_workarounds value taken; every name once fits in 250. */
#define LB_IPMI_WA_VALUE_MAX		512
/* Room for lb_ipmi_wa_names() of every flag, and its NUL. */
#define LB_IPMI_WA_NAMES_MAX		256

/*
 * Parses "opensesspriv, solpayloadsize" (FreeIPMI's names, any case,
 * blanks around commas; "none" alone is the empty set) into *ret_wa,
 * written only on success.  -EINVAL with what is wrong in 'why' (the
 * valid names listed), for the caller to prefix with the option's name.
 * It is the one parser of both the driver_info key and the config option.
 */
int lb_ipmi_wa_parse(const char *value, unsigned int *ret_wa, char *why,
    size_t size);
/*
 * The driver_info key's value (not NULL, not JSON null): a string for
 * lb_ipmi_wa_parse(), anything else refused.  -EINVAL with Ironic's
 * "Invalid value for ipmi_workarounds: ..." in *err.
 */
int lb_ipmi_wa_parse_json(const json_t *v, unsigned int *ret_wa,
    struct lb_err *err);
/*
 * Checks driver_info's ipmi_workarounds, if set, as lb_ipmi_info_parse()
 * would: what node create and PATCH run (lifeboat's own key, so a bad
 * value is a 400 there, not a failed power action later).
 */
int lb_ipmi_wa_check_driver_info(const json_t *driver_info,
    struct lb_err *err);
/* lb_ipmi_wa_parse() as a check: what lb_config_names.ipmi_workarounds
 * takes for [ipmi] workarounds. */
int lb_ipmi_wa_check(const char *value, char *why, size_t size);

/*
 * The set a session uses: the node's ipmi_workarounds if given (it
 * replaces the default), else the default ([ipmi] workarounds, NULL for
 * none).  -EINVAL with *err if the default does not parse (lifeboatd's
 * start-up refuses such a config, so only a config made elsewhere can).
 */
int lb_ipmi_wa_effective(const struct lb_ipmi_info *info, const char *def,
    unsigned int *ret_wa, struct lb_err *err);

/*
 * The flags for libfreeipmi's ipmi_ctx_open_outofband_2_0()
 * (IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_*) or ipmi_ctx_open_outofband()
 * (IPMI_WORKAROUND_FLAGS_OUTOFBAND_*): the two sets reuse values (0x2 is
 * idzero for 1.5, intel20 for 2.0), so the protocol picks one.  Names that
 * only the console or only the other protocol uses map to 0.
 */
unsigned int lb_ipmi_wa_freeipmi_flags(unsigned int wa,
    enum lb_ipmi_protocol protocol);
/*
 * The flags for libipmiconsole's struct ipmiconsole_protocol_config
 * .workaround_flags (IPMICONSOLE_WORKAROUND_*); names only the power
 * sessions use map to 0.  The empty set is 0, not
 * IPMICONSOLE_WORKAROUND_DEFAULT (which would read freeipmi.conf).
 */
unsigned int lb_ipmi_wa_console_flags(unsigned int wa);

/*
 * "opensesspriv,solpayloadsize": the names of wa in the table's order, ""
 * for none.  Returns the length, or -ENAMETOOLONG if it does not fit
 * (LB_IPMI_WA_NAMES_MAX always does).
 */
int lb_ipmi_wa_names(unsigned int wa, char *buf, size_t size);

/*
 * Which flag would help after a failed session: the name of the first flag
 * FreeIPMI documents (or lifeboat's lab found) as the fix for libfreeipmi's
 * IPMI_ERR_* (lb_ipmi_wa_hint) or libipmiconsole's IPMICONSOLE_ERR_*
 * (lb_ipmi_wa_hint_console) that wa_set does not hold yet; NULL if none.
 * Static strings.
 */
const char *lb_ipmi_wa_hint(int ipmi_errnum, enum lb_ipmi_protocol protocol,
    unsigned int wa_set);
const char *lb_ipmi_wa_hint_console(int ipmiconsole_errnum,
    unsigned int wa_set);

/*
 * "ipmi_workarounds=opensesspriv,solpayloadsize": the value to set, wa_set
 * with the hinted flag added (the node's key replaces the default, so it
 * keeps what is set).  Returns the length, or -ENAMETOOLONG / -EINVAL.
 */
int lb_ipmi_wa_suggest(const char *hint, unsigned int wa_set, char *buf,
    size_t size);

#endif
