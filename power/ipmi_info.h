/*
 * ipmi_info.h - a node's ipmi_* driver_info keys, parsed and validated into
 * a plain struct with Ironic's messages.  Pure (no I/O, no resolver), so it
 * is unit tested and fuzzed; the IPMI driver is its only other user.  Any
 * thread.
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

#endif
