/*
 * engine.h - the conductor engine: every operation on a node runs here.
 *
 * The API thread calls lb_engine_provision()/lb_engine_power(), which check
 * the request, write the transition and take the node's lock (its
 * `reservation`) in one store transaction, and hand the work to a bounded
 * pool of worker threads; the 202 goes out only after the write.  A timer
 * thread with a deadline heap runs periodic work (power-state sync).  At
 * start the engine releases its own stale locks and fails or resumes nodes
 * a previous run left in a transient state.
 */
#ifndef LB_ENGINE_H
#define LB_ENGINE_H

#include <jansson.h>

#include "conductor/store.h"
#include "conductor/util/config.h"

struct lb_engine;

int lb_engine_start(const struct lb_config *cfg, struct lb_store *store,
    struct lb_engine **ret, struct lb_err *err);
/* Waits for running jobs to finish; queued ones are dropped (their nodes
 * are recovered at the next start). */
void lb_engine_stop(struct lb_engine *e);

/*
 * PUT /v1/nodes/{ident}/states/provision with 'body' already parsed.
 * Ironic's checks in Ironic's order; 0 when the transition is written and
 * the work queued.
 */
int lb_engine_provision(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err);

/* PUT /v1/nodes/{ident}/states/power. */
int lb_engine_power(struct lb_engine *e, const char *ident,
    const json_t *body, int minor, struct lb_err *err);

#endif
