/*
 * hashring.h - a consistent hash ring as tooz's HashRing (what Ironic uses
 * to map nodes to conductors): 2^exponent md5 points per host, a key goes
 * to the host of the first point above md5(key), wrapping.  Pure: built
 * once from a list of hosts, then read-only and safe on any thread.
 */
#ifndef LB_HASHRING_H
#define LB_HASHRING_H

#include <stddef.h>

struct lb_hashring;

/*
 * A ring of the n hosts (duplicates count once) with 2^exponent points
 * each (exponent 0..16).  n may be 0: every lookup then gives NULL.
 * 0, -EINVAL or -ENOMEM.
 */
int lb_hashring_new(const char *const *hosts, size_t n, int exponent,
    struct lb_hashring **ret);
/* The host the key maps to (owned by the ring), NULL when it is empty. */
const char *lb_hashring_lookup(const struct lb_hashring *ring,
    const char *key);
/* Whether host is a member. */
int lb_hashring_has(const struct lb_hashring *ring, const char *host);
void lb_hashring_free(struct lb_hashring *ring);

#endif
