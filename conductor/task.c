/*
 * task.c - the node task (see task.h): loading a node with its ops, and
 * every call into a driver.  Calls that reach a BMC go through bmc_call(),
 * the one place that takes and gives back the BMC's slot.  Worker threads
 * and API threads.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "console/console.h"
#include "conductor/iface_ops.h"
#include "conductor/job.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/metrics.h"
#include "conductor/util/banned.h"

/* ---- loading ---- */

static int
save_driver_changes(struct lb_node *node, void *arg, struct lb_err *err)
{
	(void)err;
	lb_task_apply_driver_changes(node, arg);
	return 0;
}

/* task.save: driver_internal_info as the driver has it now, to the store. */
static int
task_save(const struct lb_task *task, struct lb_err *err)
{
	struct lb_node_task *t = (struct lb_node_task *)((char *)task -
	    offsetof(struct lb_node_task, task));
	json_t *now;
	int r;

	r = lb_store_node_update(t->engine->store, t->node->uuid,
	    save_driver_changes, t, NULL, err);
	if (r < 0)
		return r;
	/* Saved: the job's end applies only what changes after this. */
	now = json_deep_copy(t->node->driver_internal_info);
	if (now == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	json_decref(t->dii_before);
	t->dii_before = now;
	return 0;
}

/* A registry row's ops when it is built, else NULL. */
static const void *
impl_ops(const struct lb_iface_impl *impl)
{
	return impl != NULL && (impl->flags & LB_IMPL_BUILT) ? impl->ops :
	    NULL;
}

/* The ops of a built implementation, or NULL. */
static const void *
built_ops(const struct lb_node_task *t, enum lb_iface_kind kind)
{
	return impl_ops(t->engine->iface_find(kind, t->node->iface[kind]));
}

static const void *
required_ops(const struct lb_node_task *t, enum lb_iface_kind kind,
    struct lb_err *err)
{
	const void *ops = built_ops(t, kind);

	if (ops == NULL)
		lb_err_set(err, -ENOTSUP, "the %s interface '%s' is not built "
		    "into this lifeboatd", lb_iface_kind_name(kind),
		    t->node->iface[kind]);
	return ops;
}

static int
load_ports(struct lb_node_task *t, struct lb_err *err)
{
	struct lb_port_query pq = { .node_uuid = t->node->uuid };
	struct lb_port_list ports = { 0 };
	int r;

	r = lb_store_port_list(t->engine->store, &pq, &ports, err);
	if (r < 0)
		return r;
	t->macs = calloc(ports.n + 1, sizeof(*t->macs));
	t->llcs = calloc(ports.n + 1, sizeof(*t->llcs));
	if (t->macs == NULL || t->llcs == NULL) {
		lb_port_list_release(&ports);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ports.n; i++) {
		if (!ports.items[i]->pxe_enabled)
			continue;
		t->llcs[t->task.nports] = json_incref(
		    ports.items[i]->local_link_connection);
		t->macs[t->task.nports++] = strdup(ports.items[i]->address);
	}
	lb_port_list_release(&ports);
	return 0;
}

static void
resolve_ops(struct lb_node_task *t)
{
	t->boot = built_ops(t, LB_IFACE_BOOT);
	t->net = built_ops(t, LB_IFACE_NETWORK);
	t->rescue = built_ops(t, LB_IFACE_RESCUE);
	t->deploy = built_ops(t, LB_IFACE_DEPLOY);
	t->console = built_ops(t, LB_IFACE_CONSOLE);
}

int
lb_task_load(struct lb_engine *e, const char *uuid, struct lb_node_task *t,
    struct lb_err *err)
{
	int r;

	memset(t, 0, sizeof(*t));
	t->engine = e;
	r = lb_store_node_get(e->store, uuid, &t->node, err);
	if (r < 0)
		return r;
	r = load_ports(t, err);
	if (r < 0)
		goto fail;
	t->dii_before = json_deep_copy(t->node->driver_internal_info);
	if (t->dii_before == NULL) {
		r = lb_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	t->task.node_uuid = t->node->uuid;
	t->task.driver = t->node->driver;
	t->task.driver_info = t->node->driver_info;
	t->task.driver_internal_info = t->node->driver_internal_info;
	t->task.properties = t->node->properties;
	t->task.instance_info = t->node->instance_info;
	t->task.port_macs = t->macs;
	t->task.port_llcs = t->llcs;
	t->task.save = task_save;
	t->task.cfg = e->cfg;
	resolve_ops(t);
	t->power = required_ops(t, LB_IFACE_POWER, err);
	t->management = required_ops(t, LB_IFACE_MANAGEMENT, err);
	if (t->power == NULL || t->management == NULL) {
		r = -ENOTSUP;
		goto fail;
	}
	if (t->power->validate != NULL) {
		r = t->power->validate(&t->task, err);
		if (r < 0)
			goto fail;
	}
	t->power->bmc_policy(e->cfg, &t->policy);
	if (t->power->bmc_key(&t->task, t->bmc_key, sizeof(t->bmc_key)) < 0)
		snprintf(t->bmc_key, sizeof(t->bmc_key), "node:%s", uuid);
	return 0;
fail:
	lb_task_release(t);
	return r;
}

void
lb_task_release(struct lb_node_task *t)
{
	for (size_t i = 0; t->macs != NULL && i < t->task.nports; i++) {
		free((char *)t->macs[i]);
		json_decref((json_t *)t->llcs[i]);
	}
	free(t->macs);
	free(t->llcs);
	json_decref(t->dii_before);
	lb_node_free(t->node);
	memset(t, 0, sizeof(*t));
}

/*
 * What the drivers changed in driver_internal_info during the job, applied
 * to the stored node key by key, so that what others wrote meanwhile (a
 * heartbeat's agent_url) stays.
 */
void
lb_task_apply_driver_changes(struct lb_node *node,
    const struct lb_node_task *t)
{
	const json_t *now = t->node ? t->node->driver_internal_info : NULL;
	const char *key;
	json_t *value;

	if (now == NULL || t->dii_before == NULL)
		return;
	json_object_foreach((json_t *)now, key, value) {
		if (json_equal(value, json_object_get(t->dii_before, key)))
			continue;
		json_object_set(node->driver_internal_info, key, value);
		/* Vendor work-arounds a driver applied: worth a line. */
		if (strcmp(key, "redfish_quirks_applied") == 0) {
			char *list = json_dumps(value, JSON_COMPACT);

			log_info("node %s: Redfish quirks applied: %s",
			    node->uuid, list ? list : "?");
			free(list);
		}
	}
	json_object_foreach(t->dii_before, key, value) {
		if (json_object_get(now, key) == NULL)
			json_object_del(node->driver_internal_info, key);
	}
}

/* ---- the BMC's slot ---- */

/* One driver call that reaches the BMC. */
struct bmc_op {
	const char *what;		/* for the debug line */
	const char *op;			/* the metrics' operation */
	int (*call)(struct lb_node_task *t, struct bmc_op *op,
	    struct lb_err *err);
	double slot_s;			/* the longest wait for a slot */
	bool nowait;			/* give way (-EAGAIN) when busy */
	int busy;			/* errno when no slot came: 0, r */
	/* arguments and results */
	enum lb_power_action action;
	int timeout_s;			/* < 0: what is left of slot_s */
	enum lb_power_state state;
	enum lb_boot_device device;
	bool persistent;
	const char *url;
	double started;
};

/* At debug: what is in flight once this call has its slot (bench/scale
 * reads it to show the per-BMC and global bounds held). */
static void
bmc_log_inflight(struct lb_node_task *t, const struct bmc_op *op)
{
	int all, here;

	if (lb_log_get_level() > LB_LOG_DEBUG)
		return;
	here = lb_bmc_limit_inflight(&t->engine->bmc, t->bmc_key, &all);
	log_debug("node %s: %s: BMC %s: %d in flight there, %d in all",
	    t->node->uuid, op->what, t->bmc_key, here, all);
}

/*
 * Counted by the node's driver (its hardware type), the operation and
 * "ok", "error" or "busy" (no slot in time); timed once it had the slot.
 */
static void
bmc_count(const struct lb_node_task *t, const struct bmc_op *op,
    const char *result, double slot_at, double done_at)
{
	const char *driver = t->node->driver != NULL ? t->node->driver : "";

	LB_METRIC_INC(LB_M_BMC_CALLS, driver, op->op, result);
	LB_METRIC_OBSERVE(LB_M_BMC_SLOT_WAIT, slot_at - op->started, driver);
	if (done_at >= slot_at)
		LB_METRIC_OBSERVE(LB_M_BMC_SECONDS, done_at - slot_at, driver,
		    op->op);
}

/*
 * The one sequence every BMC command goes through: acquire the BMC's slot
 * (within op->slot_s), call, give the slot back; the interval to the next
 * command counts from then.
 */
static int
bmc_call(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	struct lb_engine *e = t->engine;
	double slot_at;
	int r;

	op->started = lb_engine_now(e);
	r = lb_bmc_limit_acquire(&e->bmc, t->bmc_key, &t->policy, e->clock,
	    op->started + (op->nowait ? 0 : op->slot_s));
	slot_at = lb_engine_now(e);
	if (r < 0)
		bmc_count(t, op, "busy", slot_at, -1);
	if (r < 0 && op->nowait)
		return lb_err_set(err, -EAGAIN, "BMC %s is busy", t->bmc_key);
	if (r < 0) {
		log_debug("node %s: %s: BMC %s stayed busy for %.0f s",
		    t->node->uuid, op->what, t->bmc_key, op->slot_s);
		return lb_err_set(err, op->busy ? op->busy : r, "BMC %s stayed "
		    "busy for %.0f s", t->bmc_key, op->slot_s);
	}
	bmc_log_inflight(t, op);
	r = op->call(t, op, err);
	lb_bmc_limit_done(&e->bmc, t->bmc_key, lb_engine_now(e));
	bmc_count(t, op, r < 0 ? "error" : "ok", slot_at, lb_engine_now(e));
	/* The message stays the caller's: it may hold a secret (an ISO
	 * URL) that the caller redacts before it logs. */
	if (r < 0)
		log_debug("node %s: %s failed (%s)", t->node->uuid, op->what,
		    strerror(-r));
	return r;
}

static int
call_power_get(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	return t->power->get_state(&t->task, &op->state, err);
}

static int
call_power_set(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	int timeout = op->timeout_s;

	if (timeout < 0)
		timeout = (int)op->slot_s -
		    (int)(lb_engine_now(t->engine) - op->started);
	return t->power->set_state(&t->task, op->action,
	    timeout > 1 ? timeout : 1, err);
}

static int
call_bd_set(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	return t->management->set_boot_device(&t->task, op->device,
	    op->persistent, lb_boot_mode_of(&t->task), err);
}

static int
call_bd_get(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	return t->management->get_boot_device(&t->task, &op->device,
	    &op->persistent, err);
}

static int
call_insert(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	return t->management->insert_cd(&t->task, op->url, err);
}

static int
call_eject(struct lb_node_task *t, struct bmc_op *op, struct lb_err *err)
{
	(void)op;
	return t->management->eject_cd(&t->task, err);
}

/* ---- power ---- */

int
lb_task_power_get(struct lb_node_task *t, int timeout_s,
    enum lb_power_state *ret, struct lb_err *err)
{
	struct bmc_op op = { .what = "reading the power state",
	    .op = "power_get", .call = call_power_get, .slot_s = timeout_s };
	int r = bmc_call(t, &op, err);

	if (r == 0)
		*ret = op.state;
	return r;
}

int
lb_task_power_get_nowait(struct lb_node_task *t, enum lb_power_state *ret,
    struct lb_err *err)
{
	struct bmc_op op = { .what = "reading the power state",
	    .op = "power_get", .call = call_power_get, .nowait = true };
	int r = bmc_call(t, &op, err);

	if (r == 0)
		*ret = op.state;
	return r;
}

int
lb_task_power_set(struct lb_node_task *t, enum lb_power_action action,
    int timeout_s, struct lb_err *err)
{
	/* The wait for a slot counts against the same timeout. */
	return lb_task_power_set_for(t, action, timeout_s, -1, err);
}

int
lb_task_power_set_for(struct lb_node_task *t, enum lb_power_action action,
    int slot_s, int timeout_s, struct lb_err *err)
{
	struct bmc_op op = { .what = "power action", .op = "power_set",
	    .call = call_power_set,
	    .slot_s = slot_s, .action = action, .timeout_s = timeout_s };

	return bmc_call(t, &op, err);
}

/* ---- management ---- */

static int
bd_slot(const struct lb_node_task *t)
{
	return t->engine->cfg->power_state_change_timeout;
}

int
lb_task_management_validate(struct lb_node_task *t, struct lb_err *err)
{
	if (t->management->validate == NULL)
		return 0;
	return t->management->validate(&t->task, err);
}

int
lb_task_boot_device_set(struct lb_node_task *t, enum lb_boot_device device,
    bool persistent, struct lb_err *err)
{
	struct bmc_op op = { .what = "setting the boot device", .busy = -EAGAIN,
	    .op = "boot_device_set",
	    .call = call_bd_set, .slot_s = bd_slot(t), .device = device,
	    .persistent = persistent };

	return bmc_call(t, &op, err);
}

int
lb_task_boot_device_get(struct lb_node_task *t,
    enum lb_boot_device *ret_device, bool *ret_persistent,
    struct lb_err *err)
{
	struct bmc_op op = { .what = "reading the boot device", .busy = -EAGAIN,
	    .op = "boot_device_get",
	    .call = call_bd_get, .slot_s = bd_slot(t) };
	int r = bmc_call(t, &op, err);

	if (r == 0) {
		*ret_device = op.device;
		*ret_persistent = op.persistent;
	}
	return r;
}

int
lb_task_boot_device_staged(struct lb_node_task *t, struct lb_err *err)
{
	if (t->boot == NULL)
		return lb_err_set(err, -ENOTSUP, "the boot interface is not "
		    "built into this lifeboatd");
	return lb_task_boot_device_set(t, t->boot->device, false, err);
}

int
lb_task_media_insert(struct lb_node_task *t, const char *url,
    struct lb_err *err)
{
	struct bmc_op op = { .what = "inserting virtual media", .busy = -EAGAIN,
	    .op = "media_insert",
	    .call = call_insert, .slot_s = bd_slot(t), .url = url };

	if (t->management->insert_cd == NULL)
		return lb_err_set(err, -ENOTSUP, "the management interface "
		    "of node %s has no virtual media", t->node->uuid);
	return bmc_call(t, &op, err);
}

int
lb_task_media_eject(struct lb_node_task *t, struct lb_err *err)
{
	struct bmc_op op = { .what = "ejecting virtual media", .busy = -EAGAIN,
	    .op = "media_eject",
	    .call = call_eject, .slot_s = bd_slot(t) };

	if (t->management->eject_cd == NULL)
		return 0;
	return bmc_call(t, &op, err);
}

/* ---- boot ---- */

static int
media_insert_hook(void *arg, const char *url, struct lb_err *err)
{
	return lb_task_media_insert(arg, url, err);
}

static int
media_eject_hook(void *arg, struct lb_err *err)
{
	return lb_task_media_eject(arg, err);
}

/* What the boot interface needs of this conductor; BMC calls come back. */
static void
boot_env(struct lb_node_task *t, struct lb_boot_env *env)
{
	const struct lb_engine *e = t->engine;

	memset(env, 0, sizeof(*env));
	env->cfg = e->cfg;
	env->api_url = e->api_url;
	env->http_url = e->http_url;
	env->external_http_url = e->external_http_url;
	env->tftp_server = e->tftp_server;
	env->tenant_dhcp = lb_task_net_tenant_dhcp(t);
	if (t->management->insert_cd != NULL) {
		env->media_insert = media_insert_hook;
		env->media_eject = media_eject_hook;
	}
	env->media_arg = t;
}

bool
lb_task_has_boot(const struct lb_node_task *t)
{
	return t->boot != NULL;
}

unsigned
lb_task_boot_flags(const struct lb_node_task *t)
{
	return t->boot != NULL ? t->boot->flags : 0;
}

const char *
lb_task_boot_name(const struct lb_node_task *t)
{
	return t->node->iface[LB_IFACE_BOOT];
}

int
lb_task_boot_validate(struct lb_node_task *t, struct lb_err *err)
{
	const struct lb_iface_impl *impl = t->engine->iface_find(
	    LB_IFACE_BOOT, t->node->iface[LB_IFACE_BOOT]);

	if (impl == NULL || impl->validate == NULL)
		return 0;
	return impl->validate(&t->task, err);
}

int
lb_task_boot_prepare(struct lb_node_task *t,
    const struct lb_boot_images *images, const char *request_id,
    const char *extra_params, struct lb_err *err)
{
	struct lb_boot_env env;

	if (t->boot == NULL)
		return lb_err_set(err, -ENOTSUP, "the boot interface is not "
		    "built into this lifeboatd");
	boot_env(t, &env);
	return t->boot->prepare_ramdisk(&env, &t->task, images, request_id,
	    extra_params, err);
}

int
lb_task_boot_clean_up(struct lb_node_task *t, struct lb_err *err)
{
	struct lb_boot_env env;

	if (t->boot == NULL)
		return 0;
	boot_env(t, &env);
	return t->boot->clean_up_ramdisk(&env, &t->task, err);
}

void
lb_task_boot_describe(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const struct lb_task *task, char *buf,
    size_t size)
{
	const struct lb_boot_ops *ops = impl->ops;

	buf[0] = '\0';
	if (ops != NULL && ops->describe != NULL)
		ops->describe(cfg, task, buf, size);
}

/* ---- network ---- */

bool
lb_task_has_net(const struct lb_node_task *t)
{
	return t->net != NULL;
}

bool
lb_task_net_tenant_dhcp(const struct lb_node_task *t)
{
	return t->net != NULL && t->net->tenant_dhcp;
}

int
lb_task_net_validate_rescue(struct lb_node_task *t, struct lb_err *err)
{
	return t->net->validate_rescue(t->engine->cfg, &t->task, err);
}

int
lb_task_net_unconfigure_tenant(struct lb_node_task *t, struct lb_err *err)
{
	return t->net->unconfigure_tenant(t->engine->cfg, &t->task, err);
}

int
lb_task_net_add_rescuing(struct lb_node_task *t, struct lb_err *err)
{
	return t->net->add_rescuing(t->engine->cfg, &t->task, err);
}

int
lb_task_net_remove_rescuing(struct lb_node_task *t, struct lb_err *err)
{
	if (t->net == NULL)
		return 0;
	return t->net->remove_rescuing(t->engine->cfg, &t->task, err);
}

int
lb_task_net_configure_tenant(struct lb_node_task *t, struct lb_err *err)
{
	if (t->net == NULL)
		return 0;
	return t->net->configure_tenant(t->engine->cfg, &t->task, err);
}

/* ---- rescue and deploy ---- */

bool
lb_task_has_rescue(const struct lb_node_task *t)
{
	return t->rescue != NULL;
}

int
lb_task_rescue_validate(struct lb_node_task *t, struct lb_err *err)
{
	if (t->rescue == NULL || t->rescue->validate == NULL)
		return 0;
	return t->rescue->validate(t, err);
}

void
lb_task_rescue(struct lb_node_task *t, struct lb_finish *f, char *msg,
    size_t msgsize)
{
	t->rescue->rescue(t, f, msg, msgsize);
}

void
lb_task_unrescue(struct lb_node_task *t, struct lb_finish *f, char *msg,
    size_t msgsize)
{
	t->rescue->unrescue(t, f, msg, msgsize);
}

/*
 * A task that did not load (the node went, a driver is not built) or has
 * no rescue interface only drops what the rescue left on the record.
 */
void
lb_task_rescue_leave(struct lb_node_task *t, bool power_off,
    struct lb_finish *f)
{
	f->drop_password = true;
	f->forget_agent = true;
	if (t->node == NULL || t->rescue == NULL || t->rescue->leave == NULL)
		return;
	t->rescue->leave(t, power_off, f);
}

int
lb_task_rescue_take_over(struct lb_node_task *t, struct lb_err *err)
{
	if (t->rescue == NULL || t->rescue->take_over == NULL)
		return 0;
	return t->rescue->take_over(t, err);
}

int
lb_task_deploy(struct lb_node_task *t, struct lb_err *err)
{
	if (t->deploy == NULL || t->deploy->deploy == NULL)
		return lb_err_set(err, -ENOTSUP, "lifeboat does not deploy "
		    "images (deploy interface '%s'); bring running servers "
		    "under management with 'adopt'",
		    t->node->iface[LB_IFACE_DEPLOY]);
	return t->deploy->deploy(t, err);
}

/* ---- the console ---- */


int
lb_task_console_start(struct lb_node_task *t, struct lb_err *err)
{
	if (t->console == NULL)
		return lb_err_set(err, -ENOTSUP, "the console interface '%s' "
		    "is not built into this lifeboatd",
		    t->node->iface[LB_IFACE_CONSOLE]);
	return t->console->start(&t->task, err);
}

int
lb_task_console_stop(struct lb_node_task *t, struct lb_err *err)
{
	if (t->console == NULL)
		return 0;
	return t->console->stop(&t->task, err);
}


bool
lb_task_console_captures(const struct lb_node_task *t)
{
	return t->console != NULL && t->console->capture_start != NULL;
}

int
lb_task_console_capture_start(struct lb_node_task *t, bool resume,
    struct lb_err *err)
{
	if (!lb_task_console_captures(t))
		return 0;
	return t->console->capture_start(&t->task, resume, err);
}

void
lb_task_console_capture_stop(struct lb_node_task *t)
{
	if (lb_task_console_captures(t))
		t->console->capture_stop(&t->task);
}


void
lb_task_of_node(struct lb_task *task, const struct lb_config *cfg,
    const struct lb_node *node)
{
	memset(task, 0, sizeof(*task));
	task->node_uuid = node->uuid;
	task->driver = node->driver;
	task->driver_info = node->driver_info;
	task->driver_internal_info = node->driver_internal_info;
	task->properties = node->properties;
	task->instance_info = node->instance_info;
	task->cfg = cfg;
}

int
lb_task_console_describe(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const struct lb_node *node, json_t **ret,
    struct lb_err *err)
{
	const struct lb_console_ops *ops = impl_ops(impl);
	struct lb_task task;

	if (ops == NULL)
		return lb_err_set(err, -ENOTSUP, "the node's console "
		    "interface is not built into this lifeboatd");
	lb_task_of_node(&task, cfg, node);
	return ops->info(&task, ret, err);
}

void
lb_task_console_forget_node(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const char *uuid)
{
	const struct lb_console_ops *ops = impl_ops(impl);
	struct lb_task task = { .node_uuid = uuid, .cfg = cfg };

	if (ops != NULL && ops->forget != NULL)
		ops->forget(&task);
}

int
lb_task_console_tail_node(const struct lb_iface_impl *impl,
    const struct lb_config *cfg, const struct lb_node *node,
    unsigned int lines, char **ret, struct lb_err *err)
{
	const struct lb_console_ops *ops = impl_ops(impl);
	struct lb_task task;

	*ret = NULL;
	if (ops == NULL || ops->capture_tail == NULL)
		return 0;
	lb_task_of_node(&task, cfg, node);
	return ops->capture_tail(&task, lines, ret, err);
}
