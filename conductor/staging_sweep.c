/*
 * staging_sweep.c - boot files no rescue needs any more, removed: a
 * rescue that ended on another conductor (its owner died and came back,
 * or the node moved when one joined) leaves this conductor's staging of
 * it behind, and a node's dnsmasq entry left on a DHCP server answers its
 * next network boot with the rescue ramdisk.  Every [conductor]
 * check_rescue_state_interval the timer thread lists the node UUIDs this
 * conductor's boot roots hold staging for, and each node in a state that
 * has none (anything but rescuing, rescue wait and the transitions out
 * of it) is locked and has its boot interface clean up on a worker.
 * Shared roots are safe: no conductor stages a node in such a state.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/engine_ctx.h"
#include "conductor/job.h"
#include "conductor/staging_sweep.h"
#include "conductor/states.h"
#include "conductor/store.h"
#include "conductor/task.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* Most nodes one sweep looks at; the next sweep takes the rest. */
#define SWEEP_MAX 256

static void
add(struct lb_uuid_set *f, const char *uuid)
{
	if (f->n < SWEEP_MAX && lb_uuid_is_valid(uuid))
		(void)lb_uuid_set_add(f, uuid);	/* short of memory: next time */
}

/* Entries named <prefix><uuid><suffix> in dir. */
static void
scan(struct lb_uuid_set *f, const char *dir, const char *prefix,
    const char *suffix)
{
	size_t np = strlen(prefix), ns = strlen(suffix);
	struct dirent *d;
	DIR *dp;

	if (dir == NULL || (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		char uuid[LB_UUID_LEN + 1];
		size_t len = strlen(d->d_name);

		if (len != np + LB_UUID_LEN + ns ||
		    strncmp(d->d_name, prefix, np) != 0 ||
		    strcmp(d->d_name + len - ns, suffix) != 0)
			continue;
		memcpy(uuid, d->d_name + np, LB_UUID_LEN);
		uuid[LB_UUID_LEN] = '\0';
		add(f, uuid);
	}
	closedir(dp);
}

/* The states whose node may be staged, by this conductor or another. */
static bool
may_be_staged(const char *state)
{
	return strcmp(state, LB_STATE_RESCUING) == 0 ||
	    strcmp(state, LB_STATE_RESCUE_WAIT) == 0 ||
	    strcmp(state, LB_STATE_UNRESCUING) == 0 ||
	    strcmp(state, LB_STATE_DELETING) == 0;
}

static int
lock_stale(struct lb_node *node, void *arg, struct lb_err *err)
{
	if (node->reservation != NULL || may_be_staged(node->provision_state))
		return -EBUSY;
	return lb_replace_str(&node->reservation, arg, err) < 0 ? -ENOMEM : 0;
}

static void
run_sweep(struct lb_engine_job *j, struct lb_node_task *t, int loaded,
    struct lb_err *err, struct lb_finish *f)
{
	f->keep_error = true;
	if (loaded < 0)
		return;
	if (lb_task_boot_clean_up(t, err) < 0)
		log_warning("node %s: stale boot files not removed: %s",
		    j->uuid, err->msg);
	else
		log_info("node %s: removed the boot files a rescue that ended "
		    "elsewhere left here", j->uuid);
}

static const struct lb_job_kind job_sweep = { "staging sweep", true,
    run_sweep };

static void
sweep_one(struct lb_engine *e, const char *uuid)
{
	struct lb_engine_job *j;
	struct lb_err err = { "" };
	struct lb_node *node = NULL;
	bool stale;

	if (lb_store_node_get(e->store, uuid, &node, &err) < 0)
		return;		/* gone: deleting it cleaned what it could */
	stale = node->reservation == NULL &&
	    !may_be_staged(node->provision_state);
	lb_node_free(node);
	/* A busy pool: the next sweep comes soon enough. */
	if (!stale || lb_job_reserve(e, &job_sweep, 1, &j, &err) < 0)
		return;
	if (lb_store_node_update(e->store, uuid, lock_stale,
	    (void *)e->cfg->host, NULL, &err) < 0) {
		lb_job_cancel(j);
		return;
	}
	lb_job_queue(j, uuid);
}

static void
tick(void *arg)
{
	struct lb_engine *e = arg;
	const struct lb_config *cfg = e->cfg;
	struct lb_uuid_set f = { 0 };

	scan(&f, cfg->pxe_tftp_root, "", "");
	scan(&f, cfg->deploy_http_root, "", "");
	scan(&f, cfg->dnsmasq_optsdir, "ironic-", ".conf");
	for (size_t i = 0; i < f.n; i++)
		sweep_one(e, f.v[i]);
	lb_uuid_set_free(&f);
}

int
lb_staging_sweep_register(struct lb_engine *e)
{
	return lb_timers_add(&e->timers, e->cfg->check_rescue_state_interval,
	    tick, e);
}
