/*
 * test_console_port.c - unit tests of the console's port choice
 * (console/console_port.c): ipmi_terminal_port, [console] port_range with
 * Ironic's messages for a bad range and for exhaustion, ports held by
 * other consoles or busy with another program skipped, the node's former
 * port first; and the URL console show gives.  Single-threaded, on
 * 127.0.0.1 and ::1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "console/port.h"
#include "conductor/util/banned.h"

#define NPORTS	4

static unsigned int base;	/* base .. base+NPORTS-1 were free */
static char range[32];

/* Holds 127.0.0.1:port as another program would; -1 if it cannot. */
static int
hold(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* NPORTS consecutive ports that are free now. */
static int
setup(void **state)
{
	(void)state;
	for (unsigned int b = 41000; b < 60000; b += NPORTS) {
		int fds[NPORTS], n = 0;

		while (n < NPORTS && (fds[n] = hold(b + (unsigned)n)) >= 0)
			n++;
		for (int i = 0; i < n; i++)
			close(fds[i]);
		if (n == NPORTS) {
			base = b;
			snprintf(range, sizeof(range), "%u:%u", b, b + NPORTS);
			return 0;
		}
	}
	return -1;
}

static unsigned int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	return ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
test_first_free_of_range(void **state)
{
	struct lb_console_port_req req = {
		.address = "127.0.0.1", .range = range, .host = "cond-1",
	};
	unsigned int port = 0, used[1];
	struct lb_err err;
	int fd = -1, busy;

	(void)state;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err), 0);
	assert_int_equal(port, base);
	assert_int_equal(local_port(fd), base);
	close(fd);

	/* busy with another program: bind() says so, the next is taken */
	busy = hold(base);
	assert_true(busy >= 0);
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err), 0);
	assert_int_equal(port, base + 1);
	close(fd);

	/* held by another console here: skipped without trying */
	used[0] = base + 1;
	req.used = used;
	req.nused = 1;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err), 0);
	assert_int_equal(port, base + 2);
	close(fd);

	/* the port the node had comes first when it is free */
	req.preferred = base + 3;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err), 0);
	assert_int_equal(port, base + 3);
	close(fd);
	/* ... and is skipped when it is not */
	req.preferred = base;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err), 0);
	assert_int_equal(port, base + 2);
	close(fd);
	close(busy);
}

static void
test_exhausted(void **state)
{
	struct lb_console_port_req req = {
		.address = "127.0.0.1", .range = range, .host = "cond-1",
	};
	unsigned int port = 0;
	int busy[NPORTS], fd = -1;
	struct lb_err err;

	(void)state;
	for (int i = 0; i < NPORTS; i++) {
		busy[i] = hold(base + (unsigned)i);
		assert_true(busy[i] >= 0);
	}
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err),
	    -EADDRINUSE);
	assert_string_equal(err.msg, "Unable to allocate a free port on host "
	    "cond-1 for IPMI terminal, not enough free ports.");
	for (int i = 0; i < NPORTS; i++)
		close(busy[i]);
}

static void
test_bad_or_missing_range(void **state)
{
	struct lb_console_port_req req = {
		.address = "127.0.0.1", .range = "20000:10000", .host = "h",
	};
	unsigned int port = 0;
	struct lb_err err;
	int fd = -1;

	(void)state;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "[console]port_range should be in the "
	    "format <start>:<stop> and start < stop");
	req.range = NULL;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "Either missing 'ipmi_terminal_port' "
	    "parameter in node's driver_info or [console]port_range is not "
	    "configured");
}

static void
test_fixed_port(void **state)
{
	struct lb_console_port_req req = {
		.address = "127.0.0.1", .range = NULL, .host = "h",
		.fixed = base,
	};
	unsigned int port = 0, used[1] = { base };
	struct lb_err err;
	int fd = -1, busy;

	(void)state;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err), 0);
	assert_int_equal(port, base);
	assert_int_equal(local_port(fd), base);
	/* now busy: the fixed port is not swapped for another */
	busy = fd;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err),
	    -EADDRINUSE);
	assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1 port"));
	close(busy);
	req.used = used;
	req.nused = 1;
	assert_int_equal(lb_console_port_take(&req, &fd, &port, &err),
	    -EADDRINUSE);
	assert_non_null(strstr(err.msg, "already used by the console of "
	    "another node"));
}

static void
test_ipv6_and_url(void **state)
{
	struct lb_console_port_req req = {
		.address = "::1", .range = range, .host = "h",
	};
	unsigned int port = 0;
	struct lb_err err;
	char url[64];
	int fd = -1;

	(void)state;
	if (lb_console_port_take(&req, &fd, &port, &err) == 0) {
		assert_int_equal(local_port(fd), port);
		close(fd);
	}
	assert_int_equal(lb_console_url("::1", 10001, url, sizeof(url)), 0);
	assert_string_equal(url, "tcp://[::1]:10001");
	assert_int_equal(lb_console_url("192.0.2.7", 10001, url, sizeof(url)),
	    0);
	assert_string_equal(url, "tcp://192.0.2.7:10001");
	assert_int_equal(lb_console_url("192.0.2.7", 10001, url, 10),
	    -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_first_free_of_range, setup),
		cmocka_unit_test_setup(test_exhausted, setup),
		cmocka_unit_test_setup(test_bad_or_missing_range, setup),
		cmocka_unit_test_setup(test_fixed_port, setup),
		cmocka_unit_test_setup(test_ipv6_and_url, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
