/*
 * agent_wait.c - how lifeboat-agent's threads wait and wake: the wake
 * pipe and the signal flag (the signal handler and finalize write them),
 * naps that either cuts short, and the jitter of retry intervals.  Naps
 * run on the main thread; the rest on any thread, the handler in signal
 * context.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "ramdisk/agent_main.h"
#include "conductor/util/banned.h"

int ra_wake_pipe[2] = { -1, -1 };
volatile sig_atomic_t ra_got_signal;

void
ra_agent_on_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	ra_got_signal = sig;
	/* A full pipe means a wake-up is pending already. */
	n = write(ra_wake_pipe[1], "S", 1);
	(void)n;
	errno = saved;
}

double
ra_agent_uniform(double lo, double hi)
{
	uint32_t x;

	/*
	 * Jitter needs no secret: GRND_INSECURE does not wait for the
	 * kernel's pool, which at boot under emulation takes a second.
	 */
	if (getrandom(&x, sizeof(x), GRND_INSECURE) != sizeof(x) &&
	    getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)rand();
	return lo + (hi - lo) * (x / 4294967296.0);
}

/* Sleeps up to 'seconds'; false when a signal or finalize woke us. */
bool
ra_agent_nap(double seconds)
{
	int64_t end = ra_now_ms() + (int64_t)(seconds * 1000);
	struct pollfd p = { .fd = ra_wake_pipe[0], .events = POLLIN };
	char drain[16];

	while (!ra_got_signal) {
		int64_t left = end - ra_now_ms();

		if (left <= 0)
			return true;
		if (poll(&p, 1, left > 60000 ? 60000 : (int)left) > 0 &&
		    read(ra_wake_pipe[0], drain, sizeof(drain)) > 0)
			return false;
	}
	return false;
}
