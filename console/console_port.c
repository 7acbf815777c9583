/*
 * console_port.c - the listening socket of a console: ipmi_terminal_port,
 * or the first port of [console] port_range that no other console here
 * holds and bind() accepts (Ironic's rule; binding is the check, so the
 * socket found free is the one served).  Conductor worker threads.
 */
#include "console/port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conductor/util/config.h"
#include "conductor/util/banned.h"

/* Pending connections: one client is served, a second is told it is busy. */
#define LISTEN_BACKLOG	4

static int
listen_on(const char *address, unsigned int port, int *ret_fd)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1, e;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -errno;
	/* a port left in TIME_WAIT by a restart is taken again at once */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	*ret_fd = fd;
	return 0;
}

static bool
port_used(const struct lb_console_port_req *req, unsigned int port)
{
	for (size_t i = 0; i < req->nused; i++)
		if (req->used[i] == port)
			return true;
	return false;
}

static int
take_fixed(const struct lb_console_port_req *req, int *ret_fd,
    struct lb_err *err)
{
	int r;

	if (port_used(req, req->fixed))
		return lb_err_set(err, -EADDRINUSE, "ipmi_terminal_port %u is "
		    "already used by the console of another node",
		    req->fixed);
	r = listen_on(req->address, req->fixed, ret_fd);
	if (r < 0)
		return lb_err_set(err, r == -EINVAL ? -EINVAL : -EADDRINUSE,
		    "cannot listen on %s port %u (ipmi_terminal_port): %s",
		    req->address, req->fixed, strerror(-r));
	return 0;
}

int
lb_console_port_take(const struct lb_console_port_req *req, int *ret_fd,
    unsigned int *ret_port, struct lb_err *err)
{
	unsigned int start, stop, port;
	int r;

	if (req->fixed != 0) {
		*ret_port = req->fixed;
		return take_fixed(req, ret_fd, err);
	}
	r = lb_console_port_configured(0, req->range, err);
	if (r < 0)
		return r;
	if (lb_config_port_range(req->range, &start, &stop) < 0)
		return lb_err_set(err, -EINVAL, "[console]port_range should "
		    "be in the format <start>:<stop> and start < stop");
	/* the port this node had (a restart, a re-enable) first */
	if (req->preferred >= start && req->preferred < stop &&
	    !port_used(req, req->preferred) &&
	    listen_on(req->address, req->preferred, ret_fd) == 0) {
		*ret_port = req->preferred;
		return 0;
	}
	for (port = start; port < stop; port++) {
		if (port_used(req, port) ||
		    listen_on(req->address, port, ret_fd) < 0)
			continue;
		*ret_port = port;
		return 0;
	}
	return lb_err_set(err, -EADDRINUSE, "Unable to allocate a free port "
	    "on host %s for IPMI terminal, not enough free ports.",
	    req->host);
}

int
lb_console_port_configured(unsigned int fixed, const char *range,
    struct lb_err *err)
{
	if (fixed == 0 && range == NULL)
		return lb_err_set(err, -EINVAL, "Either missing "
		    "'ipmi_terminal_port' parameter in node's driver_info or "
		    "[console]port_range is not configured");
	return 0;
}

int
lb_console_url(const char *address, unsigned int port, char *buf,
    size_t size)
{
	int n;

	if (strchr(address, ':') != NULL)
		n = snprintf(buf, size, "tcp://[%s]:%u", address, port);
	else
		n = snprintf(buf, size, "tcp://%s:%u", address, port);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
