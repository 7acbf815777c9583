/*
 * fuzz_jsonpatch.c - libFuzzer target for lb_jsonpatch_apply().  Input:
 * an optional '!' (sets LB_JSONPATCH_NO_ROOT_ADD), the document's JSON, a
 * newline, the patch's JSON.  Aborts when a promise of the API is broken:
 * a failure that touched the document, a patch that was written to, a bad
 * message, or a result that does not load again.  Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conductor/util/jsonpatch.h"

#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_result(const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	json_t *back;

	if (s == NULL)
		abort();
	back = json_loads(s, JSON_DECODE_ANY, NULL);
	if (back == NULL || !json_equal(back, doc))
		abort();
	json_decref(back);
	free(s);
}

static void
check_failure(const json_t *doc, const json_t *orig, const json_t *before,
	      const struct lb_err *err)
{
	json_t *msg;

	if (doc != orig || !json_equal(doc, before))
		abort();
	/* The message goes out in a JSON reply: non-empty, valid UTF-8. */
	msg = json_string(err->msg);
	if (err->msg[0] == '\0' || msg == NULL)
		abort();
	json_decref(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_err err = { "" };
	json_t *doc, *orig, *before, *patch, *patch_before;
	const uint8_t *nl;
	unsigned flags = 0;
	int r;

	if (size > 0 && data[0] == '!') {
		flags = LB_JSONPATCH_NO_ROOT_ADD;
		data++;
		size--;
	}
	nl = memchr(data, '\n', size);
	if (nl == NULL)
		return 0;
	doc = json_loadb((const char *)data, nl - data, JSON_DECODE_ANY, NULL);
	patch = json_loadb((const char *)nl + 1, size - (nl - data) - 1,
			   JSON_DECODE_ANY, NULL);
	before = json_deep_copy(doc);
	patch_before = json_deep_copy(patch);
	if (doc == NULL || patch == NULL || before == NULL ||
	    patch_before == NULL)
		goto out;

	orig = doc;
	r = lb_jsonpatch_apply(&doc, patch, flags, &err);
	if (r == 0)
		check_result(doc);
	else if (r == -EINVAL || r == -ENOMEM)
		check_failure(doc, orig, before, &err);
	else
		abort();
	if (!json_equal(patch, patch_before))
		abort();
out:
	json_decref(doc);
	json_decref(before);
	json_decref(patch);
	json_decref(patch_before);
	return 0;
}
