/*
 * metrics_table.c - lifeboatd's metrics, one row each (name, help, kind,
 * labels, buckets, most series), and the process's registry that holds
 * them.  Label values are bounded by what the callers pass: route
 * patterns, driver and operation names, reasons; never a node or a path.
 * Any thread.
 */
#include "conductor/util/metrics.h"

#include <pthread.h>
#include <stdlib.h>

#include "conductor/util/banned.h"

/* Rescue phases: seconds to half an hour (a slow BMC, a slow boot). */
static const double phase_buckets[] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
};
/* One BMC command: an in-process fake to IPMI's 9 s retry budget. */
static const double bmc_buckets[] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
static const double api_buckets[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};
static const double store_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 1, 10,
};

#define NB(b) (b), (sizeof(b) / sizeof((b)[0]))

#define M(id, nm, k, hlp, max, ...)					\
	[id] = { .name = "lifeboat_" nm, .kind = LB_METRIC_##k,		\
	    .help = hlp, .max_series = max, __VA_ARGS__ }

static const struct lb_metric_def defs[LB_M_COUNT] = {
	M(LB_M_NODES_PROVISION, "nodes_by_provision_state", GAUGE,
	    "Nodes in each provision state, read from the store at scrape.",
	    64, .labels = { "provision_state" }),
	M(LB_M_NODES_POWER, "nodes_by_power_state", GAUGE,
	    "Nodes in each power state (\"none\": never read), at scrape.",
	    16, .labels = { "power_state" }),
	M(LB_M_NODES_MAINTENANCE, "nodes_in_maintenance", GAUGE,
	    "Nodes in maintenance, at scrape.", 2),
	M(LB_M_RESCUE_PHASE, "rescue_phase_duration_seconds", HISTOGRAM,
	    "Seconds each phase of a rescue or unrescue job took.",
	    64, .labels = { "flow", "phase" }, .buckets = NB(phase_buckets)),
	M(LB_M_AGENT_PHASE, "agent_phase_duration_seconds", HISTOGRAM,
	    "Seconds from the rescue's end of power-on (rescue wait) to the "
	    "ramdisk's first lookup, and from that lookup to the heartbeat "
	    "that finalizes.",
	    8, .labels = { "phase" }, .buckets = NB(phase_buckets)),
	M(LB_M_JOB_SECONDS, "job_duration_seconds", HISTOGRAM,
	    "Seconds from a job's queueing to its final write, by kind "
	    "(rescue, unrescue, finalize, power, ...).",
	    32, .labels = { "kind" }, .buckets = NB(phase_buckets)),
	M(LB_M_BMC_CALLS, "bmc_calls_total", COUNTER,
	    "Commands sent to BMCs (or refused a slot) by driver, operation "
	    "and result.",
	    128, .labels = { "driver", "operation", "result" }),
	M(LB_M_BMC_SECONDS, "bmc_call_duration_seconds", HISTOGRAM,
	    "Seconds a BMC command took once it had the BMC's slot.",
	    64, .labels = { "driver", "operation" },
	    .buckets = NB(bmc_buckets)),
	M(LB_M_BMC_SLOT_WAIT, "bmc_slot_wait_seconds", HISTOGRAM,
	    "Seconds a BMC command waited for the BMC's slot (in flight "
	    "limit and spacing).",
	    16, .labels = { "driver" }, .buckets = NB(bmc_buckets)),
	M(LB_M_BMC_INFLIGHT, "bmc_calls_in_flight", GAUGE,
	    "BMC commands holding a slot now, over all BMCs.", 2),
	M(LB_M_BMC_WAITING, "bmc_calls_waiting", GAUGE,
	    "BMC commands waiting for a slot now, over all BMCs.", 2),
	M(LB_M_AGENT_LOOKUPS, "agent_lookups_total", COUNTER,
	    "Agent lookups, accepted or refused, by reason.",
	    32, .labels = { "result", "reason" }),
	M(LB_M_AGENT_HEARTBEATS, "agent_heartbeats_total", COUNTER,
	    "Agent heartbeats, accepted or refused, by reason.",
	    32, .labels = { "result", "reason" }),
	M(LB_M_API_REQUESTS, "api_requests_total", COUNTER,
	    "API requests by method, route pattern and status.",
	    512, .labels = { "method", "route", "status" }),
	M(LB_M_API_SECONDS, "api_request_duration_seconds", HISTOGRAM,
	    "Seconds from an API request's head to its answer.",
	    128, .labels = { "method", "route" }, .buckets = NB(api_buckets)),
	M(LB_M_WORKERS, "workers", GAUGE,
	    "Worker threads ([conductor] workers_pool_size).", 2),
	M(LB_M_WORKERS_BUSY, "workers_busy", GAUGE,
	    "Worker threads running a job now.", 2),
	M(LB_M_JOBS_QUEUED, "jobs_queued", GAUGE,
	    "Jobs queued for a worker and not started.", 2),
	M(LB_M_STORE_SECONDS, "store_transaction_duration_seconds", HISTOGRAM,
	    "Seconds a store read or write transaction took (a write from "
	    "holding the writer lock to its commit).",
	    4, .labels = { "kind" }, .buckets = NB(store_buckets)),
	M(LB_M_STORE_LOCK_WAIT, "store_write_lock_wait_seconds", HISTOGRAM,
	    "Seconds a write waited for the store's writer lock.",
	    2, .buckets = NB(store_buckets)),
	M(LB_M_HANDED_OVER, "requests_handed_over_total", COUNTER,
	    "Requests handed to the conductor that manages their node, by "
	    "result (answered: any status it gave; unreachable: a 503 here).",
	    4, .labels = { "result" }),
	M(LB_M_TAKEN_OVER, "nodes_taken_over_total", COUNTER,
	    "Nodes taken over from dead conductors, by what was taken (lock: "
	    "a lock released or kept for the clean-up; restaged: a rescue "
	    "wait's ramdisk staged again; console: a console or capture "
	    "started again).",
	    8, .labels = { "what" }),
};

static struct lb_metrics *registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void
registry_make(void)
{
	if (lb_metrics_new(defs, LB_M_COUNT, &registry) < 0)
		abort();
}

struct lb_metrics *
lb_metrics(void)
{
	pthread_once(&registry_once, registry_make);
	return registry;
}
