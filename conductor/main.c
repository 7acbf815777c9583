/*
 * main.c - lifeboatd: reads the configuration, opens the store, serves the
 * API until SIGTERM or SIGINT (both stop gracefully), tells systemd how it
 * goes.  `--check` (or -n) validates the configuration and exits.  The
 * main thread only starts and stops things.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor/api.h"
#include "conductor/engine.h"
#include "conductor/http_boot.h"
#include "conductor/hwtype.h"
#include "conductor/notify.h"
#include "conductor/store.h"
#include "power/registry.h"
#include "conductor/util/clock.h"
#include "conductor/util/config.h"
#include "conductor/util/dburl.h"
#include "conductor/util/jsonbody.h"
#include "conductor/util/log.h"
#include "conductor/util/ownfile.h"
#include "conductor/util/banned.h"

#define DEFAULT_CONFIG "/etc/lifeboat/lifeboat.conf"

static void
usage(FILE *out)
{
	enum lb_layout layout;
	char *builder;

	fprintf(out,
	    "usage: lifeboatd [--config-file FILE] [--check]\n"
	    "       lifeboatd --example-config\n"
	    "\n"
	    "  --config-file FILE  read FILE (default " DEFAULT_CONFIG
	    " if it exists)\n"
	    "  --check, -n         validate the configuration and exit\n"
	    "  --example-config    print a commented configuration file\n"
	    "  --help              show this help\n");
	builder = lb_own_file("mkiso", &layout);
	if (builder != NULL)
		fprintf(out, "\n[redfish] iso_builder defaults to %s (this "
		    "lifeboatd's %s)\n", builder, lb_layout_name(layout));
	free(builder);
}

/*
 * Says which of lifeboat's own programs this run uses, and whether the
 * path is the configured one or found next to this binary: on stdout for
 * --check, in the log otherwise.
 */
static void
report_own_files(const struct lb_config *cfg, bool check)
{
	enum lb_layout layout = LB_LAYOUT_INSTALLED;
	const char *path = cfg->redfish_iso_builder;
	char *def = lb_own_file("mkiso", &layout);
	char how[128];
	bool usable = access(path, X_OK) == 0;

	if (def != NULL && strcmp(def, path) == 0)
		snprintf(how, sizeof(how), "default: this lifeboatd's %s",
		    lb_layout_name(layout));
	else
		snprintf(how, sizeof(how), "set in the configuration");
	free(def);
	if (check)
		printf("[redfish] iso_builder = %s (%s)%s\n", path, how,
		    usable ? "" : ", not executable: virtual media rescues "
		    "will fail");
	else if (usable)
		log_info("[redfish] iso_builder = %s (%s)", path, how);
	else
		log_warning("[redfish] iso_builder = %s (%s) is not "
		    "executable: virtual media rescues will fail", path, how);
}

/* mkdir -p for the state directory. */
static int
make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A SQLite file's directory is made like the state directory. */
static int
make_db_dir(const char *url)
{
	struct lb_db_url parsed;
	struct lb_err err;
	char *slash;
	int r;

	if (lb_db_url_parse(url, &parsed, &err) < 0 ||
	    parsed.kind != LB_DB_SQLITE)
		return 0;	/* lb_store_open() says why */
	slash = strrchr(parsed.path, '/');
	if (slash == parsed.path)
		return 0;
	*slash = '\0';
	r = make_dirs(parsed.path);
	if (r < 0)
		log_error("cannot create database directory '%s': %s",
		    parsed.path, strerror(-r));
	return r;
}

static int
load_config(struct lb_config *cfg, const char *path, bool explicit)
{
	struct lb_config_names names;
	struct lb_err err = { "" };
	char *problems = NULL;
	int r;

	if (path != NULL && (explicit || access(path, F_OK) == 0)) {
		r = lb_config_load_file(cfg, path, &problems, &err);
		if (r < 0) {
			fprintf(stderr, "%s\n", problems ? problems : err.msg);
			free(problems);
			return r;
		}
	}
	lb_hwtype_config_names(&names);
	r = lb_config_check(cfg, &names, &problems, &err);
	if (r < 0) {
		fprintf(stderr, "%s\n", problems ? problems : err.msg);
		free(problems);
		return r;
	}
	return 0;
}

/*
 * The state directory, the database and the HTTP basic credentials; logs
 * what fails and returns -1 with nothing left open.
 */
static int
open_state(const struct lb_config *cfg, struct lb_store **ret_store,
    struct lb_htpasswd **ret_htpasswd)
{
	struct lb_store *store = NULL;
	struct lb_htpasswd *htpasswd = NULL;
	struct lb_err err = { "" };
	char buf[4096];
	const char *url;
	int r;

	url = lb_config_database_connection(cfg, buf, sizeof(buf));
	if (url == NULL) {
		log_error("[DEFAULT] state_path is too long for a database "
		    "path");
		return -1;
	}
	r = make_dirs(cfg->state_path);
	if (r < 0) {
		log_error("cannot create state directory '%s': %s",
		    cfg->state_path, strerror(-r));
		return -1;
	}
	r = make_db_dir(url);
	if (r < 0)
		return -1;
	r = lb_store_open(url, &store, &err);
	if (r < 0) {
		/* The URL itself is not shown: it may hold a password. */
		log_error("[database] connection is not usable: %s", err.msg);
		return -1;
	}
	if (strcmp(cfg->auth_strategy, "http_basic") == 0) {
		r = lb_htpasswd_load(cfg->http_basic_auth_user_file, &htpasswd,
		    &err);
		if (r < 0) {
			log_error("%s", err.msg);
			lb_store_close(store);
			return -1;
		}
	}
	*ret_store = store;
	*ret_htpasswd = htpasswd;
	return 0;
}

/* Until SIGTERM or SIGINT (blocked in 'sigs'); returns which came. */
static int
wait_for_stop(const sigset_t *sigs)
{
	int sig;

	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored: restart lifeboatd to reload "
			    "its configuration");
			continue;
		}
		return sig;
	}
}

/*
 * SIGTERM or SIGINT: no new work, the queue failed back, and up to
 * [DEFAULT] graceful_shutdown_timeout for the running jobs.  When they
 * do not end in time, what they hold is logged and lifeboatd exits 1 at
 * once, as Ironic does; the next start's recovery takes their nodes.
 */
static void
graceful_stop(const struct lb_config *cfg, struct lb_engine *engine,
    int sig)
{
	double start = lb_monotonic();
	size_t dropped, running, left;
	char status[160];

	lb_notify_stopping("stopping: no new work");
	dropped = lb_engine_begin_stop(engine, &running);
	log_info("stopping on signal %d: %zu queued jobs failed back, "
	    "waiting up to %d s for %zu running (graceful_shutdown_timeout)",
	    sig, dropped, cfg->graceful_shutdown_timeout, running);
	snprintf(status, sizeof(status), "stopping: waiting for %zu jobs",
	    running);
	lb_notify_status(status);
	left = lb_engine_wait_jobs(engine, cfg->graceful_shutdown_timeout);
	if (left > 0) {
		log_error("graceful_shutdown_timeout (%d s) passed with %zu "
		    "jobs running: handing their nodes over to the next "
		    "start and exiting 1", cfg->graceful_shutdown_timeout,
		    left);
		lb_engine_hand_over(engine);
		fflush(stderr);
		_exit(1);
	}
	log_info("stopped in %.2f s after waiting for %zu jobs",
	    lb_monotonic() - start, running);
}

/* Ready, then serving until a signal stops the engine gracefully. */
static void
serve(const struct lb_config *cfg, struct lb_engine *engine,
    const sigset_t *sigs)
{
	struct lb_watchdog *watchdog = NULL;
	char status[320];
	int r;

	r = lb_watchdog_start(engine, &watchdog);
	if (r < 0)
		log_warning("watchdog: not started: %s", strerror(-r));
	log_info("lifeboatd ready as conductor '%s' (auth %s)", cfg->host,
	    cfg->auth_strategy);
	snprintf(status, sizeof(status), "serving as conductor '%s' on "
	    "%s:%d", cfg->host, cfg->api_host_ip, cfg->api_port);
	lb_notify_ready(status);
	graceful_stop(cfg, engine, wait_for_stop(sigs));
	lb_watchdog_stop(watchdog);
}

static int
run(const struct lb_config *cfg)
{
	struct lb_store *store = NULL;
	struct lb_htpasswd *htpasswd = NULL;
	struct lb_api *api = NULL;
	struct lb_metrics_server *metrics = NULL;
	struct lb_engine *engine = NULL;
	struct lb_http_boot *http_boot = NULL;
	struct lb_api_ctx ctx;
	struct lb_err err = { "" };
	sigset_t sigs;
	int r;

	if (open_state(cfg, &store, &htpasswd) < 0)
		return 1;
	/* Signals are taken synchronously below; block them everywhere. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cfg->deploy_http_url != NULL ||
	    cfg->deploy_external_http_url != NULL) {
		r = lb_http_boot_start(cfg, &http_boot, &err);
		if (r < 0) {
			log_error("%s", err.msg);
			lb_htpasswd_free(htpasswd);
			lb_store_close(store);
			return 1;
		}
	}
	r = lb_engine_start(cfg, store, NULL, &engine, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		lb_http_boot_stop(http_boot);
		lb_htpasswd_free(htpasswd);
		lb_store_close(store);
		return 1;
	}
	ctx.cfg = cfg;
	ctx.store = store;
	ctx.engine = engine;
	ctx.htpasswd = htpasswd;
	r = lb_api_start(&ctx, &api, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		lb_engine_stop(engine);
		lb_http_boot_stop(http_boot);
		lb_htpasswd_free(htpasswd);
		lb_store_close(store);
		return 1;
	}
	r = lb_metrics_server_start(&ctx, &metrics, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		lb_api_stop(api);
		lb_engine_stop(engine);
		lb_http_boot_stop(http_boot);
		lb_htpasswd_free(htpasswd);
		lb_store_close(store);
		return 1;
	}
	serve(cfg, engine, &sigs);
	lb_metrics_server_stop(metrics);
	lb_api_stop(api);
	lb_engine_stop(engine);
	lb_http_boot_stop(http_boot);
	lb_power_shutdown();
	lb_htpasswd_free(htpasswd);
	lb_store_close(store);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config-file", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "example-config", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG;
	bool explicit = false, check = false;
	struct lb_config cfg;
	int c, r;

	/* Before any thread: JSON that held a password is zeroed when freed. */
	lb_json_wipe_on_free();
	while ((c = getopt_long(argc, argv, "c:nh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			explicit = true;
			break;
		case 'n':
			check = true;
			break;
		case 'e':
			return lb_config_write_example(stdout) < 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	lb_config_init(&cfg);
	r = load_config(&cfg, config_path, explicit);
	if (check) {
		if (r == 0) {
			printf("%s: configuration OK\n", explicit ?
			    config_path : "built-in defaults");
			report_own_files(&cfg, true);
		}
		lb_config_release(&cfg);
		return r < 0 ? 1 : 0;
	}
	if (r < 0) {
		lb_config_release(&cfg);
		return 1;
	}
	lb_log_set_level(cfg.log_level);
	report_own_files(&cfg, false);
	r = run(&cfg);
	lb_config_release(&cfg);
	return r;
}
