/*
 * record.c - table-driven rendering, create and patch of API documents.
 * Pure functions over caller-owned records; any thread.
 */
#include "record.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/ident.h"
#include "conductor/util/jsonpatch.h"
#include "conductor/util/mask.h"
#include "conductor/util/banned.h"

#define FIELD_PTR(rec, f) ((char *)(rec) + (f)->offset)
#define STR_AT(rec, f) (*(char **)FIELD_PTR(rec, f))
#define JSON_AT(rec, f) (*(json_t **)FIELD_PTR(rec, f))
#define BOOL_AT(rec, f) (*(bool *)FIELD_PTR(rec, f))
#define INT_AT(rec, f) (*(int *)FIELD_PTR(rec, f))

static int
dump_cb(const char *data, size_t size, void *arg)
{
	lb_buf_add(arg, data, size);
	return 0;
}

static void
render_json(struct lb_buf *b, const json_t *v)
{
	if (v == NULL) {
		lb_buf_adds(b, "null");
		return;
	}
	/* The common empty dict and list, without the dumper's set-up. */
	if (json_is_object(v) && json_object_size(v) == 0) {
		lb_buf_adds(b, "{}");
		return;
	}
	if (json_is_array(v) && json_array_size(v) == 0) {
		lb_buf_adds(b, "[]");
		return;
	}
	json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void
render_links(struct lb_buf *b, const struct lb_record_type *t, const void *rec,
    const struct lb_field *f, const struct lb_render *r)
{
	const char *uuid = (const char *)rec + t->uuid_offset;
	const char *sep = f->link_sub[0] != '\0' ? "/" : "";

	lb_buf_addf(b, "[{\"href\":\"%s/v1/%s/%s%s%s\",\"rel\":\"self\"},"
	    "{\"href\":\"%s/%s/%s%s%s\",\"rel\":\"bookmark\"}]",
	    r->base_url, t->plural, uuid, sep, f->link_sub,
	    r->base_url, t->plural, uuid, sep, f->link_sub);
}

static bool
field_shown(const struct lb_field *f, int i, const struct lb_render *r)
{
	if (f->min_minor > r->minor)
		return false;
	if (r->fields != NULL)
		return (*r->fields >> i) & 1;
	return r->detail || (f->flags & LB_FF_SUMMARY);
}

void
lb_record_render(const struct lb_record_type *t, const void *rec,
    const struct lb_render *r, struct lb_buf *b)
{
	bool first = true;

	lb_buf_addc(b, '{');
	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		json_t *masked;

		if (!field_shown(f, (int)i, r))
			continue;
		if (!first)
			lb_buf_addc(b, ',');
		first = false;
		lb_buf_add_json_string(b, f->name);
		lb_buf_addc(b, ':');
		switch (f->type) {
		case LB_FT_STR:
			lb_buf_add_json_string(b, STR_AT(rec, f));
			break;
		case LB_FT_STRBUF:
			lb_buf_add_json_string(b, FIELD_PTR(rec, f));
			break;
		case LB_FT_BOOL:
			lb_buf_adds(b, BOOL_AT(rec, f) ? "true" : "false");
			break;
		case LB_FT_TRIBOOL:
			lb_buf_adds(b, INT_AT(rec, f) < 0 ? "null" :
			    INT_AT(rec, f) ? "true" : "false");
			break;
		case LB_FT_OBJ:
		case LB_FT_LIST:
			if (!(f->flags & LB_FF_SECRETS)) {
				render_json(b, JSON_AT(rec, f));
				break;
			}
			masked = lb_mask_dict(JSON_AT(rec, f), f->mask_extra);
			render_json(b, masked);
			json_decref(masked);
			break;
		case LB_FT_LINKS:
			render_links(b, t, rec, f, r);
			break;
		case LB_FT_CONDUCTOR:
			lb_buf_add_json_string(b, r->conductor);
			break;
		}
	}
	lb_buf_addc(b, '}');
}

bool
lb_field_is_stored(const struct lb_field *f)
{
	return f->type != LB_FT_LINKS && f->type != LB_FT_CONDUCTOR &&
	    !(f->flags & LB_FF_NOSTORE);
}

int
lb_record_field_index(const struct lb_record_type *t, const char *name)
{
	for (size_t i = 0; i < t->nfields; i++) {
		if (strcmp(t->fields[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

int
lb_record_fields_parse(const struct lb_record_type *t, const char *list,
    int minor, uint64_t *ret_bits, struct lb_err *err)
{
	uint64_t bits = 0;
	const char *p = list;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char name[64];
		int i;

		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0 || n >= sizeof(name))
			return lb_err_set(err, -EINVAL,
			    "Field(s) \"%.*s\" are not valid",
			    (int)(n < 64 ? n : 64), p);
		memcpy(name, p, n);
		name[n] = '\0';
		i = lb_record_field_index(t, name);
		if (i < 0 || t->fields[i].min_minor > minor)
			return lb_err_set(err, -EINVAL,
			    "Field(s) \"%s\" are not valid", name);
		bits |= (uint64_t)1 << i;
		p = end ? end + 1 : p + n;
	}
	if (bits == 0)
		return lb_err_set(err, -EINVAL, "Field(s) \"\" are not valid");
	*ret_bits = bits;
	return 0;
}

json_t *
lb_record_field_json(const struct lb_field *f, const void *rec)
{
	switch (f->type) {
	case LB_FT_STR:
		return STR_AT(rec, f) ? json_string(STR_AT(rec, f)) : json_null();
	case LB_FT_STRBUF:
		return json_string(FIELD_PTR(rec, f));
	case LB_FT_BOOL:
		return json_boolean(BOOL_AT(rec, f));
	case LB_FT_TRIBOOL:
		return INT_AT(rec, f) < 0 ? json_null() :
		    json_boolean(INT_AT(rec, f));
	case LB_FT_OBJ:
	case LB_FT_LIST:
		return JSON_AT(rec, f) ? json_deep_copy(JSON_AT(rec, f)) :
		    json_null();
	default:
		return NULL;
	}
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

/* Ironic accepts "true"/"false" strings for booleans, as the CLI sends them. */
static int
json_to_bool(const json_t *v, bool *ret)
{
	const char *s;

	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 ||
	    strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0)
		*ret = true;
	else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 ||
	    strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int
set_string(const struct lb_field *f, void *rec, const json_t *value,
    struct lb_err *err)
{
	size_t max = f->max_len ? f->max_len : 255;
	char *copy;

	if (value == NULL || json_is_null(value)) {
		if (!(f->flags & LB_FF_NULLABLE))
			return lb_err_set(err, -EINVAL,
			    "Invalid input for field/attribute %s. "
			    "Value: None. Value must not be null",
			    f->name);
		free(STR_AT(rec, f));
		STR_AT(rec, f) = NULL;
		return 0;
	}
	if (!json_is_string(value))
		return lb_err_set(err, -EINVAL,
		    "Invalid input for field/attribute %s. Value: %s. "
		    "Wrong type. Expected 'string', got '%s'", f->name,
		    json_type_name(value), json_type_name(value));
	if (json_string_length(value) > max)
		return lb_err_set(err, -EINVAL,
		    "Invalid input for field/attribute %s. Value is longer "
		    "than %zu characters", f->name, max);
	if (strlen(json_string_value(value)) != json_string_length(value))
		return lb_err_set(err, -EINVAL,
		    "Invalid input for field/attribute %s. Value contains "
		    "a NUL character", f->name);
	if (f->check != NULL && f->check(json_string_value(value), err) < 0)
		return -EINVAL;
	copy = strdup(json_string_value(value));
	if (copy == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (f->flags & LB_FF_LOWER) {
		for (char *p = copy; *p; p++)
			*p = tolower((unsigned char)*p);
	}
	free(STR_AT(rec, f));
	STR_AT(rec, f) = copy;
	return 0;
}

/* Fixed buffers hold identifiers: never null, never longer than max_len. */
static int
set_strbuf(const struct lb_field *f, void *rec, const json_t *value,
    struct lb_err *err)
{
	char *dst = FIELD_PTR(rec, f);
	const char *v;

	if (value == NULL || !json_is_string(value))
		return lb_err_set(err, -EINVAL,
		    "Invalid input for field/attribute %s. Wrong type. "
		    "Expected 'string', got '%s'", f->name,
		    value ? json_type_name(value) : "nothing");
	v = json_string_value(value);
	if (f->flags & LB_FF_MAC) {
		if (lb_mac_normalize(v, dst) < 0)
			return lb_err_set(err, -EINVAL, "Expected a MAC "
			    "address but received %s.", v);
		return 0;
	}
	if (json_string_length(value) > f->max_len ||
	    strlen(v) != json_string_length(value))
		return lb_err_set(err, -EINVAL,
		    "Invalid input for field/attribute %s. Value: %s",
		    f->name, v);
	if (f->check != NULL && f->check(v, err) < 0)
		return -EINVAL;
	memcpy(dst, v, json_string_length(value) + 1);
	if (f->flags & LB_FF_LOWER) {
		for (char *p = dst; *p; p++)
			*p = tolower((unsigned char)*p);
	}
	return 0;
}

int
lb_record_field_set(const struct lb_record_type *t, const struct lb_field *f,
    void *rec, const json_t *value, struct lb_err *err)
{
	bool b;

	(void)t;
	switch (f->type) {
	case LB_FT_STR:
		return set_string(f, rec, value, err);
	case LB_FT_STRBUF:
		return set_strbuf(f, rec, value, err);
	case LB_FT_BOOL:
	case LB_FT_TRIBOOL:
		if (value == NULL || json_is_null(value)) {
			if (f->type == LB_FT_TRIBOOL) {
				INT_AT(rec, f) = -1;
				return 0;
			}
			BOOL_AT(rec, f) = false;
			return 0;
		}
		if (json_to_bool(value, &b) < 0)
			return lb_err_set(err, -EINVAL,
			    "Invalid input for field/attribute %s. "
			    "Wrong type. Expected 'boolean', got '%s'",
			    f->name, json_type_name(value));
		if (f->type == LB_FT_TRIBOOL)
			INT_AT(rec, f) = b;
		else
			BOOL_AT(rec, f) = b;
		return 0;
	case LB_FT_OBJ:
	case LB_FT_LIST:
		if (value == NULL || json_is_null(value)) {
			json_decref(JSON_AT(rec, f));
			JSON_AT(rec, f) = f->type == LB_FT_OBJ ?
			    json_object() : json_array();
			return 0;
		}
		if ((f->type == LB_FT_OBJ && !json_is_object(value)) ||
		    (f->type == LB_FT_LIST && !json_is_array(value)))
			return lb_err_set(err, -EINVAL,
			    "Invalid input for field/attribute %s. "
			    "Wrong type. Expected '%s', got '%s'", f->name,
			    f->type == LB_FT_OBJ ? "dict" : "list",
			    json_type_name(value));
		json_decref(JSON_AT(rec, f));
		JSON_AT(rec, f) = json_deep_copy(value);
		return 0;
	default:
		return lb_err_set(err, -EINVAL, "'/%s' can not be changed",
		    f->name);
	}
}

int
lb_record_from_create(const struct lb_record_type *t, void *rec,
    const json_t *body, int minor, struct lb_err *err)
{
	const char *key;
	json_t *value;
	int r;

	if (!json_is_object(body))
		return lb_err_set(err, -EINVAL,
		    "Invalid input: the request body must be a JSON object");
	json_object_foreach((json_t *)body, key, value) {
		int i = lb_record_field_index(t, key);
		const struct lb_field *f = i >= 0 ? &t->fields[i] : NULL;

		if (f == NULL || !(f->flags & LB_FF_CREATE))
			return lb_err_set(err, -EINVAL,
			    "Additional properties are not allowed "
			    "('%s' was unexpected)", key);
		if (f->min_minor > minor)
			return lb_err_set(err, -ENOTSUP,
			    "Request not acceptable. The field '%s' needs "
			    "API version 1.%d or later", key, f->min_minor);
		r = lb_record_field_set(t, f, rec, value, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < t->nfields; i++) {
		if ((t->fields[i].flags & LB_FF_REQUIRED) &&
		    json_object_get(body, t->fields[i].name) == NULL)
			return lb_err_set(err, -EINVAL,
			    "'%s' is a required property", t->fields[i].name);
	}
	return 0;
}

/* The document PATCH works on: every field visible at 'minor', unmasked. */
static json_t *
record_doc(const struct lb_record_type *t, const void *rec, int minor)
{
	json_t *doc = json_object();

	for (size_t i = 0; doc != NULL && i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		json_t *v;

		if (f->min_minor > minor)
			continue;
		v = lb_record_field_json(f, rec);
		if (v != NULL)
			json_object_set_new(doc, f->name, v);
	}
	return doc;
}

/* A path naming a field newer than the request is a 406, as in Ironic. */
static int
check_patch_versions(const struct lb_record_type *t, const json_t *patch,
    int minor, struct lb_err *err)
{
	size_t idx;
	json_t *op;

	if (!json_is_array(patch))
		return 0;	/* lb_jsonpatch_apply words the error */
	json_array_foreach(patch, idx, op) {
		const char *keys[] = { "path", "from" };

		for (size_t k = 0; k < 2; k++) {
			const char *p = json_string_value(
			    json_object_get(op, keys[k]));
			char name[64];
			size_t n;
			int i;

			if (p == NULL || p[0] != '/')
				continue;
			n = strcspn(p + 1, "/");
			if (n >= sizeof(name))
				continue;
			memcpy(name, p + 1, n);
			name[n] = '\0';
			i = lb_record_field_index(t, name);
			if (i >= 0 && t->fields[i].min_minor > minor)
				return lb_err_set(err, -ENOTSUP,
				    "Request not acceptable. The field '%s' "
				    "needs API version 1.%d or later", name,
				    t->fields[i].min_minor);
		}
	}
	return 0;
}

int
lb_record_patch(const struct lb_record_type *t, void *rec,
    const json_t *patch, int minor, uint64_t *ret_changed,
    struct lb_err *err)
{
	uint64_t changed = 0;
	json_t *doc;
	int r;

	r = check_patch_versions(t, patch, minor, err);
	if (r < 0)
		return r;
	doc = record_doc(t, rec, minor);
	if (doc == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = lb_jsonpatch_apply(&doc, patch, LB_JSONPATCH_NO_ROOT_ADD, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];
		json_t *old, *new;
		bool same;

		if (f->min_minor > minor)
			continue;
		old = lb_record_field_json(f, rec);
		if (old == NULL)
			continue;	/* computed fields */
		new = json_object_get(doc, f->name);
		same = new != NULL && json_equal(old, new);
		json_decref(old);
		if (same)
			continue;
		if (!(f->flags & LB_FF_PATCH)) {
			r = lb_err_set(err, -EINVAL, "'/%s' is an internal "
			    "attribute and can not be updated", f->name);
			goto out;
		}
		r = lb_record_field_set(t, f, rec, new, err);
		if (r < 0)
			goto out;
		changed |= (uint64_t)1 << i;
	}
	if (ret_changed != NULL)
		*ret_changed = changed;
	r = 0;
out:
	json_decref(doc);
	return r;
}

void
lb_record_release(const struct lb_record_type *t, void *rec)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const struct lb_field *f = &t->fields[i];

		if (f->type == LB_FT_STR) {
			free(STR_AT(rec, f));
			STR_AT(rec, f) = NULL;
		} else if (f->type == LB_FT_OBJ || f->type == LB_FT_LIST) {
			json_decref(JSON_AT(rec, f));
			JSON_AT(rec, f) = NULL;
		}
	}
}
