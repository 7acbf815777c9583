/*
 * bmclimit.c - per-BMC concurrency and spacing.  Any thread.
 */
#include "bmclimit.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conductor/util/hash.h"
#include "conductor/util/banned.h"

struct lb_bmc_slot {
	char *key;
	int inflight;
	int waiting;		/* callers blocked for a slot */
	double last_done;	/* -inf when never used */
	struct lb_bmc_slot *next;
};

void
lb_bmc_limit_init(struct lb_bmc_limit *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	lb_cond_init_monotonic(&l->changed);
}

void
lb_bmc_limit_release_all(struct lb_bmc_limit *l)
{
	struct lb_bmc_slot *s, *next;

	for (size_t i = 0; i < LB_BMC_BUCKETS; i++) {
		for (s = l->slots[i]; s != NULL; s = next) {
			next = s->next;
			free(s->key);
			free(s);
		}
	}
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->lock);
}

/* Called with the lock held. */
static struct lb_bmc_slot *
slot_find(struct lb_bmc_limit *l, const char *key, bool create)
{
	struct lb_bmc_slot **bucket = &l->slots[lb_hash_str(key) %
	    LB_BMC_BUCKETS], *s;

	for (s = *bucket; s != NULL; s = s->next) {
		if (strcmp(s->key, key) == 0)
			return s;
	}
	if (!create)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->key = strdup(key)) == NULL) {
		free(s);
		return NULL;
	}
	s->last_done = -INFINITY;
	s->next = *bucket;
	*bucket = s;
	return s;
}

/* Called with the lock held. */
static double
try_locked(struct lb_bmc_limit *l, const char *key,
    const struct lb_bmc_policy *p, double now)
{
	struct lb_bmc_slot *s = slot_find(l, key, true);
	int max = p->max_inflight > 0 ? p->max_inflight : 1;
	double ready;

	if (s == NULL)
		return -ENOMEM;
	if (s->inflight >= max)
		return 0.05 + p->min_interval;	/* until one is done */
	ready = s->last_done + p->min_interval;
	if (s->inflight == 0 && now < ready)
		return ready - now;
	s->inflight++;
	l->inflight++;
	return 0;
}

double
lb_bmc_limit_try(struct lb_bmc_limit *l, const char *key,
    const struct lb_bmc_policy *policy, double now)
{
	double r;

	pthread_mutex_lock(&l->lock);
	r = try_locked(l, key, policy, now);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int
lb_bmc_limit_acquire(struct lb_bmc_limit *l, const char *key,
    const struct lb_bmc_policy *policy, const struct lb_clock *clock,
    double deadline)
{
	struct lb_bmc_slot *s;
	double wait, now;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		now = clock->monotonic(clock);
		/*
		 * A caller that will not wait gives way to one that does: a
		 * slot freed for a waiter is not taken by the next read.
		 */
		s = slot_find(l, key, false);
		if (s != NULL && s->waiting > 0 && deadline <= now) {
			pthread_mutex_unlock(&l->lock);
			return -ETIMEDOUT;
		}
		wait = try_locked(l, key, policy, now);
		if (wait <= 0)
			break;
		if (now + wait > deadline) {
			pthread_mutex_unlock(&l->lock);
			return -ETIMEDOUT;
		}
		s = slot_find(l, key, false);
		s->waiting++;
		l->waiting++;
		clock->wait_for(clock, &l->changed, &l->lock, wait);
		l->waiting--;
		s->waiting--;
	}
	pthread_mutex_unlock(&l->lock);
	return wait < 0 ? (int)wait : 0;
}

int
lb_bmc_limit_inflight(struct lb_bmc_limit *l, const char *key, int *ret_all)
{
	struct lb_bmc_slot *s;
	int n;

	pthread_mutex_lock(&l->lock);
	s = slot_find(l, key, false);
	n = s != NULL ? s->inflight : 0;
	*ret_all = l->inflight;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void
lb_bmc_limit_occupancy(struct lb_bmc_limit *l, int *ret_inflight,
    int *ret_waiting)
{
	pthread_mutex_lock(&l->lock);
	*ret_inflight = l->inflight;
	*ret_waiting = l->waiting;
	pthread_mutex_unlock(&l->lock);
}

void
lb_bmc_limit_done(struct lb_bmc_limit *l, const char *key, double now)
{
	struct lb_bmc_slot *s;

	pthread_mutex_lock(&l->lock);
	s = slot_find(l, key, false);
	if (s != NULL && s->inflight > 0) {
		s->inflight--;
		l->inflight--;
		s->last_done = now;
	}
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
}
