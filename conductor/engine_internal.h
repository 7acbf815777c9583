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
struct lb_image_cache;

struct lb_engine {
	const struct lb_config *cfg;
	struct lb_store *store;
	const struct lb_clock *clock;	/* every time the engine reads */
	bool manual_timers;		/* lb_engine_run_timers(), no thread */
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

	/* The rescue flow's parts (rescue.c). */
	struct lb_image_cache *images;
	char api_url[512];		/* ipa-api-url */
	char http_url[512];		/* [deploy] http_url, effective */
	char external_http_url[512];	/* [deploy] external_http_url, or "" */
	char tftp_server[256];		/* [pxe] tftp_server, effective */
	char certs_path[1024];		/* [agent] certificates_path */
};

/*
 * How a job ends, written in one transaction: the provision event (NULL:
 * no move), last_error, power, and what rescue leaves behind.  The node's
 * lock is always released.
 */
struct lb_finish {
	const char *event;		/* "done", "fail", "wait"; NULL: none */
	const char *error;		/* last_error, NULL clears it */
	enum lb_power_state power;
	bool set_power;
	bool power_job;			/* clears target_power_state */
	bool clear_instance;
	bool drop_password;		/* the rescue password hash */
	bool forget_agent;		/* agent_url, token, certificate */
	bool keep_error;		/* leave last_error as it is */
	const struct lb_node_ctx *ctx;	/* driver_internal_info changes */
	char from[32];
	char to[32];
};

/* Seconds on the engine's monotonic clock. */
static inline double
lb_engine_now(const struct lb_engine *e)
{
	return e->clock->monotonic(e->clock);
}

/* Writes the outcome and logs the transition line. */
void lb_engine_finish(struct lb_engine *e, const char *uuid,
    struct lb_finish *f, const char *what, double started);
int lb_replace_str(char **field, const char *value, struct lb_err *err);
/* Removes the rescue password and/or the agent's record from a node. */
void lb_node_drop_password(struct lb_node *node);
void lb_node_forget_agent(struct lb_node *node);
/*
 * agent_url, agent_verify_ca, agent_lookup_at and a token not baked into
 * the boot medium.
 */
void lb_node_wipe_agent_on_power_off(struct lb_node *node);
/* The API-facing node lock message, shared by every verb. */
int lb_node_locked(const struct lb_node *node, struct lb_err *err);

/*
 * Fires 'event' for the API verb 'verb' with Ironic's checks: not allowed
 * from this state is 409 when the node is locked and 400 otherwise; a
 * locked node is 409.  Sets state, target and provision_updated_at,
 * clears last_error when asked, and takes the lock for 'lock_host'
 * (NULL: no lock).  from/to receive the state names for the log line.
 */
int lb_node_fire(struct lb_node *node, const char *verb, const char *event,
    const char *lock_host, bool clear_error, char from[32], char to[32],
    struct lb_err *err);
/* The same checks without firing: 0 when 'event' may fire now. */
int lb_node_can_fire(const struct lb_node *node, const char *verb,
    const char *event, struct lb_err *err);

/* Rescue verbs and the agent's calls (rescue.c). */
/*
 * The one way out of a rescue (abort, callback timeout, a failed rescue
 * or finalize, unrescue, undeploy, recovery after a restart): powers off
 * if asked, removes the staged boot files, links, DHCP entries and media,
 * the agent's pinned certificate, puts the ports back on their tenant
 * network, and has 'f' drop the password hash and the agent's token and
 * URL.  Best effort: each step runs even when an earlier one failed.
 */
void lb_rescue_leave(struct lb_engine *e, struct lb_node_ctx *ctx,
    bool power_off, struct lb_finish *f);
/*
 * Queues lb_rescue_leave (no power action) for every node that recovery
 * left locked by this conductor in rescue failed, unrescue failed or
 * error (its rescue, unrescue or undeploy was cut short); once the pool
 * has started.
 */
void lb_rescue_recover(struct lb_engine *e);
int lb_rescue_setup(struct lb_engine *e, struct lb_err *err);
void lb_rescue_teardown(struct lb_engine *e);
int lb_rescue_verb(struct lb_engine *e, const char *ident, const char *verb,
    const char *event, const json_t *body, struct lb_err *err);
/* The periodic callback-timeout check (engine_periodic.c arms it). */
void lb_rescue_check_timeouts(struct lb_engine *e);

/* A node loaded for driver calls, with its interfaces resolved. */
struct lb_node_ctx {
	struct lb_engine *engine;
	struct lb_node *node;
	struct lb_task task;		/* task.save writes through engine */
	const char **macs;
	const json_t **llcs;		/* ports' local_link_connection */
	json_t *dii_before;		/* driver_internal_info as loaded */
	const struct lb_power_ops *power;
	const struct lb_management_ops *management;
	char bmc_key[256];
};

/*
 * What the drivers changed in the context's driver_internal_info, applied
 * key by key to 'node' as stored now (for a store update callback).
 */
void lb_node_apply_driver_changes(struct lb_node *node,
    const struct lb_node_ctx *ctx);

int lb_node_ctx_load(struct lb_engine *e, const char *uuid,
    struct lb_node_ctx *ctx, struct lb_err *err);
void lb_node_ctx_release(struct lb_node_ctx *ctx);

/* The per-BMC limits that apply to the node's BMC. */
void lb_bmc_policy_for(const struct lb_engine *e,
    const struct lb_node_ctx *ctx, struct lb_bmc_policy *p);

/* Driver calls through the per-BMC limiter, bounded by 'timeout_s'. */
int lb_call_get_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    int timeout_s, enum lb_power_state *ret, struct lb_err *err);
/* A read that gives way (-EAGAIN) when the BMC is busy: for the sync. */
int lb_call_get_power_nowait(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_state *ret, struct lb_err *err);
int lb_call_set_power(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_action action, int timeout_s, struct lb_err *err);
/*
 * The same, with the wait for a BMC slot (up to slot_s) not counted in the
 * action's timeout_s: a soft power-off gives the OS all of its time.
 */
int lb_call_set_power_for(struct lb_engine *e, struct lb_node_ctx *ctx,
    enum lb_power_action action, int slot_s, int timeout_s,
    struct lb_err *err);

/* Timer thread and periodic tasks (engine_periodic.c). */
int lb_engine_timer_start(struct lb_engine *e, struct lb_err *err);
void lb_engine_timer_stop(struct lb_engine *e);
/* Frees the sync bookkeeping; only once no sync job can run. */
void lb_engine_sync_release(struct lb_engine *e);
/* Releases this conductor's locks and settles interrupted transitions. */
int lb_engine_recover(struct lb_engine *e, struct lb_err *err);

#endif
