/*
 * agent_client.h - calls from the conductor to the agent in the ramdisk
 * (contract 5.3): POST {agent_url}/v1/commands/?wait=false&agent_token=...
 * The token is a query parameter and never appears in a message or log.
 * Worker threads; each call has its own curl handle.
 */
#ifndef LB_AGENT_CLIENT_H
#define LB_AGENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

struct lb_agent_call {
	const char *agent_url;		/* http(s)://host:port, as heartbeated */
	const char *token;
	const char *ca_file;		/* the agent's own certificate, or NULL */
	int timeout_s;			/* per HTTP call */
	int attempts;			/* on connection failures */
};

/*
 * Checks a heartbeat's callback_url with the parser that later fetches it
 * (libcurl's): no control character, an http or https scheme in any case,
 * a host.  *ret_tls says https.  -EINVAL with a message that does not
 * repeat the URL.  Any thread.
 */
int lb_agent_url_check(const char *url, size_t len, bool *ret_tls,
    struct lb_err *err);

/*
 * Hands the agent the crypt(3) hash of the rescue password.  With
 * 'network_moves' (the node's network interface moves it to a tenant
 * network at clean-up) it also sends "lifeboat_network_moves": true; an
 * agent that rejects the unknown parameter as IPA does ("finalize_rescue()
 * got an unexpected keyword argument ...") is asked once more without it.
 * 0 when the agent answered SUCCEEDED; -EIO with "Agent returned bad
 * result for command finalize_rescue: ..." when it did not; -EHOSTUNREACH
 * / -ETIMEDOUT when it could not be reached; -EACCES when it refused the
 * token or its certificate did not match.
 */
int lb_agent_finalize_rescue(const struct lb_agent_call *call,
    const char *hash, bool network_moves, struct lb_err *err);

#endif
