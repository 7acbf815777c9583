/*
 * rescue_verbs.h - the rescue, unrescue and rescue-abort verbs of
 * PUT .../states/provision (rescue_verbs.c).  API threads.
 */
#ifndef LB_RESCUE_VERBS_H
#define LB_RESCUE_VERBS_H

#include <jansson.h>

#include "conductor/util/err.h"

struct lb_engine;

/*
 * 'event' is "rescue", "unrescue" or "abort" (of a rescue wait); Ironic's
 * checks in Ironic's order, then the transition, the lock and the job.
 */
int lb_rescue_verb(struct lb_engine *e, const char *ident, const char *verb,
    const char *event, const json_t *body, struct lb_err *err);

#endif
