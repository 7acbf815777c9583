/*
 * engine_ctx.h - what one running engine holds: configuration, store,
 * clock, worker pool, per-BMC limiter, timers, and the rescue flow's
 * settings.  Plain data, set up by engine.c and read by the files below
 * it; the members with their own locks are thread-safe, the rest is
 * read-only once the engine runs.
 */
#ifndef LB_ENGINE_CTX_H
#define LB_ENGINE_CTX_H

#include "conductor/engine.h"
#include "conductor/pool.h"
#include "conductor/store.h"
#include "conductor/timers.h"
#include "conductor/util/bmclimit.h"
#include "conductor/util/clock.h"
#include "conductor/util/iface.h"
#include "conductor/util/task.h"

struct lb_image_cache;
struct lb_power_sync;
struct lb_ring;
struct lb_takeover;

struct lb_engine {
	const struct lb_config *cfg;
	struct lb_store *store;
	const struct lb_clock *clock;
	struct lb_pool pool;
	struct lb_bmc_limit bmc;
	struct lb_timers timers;
	struct lb_power_sync *sync;	/* power_sync.c */
	/* engine_stop.c; read and written with __atomic builtins. */
	bool stopping;			/* a graceful stop began */
	bool timers_stopped;		/* main thread only */
	double last_tick;		/* monotonic, the timers' last beat */
	/* conductor_row.c: monotonic, the last heartbeat written (atomic). */
	double heartbeat_at;
	bool heartbeat_failing;		/* timer thread only */
	struct lb_ring *ring;		/* ring.c: node -> conductor */
	struct lb_takeover *takeover;	/* takeover.c */
	/*
	 * The interface registries' lookup (lb_iface_find), given at start:
	 * the rescue ops those rows name call back into the node task, so
	 * task.c reaches the registries only through this pointer.
	 */
	const struct lb_iface_impl *(*iface_find)(enum lb_iface_kind kind,
	    const char *name);

	/* The rescue flow's parts. */
	struct lb_image_cache *images;
	char api_url[512];		/* ipa-api-url */
	char rpc_url[512];		/* where peers reach this API */
	/* conductor_row.c: the cluster's secret, set at start. */
	char secret[LB_CLUSTER_SECRET_LEN + 1];
	char http_url[512];		/* [deploy] http_url, effective */
	char external_http_url[512];	/* [deploy] external_http_url, or "" */
	char tftp_server[256];		/* [pxe] tftp_server, effective */
	char certs_path[1024];		/* [agent] certificates_path */
};

/* engine_stop.c: the timers' beat that lb_engine_health() checks. */
int lb_engine_health_register(struct lb_engine *e);

/* Seconds on the engine's monotonic clock. */
static inline double
lb_engine_now(const struct lb_engine *e)
{
	return e->clock->monotonic(e->clock);
}

#endif
