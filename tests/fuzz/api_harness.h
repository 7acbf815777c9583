/*
 * api_harness.h - what the API fuzz targets (fuzz_api, fuzz_lookup) share:
 * a store in a temporary directory with a few nodes and ports, an engine
 * with no worker threads, and a request built from a raw query string the
 * way libmicrohttpd splits and unescapes it.  Single-threaded.
 */
#ifndef LB_FUZZ_API_HARNESS_H
#define LB_FUZZ_API_HARNESS_H

#include <stddef.h>

#include "conductor/api_internal.h"

/* The seeded records. */
#define FZ_NODE_ENROLL "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"
#define FZ_NODE_RESCUE "2c0d9a8e-5e0e-4b1f-9c1d-7a0e3b2f4d11"
#define FZ_NODE_ABSENT "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
#define FZ_MAC_RESCUE "52:54:00:12:34:56"
/*
 * Secrets start with a letter that no %XX escape ends in, so a "next" link
 * that escapes a query value cannot spell them by accident.
 */
#define FZ_SECRET "zfuzzsecretz"
#define FZ_TOKEN "fuzzTOKENfuzzTOKENfuzzTOKENfuzzTOKEN0123456"

/* Made on the first call; removed at exit. */
const struct lb_api_ctx *fz_api_ctx(void);

/*
 * A request for 'path' at 1.<minor> whose query is 'query' (raw bytes,
 * "a=b&c=d", split on '&' and '=' and %-unescaped, at most LB_QUERY_MAX
 * arguments, as MHD does).  'body' is copied NUL-terminated.
 * fz_req_release frees what fz_req_init allocated.
 */
struct fz_req {
	struct lb_req req;
	char *query_buf;
	char *body_buf;
};

void fz_req_init(struct fz_req *fr, const char *path, int minor,
    const char *query, size_t query_len, const char *body, size_t body_len);
void fz_req_release(struct fz_req *fr);

/*
 * Runs a handler and checks the API's promises: a failure has a message,
 * maps to a 4xx/5xx status and makes an Ironic error document; a success
 * with a body has valid JSON; neither shows a seeded secret the request
 * did not carry.  Aborts otherwise.  Returns the handler's result.
 */
int fz_call(lb_handler_fn fn, struct fz_req *fr, const char *const *args);

#endif
