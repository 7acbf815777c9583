/*
 * hash.h - FNV-1a over a NUL-terminated string: the bucket of a key in
 * the in-memory tables keyed by node UUID or BMC (the power sync's
 * per-node records, the BMC limiter's slots), and the fingerprint of a
 * canonical JSON text.  Pure; any thread.
 */
#ifndef LB_HASH_H
#define LB_HASH_H

#include <stdint.h>

static inline uint64_t
lb_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

#endif
