/*
 * engine_internal.h - what engine.c (verbs and jobs) and engine_periodic.c
 * (timer, power sync, restart recovery) share.  Conductor threads.
 */
#ifndef LB_ENGINE_INTERNAL_H
#define LB_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "conductor/engine.h"
#include "conductor/pool.h"
#include "conductor/util/bmclimit.h"
#include "conductor/util/heap.h"
#include "power/power.h"

struct sync_failure;

struct lb_engine {
	const struct lb_config *cfg;
	struct lb_store *store;
	struct lb_pool pool;
	struct lb_bmc_limit bmc;

	pthread_t timer;
	bool timer_started;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_wake;
	struct lb_heap heap;
	bool stopping;

	pthread_mutex_t sync_lock;
	struct sync_failure *sync_failures;
};

/* A node loaded for driver calls, with its interfaces resolved. */
struct lb_node_ctx {
	struct lb_node *node;
	struct lb_task task;
	const char **macs;
	const struct lb_power_ops *power;
	const struct lb_management_ops *management;
	char bmc_key[256];
};

int lb_node_ctx_load(struct lb_engine *e, const char *uuid,
    struct lb_node_ctx *ctx, struct lb_err *err);
void lb_node_ctx_release(struct lb_node_ctx *ctx);

/* Driver calls through the per-BMC limiter, bounded by 'timeout_s'. */
int lb_call_get_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    int timeout_s, enum lb_power_state *ret, struct lb_err *err);
int lb_call_set_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_action action, int timeout_s, struct lb_err *err);

/* Timer thread and periodic tasks (engine_periodic.c). */
int lb_engine_timer_start(struct lb_engine *e, struct lb_err *err);
void lb_engine_timer_stop(struct lb_engine *e);
/* Releases this conductor's locks and settles interrupted transitions. */
int lb_engine_recover(struct lb_engine *e, struct lb_err *err);

#endif
