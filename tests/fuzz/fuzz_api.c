/*
 * fuzz_api.c - API query strings and request bodies through the real
 * handlers, against a store with two nodes and two ports.  Input: one byte
 * picks the route, one the microversion, then the raw query string, a
 * newline, and the body.  The query string also goes through the version
 * header parser.  Verbs that would start work are aimed at a node that
 * does not exist, so nothing changes between runs.  Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/version.h"
#include "tests/fuzz/api_harness.h"
#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *path;
	lb_handler_fn fn;
	const char *arg;
} routes[] = {
	{ "/v1/nodes", lb_api_node_list, NULL },
	{ "/v1/nodes/detail", lb_api_node_detail, NULL },
	{ "/v1/ports", lb_api_port_list, NULL },
	{ "/v1/ports/detail", lb_api_port_detail, NULL },
	{ "/v1/nodes/n1/ports", lb_api_node_ports, "n1" },
	{ "/v1/nodes/n1/ports/detail", lb_api_node_ports_detail,
	    FZ_NODE_ENROLL },
	{ "/v1/nodes/n1", lb_api_node_show, FZ_NODE_ENROLL },
	{ "/v1/nodes/n1/states", lb_api_node_states, "n1" },
	{ "/v1/nodes/n1/maintenance", lb_api_node_maintenance_get, "n1" },
	{ "/v1/drivers", lb_api_driver_list, NULL },
	{ "/v1/drivers/fake-hardware", lb_api_driver_show, "fake-hardware" },
	{ "/v1/drivers/ipmi/properties", lb_api_driver_properties, "ipmi" },
	{ "/v1/nodes/n1/management/boot_device",
	    lb_api_node_boot_device_set, FZ_NODE_ENROLL },
	{ "/v1/nodes/X/states/provision", lb_api_node_provision,
	    FZ_NODE_ABSENT },
	{ "/v1/nodes/X/states/power", lb_api_node_power, FZ_NODE_ABSENT },
	{ "/v1/nodes/X/maintenance", lb_api_node_maintenance_set,
	    FZ_NODE_ABSENT },
	{ "/", lb_api_root, NULL },
	{ "/v1", lb_api_v1, NULL },
	{ "/v1/chassis", lb_api_chassis_list, NULL },
	{ "/v1/chassis/c1", lb_api_chassis_show, "c1" },
	{ "/v1/nodes/n1/vifs", lb_api_node_vifs, FZ_NODE_ENROLL },
	/* n1's network interface is noop: an attach stores nothing */
	{ "/v1/nodes/n1/vifs", lb_api_node_vif_attach, FZ_NODE_ENROLL },
	{ "/v1/nodes/n1/states/console", lb_api_node_console_get,
	    FZ_NODE_ENROLL },
	{ "/v1/nodes/X/states/console", lb_api_node_console_set,
	    FZ_NODE_ABSENT },
	{ "/v1/nodes/n1/history", lb_api_node_history, FZ_NODE_ENROLL },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static void
fuzz_version(const char *line, size_t len)
{
	struct lb_err err = { "" };
	char *s = malloc(len + 1);
	int minor = -1;

	if (s == NULL)
		return;
	memcpy(s, line, len);
	s[len] = '\0';
	for (int i = 0; i < 2; i++) {
		if (lb_version_parse(i == 0 ? s : NULL, i == 1 ? s : NULL,
		    LB_API_MIN_MINOR, LB_API_MAX_MINOR, &minor, &err) == 0) {
			if (minor < LB_API_MIN_MINOR || minor > LB_API_MAX_MINOR)
				abort();
		} else if (err.msg[0] == '\0') {
			abort();
		}
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text, *nl, *args[2] = { NULL, NULL };
	size_t route, qlen, len;
	struct fz_req fr;
	int minor;

	if (size < 2 || size > 64 * 1024)
		return 0;
	route = data[0] % NROUTES;
	minor = LB_API_MIN_MINOR + data[1] % (LB_API_MAX_MINOR -
	    LB_API_MIN_MINOR + 1);
	text = (const char *)data + 2;
	len = size - 2;
	nl = memchr(text, '\n', len);
	qlen = nl != NULL ? (size_t)(nl - text) : len;
	fuzz_version(text, qlen);
	fz_req_init(&fr, routes[route].path, minor, text, qlen,
	    nl != NULL ? nl + 1 : "", nl != NULL ? len - qlen - 1 : 0);
	args[0] = routes[route].arg;
	fz_call(routes[route].fn, &fr, args);
	fz_req_release(&fr);
	return 0;
}
