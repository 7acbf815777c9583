/*
 * http_guard.h - limits that keep one client of a libmicrohttpd daemon (the
 * API, the HTTP boot root) from starving the others: the total connection
 * budget from RLIMIT_NOFILE, and a deadline for request heads.  Callbacks
 * run on MHD's threads; the sweeper that enforces deadlines on its own.
 */
#ifndef LB_HTTP_GUARD_H
#define LB_HTTP_GUARD_H

#include <stdarg.h>
#include <microhttpd.h>

#include "conductor/util/err.h"

/* Descriptors kept back from HTTP for the store, BMC sockets and files. */
#define LB_HTTP_FD_HEADROOM 512

struct lb_http_guard;

/*
 * Connections one daemon may hold: 'percent' of RLIMIT_NOFILE's soft limit
 * less LB_HTTP_FD_HEADROOM, at least 64.  Read at each call.
 */
unsigned int lb_http_conn_limit(unsigned int percent);

/*
 * A guard for one daemon whose heads must arrive whole within
 * 'head_timeout' seconds of the connection being accepted, and within
 * 'idle_timeout' of the previous request's end on a kept-alive one; the
 * idle timeout is also MHD's once a head is in.  Start the daemon with
 * MHD_OPTION_CONNECTION_TIMEOUT head_timeout.  'name' ("API", "HTTP
 * boot") prefixes its log lines.  Free it after MHD_stop_daemon().
 */
int lb_http_guard_new(const char *name, unsigned int head_timeout,
    unsigned int idle_timeout, struct lb_http_guard **ret,
    struct lb_err *err);
void lb_http_guard_free(struct lb_http_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION callback; its cls is the guard. */
void lb_http_guard_notify(void *cls, struct MHD_Connection *conn,
    void **socket_context, enum MHD_ConnectionNotificationCode code);
/* MHD_OPTION_EXTERNAL_LOGGER: MHD's messages, at most one a second. */
void lb_http_guard_log(void *cls, const char *fmt, va_list ap);

/*
 * The access handler's first call on a request: its head is complete, so
 * the deadline is lifted and the connection gets the idle timeout.
 */
void lb_http_guard_head_done(struct MHD_Connection *conn);
/* The request ended: on a kept-alive connection the next head is due. */
void lb_http_guard_request_done(struct MHD_Connection *conn);

#endif
