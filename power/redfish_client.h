/*
 * redfish_client.h - HTTP client for Redfish BMCs over libcurl: driver_info
 * parsing, one connection per driver call, the process-wide session cache
 * (one SessionService session per BMC and credentials, shared by all
 * threads, re-created on 401, deleted by lb_redfish_shutdown()), bounded
 * timeouts, bounded replies and retries.  Any thread; a connection belongs to
 * the thread that made it.
 */
#ifndef LB_REDFISH_CLIENT_H
#define LB_REDFISH_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"
#include "power/power.h"
#include "power/redfish_parse.h"

#define LB_REDFISH_CONNECT_TIMEOUT_S 10
#define LB_REDFISH_TOTAL_TIMEOUT_S 30
#define LB_REDFISH_REPLY_MAX (1024 * 1024)
/* Idempotent requests are tried this often on 5xx or a dropped connection. */
#define LB_REDFISH_GET_ATTEMPTS 3

extern const struct lb_power_ops lb_power_redfish;
extern const struct lb_management_ops lb_management_redfish;

enum lb_redfish_auth {
	LB_REDFISH_AUTH_AUTO,		/* session, else basic */
	LB_REDFISH_AUTH_BASIC,
	LB_REDFISH_AUTH_SESSION,
};

/*
 * Bounds every request of c by 'seconds' from now (<= 0: only by each
 * request's own timeouts) and takes the retries of idempotent requests
 * from cfg's [redfish] connection_attempts and connection_retry_interval
 * (cfg NULL: the built-in ones).
 */
struct lb_redfish_conn;
struct lb_config;
void lb_redfish_conn_budget(struct lb_redfish_conn *c,
    const struct lb_config *cfg, double seconds);
/* Moves a bounded c's end to 'seconds' from now, if that is later. */
void lb_redfish_conn_extend(struct lb_redfish_conn *c, double seconds);
/*
 * lb_redfish_conn_new() for one driver call on 'task': bounded by
 * 'seconds', or by [conductor] power_state_change_timeout when 0, so a
 * BMC that stops answering does not hold the call past it.
 */
struct lb_task;
int lb_redfish_conn_open(const struct lb_task *task, double seconds,
    struct lb_redfish_conn **ret, struct lb_err *err);

/* driver_info, checked.  Strings are owned; password is wiped on free. */
struct lb_redfish_info {
	struct lb_redfish_address address;
	char *system_id;	/* NULL, a path, or an Id under Systems */
	char *username;		/* NULL: send no credentials */
	char *password;
	bool verify;		/* redfish_verify_ca true or a path */
	char *ca_path;		/* a CA file or directory, or NULL */
	bool ca_is_dir;
	enum lb_redfish_auth auth;
};

/*
 * Checks driver_info the way Ironic does (no BMC traffic, but a
 * redfish_verify_ca path is looked up in the file system).  -EINVAL with
 * "Missing the following Redfish properties in node's driver_info: ..." or
 * "Invalid value ... set in driver_info/...".  Never echoes a password.
 */
int lb_redfish_info_parse(const json_t *driver_info,
    struct lb_redfish_info **ret, struct lb_err *err);
void lb_redfish_info_free(struct lb_redfish_info *info);

/* "redfish:https://host:443" into buf.  0 or -EINVAL. */
int lb_redfish_bmc_key(const json_t *driver_info, char *buf, size_t size);

struct lb_redfish_conn;

/* Parses driver_info and prepares (no traffic yet).  -EINVAL, -ENOMEM. */
int lb_redfish_conn_new(const json_t *driver_info,
    struct lb_redfish_conn **ret, struct lb_err *err);
void lb_redfish_conn_free(struct lb_redfish_conn *conn);
const struct lb_redfish_info *lb_redfish_conn_info(
    const struct lb_redfish_conn *conn);

struct lb_redfish_reply {
	long status;		/* 0 when no HTTP reply came */
	char *body;		/* NUL-terminated, may be NULL */
	size_t len;
	char *etag;		/* headers, NULL when absent */
	char *location;
	char *allow;
};

void lb_redfish_reply_release(struct lb_redfish_reply *reply);

/*
 * One authenticated request: method "GET", "POST", "PATCH" or "DELETE" on a
 * path (from the BMC or the root), with an optional JSON body and If-Match
 * value.  Logs in or re-logs in as needed.  'reply' is always filled and must
 * be released, also on failure (reply->status tells 400 from 409).
 * 0 for a 2xx reply; otherwise -EACCES (401/403), -ENOENT (404),
 * -EHOSTUNREACH (cannot connect), -ETIMEDOUT, -EIO (TLS, other statuses with
 * the BMC's error summarised), -ENOMEM.  Messages never carry a secret.
 */
int lb_redfish_request(struct lb_redfish_conn *conn, const char *method,
    const char *path, const json_t *body, const char *if_match,
    struct lb_redfish_reply *reply, struct lb_err *err);

/* GET path and parse: lb_redfish_request's errors or the parser's. */
int lb_redfish_get_system(struct lb_redfish_conn *conn, const char *path,
    struct lb_redfish_system **ret, struct lb_err *err);

/*
 * The path of the node's System: redfish_system_id, or the only member of
 * the Systems collection (-EINVAL when there are several, -ENOENT if none).
 */
int lb_redfish_system_path(struct lb_redfish_conn *conn, char *out,
    size_t size, struct lb_err *err);

/*
 * Test hook (redfish_transport.c): with a transport set, every HTTP exchange
 * goes to request() instead of the network (logins included), and the
 * drivers' waits and clock reads go to sleep() and now() when those are not
 * NULL, so that unit tests need neither a BMC nor time.  request() fills
 * 'reply' (status; body, len, etag, location, allow malloc'd) and returns 0,
 * or a negative errno for a failed exchange; 'body' is JSON text or NULL.
 * Set it while no driver call runs; NULL restores the network.
 */
struct lb_redfish_transport {
	int (*request)(void *ctx, const char *method, const char *path,
	    const char *body, const char *if_match,
	    struct lb_redfish_reply *reply);
	void (*sleep)(void *ctx, unsigned int seconds);
	double (*now)(void *ctx);
	void *ctx;
};

void lb_redfish_transport_set(const struct lb_redfish_transport *t);
const struct lb_redfish_transport *lb_redfish_transport_get(void);
/* Waits (EINTR-safe) or calls the transport's sleep(). */
void lb_redfish_sleep(unsigned int seconds);
/* CLOCK_MONOTONIC in seconds, or the transport's now(). */
double lb_redfish_now(void);

/* Sessions currently cached (for tests and the status page). */
int lb_redfish_session_count(void);

/*
 * Deletes every cached session on its BMC (best effort, bounded time) and
 * empties the cache.  Call once at daemon exit, after the workers stopped.
 */
void lb_redfish_shutdown(void);

#endif
