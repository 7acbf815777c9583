/*
 * conductor_row.c - this conductor's row in the conductors table, kept as
 * Ironic keeps it (register with take-over, heartbeat, offline at stop);
 * the last heartbeat written says whether it manages nodes now.  Register
 * and offline run on the engine's starting/stopping thread, the heartbeat
 * on the timer thread.
 */
#include <stdlib.h>
#include <string.h>

#include "conductor/conductor_row.h"
#include "conductor/engine_ctx.h"
#include "conductor/hwtype.h"
#include "conductor/store.h"
#include "conductor/util/ident.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/* The enabled hardware types this build has, as Ironic registers them. */
static json_t *
enabled_drivers(const struct lb_config *cfg)
{
	const struct lb_strlist *l = &cfg->enabled_hardware_types;
	json_t *drivers = json_array();

	for (size_t i = 0; drivers != NULL && i < l->n; i++) {
		if (lb_hwtype_find(l->items[i]) == NULL)
			continue;
		if (json_array_append_new(drivers,
		    json_string(l->items[i])) < 0) {
			json_decref(drivers);
			return NULL;
		}
	}
	return drivers;
}

static void
beat_written(struct lb_engine *e)
{
	double now = lb_engine_now(e);

	__atomic_store(&e->heartbeat_at, &now, __ATOMIC_RELEASE);
}

static void
heartbeat(void *arg)
{
	struct lb_engine *e = arg;
	struct lb_err err = { "" };
	int r;

	r = lb_store_conductor_touch(e->store, e->cfg->host, true, &err);
	if (r == 0 && e->heartbeat_failing)
		log_info("conductor heartbeat written again");
	if (r < 0 && !e->heartbeat_failing)
		log_error("conductor heartbeat failed: %s", err.msg);
	e->heartbeat_failing = r < 0;
	if (r == 0)
		beat_written(e);
}

int
lb_conductor_row_register(struct lb_engine *e, struct lb_err *err)
{
	struct lb_conductor c = {
		.hostname = e->cfg->host,
		.conductor_group = e->cfg->conductor_group != NULL ?
		    e->cfg->conductor_group : "",
		.rpc_url = e->rpc_url,
	};
	bool was_online = false;
	int r;

	/* A fresh one, kept only by the first conductor of the database. */
	if (lb_random_token(e->secret, sizeof(e->secret), 48) < 0)
		return lb_err_set(err, -EIO, "no random bytes for the cluster "
		    "secret");
	r = lb_store_cluster_secret(e->store, e->secret, err);
	if (r < 0)
		return r;
	c.drivers = enabled_drivers(e->cfg);
	if (c.drivers == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = lb_store_conductor_register(e->store, &c, &was_online, err);
	json_decref(c.drivers);
	if (r < 0)
		return r;
	if (was_online)
		log_warning("conductor '%s' was registered online already (an "
		    "earlier run did not stop cleanly, or another lifeboatd "
		    "uses this host name): its row is taken over",
		    e->cfg->host);
	beat_written(e);
	if (lb_timers_add(&e->timers, e->cfg->heartbeat_interval, heartbeat,
	    e) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

void
lb_conductor_row_offline(struct lb_engine *e)
{
	struct lb_err err = { "" };

	if (lb_store_conductor_touch(e->store, e->cfg->host, false, &err) < 0)
		log_error("conductor '%s' could not be marked offline: %s",
		    e->cfg->host, err.msg);
}
