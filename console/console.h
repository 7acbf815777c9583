/*
 * console.h - console interfaces: one const ops struct per implementation
 * (console_ipmi.c: IPMI Serial-over-LAN served on a TCP port, Ironic's
 * "ipmitool-socat"; console_fake.c: Ironic's "fake"), named by the registry
 * in console_registry.c.
 *
 * Unlike power calls, a console outlives the call that starts it: the
 * implementation keeps its own per-node sessions (SOL, listener, client,
 * capture log) and its own thread(s) after start() returns.  Every op is
 * called from conductor worker threads (through conductor/task.c only) or
 * the engine's start-up and stop; ops for one node never run concurrently
 * (the node's reservation serialises them), ops for different nodes do.
 * They return 0 or a negative errno and fill 'err' with a message safe to
 * show a client; they never log above info and never log a secret.
 */
#ifndef LB_CONSOLE_H
#define LB_CONSOLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/config.h"
#include "conductor/util/err.h"
#include "conductor/util/task.h"

/*
 * driver_internal_info key: the port start() took from [console]
 * port_range (Ironic's name, so it shows in the node as in Ironic).
 */
#define LB_CONSOLE_KEY_PORT	"allocated_ipmi_terminal_port"

struct lb_console_ops {
	const char *name;	/* "ipmitool-socat", "fake" */
	/*
	 * Starts serving the node's console (the port is ipmi_terminal_port,
	 * else the first free one of [console] port_range, recorded under
	 * LB_CONSOLE_KEY_PORT in task->driver_internal_info).  Returns when
	 * the listener is bound and the SOL session is up, or with the
	 * reason it could not come up within [console] subprocess_timeout.
	 * Starting a started console restarts it (new settings apply).
	 */
	int (*start)(const struct lb_task *task, struct lb_err *err);
	/* Stops serving: client closed, port released.  Idempotent. */
	int (*stop)(const struct lb_task *task, struct lb_err *err);
	/*
	 * console_info of a started console: {"type": "socat", "url":
	 * "tcp://ADDR:PORT"} ({} for fake).  *ret is a new reference.
	 */
	int (*info)(const struct lb_task *task, json_t **ret,
	    struct lb_err *err);
	/*
	 * Capture during a rescue: capture_start truncates the node's
	 * capture log (appends to it when 'resume': lifeboatd restarted
	 * during the rescue) and records SOL output into it (sharing the
	 * session with a started console) until capture_stop; the log stays
	 * for capture_tail and operators until the next capture_start or
	 * forget.  capture_start returns once SOL is up, or with why it is
	 * not within [console] subprocess_timeout: the capture then stays
	 * and keeps trying.  NULL where the interface has nothing to capture.
	 */
	int (*capture_start)(const struct lb_task *task, bool resume,
	    struct lb_err *err);
	void (*capture_stop)(const struct lb_task *task);
	/*
	 * The last 'lines' lines of the node's capture log, secrets
	 * redacted and control characters removed, joined by '\n'; *ret is
	 * malloc'd ("" when nothing was captured).
	 */
	int (*capture_tail)(const struct lb_task *task, unsigned int lines,
	    char **ret, struct lb_err *err);
	/* The node is deleted: stop everything and remove its capture log. */
	void (*forget)(const struct lb_task *task);
};

#endif
