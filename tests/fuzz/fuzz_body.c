/*
 * fuzz_body.c - request bodies: the bounded JSON parser, then the node and
 * port create checks on whatever parsed.  Nothing may crash or leak, and a
 * failure must come with a message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "conductor/node.h"
#include "conductor/util/jsonbody.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_err err = { "" };
	struct lb_node *node;
	struct lb_port *port;
	json_t *body = NULL;

	if (lb_json_parse_body((const char *)data, size, &body, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	for (int minor = 1; minor <= LB_API_MAX_MINOR; minor += 37) {
		node = lb_node_new();
		err.msg[0] = '\0';
		if (lb_node_from_create(node, body, minor, &err) < 0 &&
		    err.msg[0] == '\0')
			abort();
		lb_node_free(node);
		port = lb_port_new();
		err.msg[0] = '\0';
		if (lb_port_from_create(port, body, minor, &err) < 0 &&
		    err.msg[0] == '\0')
			abort();
		lb_port_free(port);
	}
	json_decref(body);
	return 0;
}
