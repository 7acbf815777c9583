/*
 * agent_main.h - what the files of the lifeboat-agent executable share
 * (agent_main.c, agent_start.c, agent_server.c, agent_wait.c; not part of
 * lb_agent): the agent's state, the wake pipe and the signal flag.  The
 * main thread fills the state before it starts the server and heartbeat
 * threads; those read it, and share only the atomics and the locked
 * fields.
 */
#ifndef RA_AGENT_MAIN_H
#define RA_AGENT_MAIN_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "conductor/util/buf.h"
#include "ramdisk/agent_api.h"
#include "ramdisk/agent_cmdline.h"
#include "ramdisk/agent_http.h"
#include "ramdisk/agent_ironic.h"
#include "ramdisk/agent_net.h"

/* The IPA release whose protocol this agent speaks; Ironic parses it. */
#define IPA_VERSION "11.2.0"

/*
 * /init unpacks the repair tools and loads the storage drivers once the
 * first heartbeat is in (RA_HEARTBEAT_MARK), and says it is still at it
 * with RA_TOOLS_PENDING; both live under --root.
 */
#define RA_HEARTBEAT_MARK "/run/lifeboat/heartbeat"
#define RA_TOOLS_PENDING "/run/lifeboat/tools.unpacking"
/* udhcpc.script records leases here (LIFEBOAT_RUN, under --root). */
#define RA_RUN_DIR "/run/lifeboat"

struct ra_agent {
	/* options */
	const char *cmdline_file;
	const char *root;
	const char *sshd;
	const char *sysfs;
	struct ra_dhcp dhcp;
	bool no_dhcp;
	double renew_delay;
	double carrier_wait;
	/* state */
	struct ra_cmdline cmd;
	struct ra_nic boot[RA_MAX_NICS];
	int n_boot;
	struct ra_dhcp_round dhcp_round;
	int winner;		/* index in boot of the first lease, or -1 */
	struct ra_ironic ic;
	struct ra_lookup lk;
	const char *token;	/* lk.token or cmd.agent_token */
	char advertise[RA_HOST_MAX];
	char callback_url[RA_HOST_MAX + 32];
	SSL_CTX *tls;
	char *pem;
	struct ra_api *api;
	int listen_fd;
	int server_stop[2];
	pthread_t server_thread;
	pthread_t hb_thread;
	pthread_mutex_t hb_lock;
	pthread_cond_t hb_cond;
	bool hb_stop;
	atomic_int conns;
	struct ra_peers peers;
	atomic_bool finalized;
	atomic_bool network_moves;	/* finalize's lifeboat_network_moves */
};

/* Written by the signal handler and finalize; the main thread polls it. */
extern int ra_wake_pipe[2];
extern volatile sig_atomic_t ra_got_signal;

/* agent_wait.c: SIGTERM and SIGINT set the flag and write the pipe. */
void ra_agent_on_signal(int sig);
/* A uniform random number in [lo, hi): jitter, no secret. */
double ra_agent_uniform(double lo, double hi);
/* Sleeps up to 'seconds'; false when a signal or finalize woke us. */
bool ra_agent_nap(double seconds);

/* 'rel' (absolute in the ramdisk) under --root. */
static inline void
ra_agent_under_root(const struct ra_agent *a, const char *rel, char *out,
    size_t size)
{
	snprintf(out, size, "%s%s", strcmp(a->root, "/") == 0 ? "" : a->root,
	    rel);
}

/* agent_start.c: the main thread, before the node is found and served. */
int ra_agent_read_cmdline(struct ra_agent *a);
void ra_agent_network(struct ra_agent *a, struct lb_buf *macs);
void ra_agent_leased_nics(struct ra_agent *a);
int ra_agent_lookup(struct ra_agent *a, const char *macs);
void ra_agent_take_token(struct ra_agent *a);
int ra_agent_advertise(struct ra_agent *a);

/* agent_server.c: the command API and heartbeats, until finalize. */
int ra_agent_serve(struct ra_agent *a);
int ra_agent_start_heartbeats(struct ra_agent *a);
void ra_agent_stop_serving(struct ra_agent *a);

#endif
