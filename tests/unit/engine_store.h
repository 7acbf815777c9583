/*
 * engine_store.h - what the engine tests share: a temporary directory
 * with a SQLite store in it, a default configuration (host "test-host")
 * whose state_path is that directory, and nodes made in it.  The test's thread.
 */
#ifndef LB_TEST_ENGINE_STORE_H
#define LB_TEST_ENGINE_STORE_H

#include "conductor/engine.h"
#include "conductor/store.h"
#include "conductor/util/config.h"

/* Makes /tmp/<prefix>-XXXXXX into 'dir' (64 bytes) and opens both. */
void test_store_open(const char *prefix, char *dir, struct lb_config *cfg,
    struct lb_store **ret_store);
/* Creates a fake-hardware node in "enroll", its UUID in 'uuid'. */
void test_store_node(struct lb_store *store, const struct lb_config *cfg,
    char uuid[LB_UUID_LEN + 1]);
/* Closes the store, releases the configuration, removes the directory. */
void test_store_remove(const char *dir, struct lb_config *cfg,
    struct lb_store *store);

/* Starts an engine on 'clock' with manual timers; asserts it started. */
void test_engine_start(const struct lb_config *cfg, struct lb_store *store,
    const struct lb_clock *clock, struct lb_engine **ret);

#endif
