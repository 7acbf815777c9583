/*
 * agent_net.h - the ramdisk's network: Ethernet NICs from sysfs, bringing
 * links up, DHCP by running busybox udhcpc, and the addresses the agent
 * advertises.  Main thread.
 */
#ifndef RA_NET_H
#define RA_NET_H

#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conductor/util/err.h"
#include "ramdisk/agent_cmdline.h"

#define RA_MAX_NICS 32

struct ra_nic {
	char name[IF_NAMESIZE];
	char mac[RA_MAC_LEN];
};

/*
 * The Ethernet interfaces under 'sysfs' (/sys/class/net) but loopback,
 * sorted by name; at most 'max'.  Returns the count.
 */
int ra_net_list(const char *sysfs, struct ra_nic *out, int max,
    struct lb_err *err);

/* Sets IFF_UP. */
int ra_net_link_up(const char *ifname, struct lb_err *err);

/* The first IPv4 address of 'ifname', as text; -ENOENT if none. */
int ra_net_ipv4(const char *ifname, char *out, size_t size);

/*
 * The local address the kernel would use to reach host:port (what IPA
 * asks "ip route get" for); -ENETUNREACH if there is no route.
 */
int ra_net_route_source(const char *host, int port, char *out, size_t size);

struct ra_dhcp {
	const char *cmd;	/* "udhcpc" or --dhcp-cmd (may have words) */
	const char *script;	/* udhcpc -s */
};

/*
 * One DHCP round on every NIC at once: "CMD -i IF -f -q -t 5 -n -s SCRIPT",
 * waited for at most 'timeout_ms', or until *stop turns non-zero (a
 * signal); stragglers are killed.  Returns how many succeeded.
 */
int ra_dhcp_once(const struct ra_dhcp *d, const struct ra_nic *nics, int n,
    int timeout_ms, const volatile sig_atomic_t *stop);

/*
 * A DHCP client that stays: "CMD -i IF -f -t 5 -s SCRIPT" (no -q, no -n:
 * it renews and rediscovers for ever) in its own session.
 */
int ra_dhcp_keep(const struct ra_dhcp *d, const char *ifname, pid_t *ret_pid,
    struct lb_err *err);

#endif
