/*
 * agent_api.h - the agent's command API as IPA's werkzeug app serves it
 * (contract 5.3): /, /v1/, /v1/status, /v1/commands/[<id>], with werkzeug's
 * 308/405 quirks, IPA's fault bodies and token rules; the only command is
 * rescue.finalize_rescue (IPA's parameters, plus lifeboat_network_moves).
 * No sockets: a request in, a reply out.  Any thread; calls are serialised
 * inside.
 */
#ifndef RA_API_H
#define RA_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define RA_API_MAX_RESULTS 64
#define RA_MEDIA_TYPE "application/vnd.openstack.ironic-python-agent.v1+json"
#define RA_DOCS_URL "https://docs.openstack.org/ironic-python-agent"
#define RA_TOKEN_INVALID "401 Unauthorized: Token invalid."

struct ra_api_config {
	const char *scheme;		/* "http" or "https" */
	const char *default_host;	/* "host:port" without a Host header */
	const char *agent_version;	/* GET /v1/status "version" */
	const char *root;		/* where finalize writes ("/") */
	double started_at;		/* time(2) with fractions */
};

struct ra_command_result {
	char id[37];
	char *name;
	const char *status;		/* RUNNING, SUCCEEDED, FAILED */
	json_t *error;			/* NULL: null */
};

struct ra_api {
	pthread_mutex_t lock;
	char *scheme;
	char *default_host;
	char *agent_version;
	char *root;
	double started_at;
	char *token;			/* NULL: none (API < 1.62) */
	bool token_required;
	bool get_token_support;		/* some GET carried a token */
	struct ra_command_result results[RA_API_MAX_RESULTS];
	size_t n_results;
};

struct ra_api_request {
	const char *method;
	const char *target;		/* path?query as received */
	const char *host;		/* Host header or NULL */
	const char *body;
	size_t body_len;
};

struct ra_api_reply {
	int status;
	const char *content_type;
	char *body;			/* owned */
	size_t body_len;
	char headers[1200];		/* "" or lines ending in CRLF */
	bool finalized;			/* stop serving once sent */
	bool network_moves;		/* finalized: lifeboat_network_moves */
};

/* NULL when out of memory.  The strings are copied. */
struct ra_api *ra_api_new(const struct ra_api_config *cfg);
void ra_api_free(struct ra_api *api);

/* The token from lookup (or the command line); NULL for none. */
int ra_api_set_token(struct ra_api *api, const char *token, bool required);

void ra_api_handle(struct ra_api *api, const struct ra_api_request *req,
    struct ra_api_reply *reply);
void ra_api_reply_release(struct ra_api_reply *reply);

/* An error reply in IPA's format (status >= 500 is faultcode "Server"). */
void ra_api_fault(struct ra_api_reply *reply, int status,
    const char *faultstring);

/* The first value of 'name' in a query string, decoded; NULL if absent. */
char *ra_query_get(const char *query, const char *name);

#endif
