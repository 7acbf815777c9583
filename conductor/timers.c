/*
 * timers.c - the deadline heap behind every periodic task and the timer
 * thread that waits for it (see timers.h).  The callbacks run on the
 * timer thread, or on the caller of lb_timers_run_due().
 */
#include <stdlib.h>

#include "conductor/timers.h"
#include "conductor/util/banned.h"

struct lb_periodic {
	struct lb_timers *timers;
	double interval;
	void (*fn)(void *arg);
	void *arg;
	struct lb_periodic *next;
};

void
lb_timers_init(struct lb_timers *t, const struct lb_clock *clock,
    bool manual)
{
	t->clock = clock;
	t->manual = manual;
	t->started = false;
	t->stopping = false;
	t->periodic = NULL;
	pthread_mutex_init(&t->lock, NULL);
	lb_cond_init_monotonic(&t->wake);
	lb_heap_init(&t->heap);
}

static void periodic_fire(void *arg);

/* Called with the lock held. */
static int
arm(struct lb_timers *t, struct lb_periodic *p)
{
	int r;

	r = lb_heap_push(&t->heap, t->clock->monotonic(t->clock) +
	    p->interval, periodic_fire, p);
	pthread_cond_signal(&t->wake);
	return r;
}

static void
periodic_fire(void *arg)
{
	struct lb_periodic *p = arg;
	struct lb_timers *t = p->timers;

	p->fn(p->arg);
	pthread_mutex_lock(&t->lock);
	if (!t->stopping)
		arm(t, p);
	pthread_mutex_unlock(&t->lock);
}

int
lb_timers_add(struct lb_timers *t, double interval, void (*fn)(void *),
    void *arg)
{
	struct lb_periodic *p;
	int r;

	if (!(interval > 0))
		return 0;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->timers = t;
	p->interval = interval;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&t->lock);
	p->next = t->periodic;
	t->periodic = p;
	r = arm(t, p);
	pthread_mutex_unlock(&t->lock);
	return r;
}

/*
 * Pops and fires everything due; with 'block', waits for the next
 * deadline (or a signal) until stopped.  Called with the lock held.
 */
static void
run_locked(struct lb_timers *t, bool block)
{
	const struct lb_deadline *next;
	struct lb_deadline d;
	double wait;

	while (!t->stopping) {
		next = lb_heap_peek(&t->heap);
		if (next == NULL && !block)
			return;
		if (next == NULL) {
			pthread_cond_wait(&t->wake, &t->lock);
			continue;
		}
		wait = next->when - t->clock->monotonic(t->clock);
		if (wait > 0 && !block)
			return;
		if (wait > 0) {
			t->clock->wait_for(t->clock, &t->wake, &t->lock, wait);
			continue;
		}
		lb_heap_pop(&t->heap, &d);
		pthread_mutex_unlock(&t->lock);
		d.fire(d.arg);
		pthread_mutex_lock(&t->lock);
	}
}

static void *
timer_main(void *arg)
{
	struct lb_timers *t = arg;

	pthread_mutex_lock(&t->lock);
	run_locked(t, true);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int
lb_timers_start(struct lb_timers *t, struct lb_err *err)
{
	if (t->manual)
		return 0;
	if (pthread_create(&t->thread, NULL, timer_main, t) != 0)
		return lb_err_set(err, -EAGAIN, "cannot start the timer "
		    "thread");
	t->started = true;
	return 0;
}

void
lb_timers_run_due(struct lb_timers *t)
{
	pthread_mutex_lock(&t->lock);
	run_locked(t, false);
	pthread_mutex_unlock(&t->lock);
}

void
lb_timers_release(struct lb_timers *t)
{
	struct lb_periodic *p, *next;

	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->started)
		pthread_join(t->thread, NULL);
	t->started = false;
	for (p = t->periodic; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	t->periodic = NULL;
	lb_heap_release(&t->heap);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
}
