/*
 * port.h - the TCP port a console serves on (console_port.c): the node's
 * ipmi_terminal_port, or the first free port of [console] port_range, with
 * Ironic's messages; the listening socket is made here, so a port found
 * free stays ours.  Conductor worker threads.
 */
#ifndef LB_CONSOLE_PORT_H
#define LB_CONSOLE_PORT_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

struct lb_console_port_req {
	const char *address;		/* [console] socat_address */
	const char *range;		/* [console] port_range, NULL: none */
	const char *host;		/* [DEFAULT] host, for messages */
	unsigned int fixed;		/* ipmi_terminal_port, 0: from range */
	unsigned int preferred;		/* tried first in the range, or 0 */
	/* ports other consoles of this lifeboatd hold */
	const unsigned int *used;
	size_t nused;
};

/*
 * Binds and listens (non-blocking, close-on-exec) on the port 'req' names
 * or finds; 0 with *ret_fd and *ret_port, or a negative errno and a
 * message (-EINVAL for a bad range, -EADDRINUSE when none is free).
 */
int lb_console_port_take(const struct lb_console_port_req *req,
    int *ret_fd, unsigned int *ret_port, struct lb_err *err);

/* Ironic's check (no I/O): a fixed port, or a range to take one from. */
int lb_console_port_configured(unsigned int fixed, const char *range,
    struct lb_err *err);

/* "tcp://ADDR:PORT" with an IPv6 address in brackets; 0 or -ENAMETOOLONG. */
int lb_console_url(const char *address, unsigned int port, char *buf,
    size_t size);

#endif
