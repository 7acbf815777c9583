/*
 * metrics.h - a small metrics registry: counters, gauges and histograms,
 * each with a fixed list of label names and a bounded number of series,
 * rendered in Prometheus' text exposition format (0.0.4).  Thread-safe:
 * one short mutex per metric.  lb_metrics() is lifeboatd's own registry
 * with the metrics of metrics_table.c; tests may make their own.
 */
#ifndef LB_METRICS_H
#define LB_METRICS_H

#include <stddef.h>

#include "conductor/util/buf.h"

enum lb_metric_kind {
	LB_METRIC_COUNTER,
	LB_METRIC_GAUGE,
	LB_METRIC_HISTOGRAM,
};

#define LB_METRIC_LABELS_MAX 3

struct lb_metric_def {
	const char *name;
	const char *help;
	enum lb_metric_kind kind;
	/* label names, the unused ones NULL */
	const char *labels[LB_METRIC_LABELS_MAX];
	/* histograms: upper bounds, ascending (+Inf is implied) */
	const double *buckets;
	size_t nbuckets;
	/*
	 * Most series kept; when they are all taken a new combination of
	 * label values is counted in one series whose values are "other".
	 */
	size_t max_series;
};

struct lb_metrics;

/* 'defs' is borrowed for the registry's life. */
int lb_metrics_new(const struct lb_metric_def *defs, size_t n,
    struct lb_metrics **ret);
void lb_metrics_free(struct lb_metrics *m);

/*
 * 'values' has one string per label name of metric 'id' (copied when the
 * series is new).  add: counters and gauges; set: gauges; observe:
 * histograms.  A call of the wrong kind or a bad id does nothing.
 */
void lb_metrics_add(struct lb_metrics *m, size_t id,
    const char *const *values, double v);
void lb_metrics_set(struct lb_metrics *m, size_t id,
    const char *const *values, double v);
void lb_metrics_observe(struct lb_metrics *m, size_t id,
    const char *const *values, double v);
/* Drops every series of metric 'id' (a gauge computed at each scrape). */
void lb_metrics_clear(struct lb_metrics *m, size_t id);
/* Appends the exposition text of every metric, in table order. */
void lb_metrics_render(struct lb_metrics *m, struct lb_buf *out);

/* ---- lifeboatd's metrics (metrics_table.c) ---- */

enum lb_metric_id {
	LB_M_NODES_PROVISION,
	LB_M_NODES_POWER,
	LB_M_NODES_MAINTENANCE,
	LB_M_RESCUE_PHASE,
	LB_M_AGENT_PHASE,
	LB_M_JOB_SECONDS,
	LB_M_BMC_CALLS,
	LB_M_BMC_SECONDS,
	LB_M_BMC_SLOT_WAIT,
	LB_M_BMC_INFLIGHT,
	LB_M_BMC_WAITING,
	LB_M_AGENT_LOOKUPS,
	LB_M_AGENT_HEARTBEATS,
	LB_M_API_REQUESTS,
	LB_M_API_SECONDS,
	LB_M_WORKERS,
	LB_M_WORKERS_BUSY,
	LB_M_JOBS_QUEUED,
	LB_M_STORE_SECONDS,
	LB_M_STORE_LOCK_WAIT,
	LB_M_HANDED_OVER,
	LB_M_TAKEN_OVER,
	LB_M_COUNT
};

/* The process's registry, made on first use; never NULL (aborts on
 * out of memory at that first use). */
struct lb_metrics *lb_metrics(void);

/* Shorthands on lb_metrics(): LB_METRIC_INC(LB_M_X, "a", "b"). */
#define LB_METRIC_LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define LB_METRIC_INC(id, ...) \
	lb_metrics_add(lb_metrics(), (id), LB_METRIC_LABELS(__VA_ARGS__), 1)
#define LB_METRIC_OBSERVE(id, v, ...) \
	lb_metrics_observe(lb_metrics(), (id), LB_METRIC_LABELS(__VA_ARGS__), \
	    (v))

#endif
