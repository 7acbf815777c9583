/*
 * jsonbody.c - bounded JSON body parsing, and jansson's wiping free.  Any
 * thread.
 */
#include "jsonbody.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

static int
check_bounds(const json_t *v, int depth, struct lb_err *err)
{
	const char *key;
	json_t *child;
	size_t i;

	if (depth > LB_JSON_MAX_DEPTH)
		return lb_err_set(err, -EINVAL, "Invalid JSON in request "
		    "body: nested deeper than %d levels", LB_JSON_MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (json_string_length(v) > LB_JSON_MAX_STRING)
			return lb_err_set(err, -EINVAL, "Invalid JSON in "
			    "request body: a string is longer than %d bytes",
			    LB_JSON_MAX_STRING);
		return 0;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, child) {
			if (strlen(key) > LB_JSON_MAX_KEY)
				return lb_err_set(err, -EINVAL, "Invalid "
				    "JSON in request body: a key is longer "
				    "than %d bytes", LB_JSON_MAX_KEY);
			if (check_bounds(child, depth + 1, err) < 0)
				return -EINVAL;
		}
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, child) {
			if (check_bounds(child, depth + 1, err) < 0)
				return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

static void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void
lb_json_wipe_on_free(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

int
lb_json_parse_body(const char *data, size_t len, json_t **ret,
    struct lb_err *err)
{
	json_error_t jerr;
	json_t *v;

	if (data == NULL || len == 0)
		return lb_err_set(err, -EINVAL, "Invalid JSON in request "
		    "body: the body is empty");
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &jerr);
	if (v == NULL)
		return lb_err_set(err, -EINVAL, "Invalid JSON in request "
		    "body: %s (line %d, column %d)", jerr.text, jerr.line,
		    jerr.column);
	if (check_bounds(v, 1, err) < 0) {
		json_decref(v);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}
