/*
 * engine_mgmt.c - a node's boot device, read and set while the API call
 * waits, as Ironic's conductor does it: the node's exclusive lock for the
 * length of the call (409 NodeLocked when another operation holds it), the
 * management interface's own checks, the BMC reached through the per-BMC
 * limiter, and what the driver recorded kept when the lock is dropped.  A
 * lifeboatd killed during the call leaves a lock that the next start
 * releases, as for any other operation.
 */
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "conductor/engine_internal.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

struct mgmt_lock {
	const char *host;
	const struct lb_node_ctx *ctx;	/* on release: what to keep */
	char uuid[LB_UUID_LEN + 1];
};

static int
take_lock(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct mgmt_lock *l = arg;

	memcpy(l->uuid, node->uuid, sizeof(l->uuid));
	if (node->reservation != NULL)
		return lb_node_locked(node, err);
	return lb_replace_str(&node->reservation, l->host, err);
}

static int
drop_lock(struct lb_node *node, void *arg, struct lb_err *err)
{
	struct mgmt_lock *l = arg;

	if (l->ctx != NULL)
		lb_node_apply_driver_changes(node, l->ctx);
	if (node->reservation != NULL && strcmp(node->reservation,
	    l->host) == 0)
		return lb_replace_str(&node->reservation, NULL, err);
	return 0;
}

/*
 * A BMC's failure is the server's (500), whatever errno the driver chose:
 * "authentication failed" must not read as the API client's 401, nor "no
 * such Redfish system" as an unknown node.  Bad driver_info stays 400.
 */
static int
driver_failure(int r)
{
	return r == -EINVAL || r == -ENODATA ? r : -EIO;
}

/* The call itself, between taking and dropping the lock. */
static int
call(struct lb_engine *e, struct lb_node_ctx *ctx, bool set,
    struct lb_engine_boot_device *bd, struct lb_err *err)
{
	int timeout = e->cfg->power_state_change_timeout;
	struct lb_bmc_policy p;
	int r;

	if (ctx->management->validate != NULL) {
		r = ctx->management->validate(&ctx->task, err);
		if (r < 0)
			return r;
	}
	lb_bmc_policy_for(e, ctx, &p);
	if (lb_bmc_limit_acquire(&e->bmc, ctx->bmc_key, &p, e->clock,
	    lb_engine_now(e) + timeout) < 0)
		return lb_err_set(err, -EAGAIN, "BMC %s stayed busy for %d s",
		    ctx->bmc_key, timeout);
	if (set)
		r = ctx->management->set_boot_device(&ctx->task, bd->device,
		    bd->persistent, lb_boot_mode_of(&ctx->task), err);
	else
		r = ctx->management->get_boot_device(&ctx->task, &bd->device,
		    &bd->persistent, err);
	lb_bmc_limit_done(&e->bmc, ctx->bmc_key, lb_engine_now(e));
	return r < 0 ? driver_failure(r) : 0;
}

int
lb_engine_boot_device(struct lb_engine *e, const char *ident, bool set,
    struct lb_engine_boot_device *bd, struct lb_err *err)
{
	struct mgmt_lock l = { .host = e->cfg->host };
	struct lb_node_ctx ctx = { 0 };
	struct lb_err ignored;
	int r;

	r = lb_store_node_update(e->store, ident, take_lock, &l, NULL, err);
	if (r < 0)
		return r;
	r = lb_node_ctx_load(e, l.uuid, &ctx, err);
	if (r == -ENOTSUP || r == -ENOENT)
		r = -EIO;	/* not the client's 406 or 404 */
	if (r == 0)
		r = call(e, &ctx, set, bd, err);
	bd->known = r == 0;
	if (r == -ENODATA)
		r = 0;		/* no override: Ironic shows null */
	if (set && r == 0)
		log_info("node %s: boot device set to %s%s", l.uuid,
		    lb_boot_device_name(bd->device),
		    bd->persistent ? " (persistent)" : "");
	else if (r < 0)
		log_warning("node %s: %s boot device failed: %s", l.uuid,
		    set ? "setting the" : "reading the", err ? err->msg : "");
	l.ctx = ctx.node != NULL ? &ctx : NULL;
	if (lb_store_node_update(e->store, l.uuid, drop_lock, &l, NULL,
	    &ignored) < 0)
		log_error("node %s: cannot release its lock: %s (the next "
		    "start of lifeboatd releases it)", l.uuid, ignored.msg);
	lb_node_ctx_release(&ctx);
	return r;
}
