/*
 * agent_main.c - lifeboat-agent, the rescue agent of lifeboat's ramdisk:
 * options and signals, then network up and lookup (agent_start.c), the
 * command API and heartbeats until rescue.finalize_rescue
 * (agent_server.c), then the SSH server and, in the ramdisk, DHCP clients
 * that keep the node's address or follow it onto the tenant network
 * (agent_follow.c).  The main thread orchestrates and handles signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ramdisk/agent_follow.h"
#include "ramdisk/agent_log.h"
#include "ramdisk/agent_main.h"
#include "ramdisk/agent_rescue.h"
#include "conductor/util/banned.h"

#ifndef LB_VERSION
#define LB_VERSION "0.0.0"
#endif
#define HTTP_TIMEOUT_MS 60000
#define TOOLS_WAIT_MS 120000

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
	"/sbin:/bin"

/*
 * DHCP clients on every NIC that got a lease before lookup (or every NIC
 * DHCP ran on, when none did), until a signal.
 */
static void
follow_network(struct ra_agent *a)
{
	char run_dir[PATH_MAX];

	ra_agent_under_root(a, RA_RUN_DIR, run_dir, sizeof(run_dir));
	ra_follow_run(&(struct ra_follow){
		.dhcp = &a->dhcp,
		.sysfs = a->sysfs,
		.run_dir = run_dir,
		.nics = a->boot,
		.n = a->n_boot,
		.moves = atomic_load(&a->network_moves),
		.first_delay = a->renew_delay,
		.wake_fd = ra_wake_pipe[0],
		.stop = &ra_got_signal,
	});
}

/*
 * The rescue user's sudo, mount and the rest arrive with the tools: SSH
 * waits for them (bounded: a broken unpack must not keep the user out).
 */
static void
wait_for_tools(const struct ra_agent *a)
{
	char path[PATH_MAX];
	int64_t end = ra_now_ms() + TOOLS_WAIT_MS;

	ra_agent_under_root(a, RA_TOOLS_PENDING, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return;
	ra_info("waiting for the repair tools to be unpacked");
	/* not ra_agent_nap(): the wake pipe is follow_network's thread's */
	while (access(path, F_OK) == 0 && ra_now_ms() < end && !ra_got_signal)
		usleep(100 * 1000);
	if (access(path, F_OK) == 0)
		ra_warn("the repair tools are still not unpacked; starting "
		    "the SSH server anyway");
}

/*
 * The SSH server once the tools are in.  A thread of its own, so that the
 * network is followed meanwhile: when the node moves to its tenant
 * network, the new lease comes while the tools still unpack.
 */
static void *
start_sshd(void *arg)
{
	struct ra_agent *a = arg;
	struct lb_err err = { "" };

	wait_for_tools(a);
	if (ra_rescue_start_sshd(a->sshd, 3000, &err) < 0)
		ra_error("%s", err.msg);
	else
		ra_info("SSH server '%s' started", a->sshd);
	return NULL;
}

static void
after_finalize(struct ra_agent *a)
{
	bool follow = !a->no_dhcp && a->n_boot > 0;
	pthread_t sshd;

	ra_info("rescue finalized: user %s is ready; no more heartbeats or "
	    "commands", RA_RESCUE_USER);
	ra_agent_stop_serving(a);
	/*
	 * One-shot clients still trying now are for the provisioning
	 * network Ironic is taking away; the lasting ones replace them.
	 */
	ra_dhcp_round_end(&a->dhcp_round, true);
	ra_agent_leased_nics(a);
	if (follow && pthread_create(&sshd, NULL, start_sshd, a) == 0) {
		follow_network(a);
		pthread_join(sshd, NULL);
		return;
	}
	start_sshd(a);
	if (follow)
		follow_network(a);
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: lifeboat-agent [options]\n"
	    "  --cmdline-file FILE   kernel command line (/proc/cmdline)\n"
	    "  --root DIR            where /etc and /home are (/)\n"
	    "  --sshd CMD            SSH server, run as CMD -R -E -p 22 "
	    "(dropbear)\n"
	    "  --dhcp-cmd CMD        DHCP client, udhcpc-compatible "
	    "(udhcpc)\n"
	    "  --dhcp-script PATH    its -s script "
	    "(/usr/share/udhcpc/default.script)\n"
	    "  --dhcp-renew-delay S  when finalize says the network moves, "
	    "wait S seconds\n"
	    "                        before the first look for its DHCP "
	    "server (0)\n"
	    "  --carrier-wait S      without BOOTIF, how long NICs may take "
	    "to show a link (10)\n"
	    "  --no-dhcp             leave the network alone\n"
	    "  --sys-class-net DIR   where the NICs are (/sys/class/net)\n"
	    "  --debug               log debug lines too\n"
	    "  --version\n");
}

static int
parse_args(struct ra_agent *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cmdline-file", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "sshd", required_argument, NULL, 's' },
		{ "dhcp-cmd", required_argument, NULL, 'd' },
		{ "dhcp-script", required_argument, NULL, 'S' },
		{ "dhcp-renew-delay", required_argument, NULL, 'R' },
		{ "carrier-wait", required_argument, NULL, 'W' },
		{ "no-dhcp", no_argument, NULL, 'n' },
		{ "sys-class-net", required_argument, NULL, 'N' },
		{ "debug", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->cmdline_file = optarg; break;
		case 'r': a->root = optarg; break;
		case 's': a->sshd = optarg; break;
		case 'd': a->dhcp.cmd = optarg; break;
		case 'S': a->dhcp.script = optarg; break;
		case 'n': a->no_dhcp = true; break;
		case 'N': a->sysfs = optarg; break;
		case 'D': ra_log_set_debug(true); break;
		case 'R':
			a->renew_delay = strtod(optarg, &end);
			if (*end != '\0' || !(a->renew_delay >= 0))
				return -EINVAL;
			break;
		case 'W':
			a->carrier_wait = strtod(optarg, &end);
			if (*end != '\0' || !(a->carrier_wait >= 0) ||
			    a->carrier_wait > 600)
				return -EINVAL;
			break;
		case 'V':
			printf("lifeboat-agent %s (IPA protocol %s)\n",
			    LB_VERSION, IPA_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

static int
run(struct ra_agent *a)
{
	struct lb_err err = { "" };
	struct lb_buf macs;
	int r;

	if (ra_agent_read_cmdline(a) < 0)
		return 1;
	if (a->cmd.debug)
		ra_log_set_debug(true);
	ra_info("lifeboat-agent %s starting (IPA protocol %s), API %s",
	    LB_VERSION, IPA_VERSION, a->cmd.api_url);
	lb_buf_init(&macs);
	ra_agent_network(a, &macs);
	r = ra_ironic_init(&a->ic, a->cmd.api_url, a->cmd.global_request_id,
	    a->cmd.api_minor, a->cmd.insecure, HTTP_TIMEOUT_MS, &err);
	if (r == 0)
		r = lb_buf_failed(&macs) ? -ENOMEM :
		    ra_agent_lookup(a, macs.data);
	else
		ra_error("%s", err.msg);
	lb_buf_release(&macs);
	if (r == -EINTR)
		return 0;
	if (r < 0)
		return 1;
	ra_info("node %s found; heartbeat_timeout %.0f s", a->lk.uuid,
	    a->lk.heartbeat_timeout);
	ra_agent_take_token(a);
	if (ra_agent_advertise(a) < 0 || ra_agent_serve(a) < 0)
		return 1;
	if (ra_agent_start_heartbeats(a) < 0)
		return 1;
	while (!ra_got_signal && !atomic_load(&a->finalized))
		ra_agent_nap(60);
	if (atomic_load(&a->finalized)) {
		after_finalize(a);
	} else {
		ra_info("signal %d: stopping", (int)ra_got_signal);
		ra_agent_stop_serving(a);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct ra_agent a = {
		.cmdline_file = "/proc/cmdline",
		.root = "/",
		.sshd = "dropbear",
		.sysfs = "/sys/class/net",
		.dhcp = { "udhcpc", "/usr/share/udhcpc/default.script" },
		.renew_delay = 0,
		.carrier_wait = 10,
		.winner = -1,
		.listen_fd = -1,
	};
	struct sigaction sa = { .sa_handler = ra_agent_on_signal };
	char run_dir[PATH_MAX];
	pthread_condattr_t ca;
	int code;

	if (parse_args(&a, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (getenv("PATH") == NULL)
		setenv("PATH", DEFAULT_PATH, 1);
	/* Before any thread: where udhcpc.script records the leases. */
	ra_agent_under_root(&a, RA_RUN_DIR, run_dir, sizeof(run_dir));
	setenv("LIFEBOAT_RUN", run_dir, 1);
	if (pipe2(ra_wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pthread_mutex_init(&a.hb_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a.hb_cond, &ca);
	code = run(&a);
	/* DHCP clients of the first round do not outlive the agent. */
	ra_dhcp_round_end(&a.dhcp_round, true);
	ra_info("exit %d", code);
	/* Threads may still hold the API: let exit(3) reclaim it. */
	return code;
}
