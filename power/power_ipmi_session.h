/*
 * power_ipmi_session.h - one IPMI driver call's connection to its BMC
 * (power_ipmi_session.c): driver_info checked for libfreeipmi, the session
 * opened on first use, and the messages for failed commands.  Conductor
 * worker threads, concurrently; a connection belongs to the call that made
 * it.
 */
#ifndef LB_POWER_IPMI_SESSION_H
#define LB_POWER_IPMI_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <freeipmi/freeipmi.h>

#include "conductor/util/err.h"
#include "conductor/util/task.h"
#include "power/ipmi_info.h"

/* One driver call's view of the BMC, and its session while open. */
struct lb_ipmi_conn {
	struct lb_ipmi_info info;
	char where[LB_IPMI_WHERE_MAX + 1];
	ipmi_ctx_t ctx;			/* NULL while no session */
	char suites_note[40];		/* "cipher suite 3": messages */
	json_t *internal;		/* driver_internal_info, or NULL */
	unsigned int session_ms;	/* at most the session timeout */
};

/*
 * Parses and checks the task's driver_info into *c; opens no session.
 * c->internal borrows the task's driver_internal_info (NULL unless an
 * object).  On success lb_ipmi_conn_release() must follow.
 */
int lb_ipmi_conn_init(struct lb_ipmi_conn *c, const struct lb_task *task,
    struct lb_err *err);
/* Closes the session, if open, and wipes the credentials. */
void lb_ipmi_conn_release(struct lb_ipmi_conn *c);

/* Opens the session unless it is open: 0, or a negative errno and *err. */
int lb_ipmi_conn_open(struct lb_ipmi_conn *c, struct lb_err *err);
/* Closes the session (the next lb_ipmi_conn_open() makes a new one). */
void lb_ipmi_conn_close(struct lb_ipmi_conn *c);

/*
 * Before a command: opens the session unless it is open and makes *ret_rs,
 * an empty reply of template tmpl, for the caller to fiid_obj_destroy().
 */
int lb_ipmi_cmd_begin(struct lb_ipmi_conn *c, fiid_template_t tmpl,
    fiid_obj_t *ret_rs, struct lb_err *err);

/*
 * The error for a failed command 'what' inside the session, from
 * libfreeipmi's error and the reply rs (NULL if none) to request netfn.
 */
int lb_ipmi_fail_cmd(const struct lb_ipmi_conn *c, const char *what,
    fiid_obj_t rs, uint8_t netfn, struct lb_err *err);

/*
 * A failed session set-up in words an operator can act on, for libfreeipmi
 * error 'errnum' (IPMI_ERR_*), without a workaround hint (the caller's
 * flags may differ); c->suites_note names the suites tried.
 * Whether another cipher suite may still work after it, and how telling
 * it is (higher: report it over a lower one).  For the console's login.
 */
int lb_ipmi_fail_login(const struct lb_ipmi_conn *c, int errnum,
    struct lb_err *err);
bool lb_ipmi_login_try_next_suite(int errnum);
int lb_ipmi_login_error_rank(int errnum);

#endif
