/*
 * redfish_props.c - the redfish_* driver_info keys redfish_parse.c reads,
 * as GET /v1/drivers/{name}/properties documents them (Ironic's wording).
 * Read-only data; any thread.
 */
#include <stddef.h>

#include "conductor/util/task.h"
#include "conductor/util/banned.h"

const struct lb_property lb_redfish_properties[] = {
	{ "redfish_address", "The URL address to the Redfish controller. "
	  "Required." },
	{ "redfish_system_id", "The canonical path to the ComputerSystem "
	  "resource. Optional if the BMC has one." },
	{ "redfish_username", "User account with admin/server-profile access "
	  "privilege. Optional." },
	{ "redfish_password", "User account password. Optional." },
	{ "redfish_verify_ca", "Either a Boolean value, a path to a CA file or "
	  "directory. Optional, default True." },
	{ "redfish_auth_type", "One of basic, session, auto. Optional." },
	{ NULL, NULL },
};
