/*
 * hashring.c - tooz's consistent hash ring in C: for every host the md5
 * digest fed the host name 2, 3, ... 2^exponent + 1 times is one point
 * (digests compared as 128-bit big-endian integers, as tooz's int of the
 * hex digest); a key's owner is at the first point strictly above
 * md5(key), the first point when none is.  Any thread; no locks (the ring
 * does not change once built).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "conductor/util/hashring.h"
#include "conductor/util/banned.h"

struct ring_point {
	unsigned char digest[16];
	size_t host;			/* index into hosts */
};

struct lb_hashring {
	char **hosts;
	size_t nhosts;
	struct ring_point *points;
	size_t npoints;
};

static int
point_cmp(const void *a, const void *b)
{
	const struct ring_point *pa = a, *pb = b;
	int c = memcmp(pa->digest, pb->digest, sizeof(pa->digest));

	if (c != 0)
		return c;
	/* tooz keeps one host per point; the later member wins there. */
	return pa->host < pb->host ? -1 : pa->host > pb->host;
}

static int
md5_once(const char *data, unsigned char out[16])
{
	unsigned int len = 0;

	if (EVP_Digest(data, strlen(data), out, &len, EVP_md5(), NULL) != 1 ||
	    len != 16)
		return -ENOMEM;
	return 0;
}

/* The 'count' cumulative points of host h into pts. */
static int
host_points(const char *host, size_t h, size_t count, struct ring_point *pts)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *tmp = EVP_MD_CTX_new();
	size_t len = strlen(host);
	unsigned int out;
	int ok;

	ok = ctx != NULL && tmp != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, host, len) == 1;
	for (size_t i = 0; ok && i < count; i++) {
		ok = EVP_DigestUpdate(ctx, host, len) == 1 &&
		    EVP_MD_CTX_copy_ex(tmp, ctx) == 1 &&
		    EVP_DigestFinal_ex(tmp, pts[i].digest, &out) == 1;
		pts[i].host = h;
	}
	EVP_MD_CTX_free(tmp);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -ENOMEM;
}

static int
add_host(struct lb_hashring *ring, const char *host)
{
	for (size_t i = 0; i < ring->nhosts; i++)
		if (strcmp(ring->hosts[i], host) == 0)
			return 0;
	ring->hosts[ring->nhosts] = strdup(host);
	if (ring->hosts[ring->nhosts] == NULL)
		return -ENOMEM;
	ring->nhosts++;
	return 1;
}

/* Sorted, and of equal digests only the last host's kept (tooz's dict). */
static void
sort_points(struct lb_hashring *ring)
{
	size_t out = 0;

	qsort(ring->points, ring->npoints, sizeof(*ring->points), point_cmp);
	for (size_t i = 0; i < ring->npoints; i++) {
		if (out > 0 && memcmp(ring->points[out - 1].digest,
		    ring->points[i].digest, 16) == 0)
			out--;
		ring->points[out++] = ring->points[i];
	}
	ring->npoints = out;
}

int
lb_hashring_new(const char *const *hosts, size_t n, int exponent,
    struct lb_hashring **ret)
{
	struct lb_hashring *ring;
	size_t per;
	int r = 0;

	*ret = NULL;
	if (exponent < 0 || exponent > 16)
		return -EINVAL;
	per = (size_t)1 << exponent;
	ring = calloc(1, sizeof(*ring));
	if (ring == NULL)
		return -ENOMEM;
	ring->hosts = calloc(n + 1, sizeof(*ring->hosts));
	ring->points = calloc(n * per + 1, sizeof(*ring->points));
	if (ring->hosts == NULL || ring->points == NULL)
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = add_host(ring, hosts[i]);
		if (r <= 0)
			continue;
		r = host_points(hosts[i], ring->nhosts - 1, per,
		    ring->points + ring->npoints);
		if (r == 0)
			ring->npoints += per;
	}
	if (r < 0) {
		lb_hashring_free(ring);
		return r;
	}
	sort_points(ring);
	*ret = ring;
	return 0;
}

const char *
lb_hashring_lookup(const struct lb_hashring *ring, const char *key)
{
	unsigned char d[16];
	size_t lo = 0, hi;

	if (ring == NULL || ring->npoints == 0 || md5_once(key, d) < 0)
		return NULL;
	/* bisect_right: the first point strictly above d. */
	hi = ring->npoints;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(ring->points[mid].digest, d, sizeof(d)) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ring->npoints)
		lo = 0;
	return ring->hosts[ring->points[lo].host];
}

int
lb_hashring_has(const struct lb_hashring *ring, const char *host)
{
	for (size_t i = 0; ring != NULL && i < ring->nhosts; i++)
		if (strcmp(ring->hosts[i], host) == 0)
			return 1;
	return 0;
}

void
lb_hashring_free(struct lb_hashring *ring)
{
	if (ring == NULL)
		return;
	for (size_t i = 0; i < ring->nhosts; i++)
		free(ring->hosts[i]);
	free(ring->hosts);
	free(ring->points);
	free(ring);
}
