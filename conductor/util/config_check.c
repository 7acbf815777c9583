/*
 * config_check.c - lb_config_check(), what a loaded lifeboat.conf must
 * satisfy as a whole (names the driver registries know, defaults that are
 * enabled, HTTP boot URLs that can be served together), and the values
 * derived from it (lb_config_database_connection()).  Main thread.
 */
#include "conductor/util/config_internal.h"
#include "conductor/util/httpurl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conductor/util/banned.h"

static bool
name_in(const char *name, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcmp(name, *names) == 0)
			return true;
	return false;
}

static void
check_list(struct problems *pb, const char *option,
    const struct lb_strlist *l, const char *const *known, const char *what)
{
	char q[80], names[200];

	if (l->n == 0)
		lb_cfg_problem_add(pb, "[DEFAULT] %s: must not be empty",
		    option);
	for (size_t i = 0; i < l->n; i++) {
		if (known != NULL && !name_in(l->items[i], known))
			lb_cfg_problem_add(pb, "[DEFAULT] %s: %s is not a "
			    "known %s (%s)", option,
			    lb_cfg_quote(l->items[i], q, sizeof(q)), what,
			    lb_cfg_join(known, names, sizeof(names)));
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->items[i], l->items[j]) == 0) {
				lb_cfg_problem_add(pb, "[DEFAULT] %s: %s is "
				    "listed twice", option,
				    lb_cfg_quote(l->items[i], q, sizeof(q)));
				break;
			}
	}
}

/* Both HTTP boot URLs must be served at once: one port on every address
 * and the same port on one address cannot both be bound. */
static void
check_http_urls(struct problems *pb, const struct lb_config *cfg)
{
	struct lb_http_url a, b;

	if (cfg->deploy_http_url == NULL ||
	    cfg->deploy_external_http_url == NULL ||
	    lb_http_url_parse(cfg->deploy_http_url, &a, NULL) < 0 ||
	    lb_http_url_parse(cfg->deploy_external_http_url, &b, NULL) < 0 ||
	    !lb_http_url_clash(&a, &b))
		return;
	lb_cfg_problem_add(pb, "[deploy] external_http_url: lifeboatd "
	    "cannot listen on port %s of %s and of %s at once; use two IP "
	    "addresses, two ports or one URL", a.port,
	    a.any ? "every address" : a.host,
	    b.any ? "every address" : b.host);
}

/* The metrics listener cannot share the API's port on one address. */
static void
check_metrics(struct problems *pb, const struct lb_config *cfg)
{
	if (cfg->metrics_port == 0 || cfg->metrics_port != cfg->api_port ||
	    cfg->metrics_host_ip == NULL || cfg->api_host_ip == NULL)
		return;
	if (strcmp(cfg->metrics_host_ip, cfg->api_host_ip) == 0 ||
	    strcmp(cfg->metrics_host_ip, "0.0.0.0") == 0 ||
	    strcmp(cfg->metrics_host_ip, "::") == 0 ||
	    strcmp(cfg->api_host_ip, "0.0.0.0") == 0 ||
	    strcmp(cfg->api_host_ip, "::") == 0)
		lb_cfg_problem_add(pb, "[metrics] port: %d is the API's port "
		    "on the same address; use another port",
		    cfg->metrics_port);
}

int
lb_config_check(const struct lb_config *cfg,
    const struct lb_config_names *names, char **ret_problems,
    struct lb_err *err)
{
	struct problems pb = { 0 };
	char option[64], what[64], q[80], why[PROBLEM_LINE_MAX - 32];
	const char *path = cfg->http_basic_auth_user_file;

	if (cfg->auth_strategy != NULL &&
	    strcmp(cfg->auth_strategy, "http_basic") == 0) {
		if (path == NULL)
			lb_cfg_problem_add(&pb, "[DEFAULT] "
			    "http_basic_auth_user_file: must be set when "
			    "auth_strategy is http_basic");
		else if (access(path, R_OK) != 0)
			lb_cfg_problem_add(&pb, "[DEFAULT] "
			    "http_basic_auth_user_file: cannot read %s: %s",
			    lb_cfg_quote(path, q, sizeof(q)), strerror(errno));
	}
	check_list(&pb, "enabled_hardware_types",
	    &cfg->enabled_hardware_types,
	    names ? names->hardware_types : NULL, "hardware type");
	for (int k = 0; k < LB_IFACE_COUNT; k++) {
		const char *kind = lb_iface_kind_name(k);
		const struct lb_strlist *l = &cfg->enabled_interfaces[k];
		const char *def = cfg->default_interface[k];
		size_t i;

		snprintf(option, sizeof(option), "enabled_%s_interfaces", kind);
		snprintf(what, sizeof(what), "%s interface", kind);
		check_list(&pb, option, l, names ? names->interfaces[k] : NULL,
		    what);
		if (def == NULL)
			continue;
		for (i = 0; i < l->n; i++)
			if (strcmp(def, l->items[i]) == 0)
				break;
		if (i == l->n)
			lb_cfg_problem_add(&pb, "[DEFAULT] "
			    "default_%s_interface: %s is not in "
			    "enabled_%s_interfaces", kind,
			    lb_cfg_quote(def, q, sizeof(q)), kind);
	}
	check_http_urls(&pb, cfg);
	check_metrics(&pb, cfg);
	if (cfg->ipmi_workarounds != NULL && names != NULL &&
	    names->ipmi_workarounds != NULL &&
	    names->ipmi_workarounds(cfg->ipmi_workarounds, why,
	    sizeof(why)) < 0)
		lb_cfg_problem_add(&pb, "[ipmi] workarounds: %s", why);
	return lb_cfg_problems_finish(&pb, -EINVAL, ret_problems, err);
}

const char *
lb_config_database_connection(const struct lb_config *cfg, char *buf,
    size_t size)
{
	size_t n;
	int r;

	if (cfg->database_connection != NULL)
		return cfg->database_connection;
	n = strlen(cfg->state_path);
	while (n > 1 && cfg->state_path[n - 1] == '/')
		n--;
	if (n == 1)
		n = 0;	/* "/" */
	r = snprintf(buf, size, "sqlite:///%.*s/lifeboat.sqlite", (int)n,
	    cfg->state_path);
	if (r < 0 || (size_t)r >= size)
		return NULL;
	return buf;
}
