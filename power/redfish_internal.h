/*
 * redfish_internal.h - what the Redfish client's files share and nobody
 * else sees: the session cache entry, a connection, one request's
 * description, and the calls between redfish_client.c (requests),
 * redfish_session.c (cache, login), redfish_http.c (one exchange) and
 * redfish_info.c (driver_info).  Any thread, as redfish_client.h says.
 */
#ifndef LB_REDFISH_INTERNAL_H
#define LB_REDFISH_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "conductor/util/http_client.h"
#include "power/redfish_client.h"

/*
 * One per (BMC, root, username, password): Ironic keys its sessions the
 * same way, so a wrong password never rides on another node's session.
 * Entries live until lb_redfish_shutdown(); connections point at them.
 */
struct lb_redfish_session {
	struct lb_redfish_session *next;
	char *base;
	char *root_prefix;
	char *username;
	char *password;
	pthread_mutex_t lock;
	/* Guarded by lock: */
	struct lb_redfish_root *root;
	char *token;
	char *location;		/* session path, for DELETE */
	unsigned long generation;
	bool basic_only;	/* auto, and the BMC has no usable sessions */
	bool verify;		/* TLS settings of the login, for DELETE */
	char *ca_path;
	bool ca_is_dir;
};

struct lb_redfish_conn {
	struct lb_redfish_info *info;
	struct lb_redfish_session *session;
	struct lb_http *http;
	char *token;		/* this call's copy, to scrub from messages */
	/* lb_redfish_conn_budget(): the call's end (lb_redfish_now(), 0:
	 * none), and how idempotent requests are retried (0: the
	 * built-in LB_REDFISH_GET_ATTEMPTS, 1, 2, ... s apart). */
	double deadline;
	int attempts;
	unsigned int retry_s;
};

enum lb_redfish_send {
	LB_REDFISH_SEND_NONE,
	LB_REDFISH_SEND_BASIC,
	LB_REDFISH_SEND_TOKEN,
};

struct lb_redfish_tls {
	bool verify;
	const char *ca_path;
	bool ca_is_dir;
};

struct lb_redfish_req {
	const char *base;
	const struct lb_redfish_tls *tls;
	long total_s;
	double deadline;	/* the connection's; 0: none */
	const char *method;
	const char *path;
	const char *body;	/* JSON text or NULL */
	const char *if_match;
	enum lb_redfish_send auth;
	const char *user;
	const char *password;
	const char *token;
};

/* What a request sends to authenticate; token is owned. */
struct lb_redfish_cred {
	enum lb_redfish_send kind;
	char *token;
	unsigned long generation;
};

/* How often an idempotent request to c's BMC is tried. */
int lb_redfish_attempts(const struct lb_redfish_conn *c);
/* Sleeps before try attempt + 1; false when that would pass c's
 * deadline. */
bool lb_redfish_retry_wait(const struct lb_redfish_conn *c,
    unsigned int attempt);

/* Wipes and frees; NULL is fine. */
void lb_redfish_free_secret(char *s);

/* redfish_http.c */

/*
 * Sends one request (to the test transport when one is set).  0 when an
 * HTTP reply arrived (any status); a negative errno for transport failures,
 * with *ret_retry set when another try may help.  *ret_token receives an
 * X-Auth-Token header when ret_token != NULL.
 */
int lb_redfish_http_do(struct lb_http *http,
    const struct lb_redfish_req *rq, struct lb_redfish_reply *reply,
    char **ret_token, bool *ret_retry, struct lb_err *err);
/* A non-2xx status as an errno and a message for a client. */
int lb_redfish_status_error(const struct lb_redfish_conn *c,
    const char *method, const char *path,
    const struct lb_redfish_reply *reply, struct lb_err *err);
bool lb_redfish_is_2xx(long status);
/* A request to c's BMC with c's TLS settings and basic credentials. */
void lb_redfish_req_init(struct lb_redfish_req *rq,
    const struct lb_redfish_conn *c, struct lb_redfish_tls *tls);

/* redfish_session.c */

/* The cache entry for info's BMC and credentials; NULL without memory. */
struct lb_redfish_session *lb_redfish_session_get(
    const struct lb_redfish_info *info);
/* How to authenticate the next request, logging in when needed. */
int lb_redfish_credentials(struct lb_redfish_conn *c,
    struct lb_redfish_cred *cred, struct lb_err *err);
/* The token of 'generation' was refused: forget it (once, for everyone). */
void lb_redfish_session_invalidate(struct lb_redfish_session *s,
    unsigned long generation);
/* The Systems collection's path, from the (cached) service root. */
int lb_redfish_systems_collection(struct lb_redfish_conn *c, char *out,
    size_t size, struct lb_err *err);

#endif
