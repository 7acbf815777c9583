/*
 * engine.c - the engine's start and stop: the wiring of the parts below
 * it (the rescue flow's settings and image cache, recovery, the worker
 * pool, the timers with the periodic tasks that register there), and the
 * hooks tests drive time with.  The main thread (lb_engine_run_timers()
 * and lb_engine_drain() on a test's thread).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/image_cache.h"
#include "console/registry.h"
#include "conductor/callback_timeout.h"
#include "conductor/conductor_row.h"
#include "conductor/ring.h"
#include "conductor/console_verbs.h"
#include "conductor/engine_ctx.h"
#include "conductor/history.h"
#include "conductor/hwtype.h"
#include "conductor/power_recovery.h"
#include "conductor/power_sync.h"
#include "conductor/recovery.h"
#include "conductor/staging_sweep.h"
#include "conductor/takeover.h"
#include "conductor/util/banned.h"

/* ---- the rescue flow's settings ---- */

/* 'url' without trailing slashes into 'buf'; "" when it is NULL. */
static void
base_url(char *buf, size_t size, const char *url)
{
	size_t n;

	snprintf(buf, size, "%s", url ? url : "");
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
}

static int
rescue_setup(struct lb_engine *e, struct lb_err *err)
{
	const struct lb_config *cfg = e->cfg;
	const struct lb_image_cache_opts opts = {
		.allowed = cfg->file_url_allowed_paths.items,
		.nallowed = cfg->file_url_allowed_paths.n,
		.max_bytes = (unsigned long long)cfg->pxe_image_cache_size <<
		    20,
		.ttl_s = (long long)cfg->pxe_image_cache_ttl * 60,
	};
	char dir[1024];
	int r;

	if (cfg->conductor_api_url != NULL)
		snprintf(e->api_url, sizeof(e->api_url), "%s",
		    cfg->conductor_api_url);
	else
		snprintf(e->api_url, sizeof(e->api_url), "http://%s:%d",
		    cfg->api_host_ip, cfg->api_port);
	base_url(e->rpc_url, sizeof(e->rpc_url), cfg->conductor_rpc_url != NULL ?
	    cfg->conductor_rpc_url : e->api_url);
	/* Unset: no HTTP boot root, so iPXE and virtual media refuse. */
	base_url(e->http_url, sizeof(e->http_url), cfg->deploy_http_url);
	base_url(e->external_http_url, sizeof(e->external_http_url),
	    cfg->deploy_external_http_url);
	snprintf(e->tftp_server, sizeof(e->tftp_server), "%s",
	    cfg->pxe_tftp_server ? cfg->pxe_tftp_server : cfg->api_host_ip);
	snprintf(e->certs_path, sizeof(e->certs_path), "%s",
	    cfg->agent_certificates_path ? cfg->agent_certificates_path : "");
	if (cfg->agent_certificates_path == NULL)
		snprintf(e->certs_path, sizeof(e->certs_path),
		    "%s/certificates", cfg->state_path);
	if (cfg->pxe_image_cache != NULL)
		snprintf(dir, sizeof(dir), "%s", cfg->pxe_image_cache);
	else
		snprintf(dir, sizeof(dir), "%s/images", cfg->state_path);
	r = lb_image_cache_new(dir, &e->images, err);
	if (r == 0)
		r = lb_image_cache_configure(e->images, &opts, err);
	return r;
}

static void
rescue_teardown(struct lb_engine *e)
{
	lb_image_cache_free(e->images);
	e->images = NULL;
}

/* ---- life cycle ---- */

/* What is left once the timers and the pool have stopped. */
static void
engine_free(struct lb_engine *e)
{
	lb_power_sync_free(e);
	lb_takeover_free(e);
	lb_ring_free(e);
	rescue_teardown(e);
	lb_bmc_limit_release_all(&e->bmc);
	free(e);
}

/* The periodic tasks, each registering with the timers. */
static int
register_periodic(struct lb_engine *e, struct lb_err *err)
{
	if (lb_power_sync_start(e) < 0 || lb_callback_timeout_register(e) < 0 ||
	    lb_power_recovery_register(e) < 0 || lb_history_register(e) < 0 ||
	    lb_takeover_register(e) < 0 || lb_staging_sweep_register(e) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int
lb_engine_start(const struct lb_config *cfg, struct lb_store *store,
    const struct lb_engine_opts *opts, struct lb_engine **ret,
    struct lb_err *err)
{
	struct lb_engine *e = calloc(1, sizeof(*e));
	size_t threads = (size_t)cfg->workers_pool_size;
	int r;

	if (e == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	e->cfg = cfg;
	e->store = store;
	e->clock = opts != NULL && opts->clock != NULL ? opts->clock :
	    &lb_clock_system;
	e->iface_find = lb_iface_find;
	lb_bmc_limit_init(&e->bmc);
	lb_timers_init(&e->timers, e->clock, opts != NULL &&
	    opts->manual_timers);
	r = rescue_setup(e, err);
	if (r == 0)
		r = lb_recovery_run(e, err);
	if (r == 0)
		r = lb_conductor_row_register(e, err);
	if (r == 0 && lb_ring_start(e) < 0)
		r = lb_err_set(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = register_periodic(e, err);
	if (r == 0 && lb_engine_health_register(e) < 0)
		r = lb_err_set(err, -ENOMEM, "out of memory");
	if (r < 0)
		goto fail;
	r = lb_pool_start(&e->pool, threads, threads * 2);
	if (r < 0) {
		lb_err_set(err, r, "cannot start %zu worker threads", threads);
		goto fail;
	}
	r = lb_timers_start(&e->timers, err);
	if (r < 0) {
		lb_pool_stop(&e->pool);
		goto fail;
	}
	lb_recovery_clean_up(e);
	lb_console_restore(e);
	*ret = e;
	return 0;
fail:
	lb_timers_release(&e->timers);
	engine_free(e);
	return r;
}

void
lb_engine_stop(struct lb_engine *e)
{
	if (e == NULL)
		return;
	/* The timers first: nothing queues once the pool stops. */
	if (!e->timers_stopped)
		lb_timers_release(&e->timers);
	lb_pool_stop(&e->pool);
	lb_conductor_row_offline(e);
	/* Consoles end with the process; the next start starts them again. */
	lb_console_shutdown();
	engine_free(e);
}

void
lb_engine_run_timers(struct lb_engine *e)
{
	lb_timers_run_due(&e->timers);
}

void
lb_engine_drain(struct lb_engine *e)
{
	lb_pool_drain(&e->pool);
}
