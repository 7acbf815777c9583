/*
 * agent_ironic.h - the agent's calls to Ironic (contract section 5.2):
 * version discovery at GET /, lookup and heartbeat, with the microversions
 * and bodies ironic-python-agent sends.  One thread at a time per client
 * (the main thread, then the heartbeat thread).
 */
#ifndef RA_IRONIC_H
#define RA_IRONIC_H

#include <stdbool.h>

#include "conductor/util/err.h"
#include "ramdisk/agent_http.h"

#define RA_MIN_MINOR 31		/* fallback when discovery fails */
#define RA_AGENT_VERSION_MINOR 36
#define RA_TOKEN_MINOR 62	/* lookup is capped here */
#define RA_VERIFY_CA_MINOR 68	/* heartbeat is capped here; auto-TLS */
#define RA_UUID_MAX 64

struct ra_ironic {
	struct ra_http_client http;
	char *api_url;		/* without a trailing '/' */
	char *request_id;	/* X-OpenStack-Request-ID or NULL */
	int fixed_minor;	/* ipa-ironic-api-version, 0 = discover */
	int minor;		/* discovered, 0 = not yet */
};

int ra_ironic_init(struct ra_ironic *ic, const char *api_url,
    const char *request_id, int fixed_minor, bool insecure, int timeout_ms,
    struct lb_err *err);
void ra_ironic_release(struct ra_ironic *ic);

/*
 * The server's default (= maximum) minor version, from GET / once it
 * worked; RA_MIN_MINOR after a failure, which is not remembered (IPA asks
 * again next time).
 */
int ra_ironic_version(struct ra_ironic *ic);

struct ra_lookup {
	char uuid[RA_UUID_MAX + 1];
	double heartbeat_timeout;
	char *token;		/* config.agent_token as sent, or NULL */
	bool token_required;
};

/*
 * Parses a lookup reply.  Pure, for tests and fuzzing.  -EAGAIN when it
 * names no node (IPA looks up again), -EINVAL when it does but is
 * unusable (no heartbeat_timeout, a bad uuid: IPA gives up).
 */
int ra_lookup_parse(const char *body, size_t len, struct ra_lookup *ret,
    struct lb_err *err);
void ra_lookup_release(struct ra_lookup *l);

/*
 * GET /v1/lookup?addresses=MACS[&node_uuid=UUID] at min(server, 1.62).
 * -EBUSY for a 409, -EAGAIN for any other failure worth another try,
 * -EINVAL for an unusable reply.
 */
int ra_ironic_lookup(struct ra_ironic *ic, const char *macs,
    const char *node_uuid, struct ra_lookup *ret, struct lb_err *err);

struct ra_heartbeat {
	const char *uuid;
	const char *callback_url;
	const char *token;	/* NULL is sent as null from 1.62 on */
	const char *agent_version;
	const char *verify_ca;	/* PEM or NULL */
};

/*
 * POST /v1/heartbeat/UUID at min(server, 1.68) with the fields the
 * version allows.  0 on 202; otherwise -EIO (an HTTP error: *ret_status)
 * or a transport error, with Ironic's faultstring in the message.
 */
int ra_ironic_heartbeat(struct ra_ironic *ic, const struct ra_heartbeat *hb,
    int *ret_status, struct lb_err *err);

#endif
