/*
 * bmclimit.h - per-BMC admission: at most N calls in flight to one BMC,
 * and successive calls spaced by a minimum interval (Ironic's
 * [ipmi] min_command_interval idea).  The decision is a pure function of
 * the time it is given, so tests need no clock; lb_bmc_limit_acquire()
 * wraps it with a clock (the engine's) and a condition variable.
 * Thread-safe.
 */
#ifndef LB_BMCLIMIT_H
#define LB_BMCLIMIT_H

#include <pthread.h>
#include <stddef.h>

#include "conductor/util/clock.h"

struct lb_bmc_slot;

/* Buckets of the slots (one BMC per node: 10,000 slots, a few each). */
#define LB_BMC_BUCKETS 4096

struct lb_bmc_limit {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct lb_bmc_slot *slots[LB_BMC_BUCKETS];	/* by key */
	int inflight;		/* calls in flight over all BMCs */
	int waiting;		/* callers blocked for a slot, all BMCs */
};

/* How one kind of BMC may be driven (IPMI BMCs want more care). */
struct lb_bmc_policy {
	int max_inflight;
	double min_interval;
};

void lb_bmc_limit_init(struct lb_bmc_limit *l);
void lb_bmc_limit_release_all(struct lb_bmc_limit *l);
/*
 * Takes a slot for 'key' at time 'now' and returns 0, or returns the
 * seconds to wait before trying again (> 0), or -ENOMEM.
 */
double lb_bmc_limit_try(struct lb_bmc_limit *l, const char *key,
    const struct lb_bmc_policy *policy, double now);
/*
 * Blocks until a slot is free, bounded by 'deadline' (seconds on the
 * clock's monotonic time); waits on that clock.  A deadline already due
 * takes a free slot only when nobody is waiting for one.
 */
int lb_bmc_limit_acquire(struct lb_bmc_limit *l, const char *key,
    const struct lb_bmc_policy *policy, const struct lb_clock *clock,
    double deadline);
/* Calls in flight now to the BMC 'key' and (in *ret_all) to all BMCs. */
int lb_bmc_limit_inflight(struct lb_bmc_limit *l, const char *key,
    int *ret_all);
/* Calls in flight and callers waiting for a slot, over all BMCs. */
void lb_bmc_limit_occupancy(struct lb_bmc_limit *l, int *ret_inflight,
    int *ret_waiting);
/* Gives the slot back at time 'now'; the interval counts from here. */
void lb_bmc_limit_done(struct lb_bmc_limit *l, const char *key, double now);

#endif
