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

#include "conductor/engine_ctx.h"
#include "conductor/states.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

struct mgmt_lock {
	const char *host;
	const struct lb_node_task *task;	/* on release: what to keep */
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

	if (l->task != NULL)
		lb_task_apply_driver_changes(node, l->task);
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
call(struct lb_node_task *t, bool set, struct lb_engine_boot_device *bd,
    struct lb_err *err)
{
	int r;

	r = lb_task_management_validate(t, err);
	if (r < 0)
		return r;
	if (set)
		r = lb_task_boot_device_set(t, bd->device, bd->persistent,
		    err);
	else
		r = lb_task_boot_device_get(t, &bd->device, &bd->persistent,
		    err);
	/* No slot in time is the limiter's -EAGAIN, not the BMC's. */
	return r < 0 && r != -EAGAIN ? driver_failure(r) : r;
}

int
lb_engine_boot_device(struct lb_engine *e, const char *ident, bool set,
    struct lb_engine_boot_device *bd, struct lb_err *err)
{
	struct mgmt_lock l = { .host = e->cfg->host };
	struct lb_node_task t = { 0 };
	struct lb_err ignored;
	int r;

	r = lb_store_node_update(e->store, ident, take_lock, &l, NULL, err);
	if (r < 0)
		return r;
	r = lb_task_load(e, l.uuid, &t, err);
	if (r == -ENOTSUP || r == -ENOENT)
		r = -EIO;	/* not the client's 406 or 404 */
	if (r == 0)
		r = call(&t, set, bd, err);
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
	l.task = t.node != NULL ? &t : NULL;
	if (lb_store_node_update(e->store, l.uuid, drop_lock, &l, NULL,
	    &ignored) < 0)
		log_error("node %s: cannot release its lock: %s (the next "
		    "start of lifeboatd releases it)", l.uuid, ignored.msg);
	lb_task_release(&t);
	return r;
}
