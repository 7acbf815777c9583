/*
 * redfish_transport.c - the seam between the Redfish drivers and the world:
 * the clock, waits, and the test hook that replaces HTTP (see
 * lb_redfish_transport in redfish_client.h).  Any thread; the hook is set
 * by tests while no driver call runs.
 */
#include "power/redfish_client.h"

#include <errno.h>
#include <time.h>

#include "conductor/util/banned.h"

static const struct lb_redfish_transport *transport;

void
lb_redfish_transport_set(const struct lb_redfish_transport *t)
{
	transport = t;
}

const struct lb_redfish_transport *
lb_redfish_transport_get(void)
{
	return transport;
}

void
lb_redfish_sleep(unsigned int seconds)
{
	struct timespec ts = { .tv_sec = seconds };

	if (transport != NULL && transport->sleep != NULL) {
		transport->sleep(transport->ctx, seconds);
		return;
	}
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

double
lb_redfish_now(void)
{
	struct timespec ts;

	if (transport != NULL && transport->now != NULL)
		return transport->now(transport->ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
