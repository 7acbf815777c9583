/*
 * jsonbody.c - bounded JSON body parsing, and jansson's wiping free.  Any
 * thread.
 */
#include "jsonbody.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/buf.h"

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

/* Python's repr() of a str: single quotes unless only double ones avoid
 * escaping, control bytes as \xNN, other UTF-8 as it is. */
static void
pyrepr_str(const char *s, struct lb_buf *b)
{
	char q = strchr(s, '\'') != NULL && strchr(s, '"') == NULL ? '"' :
	    '\'';

	lb_buf_addc(b, q);
	for (; *s != '\0' && b->len < 4096; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == (unsigned char)q)
			lb_buf_addf(b, "\\%c", c);
		else if (c == '\n')
			lb_buf_adds(b, "\\n");
		else if (c == '\r')
			lb_buf_adds(b, "\\r");
		else if (c == '\t')
			lb_buf_adds(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			lb_buf_addf(b, "\\x%02x", c);
		else
			lb_buf_addc(b, (char)c);
	}
	lb_buf_addc(b, q);
}

/* Python's repr() of a float: the shortest text that reads back. */
static void
pyrepr_real(double d, struct lb_buf *b)
{
	char t[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(t, sizeof(t), "%.*g", prec, d);
		if (strtod(t, NULL) == d)
			break;
	}
	lb_buf_adds(b, t);
	if (strpbrk(t, ".en") == NULL)
		lb_buf_adds(b, ".0");
}

static void
pyrepr(const json_t *v, struct lb_buf *b, int depth)
{
	const char *key;
	json_t *child;
	size_t i, n = 0;

	if (depth > LB_JSON_MAX_DEPTH || b->len >= 4096) {
		lb_buf_adds(b, "...");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		lb_buf_addc(b, '{');
		json_object_foreach((json_t *)v, key, child) {
			lb_buf_adds(b, n++ ? ", " : "");
			pyrepr_str(key, b);
			lb_buf_adds(b, ": ");
			pyrepr(child, b, depth + 1);
		}
		lb_buf_addc(b, '}');
		return;
	case JSON_ARRAY:
		lb_buf_addc(b, '[');
		json_array_foreach(v, i, child) {
			lb_buf_adds(b, i ? ", " : "");
			pyrepr(child, b, depth + 1);
		}
		lb_buf_addc(b, ']');
		return;
	case JSON_STRING:
		pyrepr_str(json_string_value(v), b);
		return;
	case JSON_INTEGER:
		lb_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		pyrepr_real(json_real_value(v), b);
		return;
	case JSON_TRUE:
		lb_buf_adds(b, "True");
		return;
	case JSON_FALSE:
		lb_buf_adds(b, "False");
		return;
	case JSON_NULL:
		lb_buf_adds(b, "None");
		return;
	}
}

void
lb_json_pyrepr(const json_t *v, char *out, size_t size)
{
	struct lb_buf b;

	if (size == 0)
		return;
	lb_buf_init(&b);
	pyrepr(v, &b, 0);
	if (lb_buf_failed(&b) || b.len == 0) {
		snprintf(out, size, "...");
	} else if (b.len < size) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	} else {
		memcpy(out, b.data, size - 1);
		out[size - 1] = '\0';
		if (size > 4)
			memcpy(out + size - 4, "...", 3);
	}
	lb_buf_release(&b);
}
