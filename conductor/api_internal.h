/*
 * api_internal.h - what the API's handler files share: the request and
 * response of one call, query parsing and rendering helpers.  API threads.
 */
#ifndef LB_API_INTERNAL_H
#define LB_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "conductor/api.h"
#include "conductor/node.h"
#include "conductor/ring.h"
#include "conductor/util/buf.h"

#define LB_QUERY_MAX 32

struct lb_query_arg {
	const char *key;
	const char *value;
	bool used;
};

struct lb_req {
	const struct lb_api_ctx *ctx;
	void *conn;			/* struct MHD_Connection */
	const char *method;
	const char *path;
	const char *route;		/* the route's pattern, NULL: none */
	const char *body;		/* NUL-terminated, NULL if none */
	size_t body_len;
	int minor;			/* negotiated 1.<minor> */
	char base_url[320];
	struct lb_query_arg query[LB_QUERY_MAX];
	size_t nquery;
};

struct lb_resp;

/*
 * Work that waits on something slow (a BMC).  A handler that sets
 * resp->defer returns 0 at once; the API suspends the connection, runs
 * defer(defer_arg, resp, err) on a thread of its own and answers with what
 * it fills in or returns, so no API thread (nor the other connections it
 * serves) waits.  defer_arg is freed with free() afterwards.
 */
typedef int (*lb_deferred_fn)(void *arg, struct lb_resp *resp,
    struct lb_err *err);

struct lb_resp {
	int status;
	char *body;			/* malloc'd JSON, NULL: no body */
	size_t body_len;
	char location[512];		/* Location header when non-empty */
	lb_deferred_fn defer;
	void *defer_arg;
};

/*
 * A handler answers one route.  It fills resp on success and returns 0, or
 * returns a negative errno with err set; the caller turns that into
 * Ironic's error document with the status from lb_err_http_status().
 */
typedef int (*lb_handler_fn)(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err);

/* Query parameters: each lookup marks the argument as understood. */
const char *lb_req_query(struct lb_req *req, const char *key);
/* 400 for a parameter no lookup asked about. */
int lb_req_check_query(const struct lb_req *req, struct lb_err *err);
/* 400 for a node named by anything but its UUID before 1.5 (no names). */
int lb_req_check_node_ident(const struct lb_req *req, const char *ident,
    struct lb_err *err);
/* "true"/"false" (and 1/0, yes/no); -1 when absent. */
int lb_req_query_bool(struct lb_req *req, const char *key, int *ret,
    struct lb_err *err);
/* Parses and bounds-checks the body as a JSON value (new reference). */
int lb_req_json(const struct lb_req *req, json_t **ret, struct lb_err *err);
/* Minimum version a feature needs: -ENOTSUP "Request not acceptable." */
int lb_req_need(const struct lb_req *req, int minor, struct lb_err *err);

/*
 * Ironic's error body: {"error_message": "<JSON string>"} whose inner
 * document carries faultcode, faultstring and debuginfo.  Bytes of a
 * message that is not UTF-8 are shown as '?'.  NULL when out of memory.
 */
char *lb_api_error_body(int status, const char *message, size_t *ret_len);

/* Sets resp to status with the buffer's contents as its JSON body. */
int lb_resp_json(struct lb_resp *resp, int status, struct lb_buf *b,
    struct lb_err *err);
/* The same for a JSON value, whose reference it takes (NULL: -ENOMEM). */
int lb_resp_json_value(struct lb_resp *resp, int status, json_t *v,
    struct lb_err *err);
/*
 * ?fields= (needs 1.8) through the record kind's parser: *ret_bits is set
 * and *ret_fields points at it when given, else *ret_fields is NULL.
 */
int lb_req_fields(struct lb_req *req,
    int (*parse)(const char *, int, uint64_t *, struct lb_err *),
    uint64_t *ret_bits, const uint64_t **ret_fields, struct lb_err *err);
void lb_resp_empty(struct lb_resp *resp, int status);
/*
 * A route below the microversion that added it: pecan's 404 with an empty
 * description, as Ironic answers (node history below 1.78, VIFs below
 * 1.28).
 */
int lb_resp_pecan_not_found(struct lb_resp *resp, struct lb_err *err);

/* The rendering settings of this request. */
void lb_req_render(const struct lb_req *req, struct lb_render *r);

/*
 * api_conductors.c: the node's conductor (NULL: none manages it now), the
 * ?conductor= filter of node lists (1.49, 406 below; NULL when absent),
 * and the list's node documents, those of another conductor left out.
 */
struct lb_node_list;
const char *lb_api_node_conductor(const struct lb_req *req,
    const struct lb_node *node, char buf[LB_RING_HOST_MAX]);
int lb_api_conductor_filter(struct lb_req *req, const char **ret,
    struct lb_err *err);
void lb_api_nodes_render(const struct lb_req *req,
    const struct lb_node_list *list, const char *conductor,
    struct lb_render *rd, struct lb_buf *b);

/*
 * A chassis named by the client (what: the parameter, as Ironic words it):
 * 400 if not a UUID, else 404 "Chassis <uuid> could not be found.", since
 * lifeboat keeps no chassis.
 */
int lb_api_chassis_not_found(const char *what, const char *v,
    struct lb_err *err);

/* api_forward.c: the node's owner acts. */
#define LB_FORWARD_HEADER "X-Lifeboat-Forwarded"

/*
 * Whether the request carries a valid forwarding signature: 0 none, 1
 * valid (it is not handed on again), -EPERM not valid.
 */
int lb_api_forwarded(const struct lb_req *req, struct lb_err *err);
/*
 * 1: this conductor handles the request.  0: it goes to the conductor
 * that manages node 'ident' (resp->defer set).  Negative: an error.
 */
int lb_api_forward(struct lb_req *req, const char *ident,
    struct lb_resp *resp, struct lb_err *err);

/* Ironic's NoValidHost for a node no alive conductor serves: 400 or 404. */
int lb_api_no_valid_host(const struct lb_node *node, int status,
    struct lb_err *err);

/* Handlers. */
int lb_api_root(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_v1(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_list(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_detail(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_create(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_show(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_patch(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_delete(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_maintenance_get(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_maintenance_set(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_maintenance_unset(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_states(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_validate(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_console_get(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_console_set(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_boot_device_get(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_boot_device_set(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_boot_device_supported(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_provision(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_power(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_ports(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_ports_detail(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_port_list(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_port_detail(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_port_create(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_port_show(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_port_patch(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_port_delete(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_lookup(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_heartbeat(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_chassis_list(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_chassis_detail(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_chassis_show(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_vifs(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_vif_attach(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_vif_detach(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_driver_list(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_driver_show(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_driver_properties(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_conductor_list(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_history(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_node_history_event(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);
int lb_api_conductor_show(struct lb_req *, const char *const *, struct lb_resp *, struct lb_err *);

#endif
