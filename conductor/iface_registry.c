/*
 * iface_registry.c - the registry of the interface kinds that live in the
 * conductor itself (rescue, deploy and the kinds lifeboat only names:
 * bios, console, inspect, raid, storage, vendor), and the one lookup over
 * every kind's registry.  Read-only; any thread.
 */
#include <string.h>

#include "boot/registry.h"
#include "console/registry.h"
#include "conductor/hwtype.h"
#include "conductor/iface_ops.h"
#include "conductor/node.h"
#include "network/registry.h"
#include "power/registry.h"
#include "conductor/util/banned.h"

static int
validate_agent_rescue(const struct lb_task *task, struct lb_err *err)
{
	int seconds;

	if (lb_node_soft_off_timeout(task->driver_info, &seconds, err) ==
	    -EINVAL)
		return -EINVAL;
	/*
	 * As in Ironic, the password exists only while a rescue is under
	 * way, so outside one the agent interface reports it missing.
	 */
	if (json_object_get(task->instance_info, "rescue_password") == NULL)
		return lb_err_set(err, -EINVAL, "Node %s is missing "
		    "'instance_info/rescue_password'. It is required for "
		    "rescuing node.", task->node_uuid);
	return 0;
}

static int
validate_direct_deploy(const struct lb_task *task, struct lb_err *err)
{
	(void)task;
	return lb_err_set(err, -EINVAL, "lifeboat does not deploy images; "
	    "bring running servers under management with 'adopt'");
}

/* The fake deploy: the instance is "deployed" at once. */
static int
fake_deploy(struct lb_node_task *t, struct lb_err *err)
{
	(void)t;
	(void)err;
	return 0;
}

static const struct lb_deploy_ops deploy_fake = {
	.name = "fake",
	.deploy = fake_deploy,
};

/* What GET /v1/drivers/{name}/properties says of the key checked above. */
static const struct lb_property agent_rescue_properties[] = {
	{ "rescue_soft_power_off_timeout", "Seconds the rescue waits for the "
	  "node to shut down after a soft power-off (ACPI) before it powers "
	  "it off hard; 0 powers off hard at once. Optional; default "
	  "[conductor] rescue_soft_power_off_timeout (0)." },
	{ NULL, NULL },
};

#define BUILT LB_IMPL_BUILT
#define NONE (LB_IMPL_BUILT | LB_IMPL_NONE)

static const struct lb_iface_impl rescue_impls[] = {
	{ "agent", &lb_rescue_agent, validate_agent_rescue, BUILT,
	  agent_rescue_properties },
	{ "no-rescue", NULL, NULL, NONE, NULL },
	{ "fake", &lb_rescue_fake, NULL, BUILT, NULL },
};

static const struct lb_iface_impl deploy_impls[] = {
	{ "direct", NULL, validate_direct_deploy, BUILT, NULL },
	{ "fake", &deploy_fake, NULL, BUILT, NULL },
};

static const struct lb_iface_impl bios_impls[] = {
	{ "no-bios", NULL, NULL, NONE, NULL },
	{ "fake", NULL, NULL, BUILT, NULL },
};

static const struct lb_iface_impl inspect_impls[] = {
	{ "no-inspect", NULL, NULL, NONE, NULL },
	{ "fake", NULL, NULL, BUILT, NULL },
};

static const struct lb_iface_impl raid_impls[] = {
	{ "no-raid", NULL, NULL, NONE, NULL },
	{ "fake", NULL, NULL, BUILT, NULL },
};

static const struct lb_iface_impl storage_impls[] = {
	{ "noop", NULL, NULL, BUILT, NULL },
	{ "fake", NULL, NULL, BUILT, NULL },
};

static const struct lb_iface_impl vendor_impls[] = {
	{ "no-vendor", NULL, NULL, NONE, NULL },
	{ "fake", NULL, NULL, BUILT, NULL },
};

#define ROWS(a) a, sizeof(a) / sizeof(a[0])

const struct lb_iface_impl *
lb_iface_impls(enum lb_iface_kind kind, size_t *ret_n)
{
	switch (kind) {
	case LB_IFACE_POWER:
		*ret_n = lb_power_nimpls;
		return lb_power_impls;
	case LB_IFACE_MANAGEMENT:
		*ret_n = lb_management_nimpls;
		return lb_management_impls;
	case LB_IFACE_BOOT:
		*ret_n = lb_boot_nimpls;
		return lb_boot_impls;
	case LB_IFACE_NETWORK:
		*ret_n = lb_network_nimpls;
		return lb_network_impls;
	case LB_IFACE_CONSOLE:
		*ret_n = lb_console_nimpls;
		return lb_console_impls;
	default:
		break;
	}
	static const struct {
		const struct lb_iface_impl *rows;
		size_t n;
	} local[LB_IFACE_COUNT] = {
		[LB_IFACE_RESCUE] = { ROWS(rescue_impls) },
		[LB_IFACE_DEPLOY] = { ROWS(deploy_impls) },
		[LB_IFACE_BIOS] = { ROWS(bios_impls) },
		[LB_IFACE_INSPECT] = { ROWS(inspect_impls) },
		[LB_IFACE_RAID] = { ROWS(raid_impls) },
		[LB_IFACE_STORAGE] = { ROWS(storage_impls) },
		[LB_IFACE_VENDOR] = { ROWS(vendor_impls) },
	};
	*ret_n = local[kind].n;
	return local[kind].rows;
}

const struct lb_iface_impl *
lb_iface_find(enum lb_iface_kind kind, const char *name)
{
	size_t n;
	const struct lb_iface_impl *rows = lb_iface_impls(kind, &n);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	}
	return NULL;
}
