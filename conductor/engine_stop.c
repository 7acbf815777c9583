/*
 * engine_stop.c - the engine's graceful stop (no new jobs, the queue
 * failed back, a bounded wait for running jobs, the hand-over log of what
 * still runs), its health as the systemd watchdog sees it and its
 * occupancy (workers, BMC slots) for the metrics.  The main
 * thread stops the engine; lb_engine_stopping() and lb_engine_health()
 * are called from API, worker and watchdog threads; the timers' beat runs
 * on the timer thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/job.h"
#include "conductor/util/log.h"
#include "conductor/util/stop.h"
#include "conductor/util/banned.h"

/* The timers' beat: often enough that a stale one means a stuck thread. */
#define TICK_INTERVAL_S 1.0
/* Timer work (a power sync over 10,000 nodes) may hold the thread this
 * long without the daemon being unhealthy. */
#define TICK_STALE_S 20.0
/* What an image download may add to a job's configured waits. */
#define DOWNLOAD_ALLOWANCE_S 600
/* No node has this UUID: the probe takes the write lock, finds nothing. */
#define PROBE_UUID "00000000-0000-0000-0000-000000000000"

bool
lb_engine_stopping(struct lb_engine *e)
{
	return __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE);
}

int
lb_engine_stopping_err(struct lb_engine *e, struct lb_err *err)
{
	return lb_err_set(err, -EAGAIN, "Conductor %s is stopping and takes "
	    "no new work; retry once it is back.", e->cfg->host);
}

size_t
lb_engine_begin_stop(struct lb_engine *e, size_t *ret_running)
{
	__atomic_store_n(&e->stopping, true, __ATOMIC_RELEASE);
	/* Waits inside running jobs end at their next safe point. */
	lb_stop_request();
	/* No periodic task runs or queues from here on. */
	if (!e->timers_stopped)
		lb_timers_release(&e->timers);
	e->timers_stopped = true;
	return lb_pool_close(&e->pool, ret_running);
}

size_t
lb_engine_wait_jobs(struct lb_engine *e, double timeout_s)
{
	return lb_pool_wait(&e->pool, timeout_s);
}

/* Under the pool's lock: one line per running job.  The store is read
 * here; no worker takes the pool's lock while it holds a store lock. */
static void
hand_over_one(struct lb_job *base, void *arg)
{
	struct lb_engine_job *j = (struct lb_engine_job *)base;
	struct lb_engine *e = arg;
	struct lb_node *node = NULL;
	struct lb_err err = { "" };
	const char *what = j->what ? j->what : j->kind->name;

	if (lb_store_node_get(e->store, j->uuid, &node, &err) < 0) {
		log_warning("handing over node %s: %s running for %.0f s "
		    "(state not read: %s)", j->uuid, what,
		    lb_engine_now(e) - j->started, err.msg);
		return;
	}
	log_warning("handing over node %s: %s running for %.0f s in "
	    "provision state '%s', power '%s'%s%s%s", j->uuid, what,
	    lb_engine_now(e) - j->started, node->provision_state,
	    node->power_state ? node->power_state : "None",
	    node->target_power_state ? " -> '" : "",
	    node->target_power_state ? node->target_power_state : "",
	    node->target_power_state ? "'" : "");
	lb_node_free(node);
}

void
lb_engine_hand_over(struct lb_engine *e)
{
	lb_pool_each_running(&e->pool, hand_over_one, e);
}

/* ---- health ---- */

static void
tick(void *arg)
{
	struct lb_engine *e = arg;
	double now = lb_engine_now(e);

	__atomic_store(&e->last_tick, &now, __ATOMIC_RELEASE);
}

int
lb_engine_health_register(struct lb_engine *e)
{
	tick(e);
	return lb_timers_add(&e->timers, TICK_INTERVAL_S, tick, e);
}

/*
 * The longest one job may rightly take: a rescue's soft power-off, two
 * power changes, an agent command, BMC retries and an image download.
 */
static double
job_budget(const struct lb_config *cfg)
{
	return cfg->rescue_soft_power_off_timeout +
	    2.0 * cfg->power_state_change_timeout +
	    cfg->agent_command_timeout + cfg->ipmi_command_retry_timeout +
	    DOWNLOAD_ALLOWANCE_S;
}

static int
unchanged(struct lb_node *node, void *arg, struct lb_err *err)
{
	(void)node;
	(void)arg;
	(void)err;
	return LB_STORE_UNCHANGED;
}

/*
 * A write, not a read: in WAL mode readers never wait, while every job
 * ends with a write that waits for the lock.
 */
static int
store_probe(struct lb_engine *e, struct lb_err *err)
{
	struct lb_err perr = { "" };
	int r;

	r = lb_store_node_update(e->store, PROBE_UUID, unchanged, NULL, NULL,
	    &perr);
	if (r == -ENOENT)
		return 0;
	return lb_err_set(err, -EIO, "the store did not take its write "
	    "lock: %s", r == 0 ? "a node has the probe's UUID" : perr.msg);
}

int
lb_engine_health(struct lb_engine *e, struct lb_err *err)
{
	double now = lb_engine_now(e), idle, beat;
	size_t queued;

	__atomic_load(&e->last_tick, &beat, __ATOMIC_ACQUIRE);
	if (!lb_engine_stopping(e) && now - beat > TICK_STALE_S)
		return lb_err_set(err, -EIO, "the timer thread has not run "
		    "for %.0f s", now - beat);
	queued = lb_pool_progress(&e->pool, &idle);
	if (queued > 0 && idle > job_budget(e->cfg))
		return lb_err_set(err, -EIO, "%zu jobs queued and none "
		    "started or ended for %.0f s", queued, idle);
	return store_probe(e, err);
}

void
lb_engine_occupancy(struct lb_engine *e, struct lb_engine_occupancy *ret)
{
	ret->workers = e->pool.nthreads;
	lb_pool_occupancy(&e->pool, &ret->busy, &ret->queued);
	lb_bmc_limit_occupancy(&e->bmc, &ret->bmc_inflight,
	    &ret->bmc_waiting);
}
