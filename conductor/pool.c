/*
 * pool.c - worker threads and their bounded queue.  Any thread submits;
 * jobs run on the pool's threads.
 */
#include "conductor/pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

static void *
worker_main(void *arg)
{
	struct lb_pool *p = arg;
	struct lb_job *job;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping)
			break;
		job = p->head;
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		job->run(job);
		pthread_mutex_lock(&p->lock);
		if (--p->used == 0)
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
	pthread_cond_init(&p->idle, NULL);
	p->capacity = capacity < nthreads ? nthreads : capacity;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (p->threads == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
			lb_pool_stop(p);
			return -EAGAIN;
		}
		p->nthreads++;
	}
	return 0;
}

void
lb_pool_stop(struct lb_pool *p)
{
	struct lb_job *job, *next;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (job = p->head; job != NULL; job = next) {
		next = job->next;
		if (job->drop != NULL)
			job->drop(job);
	}
	free(p->threads);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof(*p));
}

int
lb_pool_reserve(struct lb_pool *p, size_t min_free)
{
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->used + 1 + min_free > p->capacity)
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
	if (--p->used == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

void
lb_pool_submit(struct lb_pool *p, struct lb_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->tail != NULL)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void
lb_pool_drain(struct lb_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->used > 0 && !p->stopping)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
