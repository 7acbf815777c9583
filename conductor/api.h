/*
 * api.h - the REST API server (Ironic v1 with microversions) on
 * libmicrohttpd.  Requests run on MHD's thread pool; handlers use the store
 * directly and never block on a BMC.
 */
#ifndef LB_API_H
#define LB_API_H

#include "conductor/engine.h"
#include "conductor/store.h"
#include "conductor/util/config.h"
#include "conductor/util/htpasswd.h"

struct lb_api;

/* What the API serves from; borrowed for the server's lifetime. */
struct lb_api_ctx {
	const struct lb_config *cfg;
	struct lb_store *store;
	struct lb_engine *engine;
	const struct lb_htpasswd *htpasswd;	/* NULL: noauth */
};

/* Binds [api] host_ip:port and starts serving.  -EADDRINUSE etc. */
int lb_api_start(const struct lb_api_ctx *ctx, struct lb_api **ret,
    struct lb_err *err);
void lb_api_stop(struct lb_api *api);

#endif
