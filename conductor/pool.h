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
	pthread_t *threads;
	size_t nthreads;
	size_t nstarted;		/* workers that took their index */
	size_t capacity;	/* running + queued + reserved, at most */
	size_t used;
	size_t active;		/* queued + running */
	pthread_cond_t idle;	/* active dropped to 0 */
	struct lb_job *head, *tail;
	bool stopping;
	bool closed;		/* lb_pool_close(): takes no more work */
	struct lb_job **running;	/* per worker, NULL when idle */
	double last_progress;	/* monotonic: a job last started or ended */
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
/* Blocks until no job is queued or running. */
void lb_pool_drain(struct lb_pool *p);
/*
 * The start of a graceful stop: reserving fails from now on, and the
 * queued jobs (and any submitted later) are dropped, each through its
 * drop hook on this thread.  Returns how many were dropped;
 * *ret_running is how many run.
 */
size_t lb_pool_close(struct lb_pool *p, size_t *ret_running);
/* Waits up to 'timeout_s' (<= 0: for ever) for the running jobs to end;
 * returns how many still run. */
size_t lb_pool_wait(struct lb_pool *p, double timeout_s);
/* Calls fn(job, arg) for each running job, under the pool's lock. */
void lb_pool_each_running(struct lb_pool *p,
    void (*fn)(struct lb_job *job, void *arg), void *arg);
/* Jobs queued and not started, and seconds since a job last started or
 * ended (since the pool started when none has). */
size_t lb_pool_progress(struct lb_pool *p, double *ret_idle_s);
/* Workers running a job now, and jobs queued and not started (metrics). */
void lb_pool_occupancy(struct lb_pool *p, size_t *ret_busy,
    size_t *ret_queued);

#endif
