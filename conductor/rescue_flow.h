/*
 * rescue_flow.h - the job kinds of the rescue flow (rescue_flow.c): what
 * the rescue verbs, the agent's heartbeat, the callback-timeout check and
 * recovery queue.  The jobs run on worker threads.
 */
#ifndef LB_RESCUE_FLOW_H
#define LB_RESCUE_FLOW_H

#include "conductor/job.h"

/* Runs the node's rescue interface's rescue / unrescue. */
extern const struct lb_job_kind lb_rescue_job_rescue;
extern const struct lb_job_kind lb_rescue_job_unrescue;
/* The agent called back in rescue wait: hands it the password hash. */
extern const struct lb_job_kind lb_rescue_job_finalize;
/*
 * After an abort, a callback timeout or a restart: the rescue's way out
 * (power off first with power_off, or for virtual media unless
 * keep_power); last_error stays.
 */
extern const struct lb_job_kind lb_rescue_job_clean_up;

#endif
