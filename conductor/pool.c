/*
 * pool.c - worker threads and their bounded queue.  Any thread submits;
 * jobs run on the pool's threads.  A graceful stop closes the pool (the
 * queue is dropped) and waits a bounded time for the running jobs.
 */
#include "conductor/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/clock.h"
#include "conductor/util/banned.h"

static void *
worker_main(void *arg)
{
	struct lb_pool *p = arg;
	struct lb_job *job;
	size_t me;

	pthread_mutex_lock(&p->lock);
	me = p->nstarted++;
	for (;;) {
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping)
			break;
		job = p->head;
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->running[me] = job;
		p->last_progress = lb_monotonic();
		pthread_mutex_unlock(&p->lock);
		job->run(job);
		pthread_mutex_lock(&p->lock);
		p->running[me] = NULL;
		p->last_progress = lb_monotonic();
		p->used--;
		if (--p->active == 0)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
lb_pool_start(struct lb_pool *p, size_t nthreads, size_t capacity)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	/* lb_pool_wait() waits on the monotonic clock. */
	lb_cond_init_monotonic(&p->idle);
	p->capacity = capacity < nthreads ? nthreads : capacity;
	p->last_progress = lb_monotonic();
	p->threads = calloc(nthreads, sizeof(*p->threads));
	p->running = calloc(nthreads, sizeof(*p->running));
	if (p->threads == NULL || p->running == NULL) {
		lb_pool_stop(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
			lb_pool_stop(p);
			return -EAGAIN;
		}
		p->nthreads++;
	}
	return 0;
}

/* Drops a list of jobs never run. */
static void
drop_all(struct lb_job *job)
{
	struct lb_job *next;

	for (; job != NULL; job = next) {
		next = job->next;
		if (job->drop != NULL)
			job->drop(job);
	}
}

void
lb_pool_stop(struct lb_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	drop_all(p->head);
	free(p->threads);
	free(p->running);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof(*p));
}

int
lb_pool_reserve(struct lb_pool *p, size_t min_free)
{
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->closed ||
	    p->used + 1 + min_free > p->capacity)
		r = -EAGAIN;
	else
		p->used++;
	pthread_mutex_unlock(&p->lock);
	return r;
}

void
lb_pool_unreserve(struct lb_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->used--;
	pthread_mutex_unlock(&p->lock);
}

void
lb_pool_submit(struct lb_pool *p, struct lb_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->closed) {
		/* Reserved before the pool closed: never started. */
		p->used--;
		pthread_mutex_unlock(&p->lock);
		drop_all(job);
		return;
	}
	if (p->tail != NULL)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	p->active++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void
lb_pool_drain(struct lb_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->active > 0 && p->nthreads > 0 && !p->stopping)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

size_t
lb_pool_close(struct lb_pool *p, size_t *ret_running)
{
	struct lb_job *queued, *job;
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	p->closed = true;
	queued = p->head;
	p->head = p->tail = NULL;
	for (job = queued; job != NULL; job = job->next)
		n++;
	p->active -= n;
	p->used -= n;
	if (p->active == 0)
		pthread_cond_broadcast(&p->idle);
	*ret_running = p->active;
	pthread_mutex_unlock(&p->lock);
	drop_all(queued);
	return n;
}

size_t
lb_pool_wait(struct lb_pool *p, double timeout_s)
{
	double deadline = lb_monotonic() + timeout_s;
	size_t left;

	pthread_mutex_lock(&p->lock);
	while (p->active > 0) {
		if (timeout_s <= 0)
			pthread_cond_wait(&p->idle, &p->lock);
		else if (lb_cond_wait_for(&p->idle, &p->lock,
		    deadline - lb_monotonic()) == ETIMEDOUT)
			break;
	}
	left = p->active;
	pthread_mutex_unlock(&p->lock);
	return left;
}

void
lb_pool_each_running(struct lb_pool *p,
    void (*fn)(struct lb_job *job, void *arg), void *arg)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->running[i] != NULL)
			fn(p->running[i], arg);
	pthread_mutex_unlock(&p->lock);
}

size_t
lb_pool_progress(struct lb_pool *p, double *ret_idle_s)
{
	size_t queued = 0;

	pthread_mutex_lock(&p->lock);
	for (struct lb_job *job = p->head; job != NULL; job = job->next)
		queued++;
	*ret_idle_s = lb_monotonic() - p->last_progress;
	pthread_mutex_unlock(&p->lock);
	return queued;
}

void
lb_pool_occupancy(struct lb_pool *p, size_t *ret_busy, size_t *ret_queued)
{
	size_t busy = 0, queued = 0;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; p->running != NULL && i < p->nthreads; i++)
		if (p->running[i] != NULL)
			busy++;
	for (struct lb_job *job = p->head; job != NULL; job = job->next)
		queued++;
	pthread_mutex_unlock(&p->lock);
	*ret_busy = busy;
	*ret_queued = queued;
}
