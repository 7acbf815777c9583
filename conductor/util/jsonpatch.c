/*
 * jsonpatch.c - JSON patch (RFC 6902) for the REST API's PATCH handlers,
 * limited to what Ironic's schema accepts: 'add', 'replace' and 'remove', each
 * an object of exactly 'op', 'path' and 'value'.  'copy', 'move' and 'test'
 * are refused on purpose: they read one part of the document into another (or
 * compare against it), which turns masked secrets into readable ones.  The
 * whole patch is checked first (as Ironic validates the body before applying
 * it), then applied to a deep copy that replaces the caller's document only if
 * every operation succeeded.  Any thread; no shared state.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "conductor/util/jsonpatch.h"

#include "conductor/util/banned.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Client strings are echoed in messages cut to JP_SHOW_MAX bytes, so that
 * two of them always fit in an lb_err and a cut never splits a UTF-8
 * sequence (the message goes out in a JSON reply).
 */
#define JP_SHOW_MAX 128
#define JP_SHOW_BUF (JP_SHOW_MAX + sizeof("..."))

enum jp_kind {
	JP_ADD,
	JP_REMOVE,
	JP_REPLACE,
};

static const char *const jp_kind_names[] = {
	[JP_ADD] = "add",
	[JP_REMOVE] = "remove",
	[JP_REPLACE] = "replace",
};

/* An RFC 6901 pointer split into unescaped tokens. */
struct jp_ptr {
	const char *text;			/* as the client wrote it */
	size_t ntok;
	const char *tok[LB_JSONPATCH_MAX_DEPTH];
	char buf[LB_JSONPATCH_MAX_PATH + 1];	/* the tokens, NUL-ended */
};

struct jp_op {
	enum jp_kind kind;
	struct jp_ptr path;
	const json_t *value;			/* borrowed from the patch */
};

static const char *
jp_show(char buf[JP_SHOW_BUF], const char *s)
{
	size_t len = strlen(s);

	if (len <= JP_SHOW_MAX)
		return s;
	len = JP_SHOW_MAX;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	memcpy(buf, s, len);
	memcpy(buf + len, "...", sizeof("..."));
	return buf;
}

static int
jp_nomem(struct lb_err *err)
{
	return lb_err_set(err, -ENOMEM, "out of memory");
}

/* 'what' is "path" or "from", the member 'str' came from. */
static int
jp_ptr_parse(struct jp_ptr *p, const json_t *str, const char *what,
	     struct lb_err *err)
{
	char show[JP_SHOW_BUF];
	char *out = p->buf;
	const char *s;
	size_t len;

	if (!json_is_string(str))
		return lb_err_set(err, -EINVAL,
				  "Invalid '%s': a string is expected", what);
	s = json_string_value(str);
	len = json_string_length(str);
	if (strlen(s) != len)
		return lb_err_set(err, -EINVAL,
				  "Invalid %s: contains a NUL byte", what);
	if (len > LB_JSONPATCH_MAX_PATH)
		return lb_err_set(err, -EINVAL,
				  "Invalid %s: longer than %d bytes", what,
				  LB_JSONPATCH_MAX_PATH);
	if (s[0] != '/')
		return lb_err_set(err, -EINVAL,
				  "Invalid %s '%s': a JSON pointer must start "
				  "with '/'", what, jp_show(show, s));
	p->text = s;
	p->ntok = 0;
	/* Output never outgrows input: each '/' becomes at most one NUL. */
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '/') {
			if (p->ntok == LB_JSONPATCH_MAX_DEPTH)
				return lb_err_set(err, -EINVAL,
						  "Invalid %s '%s': more than "
						  "%d levels", what,
						  jp_show(show, s),
						  LB_JSONPATCH_MAX_DEPTH);
			if (p->ntok > 0)
				*out++ = '\0';
			p->tok[p->ntok++] = out;
		} else if (s[i] != '~') {
			*out++ = s[i];
		} else if (s[i + 1] == '0' || s[i + 1] == '1') {
			*out++ = s[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			return lb_err_set(err, -EINVAL,
					  "Invalid %s '%s': '~' must be "
					  "followed by '0' or '1'", what,
					  jp_show(show, s));
		}
	}
	*out = '\0';
	return 0;
}

static int
jp_op_parse(struct jp_op *op, const json_t *obj, struct lb_err *err)
{
	char show[JP_SHOW_BUF];
	const json_t *j;
	const char *name;
	size_t k;
	int r;

	const char *key;
	json_t *member;

	if (!json_is_object(obj))
		return lb_err_set(err, -EINVAL, "Invalid patch: each "
				  "operation must be a JSON object");
	/* Ironic's schema: no member but these (so 'from' is refused). */
	json_object_foreach((json_t *)obj, key, member) {
		if (strcmp(key, "op") != 0 && strcmp(key, "path") != 0 &&
		    strcmp(key, "value") != 0)
			return lb_err_set(err, -EINVAL, "Schema error for "
					  "patch: Additional properties are "
					  "not allowed ('%s' was unexpected)",
					  jp_show(show, key));
	}
	j = json_object_get(obj, "op");
	if (j == NULL)
		return lb_err_set(err, -EINVAL,
				  "Operation does not contain 'op' member");
	if (!json_is_string(j))
		return lb_err_set(err, -EINVAL,
				  "Operation's op must be a string");
	name = json_string_value(j);
	for (k = 0; k < ARRAY_SIZE(jp_kind_names); k++)
		if (strcmp(name, jp_kind_names[k]) == 0 &&
		    strlen(name) == json_string_length(j))
			break;
	if (k == ARRAY_SIZE(jp_kind_names))
		return lb_err_set(err, -EINVAL, "Schema error for patch: '%s' "
				  "is not one of ['add', 'replace', 'remove']",
				  jp_show(show, name));
	op->kind = k;

	j = json_object_get(obj, "path");
	if (j == NULL)
		return lb_err_set(err, -EINVAL,
				  "Operation must have a 'path' member");
	r = jp_ptr_parse(&op->path, j, "path", err);
	if (r < 0)
		return r;

	op->value = json_object_get(obj, "value");
	if ((op->kind == JP_ADD || op->kind == JP_REPLACE) && !op->value)
		return lb_err_set(err, -EINVAL,
				  "'add' and 'replace' operations need a value");
	return 0;
}

/* Checked against the document before the patch, as Ironic does. */
static int
jp_check_root_add(const json_t *doc, const struct jp_op *op,
		  struct lb_err *err)
{
	char show[JP_SHOW_BUF];

	if (op->kind != JP_ADD)
		return 0;
	if (op->path.ntok != 1 || !json_is_object(doc) ||
	    json_object_get(doc, op->path.tok[0]) != NULL)
		return 0;
	return lb_err_set(err, -EINVAL, "Adding a new attribute (%s) to the "
			  "root of the resource is not allowed",
			  jp_show(show, op->path.text));
}

/* "-" (one past the end) maps to SIZE_MAX, which no element has. */
static int
jp_index(const char *tok, size_t *ret, struct lb_err *err)
{
	char show[JP_SHOW_BUF];
	size_t v = 0;

	if (strcmp(tok, "-") == 0) {
		*ret = SIZE_MAX;
		return 0;
	}
	if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		goto bad;
	for (const char *c = tok; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			goto bad;
		/* Saturate: such an index is out of bounds anyway. */
		if (v > (SIZE_MAX - 9) / 10)
			v = SIZE_MAX;
		else
			v = v * 10 + (size_t)(*c - '0');
	}
	*ret = v;
	return 0;
bad:
	return lb_err_set(err, -EINVAL, "'%s' is not a valid sequence index",
			  jp_show(show, tok));
}

/* Token 'i' of 'p' was applied to a value that is not a container. */
static int
jp_not_container(const struct jp_ptr *p, size_t i, struct lb_err *err)
{
	char s1[JP_SHOW_BUF], s2[JP_SHOW_BUF];

	if (i == 0)
		return lb_err_set(err, -EINVAL, "cannot resolve path '%s': "
				  "the document is not an object or an array",
				  jp_show(s1, p->text));
	return lb_err_set(err, -EINVAL, "cannot resolve path '%s': '%s' is "
			  "not an object or an array", jp_show(s1, p->text),
			  jp_show(s2, p->tok[i - 1]));
}

static int
jp_child(json_t *cur, const struct jp_ptr *p, size_t i, json_t **ret,
	 struct lb_err *err)
{
	char show[JP_SHOW_BUF];
	const char *tok = p->tok[i];
	json_t *child;
	size_t idx;
	int r;

	if (json_is_object(cur)) {
		child = json_object_get(cur, tok);
		if (child == NULL)
			return lb_err_set(err, -EINVAL,
					  "member '%s' not found",
					  jp_show(show, tok));
	} else if (json_is_array(cur)) {
		r = jp_index(tok, &idx, err);
		if (r < 0)
			return r;
		if (idx >= json_array_size(cur))
			return lb_err_set(err, -EINVAL,
					  "index '%s' is out of bounds",
					  jp_show(show, tok));
		child = json_array_get(cur, idx);
	} else {
		return jp_not_container(p, i, err);
	}
	*ret = child;
	return 0;
}

/* The object or array that holds (or is to hold) the last token of 'p'. */
static int
jp_parent(json_t *root, const struct jp_ptr *p, json_t **ret,
	  struct lb_err *err)
{
	json_t *cur = root;
	int r;

	for (size_t i = 0; i + 1 < p->ntok; i++) {
		r = jp_child(cur, p, i, &cur, err);
		if (r < 0)
			return r;
	}
	if (!json_is_object(cur) && !json_is_array(cur))
		return jp_not_container(p, p->ntok - 1, err);
	*ret = cur;
	return 0;
}

/* 'v' is borrowed: the document takes its own reference. */
static int
jp_add(json_t *root, const struct jp_ptr *p, json_t *v, struct lb_err *err)
{
	const char *last = p->tok[p->ntok - 1];
	json_t *parent;
	size_t idx;
	int r;

	r = jp_parent(root, p, &parent, err);
	if (r < 0)
		return r;
	if (json_is_object(parent))
		return json_object_set(parent, last, v) < 0 ?
		       jp_nomem(err) : 0;
	r = jp_index(last, &idx, err);
	if (r < 0)
		return r;
	if (idx == SIZE_MAX)
		idx = json_array_size(parent);
	if (idx > json_array_size(parent))
		return lb_err_set(err, -EINVAL,
				  "can't insert outside of list");
	return json_array_insert(parent, idx, v) < 0 ? jp_nomem(err) : 0;
}

static int
jp_replace(json_t *root, const struct jp_ptr *p, json_t *v,
	   struct lb_err *err)
{
	char show[JP_SHOW_BUF];
	const char *last = p->tok[p->ntok - 1];
	json_t *parent;
	size_t idx;
	int r;

	r = jp_parent(root, p, &parent, err);
	if (r < 0)
		return r;
	if (json_is_object(parent)) {
		if (json_object_get(parent, last) == NULL)
			return lb_err_set(err, -EINVAL, "can't replace a "
					  "non-existent object '%s'",
					  jp_show(show, last));
		return json_object_set(parent, last, v) < 0 ?
		       jp_nomem(err) : 0;
	}
	r = jp_index(last, &idx, err);
	if (r < 0)
		return r;
	if (idx >= json_array_size(parent))
		return lb_err_set(err, -EINVAL,
				  "can't replace outside of list");
	return json_array_set(parent, idx, v) < 0 ? jp_nomem(err) : 0;
}

static int
jp_remove(json_t *root, const struct jp_ptr *p, struct lb_err *err)
{
	char show[JP_SHOW_BUF];
	const char *last = p->tok[p->ntok - 1];
	json_t *parent;
	size_t idx;
	int r;

	r = jp_parent(root, p, &parent, err);
	if (r < 0)
		return r;
	if (json_is_object(parent)) {
		if (json_object_del(parent, last) < 0)
			goto missing;
		return 0;
	}
	r = jp_index(last, &idx, err);
	if (r < 0)
		return r;
	if (idx < json_array_size(parent) &&
	    json_array_remove(parent, idx) == 0)
		return 0;
missing:
	return lb_err_set(err, -EINVAL,
			  "can't remove a non-existent object '%s'",
			  jp_show(show, last));
}

/*
 * Returns -E2BIG if 'v', which sits at container nesting 'level', nests
 * deeper than LB_JSONPATCH_MAX_NEST; that also bounds the recursion.
 */
static int
jp_nest_check(json_t *v, size_t level)
{
	const char *key;
	json_t *child;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (level + 1 > LB_JSONPATCH_MAX_NEST)
		return -E2BIG;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child) {
			if (jp_nest_check(child, level + 1) < 0)
				return -E2BIG;
		}
	} else {
		json_array_foreach(v, i, child) {
			if (jp_nest_check(child, level + 1) < 0)
				return -E2BIG;
		}
	}
	return 0;
}

/* May 'v' go to 'p' without nesting the document too deep? */
static int
jp_place_check(json_t *v, const struct jp_ptr *p, struct lb_err *err)
{
	char show[JP_SHOW_BUF];

	if (jp_nest_check(v, p->ntok) < 0)
		return lb_err_set(err, -EINVAL, "cannot put a value at '%s': "
				  "the document would nest deeper than %d "
				  "levels", jp_show(show, p->text),
				  LB_JSONPATCH_MAX_NEST);
	return 0;
}

static int
jp_op_apply(json_t *root, const struct jp_op *op, struct lb_err *err)
{
	json_t *v;
	int r;

	if (op->kind == JP_REMOVE)
		return jp_remove(root, &op->path, err);
	/* A copy, so later operations never write into the patch. */
	v = json_deep_copy(op->value);
	if (v == NULL)
		return jp_nomem(err);
	r = jp_place_check(v, &op->path, err);
	if (r == 0 && op->kind == JP_ADD)
		r = jp_add(root, &op->path, v, err);
	else if (r == 0)
		r = jp_replace(root, &op->path, v, err);
	json_decref(v);
	return r;
}

int
lb_jsonpatch_apply(json_t **doc, const json_t *patch, unsigned flags,
		   struct lb_err *err)
{
	struct jp_op op;
	json_t *work;
	size_t i, n;
	int r;

	if (doc == NULL || *doc == NULL)
		return lb_err_set(err, -EINVAL, "no document to patch");
	if ((flags & ~LB_JSONPATCH_NO_ROOT_ADD) != 0)
		return lb_err_set(err, -EINVAL, "unknown patch flags 0x%x",
				  flags);
	if (!json_is_array(patch))
		return lb_err_set(err, -EINVAL, "Invalid patch: a JSON array "
				  "of operations is expected");
	n = json_array_size(patch);
	if (n > LB_JSONPATCH_MAX_OPS)
		return lb_err_set(err, -EINVAL, "too many patch operations "
				  "(%zu > %d)", n, LB_JSONPATCH_MAX_OPS);
	for (i = 0; i < n; i++) {
		r = jp_op_parse(&op, json_array_get(patch, i), err);
		if (r == 0 && (flags & LB_JSONPATCH_NO_ROOT_ADD))
			r = jp_check_root_add(*doc, &op, err);
		if (r < 0)
			return r;
	}

	work = json_deep_copy(*doc);
	if (work == NULL)
		return jp_nomem(err);
	for (i = 0; i < n; i++) {
		r = jp_op_parse(&op, json_array_get(patch, i), err);
		if (r == 0)
			r = jp_op_apply(work, &op, err);
		if (r < 0) {
			json_decref(work);
			return r;
		}
	}
	json_decref(*doc);
	*doc = work;
	return 0;
}
