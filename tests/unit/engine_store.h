/*
 * engine_store.h - what the engine tests share: a temporary directory
 * with a SQLite store in it, and a default configuration (host
 * "test-host") whose state_path is that directory.  The test's thread.
 */
#ifndef LB_TEST_ENGINE_STORE_H
#define LB_TEST_ENGINE_STORE_H

#include "conductor/store.h"
#include "conductor/util/config.h"

/* Makes /tmp/<prefix>-XXXXXX into 'dir' (64 bytes) and opens both. */
void test_store_open(const char *prefix, char *dir, struct lb_config *cfg,
    struct lb_store **ret_store);
/* Closes the store, releases the configuration, removes the directory. */
void test_store_remove(const char *dir, struct lb_config *cfg,
    struct lb_store *store);

#endif
