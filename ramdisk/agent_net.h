/*
 * agent_net.h - the ramdisk's network: Ethernet NICs from sysfs, bringing
 * links up, DHCP by running busybox udhcpc, and the addresses the agent
 * advertises.  Main thread, but the DHCP round before lookup, which runs
 * in a thread of its own.
 */
#ifndef RA_NET_H
#define RA_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
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

enum ra_dhcp_state {
	RA_DHCP_IDLE,		/* waiting for its link */
	RA_DHCP_RUNNING,
	RA_DHCP_LEASE,
	RA_DHCP_FAILED,		/* no lease, or killed */
	RA_DHCP_SKIPPED,	/* no link within the carrier wait */
};

/*
 * One DHCP round before lookup, run by a thread of its own: "CMD -i IF -f
 * -q -t 5 -n -s SCRIPT" on every NIC of 'nics' at once, each as soon as
 * its carrier shows when 'need_carrier' (NICs that show none within
 * carrier_ms are skipped, unless no NIC shows any: then all of them get
 * DHCP, since some drivers do not report carrier).  Clients end on their
 * own; one still running after timeout_ms is killed.  The thread reaps
 * every client it started.
 */
struct ra_dhcp_round {
	/* set before ra_dhcp_round_start(), read-only after */
	const struct ra_dhcp *dhcp;
	const char *sysfs;
	struct ra_nic nics[RA_MAX_NICS];
	int n;
	bool need_carrier;
	int carrier_ms;
	int timeout_ms;
	/* the thread's, under lock */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum ra_dhcp_state state[RA_MAX_NICS];
	pid_t pid[RA_MAX_NICS];
	int winner;		/* index of the first lease, or -1 */
	bool done;		/* every client has ended */
	bool kill;		/* asked to end now */
	bool started;
};

int ra_dhcp_round_start(struct ra_dhcp_round *r, struct lb_err *err);

/*
 * Waits for the first lease: returns the index of its NIC (of the first
 * reaped, when several clients ended in one poll), -ENOENT when every
 * client ended without one, -EINTR when *stop turned non-zero.  The
 * other clients go on.
 */
int ra_dhcp_round_first(struct ra_dhcp_round *r,
    const volatile sig_atomic_t *stop);

/*
 * Ends the round: kills the clients still running if 'kill_clients',
 * else waits for them (bounded by timeout_ms), and joins the thread.
 * Safe on a round never started and to call twice.
 */
void ra_dhcp_round_end(struct ra_dhcp_round *r, bool kill_clients);

/* The state of nics[i]; call after ra_dhcp_round_end() or under lock. */
static inline enum ra_dhcp_state
ra_dhcp_round_state(const struct ra_dhcp_round *r, int i)
{
	return r->state[i];
}

/*
 * A DHCP client that stays: "CMD -i IF -f -t 5 [-r IP] -s SCRIPT" (no -q,
 * no -n: it renews and rediscovers for ever) in its own session; -r asks
 * for the address the NIC has, 'request_ip' (NULL: none).
 */
int ra_dhcp_keep(const struct ra_dhcp *d, const char *ifname,
    const char *request_ip, pid_t *ret_pid, struct lb_err *err);

/*
 * One quick look for a DHCP server: "CMD -i IF -f -q -t 1 -T 1 -n -s
 * SCRIPT" with LIFEBOAT_PROBE=1 (the script then leaves a lease alone that
 * repeats the recorded one).  Ends in about a second without an answer;
 * exit status 0 with a lease.
 */
int ra_dhcp_probe(const struct ra_dhcp *d, const char *ifname,
    pid_t *ret_pid, struct lb_err *err);

/* A NIC's link as sysfs shows it. */
struct ra_link {
	int carrier;		/* 1, 0, or -1 when unreadable */
	int64_t changes;	/* carrier_changes, -1 where there is none */
};

void ra_net_link(const char *sysfs, const char *ifname, struct ra_link *out);

/* What udhcpc.script recorded in DIR/lease.IF: the agent's part of it. */
struct ra_lease {
	char ip[INET_ADDRSTRLEN];
	char serverid[INET_ADDRSTRLEN];
};

/* -ENOENT (and *out empty) without a recorded lease. */
int ra_lease_read(const char *dir, const char *ifname, struct ra_lease *out);
bool ra_lease_same(const struct ra_lease *a, const struct ra_lease *b);

#endif
