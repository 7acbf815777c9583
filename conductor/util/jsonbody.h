/*
 * jsonbody.h - parsing a request body into JSON within bounds: nesting
 * depth, string and key lengths, duplicate keys.  Pure; any thread.
 */
#ifndef LB_JSONBODY_H
#define LB_JSONBODY_H

#include <jansson.h>
#include <stddef.h>

#include "conductor/util/err.h"

#define LB_JSON_MAX_DEPTH 32
#define LB_JSON_MAX_STRING (64 * 1024)
#define LB_JSON_MAX_KEY 255

/*
 * Parses 'len' bytes as one JSON value.  -EINVAL with a message that says
 * where the text went wrong, or which bound it broke.
 */
int lb_json_parse_body(const char *data, size_t len, json_t **ret,
    struct lb_err *err);

/*
 * Makes jansson zero every block before freeing it, so the strings of a
 * parsed body (a rescue password, a BMC password) and the parser's own
 * buffers leave nothing behind.  Call once at start-up, before any thread
 * uses jansson.
 */
void lb_json_wipe_on_free(void);

/*
 * Writes 'v' as Python's repr() of the decoded value ({'a': [1, True,
 * None]}), as jsonschema quotes an instance in its messages, into 'out'
 * (always terminated; a longer text is cut and ends in "...").
 */
void lb_json_pyrepr(const json_t *v, char *out, size_t size);

#endif
