/*
 * heap.c - binary min-heap of deadlines.  Caller-locked.
 */
#include "heap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

void
lb_heap_init(struct lb_heap *h)
{
	memset(h, 0, sizeof(*h));
}

void
lb_heap_release(struct lb_heap *h)
{
	free(h->items);
	lb_heap_init(h);
}

static bool
before(const struct lb_deadline *a, const struct lb_deadline *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
swap(struct lb_deadline *a, struct lb_deadline *b)
{
	struct lb_deadline t = *a;

	*a = *b;
	*b = t;
}

int
lb_heap_push(struct lb_heap *h, double when, void (*fire)(void *), void *arg)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct lb_deadline *items = realloc(h->items,
		    cap * sizeof(*items));

		if (items == NULL)
			return -ENOMEM;
		h->items = items;
		h->cap = cap;
	}
	i = h->n++;
	h->items[i] = (struct lb_deadline){ when, h->next_seq++, fire, arg };
	while (i > 0 && before(&h->items[i], &h->items[(i - 1) / 2])) {
		swap(&h->items[i], &h->items[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

const struct lb_deadline *
lb_heap_peek(const struct lb_heap *h)
{
	return h->n ? &h->items[0] : NULL;
}

int
lb_heap_pop(struct lb_heap *h, struct lb_deadline *ret)
{
	size_t i = 0;

	if (h->n == 0)
		return -ENOENT;
	*ret = h->items[0];
	h->items[0] = h->items[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && before(&h->items[l], &h->items[m]))
			m = l;
		if (r < h->n && before(&h->items[r], &h->items[m]))
			m = r;
		if (m == i)
			break;
		swap(&h->items[i], &h->items[m]);
		i = m;
	}
	return 0;
}
