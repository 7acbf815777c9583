/*
 * engine.h - the conductor engine: every operation on a node runs here.
 *
 * The API thread calls lb_engine_provision()/lb_engine_power(), which check
 * the request, write the transition and take the node's lock (its
 * `reservation`) in one store transaction, and hand the work to a bounded
 * pool of worker threads; the 202 goes out only after the write.  A timer
 * thread with a deadline heap runs periodic work (power-state sync,
 * callback timeouts).  At start the engine releases its own stale locks
 * and fails or resumes nodes a previous run left in a transient state.
 * Everything time-dependent reads the engine's clock (lb_engine_opts).
 */
#ifndef LB_ENGINE_H
#define LB_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "conductor/store.h"
#include "conductor/util/clock.h"
#include "conductor/util/config.h"
#include "power/power.h"

struct lb_engine;
struct lb_clock;

struct lb_engine_opts {
	const struct lb_clock *clock;	/* NULL: &lb_clock_system */
	bool manual_timers;		/* no timer thread */
};

/* opts may be NULL: the system clock and a timer thread. */
int lb_engine_start(const struct lb_config *cfg, struct lb_store *store,
    const struct lb_engine_opts *opts, struct lb_engine **ret,
    struct lb_err *err);
/*
 * With manual_timers: runs, on the calling thread, every periodic task
 * and timeout whose deadline is at or before the clock's now (each
 * periodic task re-arms itself at now + its interval, as the timer
 * thread does).  Jobs they queue run on the worker pool.
 */
void lb_engine_run_timers(struct lb_engine *e);
/* Blocks until no job is queued or running on the worker pool. */
void lb_engine_drain(struct lb_engine *e);
/* Waits for running jobs to finish; queued ones are dropped (see
 * lb_engine_begin_stop()). */
void lb_engine_stop(struct lb_engine *e);

/*
 * A graceful stop (engine_stop.c), from the main thread: from now on no
 * job is reserved (lb_engine_stopping_err()), the periodic tasks stop,
 * and the queued jobs are dropped, each node's transition failed with
 * "lifeboatd stopped before the ... began" and its lock released.
 * Returns how many were dropped; *ret_running is how many run.
 */
size_t lb_engine_begin_stop(struct lb_engine *e, size_t *ret_running);
/* Any thread: whether lb_engine_begin_stop() ran. */
bool lb_engine_stopping(struct lb_engine *e);
/* -EAGAIN (503) saying the conductor is stopping. */
int lb_engine_stopping_err(struct lb_engine *e, struct lb_err *err);
/* Waits up to 'timeout_s' (0: for ever) for the running jobs; returns how
 * many still run. */
size_t lb_engine_wait_jobs(struct lb_engine *e, double timeout_s);
/* Logs one line per node whose job still runs: node, state, the job. */
void lb_engine_hand_over(struct lb_engine *e);
/*
 * For the systemd watchdog, any thread but the timers': 0 when the timer
 * thread beat recently, the store took its write lock and the pool made
 * progress (a job started or ended) within the longest job budget while
 * work waited; else -EIO with what is wrong in 'err'.  May block up to
 * the store's busy timeout.
 */
int lb_engine_health(struct lb_engine *e, struct lb_err *err);

/* What the workers and the BMC slots hold now (the metrics' gauges). */
struct lb_engine_occupancy {
	size_t workers, busy, queued;
	int bmc_inflight, bmc_waiting;
};
void lb_engine_occupancy(struct lb_engine *e,
    struct lb_engine_occupancy *ret);

/*
 * PUT /v1/nodes/{ident}/states/provision with 'body' already parsed.
 * Ironic's checks in Ironic's order; 0 when the transition is written and
 * the work queued.
 */
int lb_engine_provision(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err);

/* PUT /v1/nodes/{ident}/states/power. */
int lb_engine_power(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err);

/*
 * GET and PUT /v1/nodes/{ident}/management/boot_device: the driver called
 * while the API waits, under the node's lock.  With 'set', bd->device and
 * bd->persistent are applied; without, they are read, and bd->known is
 * false when the BMC has no override set (Ironic shows null).
 */
struct lb_engine_boot_device {
	enum lb_boot_device device;
	bool persistent;
	bool known;
};

int lb_engine_boot_device(struct lb_engine *e, const char *ident, bool set,
    struct lb_engine_boot_device *bd, struct lb_err *err);

/*
 * GET /v1/lookup: the node an agent boots on, found by one of its MACs or
 * its UUID, in a state where lookup is allowed; the token on the first
 * lookup only.  *ret is the reply document.
 */
int lb_engine_lookup(struct lb_engine *e, const char *addresses,
    const char *node_uuid, int minor, const char *base_url, json_t **ret,
    struct lb_err *err);

/*
 * POST /v1/heartbeat/{ident}: checks the token (nothing changes when it is
 * wrong), pins the callback URL and certificate, and in rescue wait starts
 * finalizing the rescue.
 */
int lb_engine_heartbeat(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err);

#endif
