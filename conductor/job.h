/*
 * job.h - the one job model: a job of a kind (a row naming it and the
 * function that does its work) queued on the worker pool for one node,
 * and how every job ends: lb_job_finish() writes the outcome in one store
 * transaction and logs the transition line.  Reserving and queueing on
 * API and timer threads; jobs run on worker threads.
 */
#ifndef LB_JOB_H
#define LB_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/history.h"
#include "conductor/node.h"
#include "conductor/pool.h"
#include "conductor/util/err.h"
#include "power/power.h"

struct lb_engine;
struct lb_node_task;

/*
 * How a job ends, written in one transaction: the provision event (NULL:
 * no move), last_error, power, and what rescue leaves behind.  The node's
 * lock is always released.
 */
struct lb_finish {
	const char *event;		/* "done", "fail", "wait"; NULL: none */
	const char *error;		/* last_error, NULL clears it */
	enum lb_power_state power;
	bool set_power;
	bool power_job;			/* clears target_power_state */
	bool clear_instance;
	bool drop_password;		/* the rescue password hash */
	bool forget_agent;		/* agent_url, token, certificate */
	bool keep_error;		/* leave last_error as it is */
	char *error_tail;		/* malloc'd; put under last_error */
	const char *user;		/* who asked, for the history */
	bool set_console;		/* console_enabled = console_on */
	bool console_on;
	const struct lb_node_task *task;	/* driver_internal_info */
	char from[32];
	char to[32];
};

struct lb_engine_job;

/* A kind of job: one row each, where its work is written. */
struct lb_job_kind {
	const char *name;		/* the log line's: "verify", ... */
	bool load;			/* runs on a loaded node task */
	/*
	 * The work.  'loaded' is lb_task_load()'s result (with 'err' its
	 * message) when the kind loads; fills 'f' and, for an error, the
	 * job's msg.
	 */
	void (*run)(struct lb_engine_job *j, struct lb_node_task *t,
	    int loaded, struct lb_err *err, struct lb_finish *f);
};

struct lb_engine_job {
	struct lb_job base;
	struct lb_engine *e;
	const struct lb_job_kind *kind;
	char uuid[LB_UUID_LEN + 1];
	const char *what;		/* the log line's name; NULL: kind's */
	double started;
	/* What some kinds are given. */
	enum lb_power_action action;
	int timeout;
	bool hard_fallback;
	bool from_rescue;		/* undeploy: leaves a rescue state */
	bool power_off;			/* rescue clean-up: power off first */
	bool keep_power;		/* rescue clean-up: never power off */
	bool console_on;		/* console: enable, else disable */
	bool console_tail;		/* clean-up: the console's lines too */
	bool take_over;			/* console restore: from a dead one */
	char msg[LB_ERR_MSG_MAX + 192];	/* the error the end records */
	/* The API request's user when the job was made (history). */
	char user[LB_HISTORY_USER_MAX];
	bool has_user;
};

/* The user who asked for the job, NULL: none (noauth, periodic). */
static inline const char *
lb_job_user(const struct lb_engine_job *j)
{
	return j->has_user ? j->user : NULL;
}

/*
 * Reserves a worker (keeping 'margin' free for others) and makes a job
 * of 'kind'; -EAGAIN ("No free conductor workers available", or that the
 * conductor is stopping) or -ENOMEM.
 */
int lb_job_reserve(struct lb_engine *e, const struct lb_job_kind *kind,
    size_t margin, struct lb_engine_job **ret, struct lb_err *err);
/* A job not queued after all: frees it and gives the worker back. */
void lb_job_cancel(struct lb_engine_job *j);
/* Queues a reserved job for node 'uuid'. */
void lb_job_queue(struct lb_engine_job *j, const char *uuid);
/*
 * Runs a reserved-or-not job on this thread (where the pool is full at
 * start) and frees it.
 */
void lb_job_run_here(struct lb_engine_job *j);
/* A job without a reserved worker, for lb_job_run_here(). */
struct lb_engine_job *lb_job_new(struct lb_engine *e,
    const struct lb_job_kind *kind);

/*
 * Writes the job's outcome and logs the transition line; an error (not
 * one kept) is also an ERROR history event, with the console's tail.  If
 * the write itself fails the node keeps its lock; the next start releases
 * it.
 */
void lb_job_finish(struct lb_engine *e, const char *uuid,
    struct lb_finish *f, const char *what, double started);

#endif
