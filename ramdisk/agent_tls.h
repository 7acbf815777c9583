/*
 * agent_tls.h - IPA's auto-TLS: a fresh self-signed certificate for the
 * advertised address and a server TLS context that uses it.  Main thread,
 * once, before the API is served.
 */
#ifndef RA_TLS_H
#define RA_TLS_H

#include <openssl/ssl.h>

#include "conductor/util/err.h"

#define RA_TLS_VALID_DAYS 30
/* Backdating, as IPA's auto_tls_allowed_clock_skew (3600 s). */
#define RA_TLS_CLOCK_SKEW_S 3600

/*
 * An EC P-384 key and a certificate with CN = host and a critical
 * subjectAltName (IP for an address, DNS for a name), valid from
 * RA_TLS_CLOCK_SKEW_S ago for RA_TLS_VALID_DAYS, signed with SHA-512.
 * *ret_ctx is a TLS >= 1.2 server context with them; *ret_pem the
 * certificate (the caller frees it) to send as agent_verify_ca.
 */
int ra_tls_self_signed(const char *host, SSL_CTX **ret_ctx, char **ret_pem,
    struct lb_err *err);

#endif
