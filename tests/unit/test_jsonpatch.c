/*
 * test_jsonpatch.c - cmocka tests of lb_jsonpatch_apply(): every operation
 * Ironic accepts and the refusal of the others,
 * every failure message, pointer escapes, arrays, all-or-nothing, Ironic's
 * root-add rule and the limits.  Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "conductor/util/jsonpatch.h"

#include "conductor/util/banned.h"

/* JSON written with ' for " so that the cases stay readable. */
static json_t *
load(const char *s)
{
	char *buf = strdup(s);
	json_error_t jerr;
	json_t *j;

	assert_non_null(buf);
	for (char *c = buf; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	j = json_loads(buf, JSON_DECODE_ANY, &jerr);
	if (j == NULL)
		fail_msg("bad test JSON '%s': %s", s, jerr.text);
	free(buf);
	return j;
}

static char *
dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS |
			     JSON_ENCODE_ANY);

	assert_non_null(s);
	return s;
}

static void
expect_ok_j(const char *doc_s, json_t *patch, unsigned flags,
	    const char *want_s)
{
	struct lb_err err = { "" };
	json_t *doc = load(doc_s), *want = load(want_s);
	char *got_d, *want_d;
	int r;

	r = lb_jsonpatch_apply(&doc, patch, flags, &err);
	if (r != 0)
		fail_msg("patch failed (%d): %s", r, err.msg);
	got_d = dump(doc);
	want_d = dump(want);
	assert_string_equal(got_d, want_d);
	free(got_d);
	free(want_d);
	json_decref(doc);
	json_decref(want);
	json_decref(patch);
}

static void
expect_ok(const char *doc_s, const char *patch_s, unsigned flags,
	  const char *want_s)
{
	expect_ok_j(doc_s, load(patch_s), flags, want_s);
}

/* Also checks that the document is left exactly as it was. */
static void
expect_fail_j(const char *doc_s, json_t *patch, unsigned flags,
	      const char *msg)
{
	struct lb_err err = { "" };
	json_t *doc = load(doc_s), *orig = doc;
	char *before = dump(doc), *after;
	int r;

	r = lb_jsonpatch_apply(&doc, patch, flags, &err);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err.msg, msg);
	assert_ptr_equal(doc, orig);
	after = dump(doc);
	assert_string_equal(after, before);
	free(before);
	free(after);
	json_decref(doc);
	json_decref(patch);
}

static void
expect_fail(const char *doc_s, const char *patch_s, unsigned flags,
	    const char *msg)
{
	expect_fail_j(doc_s, load(patch_s), flags, msg);
}

/* ---- add ---- */

static void
test_add_member(void **state)
{
	(void)state;
	expect_ok("{'a':1}", "[{'op':'add','path':'/b','value':{'c':[2]}}]",
		  0, "{'a':1,'b':{'c':[2]}}");
}

static void
test_add_existing_member_replaces(void **state)
{
	(void)state;
	expect_ok("{'a':1}", "[{'op':'add','path':'/a','value':null}]", 0,
		  "{'a':null}");
}

static void
test_add_array_insert(void **state)
{
	(void)state;
	expect_ok("{'a':[1,3]}", "[{'op':'add','path':'/a/1','value':2}]", 0,
		  "{'a':[1,2,3]}");
	expect_ok("{'a':[1,3]}", "[{'op':'add','path':'/a/0','value':0}]", 0,
		  "{'a':[0,1,3]}");
}

static void
test_add_array_append(void **state)
{
	(void)state;
	expect_ok("{'a':[1]}", "[{'op':'add','path':'/a/-','value':2},"
		  "{'op':'add','path':'/a/2','value':3}]", 0,
		  "{'a':[1,2,3]}");
	expect_ok("[]", "[{'op':'add','path':'/-','value':'x'}]", 0,
		  "['x']");
}

static void
test_add_outside_list(void **state)
{
	(void)state;
	expect_fail("{'a':[1]}", "[{'op':'add','path':'/a/2','value':2}]", 0,
		    "can't insert outside of list");
}

static void
test_add_missing_parent(void **state)
{
	(void)state;
	expect_fail("{'a':{}}", "[{'op':'add','path':'/a/b/c','value':1}]",
		    0, "member 'b' not found");
	expect_fail("{'a':[]}", "[{'op':'add','path':'/a/0/c','value':1}]",
		    0, "index '0' is out of bounds");
	expect_fail("{'a':[]}", "[{'op':'add','path':'/a/-/c','value':1}]",
		    0, "index '-' is out of bounds");
}

static void
test_add_value_copied_from_patch(void **state)
{
	struct lb_err err = { "" };
	json_t *doc = load("{}");
	json_t *patch = load("[{'op':'add','path':'/a','value':{}},"
			     "{'op':'add','path':'/a/x','value':1}]");
	json_t *want = load("[{'op':'add','path':'/a','value':{}},"
			    "{'op':'add','path':'/a/x','value':1}]");

	(void)state;
	assert_int_equal(lb_jsonpatch_apply(&doc, patch, 0, &err), 0);
	assert_true(json_equal(patch, want));
	json_decref(doc);
	json_decref(patch);
	json_decref(want);
}

/* ---- remove ---- */

static void
test_remove(void **state)
{
	(void)state;
	expect_ok("{'a':1,'b':{'c':2,'d':3}}",
		  "[{'op':'remove','path':'/a'},"
		  "{'op':'remove','path':'/b/c'}]", 0, "{'b':{'d':3}}");
	expect_ok("{'a':[1,2,3]}", "[{'op':'remove','path':'/a/1'}]", 0,
		  "{'a':[1,3]}");
}

static void
test_remove_missing(void **state)
{
	(void)state;
	expect_fail("{'a':1}", "[{'op':'remove','path':'/foo'}]", 0,
		    "can't remove a non-existent object 'foo'");
	expect_fail("{'a':[1]}", "[{'op':'remove','path':'/a/5'}]", 0,
		    "can't remove a non-existent object '5'");
	expect_fail("{'a':[1]}", "[{'op':'remove','path':'/a/-'}]", 0,
		    "can't remove a non-existent object '-'");
}

/* ---- replace ---- */

static void
test_replace(void **state)
{
	(void)state;
	expect_ok("{'a':1,'b':[1,2]}",
		  "[{'op':'replace','path':'/a','value':'x'},"
		  "{'op':'replace','path':'/b/1','value':[]}]", 0,
		  "{'a':'x','b':[1,[]]}");
}

static void
test_replace_missing(void **state)
{
	(void)state;
	expect_fail("{'a':1}",
		    "[{'op':'replace','path':'/foo','value':1}]", 0,
		    "can't replace a non-existent object 'foo'");
	expect_fail("{'a':[1]}",
		    "[{'op':'replace','path':'/a/1','value':1}]", 0,
		    "can't replace outside of list");
}

/* ---- what Ironic refuses ---- */

/*
 * copy, move and test would read masked values (copy a password into
 * 'extra', move the rescue password hash, probe a secret by 'test'), so
 * they are refused with Ironic's schema message and change nothing.
 */
static void
test_copy_move_test_refused(void **state)
{
	const char *doc = "{'driver_info':{'ipmi_password':'s3cret'},"
			  "'extra':{}}";

	(void)state;
	expect_fail(doc, "[{'op':'copy','from':'/driver_info/ipmi_password',"
		    "'path':'/extra/x'}]", 0, "Schema error for patch: "
		    "Additional properties are not allowed ('from' was "
		    "unexpected)");
	expect_fail(doc, "[{'op':'move','from':'/driver_info/ipmi_password',"
		    "'path':'/extra/x'}]", 0, "Schema error for patch: "
		    "Additional properties are not allowed ('from' was "
		    "unexpected)");
	expect_fail(doc, "[{'op':'test','path':'/driver_info/ipmi_password',"
		    "'value':'s3cret'}]", 0, "Schema error for patch: 'test' "
		    "is not one of ['add', 'replace', 'remove']");
	/* Without 'from', copy and move are unknown ops all the same. */
	expect_fail(doc, "[{'op':'copy','path':'/extra/x'}]", 0,
		    "Schema error for patch: 'copy' is not one of ['add', "
		    "'replace', 'remove']");
	expect_fail(doc, "[{'op':'move','path':'/extra/x'}]", 0,
		    "Schema error for patch: 'move' is not one of ['add', "
		    "'replace', 'remove']");
	/* A refused op later in the patch rejects the whole patch. */
	expect_fail(doc, "[{'op':'add','path':'/extra/y','value':1},"
		    "{'op':'test','path':'/extra/y','value':1}]", 0,
		    "Schema error for patch: 'test' is not one of ['add', "
		    "'replace', 'remove']");
}

static void
test_unknown_members_refused(void **state)
{
	(void)state;
	expect_fail("{'a':1}", "[{'op':'replace','path':'/a','value':2,"
		    "'why':'x'}]", 0, "Schema error for patch: Additional "
		    "properties are not allowed ('why' was unexpected)");
	expect_fail("{'a':1}", "[{'op':'remove','path':'/a','from':'/a'}]",
		    0, "Schema error for patch: Additional properties are not "
		    "allowed ('from' was unexpected)");
}

/* ---- pointers ---- */

static void
test_escapes(void **state)
{
	(void)state;
	expect_ok("{'a/b':1,'m~n':2}",
		  "[{'op':'replace','path':'/a~1b','value':3},"
		  "{'op':'remove','path':'/m~0n'},"
		  "{'op':'add','path':'/~01','value':4}]", 0,
		  "{'a/b':3,'~1':4}");
	expect_ok("{'':{'':1}}", "[{'op':'replace','path':'//','value':2}]",
		  0, "{'':{'':2}}");
}

static void
test_bad_escapes(void **state)
{
	(void)state;
	expect_fail("{}", "[{'op':'add','path':'/a~2','value':1}]", 0,
		    "Invalid path '/a~2': '~' must be followed by '0' or '1'");
	expect_fail("{}", "[{'op':'add','path':'/a~','value':1}]", 0,
		    "Invalid path '/a~': '~' must be followed by '0' or '1'");
}

static void
test_bad_index(void **state)
{
	(void)state;
	expect_fail("{'a':[1,2]}", "[{'op':'remove','path':'/a/01'}]", 0,
		    "'01' is not a valid sequence index");
	expect_fail("{'a':[1,2]}",
		    "[{'op':'add','path':'/a/x','value':1}]", 0,
		    "'x' is not a valid sequence index");
	expect_fail("{'a':[1,2]}",
		    "[{'op':'replace','path':'/a/-1','value':1}]", 0,
		    "'-1' is not a valid sequence index");
	expect_fail("{'a':[1,2]}",
		    "[{'op':'replace','path':'/a/99999999999999999999999',"
		    "'value':1}]", 0, "can't replace outside of list");
}

static void
test_through_scalar(void **state)
{
	(void)state;
	expect_fail("{'a':{'b':1}}",
		    "[{'op':'add','path':'/a/b/c','value':1}]", 0,
		    "cannot resolve path '/a/b/c': 'b' is not an object or "
		    "an array");
	expect_fail("{'a':{'b':1}}",
		    "[{'op':'replace','path':'/a/b/c/d','value':1}]", 0,
		    "cannot resolve path '/a/b/c/d': 'b' is not an object or "
		    "an array");
	expect_fail("5", "[{'op':'remove','path':'/x'}]", 0,
		    "cannot resolve path '/x': the document is not an object "
		    "or an array");
}

/* ---- validation ---- */

static void
test_patch_not_array(void **state)
{
	(void)state;
	expect_fail("{}", "{'op':'remove','path':'/a'}", 0,
		    "Invalid patch: a JSON array of operations is expected");
	expect_fail_j("{}", NULL, 0,
		      "Invalid patch: a JSON array of operations is expected");
}

static void
test_bad_ops(void **state)
{
	(void)state;
	expect_fail("{}", "[1]", 0,
		    "Invalid patch: each operation must be a JSON object");
	expect_fail("{}", "[{'path':'/a'}]", 0,
		    "Operation does not contain 'op' member");
	expect_fail("{}", "[{'op':1,'path':'/a'}]", 0,
		    "Operation's op must be a string");
	expect_fail("{}", "[{'op':'x','path':'/a'}]", 0,
		    "Schema error for patch: 'x' is not one of ['add', "
		    "'replace', 'remove']");
	expect_fail("{}", "[{'op':'ADD','path':'/a','value':1}]", 0,
		    "Schema error for patch: 'ADD' is not one of ['add', "
		    "'replace', 'remove']");
	expect_fail("{}", "[{'op':'remove'}]", 0,
		    "Operation must have a 'path' member");
	expect_fail("{}", "[{'op':'remove','path':['/a']}]", 0,
		    "Invalid 'path': a string is expected");
}

static void
test_op_with_nul(void **state)
{
	json_t *patch = load("[{'op':'remove','path':'/a'}]");
	json_t *op = json_array_get(patch, 0);

	(void)state;
	json_object_set_new(op, "op", json_stringn("remove\0x", 8));
	expect_fail_j("{'a':1}", json_incref(patch), 0,
		      "Schema error for patch: 'remove' is not one of "
		      "['add', 'replace', 'remove']");
	json_object_set_new(op, "op", json_string("remove"));
	json_object_set_new(op, "path", json_stringn("/a\0b", 4));
	expect_fail_j("{'a':1}", patch, 0,
		      "Invalid path: contains a NUL byte");
}

static void
test_need_value(void **state)
{
	(void)state;
	expect_fail("{}", "[{'op':'add','path':'/a'}]", 0,
		    "'add' and 'replace' operations need a value");
	expect_fail("{'a':1}", "[{'op':'replace','path':'/a'}]", 0,
		    "'add' and 'replace' operations need a value");
	/* null is a value. */
	expect_ok("{'a':1}", "[{'op':'replace','path':'/a','value':null}]",
		  0, "{'a':null}");
}

static void
test_path_must_start_with_slash(void **state)
{
	(void)state;
	expect_fail("{}", "[{'op':'add','path':'a','value':1}]", 0,
		    "Invalid path 'a': a JSON pointer must start with '/'");
	/* The whole-document pointer is refused for a resource. */
	expect_fail("{}", "[{'op':'replace','path':'','value':1}]", 0,
		    "Invalid path '': a JSON pointer must start with '/'");
}

static void
test_validated_before_applied(void **state)
{
	(void)state;
	/* A bad later op is reported even though an earlier one fails too. */
	expect_fail("{}", "[{'op':'remove','path':'/missing'},{'op':'x',"
		    "'path':'/a'}]", 0, "Schema error for patch: 'x' is not "
		    "one of ['add', 'replace', 'remove']");
}

static void
test_unknown_flags(void **state)
{
	(void)state;
	expect_fail("{}", "[]", 0x80, "unknown patch flags 0x80");
	expect_fail("{}", "[]", LB_JSONPATCH_NO_ROOT_ADD | 0x2,
		    "unknown patch flags 0x3");
}

/* ---- all-or-nothing ---- */

static void
test_all_or_nothing(void **state)
{
	(void)state;
	/* expect_fail() checks the document is the same object, unchanged. */
	expect_fail("{'a':{'b':1},'l':[1]}",
		    "[{'op':'add','path':'/a/c','value':2},"
		    "{'op':'remove','path':'/l/0'},"
		    "{'op':'replace','path':'/a','value':3},"
		    "{'op':'remove','path':'/nope'}]", 0,
		    "can't remove a non-existent object 'nope'");
}

static void
test_success_replaces_doc(void **state)
{
	struct lb_err err = { "" };
	json_t *doc = load("{'a':1}"), *orig = doc;
	json_t *patch = load("[]");

	(void)state;
	json_incref(orig);
	assert_int_equal(lb_jsonpatch_apply(&doc, patch, 0, &err), 0);
	assert_ptr_not_equal(doc, orig);
	assert_true(json_equal(doc, orig));
	/* The old document was released: only our extra reference is left. */
	assert_int_equal(orig->refcount, 1);
	json_decref(orig);
	json_decref(doc);
	json_decref(patch);
}

/* ---- Ironic's root-add rule ---- */

static void
test_root_add(void **state)
{
	(void)state;
	expect_fail("{'name':'n','extra':{}}",
		    "[{'op':'add','path':'/foo','value':1}]",
		    LB_JSONPATCH_NO_ROOT_ADD, "Adding a new attribute (/foo) "
		    "to the root of the resource is not allowed");
	/* Without the flag it is an ordinary add. */
	expect_ok("{'name':'n'}", "[{'op':'add','path':'/foo','value':1}]", 0,
		  "{'name':'n','foo':1}");
	/* Existing root members and anything deeper are fine. */
	expect_ok("{'name':'n','extra':{}}",
		  "[{'op':'add','path':'/name','value':'m'},"
		  "{'op':'add','path':'/extra/foo','value':1}]",
		  LB_JSONPATCH_NO_ROOT_ADD,
		  "{'name':'m','extra':{'foo':1}}");
}

static void
test_root_add_checks_original(void **state)
{
	(void)state;
	/* As in Ironic, the rule looks at the document before the patch. */
	expect_ok("{'a':1,'b':2}", "[{'op':'remove','path':'/a'},"
		  "{'op':'add','path':'/a','value':3}]",
		  LB_JSONPATCH_NO_ROOT_ADD, "{'a':3,'b':2}");
}

/* ---- limits ---- */

static json_t *
many_replaces(size_t n)
{
	json_t *patch = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(patch, load("{'op':'replace','path':'/a',"
						  "'value':1}"));
	return patch;
}

static void
test_max_ops(void **state)
{
	(void)state;
	expect_ok_j("{'a':1}", many_replaces(LB_JSONPATCH_MAX_OPS), 0,
		    "{'a':1}");
	expect_fail_j("{'a':1}", many_replaces(LB_JSONPATCH_MAX_OPS + 1), 0,
		      "too many patch operations (257 > 256)");
}

static json_t *
patch_with_path(const char *op, const char *path)
{
	json_t *o = json_pack("{s:s, s:s, s:i}", "op", op, "path", path,
			      "value", 1);

	assert_non_null(o);
	return json_pack("[o]", o);
}

static void
test_max_depth(void **state)
{
	char path[3 * LB_JSONPATCH_MAX_DEPTH + 4] = "";
	char want[256];

	(void)state;
	for (int i = 0; i < LB_JSONPATCH_MAX_DEPTH; i++)
		memcpy(path + 2 * i, "/a", 3);
	/* 32 levels parse; the document just does not have them. */
	expect_fail_j("{'a':{}}", patch_with_path("add", path), 0,
		      "member 'a' not found");
	memcpy(path + 2 * LB_JSONPATCH_MAX_DEPTH, "/a", 3);
	snprintf(want, sizeof(want), "Invalid path '%s': more than 32 levels",
		 path);
	expect_fail_j("{'a':{}}", patch_with_path("add", path), 0, want);
}

static void
test_max_path_exact(void **state)
{
	char path[LB_JSONPATCH_MAX_PATH + 2];
	char want[256];
	json_t *doc = load("{}");
	json_t *patch;
	struct lb_err err = { "" };

	(void)state;
	memset(path, 'x', sizeof(path));
	path[0] = '/';
	path[LB_JSONPATCH_MAX_PATH] = '\0';
	path[LB_JSONPATCH_MAX_PATH + 1] = '\0';
	/* 1024 bytes: accepted; the long name is cut in the message. */
	patch = patch_with_path("replace", path);
	assert_int_equal(lb_jsonpatch_apply(&doc, patch, 0, &err), -EINVAL);
	snprintf(want, sizeof(want), "can't replace a non-existent object "
		 "'%.128s...'", path + 1);
	assert_string_equal(err.msg, want);
	json_decref(patch);
	/* 1025 bytes: refused. */
	path[LB_JSONPATCH_MAX_PATH] = 'x';
	expect_fail_j("{}", patch_with_path("add", path), 0,
		      "Invalid path: longer than 1024 bytes");
	json_decref(doc);
}

static void
test_cut_keeps_utf8(void **state)
{
	char key[200], want[256];
	struct lb_err err = { "" };
	json_t *doc = load("{}"), *patch, *msg;
	size_t n = 0;

	(void)state;
	key[n++] = '/';
	key[n++] = 'x';
	while (n + 2 < sizeof(key)) {
		key[n++] = (char)0xc3;	/* U+00E9, two bytes */
		key[n++] = (char)0xa9;
	}
	key[n] = '\0';
	patch = patch_with_path("remove", key);
	assert_int_equal(lb_jsonpatch_apply(&doc, patch, 0, &err), -EINVAL);
	/* 'x' then 63 whole characters: 127 bytes, not a split 128th. */
	snprintf(want, sizeof(want), "can't remove a non-existent object "
		 "'%.127s...'", key + 1);
	assert_string_equal(err.msg, want);
	msg = json_string(err.msg);
	assert_non_null(msg);
	json_decref(msg);
	json_decref(patch);
	json_decref(doc);
}

static void
test_max_nest(void **state)
{
	struct lb_err err = { "" };
	json_t *v = json_array(), *patch, *doc, *back;
	char want[256];
	char *s;

	(void)state;
	/* Nesting 2047 at /a/b is 2049 levels with the root and 'a'. */
	for (int i = 1; i < LB_JSONPATCH_MAX_NEST - 1; i++)
		v = json_pack("[o]", v);
	patch = json_pack("[{s:s, s:s, s:O}]", "op", "add", "path", "/a/b",
			  "value", v);
	snprintf(want, sizeof(want), "cannot put a value at '/a/b': the "
		 "document would nest deeper than %d levels",
		 LB_JSONPATCH_MAX_NEST);
	expect_fail_j("{'a':{}}", patch, 0, want);
	/* One level up it fits, and still loads. */
	patch = json_pack("[{s:s, s:s, s:o}]", "op", "add", "path", "/a",
			  "value", v);
	doc = load("{'a':{}}");
	assert_int_equal(lb_jsonpatch_apply(&doc, patch, 0, &err), 0);
	s = json_dumps(doc, JSON_COMPACT);
	assert_non_null(s);
	back = json_loads(s, 0, NULL);
	assert_non_null(back);
	json_decref(back);
	free(s);
	json_decref(doc);
	json_decref(patch);
}

static void
test_null_doc(void **state)
{
	struct lb_err err = { "" };
	json_t *doc = NULL, *patch = load("[]");

	(void)state;
	assert_int_equal(lb_jsonpatch_apply(&doc, patch, 0, &err), -EINVAL);
	assert_string_equal(err.msg, "no document to patch");
	assert_int_equal(lb_jsonpatch_apply(NULL, patch, 0, NULL), -EINVAL);
	json_decref(patch);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_member),
		cmocka_unit_test(test_add_existing_member_replaces),
		cmocka_unit_test(test_add_array_insert),
		cmocka_unit_test(test_add_array_append),
		cmocka_unit_test(test_add_outside_list),
		cmocka_unit_test(test_add_missing_parent),
		cmocka_unit_test(test_add_value_copied_from_patch),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_remove_missing),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_replace_missing),
		cmocka_unit_test(test_copy_move_test_refused),
		cmocka_unit_test(test_unknown_members_refused),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_bad_escapes),
		cmocka_unit_test(test_bad_index),
		cmocka_unit_test(test_through_scalar),
		cmocka_unit_test(test_patch_not_array),
		cmocka_unit_test(test_bad_ops),
		cmocka_unit_test(test_op_with_nul),
		cmocka_unit_test(test_need_value),
		cmocka_unit_test(test_path_must_start_with_slash),
		cmocka_unit_test(test_validated_before_applied),
		cmocka_unit_test(test_unknown_flags),
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_success_replaces_doc),
		cmocka_unit_test(test_root_add),
		cmocka_unit_test(test_root_add_checks_original),
		cmocka_unit_test(test_max_ops),
		cmocka_unit_test(test_max_depth),
		cmocka_unit_test(test_max_path_exact),
		cmocka_unit_test(test_cut_keeps_utf8),
		cmocka_unit_test(test_max_nest),
		cmocka_unit_test(test_null_doc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
