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

/*
 * A listening TCP socket on host:port (numeric), or an error naming the
 * [section]'s options: the API's and the metrics' listeners.
 */
int lb_api_listen(const char *section, const char *host, int port,
    int *ret_fd, struct lb_err *err);

struct lb_metrics_server;

/*
 * GET /metrics on [metrics] host_ip:port (Prometheus' text format), on a
 * thread of its own; the node gauges are read from ctx's store and the
 * occupancy from its engine at each scrape.  *ret stays NULL when the
 * port is 0.  api_metrics.c.
 */
int lb_metrics_server_start(const struct lb_api_ctx *ctx,
    struct lb_metrics_server **ret, struct lb_err *err);
void lb_metrics_server_stop(struct lb_metrics_server *ms);

#endif
