/*
 * engine_store.c - the temporary store and configuration the engine tests
 * run on (see engine_store.h).  The test's thread.
 */
#include "engine_store.h"
#include "conductor/hwtype.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

void
test_store_open(const char *prefix, char *dir, struct lb_config *cfg,
    struct lb_store **ret_store)
{
	struct lb_err err = { "" };
	char url[128];

	snprintf(dir, 64, "/tmp/%s-XXXXXX", prefix);
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "sqlite://%s/db", dir);
	lb_config_init(cfg);
	free(cfg->host);
	cfg->host = strdup("test-host");
	free(cfg->state_path);
	cfg->state_path = strdup(dir);
	cfg->sync_power_state_interval = 0;
	assert_int_equal(lb_store_open(url, ret_store, &err), 0);
}

void
test_store_node(struct lb_store *store, const struct lb_config *cfg,
    char uuid[LB_UUID_LEN + 1])
{
	struct lb_node *n = lb_node_new();
	struct lb_err err = { "" };

	n->driver = strdup("fake-hardware");
	n->provision_state = strdup("enroll");
	assert_int_equal(lb_hwtype_resolve_node(cfg, n, &err), 0);
	assert_int_equal(lb_store_node_create(store, n, &err), 0);
	memcpy(uuid, n->uuid, LB_UUID_LEN + 1);
	lb_node_free(n);
}

void
test_store_remove(const char *dir, struct lb_config *cfg,
    struct lb_store *store)
{
	char cmd[192];

	lb_store_close(store);
	lb_config_release(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

void
test_engine_start(const struct lb_config *cfg, struct lb_store *store,
    const struct lb_clock *clock, struct lb_engine **ret)
{
	struct lb_engine_opts opts = { .clock = clock, .manual_timers = true };
	struct lb_err err = { "" };

	assert_int_equal(lb_engine_start(cfg, store, &opts, ret, &err), 0);
}
