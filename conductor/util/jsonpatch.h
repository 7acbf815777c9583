/*
 * jsonpatch.h - RFC 6902 JSON patch (with RFC 6901 pointers) as the REST API
 * applies it for PATCH /v1/nodes/{node} and PATCH /v1/ports/{port}, with
 * Ironic's extra checks and bounded work.  Any thread; no shared state.
 */
#ifndef LB_JSONPATCH_H
#define LB_JSONPATCH_H

#include <jansson.h>

#include "conductor/util/err.h"

/* Ironic's rule: 'add' may not create a new top-level member; the check is made against the document as it was before
 * the patch, as Ironic's apply_jsonpatch() does. */
#define LB_JSONPATCH_NO_ROOT_ADD	0x1u

/* Limits on what a client can make the conductor do. */
#define LB_JSONPATCH_MAX_OPS		256	/* operations per patch */
#define LB_JSONPATCH_MAX_DEPTH		32	/* tokens per pointer */
#define LB_JSONPATCH_MAX_PATH		1024	/* bytes per pointer */
/* Nesting of the result, so that it always loads again with json_loads(). */
#define LB_JSONPATCH_MAX_NEST		JSON_PARSER_MAX_DEPTH

/*
 * Applies 'patch' (a JSON array of operation objects) to '*doc'.  On success
 * *doc is replaced by the patched document (the old one is released) and 0 is
 * returned.  On failure *doc is untouched, err->msg says why (message safe to
 * show an API client) and -EINVAL is returned.  flags: LB_JSONPATCH_NO_ROOT_ADD
 * forbids 'add' of a new top-level member (Ironic's rule).
 *
 * Only 'add', 'replace' and 'remove' are accepted, each with no member but
 * 'op', 'path' and 'value' (Ironic's schema); 'copy', 'move' and 'test' would
 * let a client read masked values, and are refused with Ironic's message.
 * 'patch' is only borrowed: values are copied out of it.  A pointer must
 * start with '/' (the whole-document pointer "" is refused).  Running out of
 * memory returns -ENOMEM, also leaving *doc untouched.
 */
int lb_jsonpatch_apply(json_t **doc, const json_t *patch, unsigned flags,
		       struct lb_err *err);

#endif
