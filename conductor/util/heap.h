/*
 * heap.h - a binary min-heap of deadlines: the one timer structure that
 * drives every timeout and periodic task.  Not thread-safe by itself (the
 * timer thread holds its lock around it); knows no clock, so tests give it
 * times directly.
 */
#ifndef LB_HEAP_H
#define LB_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct lb_deadline {
	double when;		/* seconds on the caller's clock */
	uint64_t seq;		/* ties break by insertion order */
	void (*fire)(void *arg);
	void *arg;
};

struct lb_heap {
	struct lb_deadline *items;
	size_t n;
	size_t cap;
	uint64_t next_seq;
};

void lb_heap_init(struct lb_heap *h);
void lb_heap_release(struct lb_heap *h);
/* 0, or -ENOMEM. */
int lb_heap_push(struct lb_heap *h, double when, void (*fire)(void *),
    void *arg);
/* The earliest deadline, or NULL when empty. */
const struct lb_deadline *lb_heap_peek(const struct lb_heap *h);
/* Removes the earliest into *ret; -ENOENT when empty. */
int lb_heap_pop(struct lb_heap *h, struct lb_deadline *ret);

#endif
