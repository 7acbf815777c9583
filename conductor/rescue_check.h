/*
 * rescue_check.h - the pure checks of what an agent sends, exposed from
 * agent_calls.c so that the fuzz targets can call them without a node or a
 * lock.  Any thread.
 */
#ifndef LB_RESCUE_CHECK_H
#define LB_RESCUE_CHECK_H

#include <jansson.h>

#include "conductor/util/err.h"

/*
 * A heartbeat body at API 1.<minor>: a JSON object of known string (or
 * null) fields allowed at that version, with an http(s) callback_url.
 * -EINVAL with Ironic's message otherwise.
 */
int lb_heartbeat_body_check(const json_t *body, int minor,
    struct lb_err *err);

#endif
