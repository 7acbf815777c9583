/*
 * agent_follow.h - the rescued node's DHCP after finalize_rescue: lasting
 * clients that keep its address, and, when the conductor moves the node to
 * a network with a DHCP server of its own (lifeboat_network_moves), quick
 * looks for that server until it answers.  The main thread.
 */
#ifndef RA_FOLLOW_H
#define RA_FOLLOW_H

#include <signal.h>
#include <stdbool.h>

#include "ramdisk/agent_net.h"

struct ra_follow {
	const struct ra_dhcp *dhcp;
	const char *sysfs;		/* /sys/class/net */
	const char *run_dir;		/* where udhcpc.script records leases */
	const struct ra_nic *nics;	/* the NICs to look after */
	int n;
	bool moves;			/* finalize's lifeboat_network_moves */
	double first_delay;		/* s before the first look (moves) */
	int wake_fd;			/* readable when *stop may have changed */
	const volatile sig_atomic_t *stop;
};

/*
 * Not moving: a lasting client per NIC at once, asking for the address the
 * NIC has (udhcpc.script keeps it while nobody answers).  Moving: the
 * address stays while one-shot clients (about 1 s each: one a second for
 * the first minutes, then less and less often, down to one a minute) look
 * for a server; a lease from another server or with another address is
 * the new network's (the script has applied it) and a lasting client takes
 * over.  A link that comes back (sysfs carrier, woken by netlink) looks
 * again at once on that NIC.  Runs until *stop, then stops every client.
 */
void ra_follow_run(const struct ra_follow *f);

#endif
