/*
 * pool.h - a fixed set of worker threads with a bounded queue.  A caller
 * first reserves a slot (so it can refuse with 503 before changing
 * anything), then submits or gives the slot back.  No thread per node.
 * Thread-safe.
 */
#ifndef LB_POOL_H
#define LB_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct lb_job {
	void (*run)(struct lb_job *job);
	void (*drop)(struct lb_job *job);	/* frees a job never run */
	struct lb_job *next;
};

struct lb_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t idle;	/* used dropped to 0 */
	pthread_t *threads;
	size_t nthreads;
	size_t capacity;	/* running + queued + reserved, at most */
	size_t used;
	struct lb_job *head, *tail;
	bool stopping;
};

int lb_pool_start(struct lb_pool *p, size_t nthreads, size_t capacity);
/* Runs what is running to its end, drops what is queued. */
void lb_pool_stop(struct lb_pool *p);
/* -EAGAIN when the pool is full.  'min_free' keeps that many slots for
 * others (periodic work passes a margin, API work passes 0). */
int lb_pool_reserve(struct lb_pool *p, size_t min_free);
void lb_pool_unreserve(struct lb_pool *p);
/* Queues a job on a reserved slot; the slot is freed when it finishes. */
void lb_pool_submit(struct lb_pool *p, struct lb_job *job);
/* Blocks until no job is queued, running or reserved. */
void lb_pool_drain(struct lb_pool *p);

#endif
