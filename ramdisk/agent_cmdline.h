/*
 * agent_cmdline.h - the agent's settings from the kernel command line, as
 * ironic-python-agent reads them (ipa-api-url, BOOTIF, ipa-agent-token, ...;
 * contract section 5.1).  Pure; any thread.
 */
#ifndef RA_CMDLINE_H
#define RA_CMDLINE_H

#include <stdbool.h>

#include "conductor/util/err.h"

#define RA_MAC_LEN 18		/* "aa:bb:cc:dd:ee:ff" and the NUL */
#define RA_CMDLINE_MAX (64 * 1024)

struct ra_cmdline {
	char *api_url;		/* first usable ipa-api-url entry */
	char bootif[RA_MAC_LEN];	/* "" when absent or unusable */
	bool bootif_unusable;	/* given but not an Ethernet MAC */
	char *agent_token;	/* ipa-agent-token (virtual media) or NULL */
	char *global_request_id;
	char *listen_host;	/* ipa-listen-host; NULL = every address */
	int listen_port;	/* ipa-listen-port, 9999 */
	char *advertise_host;	/* NULL = found from the network */
	int advertise_port;	/* ipa-advertise-port; -1: listen port */
	char *advertise_protocol;	/* "http" */
	double lookup_timeout;	/* 600 s */
	double lookup_interval;	/* 1 s */
	int api_minor;		/* ipa-ironic-api-version 1.N, 0 */
	bool insecure;
	bool debug;
	bool auto_tls;		/* ipa-enable-auto-tls, true */
	char *boot_method;	/* "vmedia", "pxe" ... or NULL */
	int skipped_urls;	/* ipa-api-url entries that were not usable */
};

/*
 * Parses the text of /proc/cmdline.  Later duplicates win, like IPA; keys
 * may use '-' or '_'.  -EINVAL (with the key named) for a value that does
 * not parse, or when no ipa-api-url entry is usable.  The token is never
 * quoted in a message.
 */
int ra_cmdline_parse(const char *text, struct ra_cmdline *ret,
    struct lb_err *err);
void ra_cmdline_release(struct ra_cmdline *c);

/*
 * "01-aa-bb-cc-dd-ee-ff" (pxelinux), "aa:bb:cc:dd:ee:ff" or
 * "aa-bb-cc-dd-ee-ff", any case -> "aa:bb:cc:dd:ee:ff".  -EINVAL otherwise.
 */
int ra_mac_normalize(const char *in, char out[RA_MAC_LEN]);

#endif
