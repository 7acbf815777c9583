/*
 * api_metrics.c - the Prometheus listener: GET /metrics on [metrics]
 * host_ip:port, apart from the API and without its authentication.  One
 * libmicrohttpd thread serves it, so scrapes run one at a time: each sets
 * the gauges read at scrape (nodes from the store, workers and BMC slots
 * from the engine), then renders the whole registry.
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conductor/api.h"
#include "conductor/states.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/banned.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* A scraper or two, not the world: bound what it can hold open. */
#define METRICS_CONN_LIMIT 16
#define METRICS_TIMEOUT_S 10

struct lb_metrics_server {
	const struct lb_api_ctx *ctx;
	struct MHD_Daemon *daemon;
	int listen_fd;
};

static void
count_node(const char *provision_state, const char *power_state,
    bool maintenance, long count, void *arg)
{
	struct lb_metrics *m = arg;

	lb_metrics_add(m, LB_M_NODES_PROVISION, LB_METRIC_LABELS(
	    provision_state != NULL ? provision_state : "none"), count);
	lb_metrics_add(m, LB_M_NODES_POWER, LB_METRIC_LABELS(
	    power_state != NULL ? power_state : "none"), count);
	if (maintenance)
		lb_metrics_add(m, LB_M_NODES_MAINTENANCE,
		    LB_METRIC_LABELS(NULL), count);
}

static const char *const zero_power[] = { "power on", "power off", "none" };

/* The gauges that are read, not counted: set just before rendering. */
static void
read_gauges(const struct lb_api_ctx *ctx, struct lb_metrics *m)
{
	struct lb_engine_occupancy occ;
	struct lb_err err = { "" };

	lb_metrics_clear(m, LB_M_NODES_PROVISION);
	lb_metrics_clear(m, LB_M_NODES_POWER);
	lb_metrics_clear(m, LB_M_NODES_MAINTENANCE);
	/* Every state a node can be in shows, 0 when none is: a graph or an
	 * alert on "rescue failed" then has a series before the first one. */
	for (size_t i = 0; lb_states[i] != NULL; i++)
		lb_metrics_set(m, LB_M_NODES_PROVISION,
		    LB_METRIC_LABELS(lb_states[i]), 0);
	for (size_t i = 0; i < sizeof(zero_power) / sizeof(zero_power[0]); i++)
		lb_metrics_set(m, LB_M_NODES_POWER,
		    LB_METRIC_LABELS(zero_power[i]), 0);
	lb_metrics_set(m, LB_M_NODES_MAINTENANCE, LB_METRIC_LABELS(NULL), 0);
	if (lb_store_node_counts(ctx->store, count_node, m, &err) < 0)
		log_warning("metrics: cannot count nodes: %s", err.msg);
	if (ctx->engine == NULL)
		return;
	lb_engine_occupancy(ctx->engine, &occ);
	lb_metrics_set(m, LB_M_WORKERS, LB_METRIC_LABELS(NULL), occ.workers);
	lb_metrics_set(m, LB_M_WORKERS_BUSY, LB_METRIC_LABELS(NULL), occ.busy);
	lb_metrics_set(m, LB_M_JOBS_QUEUED, LB_METRIC_LABELS(NULL),
	    occ.queued);
	lb_metrics_set(m, LB_M_BMC_INFLIGHT, LB_METRIC_LABELS(NULL),
	    occ.bmc_inflight);
	lb_metrics_set(m, LB_M_BMC_WAITING, LB_METRIC_LABELS(NULL),
	    occ.bmc_waiting);
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *type,
    char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
plain(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	char *body = strdup(text);

	if (body == NULL)
		return MHD_NO;
	return reply(conn, status, "text/plain; charset=utf-8", body,
	    strlen(body));
}

static enum MHD_Result
scrape(struct lb_metrics_server *ms, struct MHD_Connection *conn)
{
	struct lb_metrics *m = lb_metrics();
	struct lb_buf out;
	char *body;
	size_t len;

	read_gauges(ms->ctx, m);
	lb_buf_init(&out);
	lb_metrics_render(m, &out);
	if (lb_buf_failed(&out)) {
		lb_buf_release(&out);
		return plain(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	}
	body = lb_buf_steal(&out, &len);
	return reply(conn, MHD_HTTP_OK, CONTENT_TYPE, body, len);
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static int first;

	(void)version;
	(void)upload_data;
	/* The head first; a body, never wanted, is read and dropped. */
	if (*con_cls == NULL) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return plain(conn, MHD_HTTP_NOT_FOUND, "not found: this "
		    "listener serves GET /metrics only\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not "
		    "allowed: GET /metrics only\n");
	/* The store's connection of this thread stays for the next one. */
	return scrape(cls, conn);
}

int
lb_metrics_server_start(const struct lb_api_ctx *ctx,
    struct lb_metrics_server **ret, struct lb_err *err)
{
	const struct lb_config *cfg = ctx->cfg;
	struct lb_metrics_server *ms;
	int r;

	*ret = NULL;
	if (cfg->metrics_port == 0)
		return 0;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	ms->ctx = ctx;
	r = lb_api_listen("metrics", cfg->metrics_host_ip, cfg->metrics_port,
	    &ms->listen_fd, err);
	if (r < 0) {
		free(ms);
		return r;
	}
	ms->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL, 0, NULL, NULL, access_handler, ms,
	    MHD_OPTION_LISTEN_SOCKET, ms->listen_fd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_LIMIT,
	    MHD_OPTION_END);
	if (ms->daemon == NULL) {
		close(ms->listen_fd);
		free(ms);
		return lb_err_set(err, -EIO, "cannot start the metrics "
		    "server");
	}
	log_info("metrics listening on %s:%d (GET /metrics, no "
	    "authentication)", cfg->metrics_host_ip, cfg->metrics_port);
	*ret = ms;
	return 0;
}

void
lb_metrics_server_stop(struct lb_metrics_server *ms)
{
	if (ms == NULL)
		return;
	MHD_stop_daemon(ms->daemon);
	close(ms->listen_fd);
	free(ms);
}
