/*
 * history.c - node history: one event row per call of lb_history_record()
 * from workers, API threads and timers, the request's user in a
 * thread-local for the jobs an API thread makes, and the purge (Ironic's
 * manage_node_history) on the timer thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/ring.h"
#include "conductor/store.h"
#include "conductor/util/config.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

static _Thread_local char request_user[LB_HISTORY_USER_MAX];
static _Thread_local bool request_user_set;

void
lb_history_user_set(const char *user)
{
	request_user_set = user != NULL;
	snprintf(request_user, sizeof(request_user), "%s", user ? user : "");
}

const char *
lb_history_user(void)
{
	return request_user_set ? request_user : NULL;
}

void
lb_history_record(struct lb_engine *e, const char *uuid,
    enum lb_history_severity severity, const char *event_type,
    const char *user, const char *fmt, ...)
{
	struct lb_history_event ev = { 0 };
	struct lb_err err = { "" };
	char *text;
	va_list ap;

	if (e == NULL || !e->cfg->node_history || uuid == NULL)
		return;
	text = malloc(LB_HISTORY_EVENT_MAX);
	if (text == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, LB_HISTORY_EVENT_MAX, fmt, ap);
	va_end(ap);
	snprintf(ev.node_uuid, sizeof(ev.node_uuid), "%s", uuid);
	snprintf(ev.severity, sizeof(ev.severity), "%s",
	    severity == LB_HISTORY_ERROR ? "ERROR" : "INFO");
	ev.event = text;
	ev.event_type = (char *)(event_type != NULL ? event_type : "UNKNOWN");
	ev.conductor = e->cfg->host;
	ev.user = (char *)user;
	if (lb_store_history_add(e->store, &ev, &err) < 0)
		log_warning("node %s: cannot record a history event: %s", uuid,
		    err.msg);
	free(text);
}

/* "YYYY-MM-DDTHH:MM:SS.000000+00:00" of 'seconds' since the epoch. */
static void
iso_of(double seconds, char *out, size_t size)
{
	time_t t = (time_t)seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.000000+00:00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* Only the nodes the hash ring gives this conductor. */
static bool
purge_owns(void *arg, const char *uuid, const char *driver,
    const char *conductor_group)
{
	struct lb_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.uuid, sizeof(n.uuid), "%s", uuid);
	n.driver = (char *)driver;
	n.conductor_group = (char *)conductor_group;
	return lb_engine_owns(arg, &n);
}

int
lb_history_purge_now(struct lb_engine *e)
{
	const struct lb_config *cfg = e->cfg;
	struct lb_history_purge p = { 0 };
	struct lb_err err = { "" };
	char cutoff[64];
	size_t deleted = 0;
	int r;

	if (cfg->node_history_max_entries <= 0 ||
	    cfg->node_history_cleanup_batch_count <= 0)
		return 0;
	p.max_entries = (size_t)cfg->node_history_max_entries;
	p.batch_count = (size_t)cfg->node_history_cleanup_batch_count;
	p.node_ok = purge_owns;
	p.node_ok_arg = e;
	if (cfg->node_history_minimum_days > 0) {
		iso_of(e->clock->realtime(e->clock) -
		    cfg->node_history_minimum_days * 86400.0, cutoff,
		    sizeof(cutoff));
		p.older_than = cutoff;
	}
	r = lb_store_history_purge(e->store, &p, &deleted, &err);
	if (r < 0) {
		log_warning("cannot purge node history: %s", err.msg);
		return r;
	}
	if (deleted > 0)
		log_info("node history: %zu old events purged", deleted);
	else
		log_debug("node history: nothing to purge");
	return (int)deleted;
}

static void
purge_tick(void *arg)
{
	lb_history_purge_now(arg);
}

int
lb_history_register(struct lb_engine *e)
{
	if (e->cfg->node_history_cleanup_interval <= 0)
		return 0;
	return lb_timers_add(&e->timers, e->cfg->node_history_cleanup_interval,
	    purge_tick, e);
}
