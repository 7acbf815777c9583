/*
 * sol.h - one node's Serial-over-LAN session over libipmiconsole
 * (console_sol.c): driver_info parsed as the IPMI power driver does,
 * connection attempts submitted to libipmiconsole's engine without
 * blocking (cipher suites probed 17 then 3 when not given), and failures
 * in the power driver's words.  Owned by the console's poll-loop thread
 * once handed over; set up and released under the console lock.
 */
#ifndef LB_CONSOLE_SOL_H
#define LB_CONSOLE_SOL_H

#include <stdbool.h>
#include <stdint.h>

#include <ipmiconsole.h>

#include "conductor/util/err.h"
#include "conductor/util/task.h"
#include "power/power_ipmi_session.h"

enum lb_sol_state {
	LB_SOL_DOWN,
	LB_SOL_CONNECTING,
	LB_SOL_UP,
};

/* Holds the BMC password and Kg until lb_sol_release(). */
struct lb_sol {
	struct lb_ipmi_conn conn;	/* info, where; never opened */
	enum lb_sol_state state;
	ipmiconsole_ctx_t ctx;
	int fd;				/* the console's bytes; -1 unless up */
	int suites[2];
	int nsuites, attempt;		/* suites to try, the one tried */
	int known_suite;		/* the suite that worked, or -1 */
	bool take_over;			/* deactivate a stale SOL session */
	int64_t deadline_ms;		/* of the current attempt */
	unsigned int timeout_ms;	/* [console] subprocess_timeout */
	int best_rank;			/* of best_err, -1: none yet */
	int best_r;			/* and its negative errno */
	struct lb_err best_err;
};

/*
 * The node's ipmi_* keys checked for Serial-over-LAN (no I/O): protocol
 * 2.0, a privilege level libipmiconsole knows, no bridging.  With 's' NULL
 * this is the console's validate; otherwise *s is filled for
 * lb_sol_begin() and must be released.
 */
int lb_sol_init(struct lb_sol *s, const struct lb_task *task,
    struct lb_err *err);
/* Ends the session if any and wipes the credentials. */
void lb_sol_release(struct lb_sol *s);

/*
 * Starts connecting: the first cipher suite's attempt is submitted to the
 * engine (started on first use).  take_over: deactivate a SOL session
 * someone else holds (the first activation); otherwise such a session is
 * an error, for the caller to retry later.
 */
int lb_sol_begin(struct lb_sol *s, bool take_over, int64_t now_ms,
    struct lb_err *err);
/*
 * Moves a connecting session on: 1 when it is up (s->fd readable and
 * writable), 0 while still connecting, or a negative errno and the reason
 * when every attempt failed (the session is then down).
 */
int lb_sol_poll(struct lb_sol *s, int64_t now_ms, struct lb_err *err);
/* Why an up session ended (its fd gave EOF); the session is then down. */
void lb_sol_lost(struct lb_sol *s, struct lb_err *why);
/* Ends the session (the BMC is told, in the background). */
void lb_sol_end(struct lb_sol *s);

/*
 * A descriptor that becomes readable when an attempt may have ended (the
 * engine's callback writes to it): poll it and call lb_sol_drain().
 */
int lb_sol_event_fd(void);
void lb_sol_drain(void);
/* Stops the engine, if it was started.  Once, at exit. */
void lb_sol_shutdown(void);

#endif
