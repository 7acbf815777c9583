/*
 * agent_follow.c - DHCP after finalize_rescue: a lasting udhcpc per NIC,
 * or, while the node moves to another network, one-shot looks for that
 * network's server, again at once when a link comes back.  The main thread
 * alone starts and reaps these clients (by their PIDs: the SSH server is
 * started meanwhile on another thread).
 */
#include "agent_follow.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ramdisk/agent_http.h"
#include "ramdisk/agent_log.h"
#include "conductor/util/banned.h"

/* A look starts at most once a second, for the first minutes. */
#define LOOK_PERIOD_MS 1000
#define LOOK_FAST_MS (3 * 60 * 1000)
#define LOOK_MAX_PERIOD_MS 60000
/* udhcpc -t 1 -T 1 ends in ~1 s, ~4 s with an offer and no ack. */
#define LOOK_KILL_MS 8000
#define KEEP_RESTART_MS 5000
#define SPAWN_RETRY_MS 30000
/* sysfs is read this often too, for links netlink does not report. */
#define TICK_MS 1000

/* s after the start: the lasting clients renew, in case a move went
 * unannounced (a conductor that does not send lifeboat_network_moves). */
static const int kicks[] = { 30, 60, 120, 300, 600 };

enum phase {
	LOOK,		/* one-shot clients until the new network answers */
	KEEP,		/* a lasting client */
};

struct watch {
	const struct ra_nic *nic;
	enum phase phase;
	pid_t pid;		/* the client running, or 0 */
	int pidfd;		/* readable when it ends, or -1 */
	int64_t started;	/* when pid started */
	int64_t due;		/* when the next client starts */
	int64_t looking_since;	/* the start of the fast looks */
	int period;		/* ms from one look's start to the next */
	int same;		/* looks the old server answered */
	struct ra_link link;
	struct ra_lease base;	/* the lease at finalize */
};

static int
netlink_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		ra_warn("no link events (netlink: %s); reading sysfs every "
		    "%d ms", strerror(errno), TICK_MS);
	return fd;
}

/* The messages only wake us: sysfs says what the links are. */
static void
drain(int fd)
{
	char buf[8192];

	while (fd >= 0 && (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 ||
	    errno == ENOBUFS || errno == EINTR))
		;
}

static void
forget_child(struct watch *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->pidfd = -1;
	w->pid = 0;
}

/* SIGTERM, a second to go, then SIGKILL; reaped here. */
static void
stop_child(struct watch *w)
{
	int status;

	kill(w->pid, SIGTERM);
	for (int i = 0; i < 20; i++) {
		if (waitpid(w->pid, &status, WNOHANG) != 0)
			goto out;
		usleep(50 * 1000);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &status, 0);
out:
	forget_child(w);
}

static void
look_again(struct watch *w, int64_t now)
{
	w->looking_since = now;
	w->period = LOOK_PERIOD_MS;
	w->due = now;
}

static void
start_client(const struct ra_follow *f, struct watch *w, int64_t now)
{
	struct lb_err err = { "" };
	const char *name = w->nic->name;
	char ip[INET_ADDRSTRLEN];
	bool have_ip;
	int r;

	if (w->phase == LOOK) {
		r = ra_dhcp_probe(f->dhcp, name, &w->pid, &err);
		if (r == 0)
			ra_debug("DHCP on %s: looking (pid %d)", name,
			    (int)w->pid);
	} else {
		have_ip = ra_net_ipv4(name, ip, sizeof(ip)) == 0;
		r = ra_dhcp_keep(f->dhcp, name, have_ip ? ip : NULL, &w->pid,
		    &err);
		if (r == 0)
			ra_info("DHCP client on %s (pid %d) keeps the lease%s%s",
			    name, (int)w->pid, have_ip ? " of " : "",
			    have_ip ? ip : "");
	}
	if (r < 0) {
		ra_warn("%s", err.msg);
		w->pid = 0;
		w->due = now + SPAWN_RETRY_MS;
		return;
	}
	w->started = now;
	/* A child's end wakes the loop (SIGCHLD would not); without
	 * pidfds (Linux < 5.3) the loop looks every 100 ms instead. */
	w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
}

/* A one-shot client ended: a new network, the old one, or nobody. */
static void
looked(const struct ra_follow *f, struct watch *w, bool leased,
    int64_t start, int64_t now)
{
	const char *name = w->nic->name;
	struct ra_lease got;

	/* Exit status 0 with no lease recorded: not a DHCP answer. */
	leased = leased && ra_lease_read(f->run_dir, name, &got) == 0;
	if (leased && !ra_lease_same(&got, &w->base)) {
		ra_info("DHCP on %s: the new network answered %.1f s after "
		    "finalize: %s from %s (was %s from %s)", name,
		    (now - start) / 1000.0, got.ip, got.serverid,
		    w->base.ip[0] ? w->base.ip : "none",
		    w->base.serverid[0] ? w->base.serverid : "none");
		w->phase = KEEP;
		w->due = now;
		return;
	}
	if (leased && w->same++ == 0)
		ra_info("DHCP on %s: the old server still answers (%s from "
		    "%s); looking again", name, w->base.ip, w->base.serverid);
	if (now - w->looking_since >= LOOK_FAST_MS && w->period <
	    LOOK_MAX_PERIOD_MS) {
		w->period *= 2;
		if (w->period > LOOK_MAX_PERIOD_MS)
			w->period = LOOK_MAX_PERIOD_MS;
		ra_info("DHCP on %s: no new network yet; next look in %d s",
		    name, w->period / 1000);
	}
	w->due = w->started + w->period;
}

static void
reap(const struct ra_follow *f, struct watch *w, int64_t start, int64_t now)
{
	int status;

	/* Its own clients only: the SSH server starts on another thread. */
	for (int i = 0; i < f->n; i++) {
		if (w[i].pid <= 0 ||
		    waitpid(w[i].pid, &status, WNOHANG) != w[i].pid)
			continue;
		forget_child(&w[i]);
		if (w[i].phase == LOOK) {
			looked(f, &w[i], WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0, start, now);
			continue;
		}
		ra_warn("DHCP client on %s exited; restarting",
		    w[i].nic->name);
		w[i].due = now + KEEP_RESTART_MS;
	}
}

/*
 * A link that went and came back (a switch port moved to another VLAN)
 * looks again at once; while it is gone, nothing looks on it.
 */
static void
links(const struct ra_follow *f, struct watch *w, int64_t now)
{
	for (int i = 0; i < f->n; i++) {
		struct ra_link l;
		bool back;

		ra_net_link(f->sysfs, w[i].nic->name, &l);
		back = l.carrier == 1 && (w[i].link.carrier == 0 ||
		    (l.changes >= 0 && w[i].link.changes >= 0 &&
		    l.changes != w[i].link.changes));
		if (l.carrier == 0 && w[i].link.carrier != 0) {
			ra_info("%s: link lost", w[i].nic->name);
			if (w[i].phase == LOOK && w[i].pid > 0)
				stop_child(&w[i]);
		} else if (back) {
			ra_info("%s: link back; %s now", w[i].nic->name,
			    w[i].phase == LOOK ? "looking for the DHCP server" :
			    "restarting its DHCP client");
			if (w[i].pid > 0)
				stop_child(&w[i]);
			look_again(&w[i], now);
		}
		w[i].link = l;
	}
}

/* ms until something is due (at most TICK_MS). */
static int
start_due(const struct ra_follow *f, struct watch *w, int64_t now)
{
	int64_t next = now + TICK_MS;

	for (int i = 0; i < f->n; i++) {
		if (w[i].pid > 0) {
			if (w[i].pidfd < 0 && now + 100 < next)
				next = now + 100;
			if (w[i].phase == LOOK &&
			    now - w[i].started >= LOOK_KILL_MS) {
				ra_warn("DHCP on %s: a look hung; stopped",
				    w[i].nic->name);
				kill(w[i].pid, SIGKILL);
			}
			continue;
		}
		/* Looks need a link; a lasting client waits for one. */
		if (w[i].phase == LOOK && w[i].link.carrier == 0)
			continue;
		if (now >= w[i].due)
			start_client(f, &w[i], now);
		if (w[i].pid == 0 && w[i].due < next)
			next = w[i].due;
	}
	return next > now ? (int)(next - now) : 0;
}

static void
kick(const struct ra_follow *f, struct watch *w, size_t *done, int64_t start,
    int64_t now)
{
	if (*done >= sizeof(kicks) / sizeof(*kicks) ||
	    now - start < kicks[*done] * 1000LL)
		return;
	(*done)++;
	for (int i = 0; i < f->n; i++) {
		if (w[i].phase == KEEP && w[i].pid > 0)
			kill(w[i].pid, SIGUSR1);
	}
	ra_info("DHCP: asked the clients to renew");
}

void
ra_follow_run(const struct ra_follow *f)
{
	struct watch w[RA_MAX_NICS] = { 0 };
	int64_t start = ra_now_ms();
	int nl = netlink_open();
	size_t kicked = 0;
	char drain_buf[16];

	for (int i = 0; i < f->n; i++) {
		w[i].nic = &f->nics[i];
		w[i].pidfd = -1;
		w[i].phase = f->moves ? LOOK : KEEP;
		ra_lease_read(f->run_dir, f->nics[i].name, &w[i].base);
		ra_net_link(f->sysfs, f->nics[i].name, &w[i].link);
		look_again(&w[i], start);
		if (f->moves)
			w[i].due = start + (int64_t)(f->first_delay * 1000);
	}
	if (f->moves)
		ra_info("DHCP: the node moves to another network; its "
		    "addresses stay while %d NIC%s look%s for the new DHCP "
		    "server", f->n, f->n == 1 ? "" : "s", f->n == 1 ? "s" : "");
	while (!*f->stop) {
		struct pollfd p[2 + RA_MAX_NICS] = {
			{ .fd = f->wake_fd, .events = POLLIN },
			{ .fd = nl, .events = POLLIN },
		};
		int64_t now = ra_now_ms();
		int wait_ms;

		reap(f, w, start, now);
		links(f, w, now);
		wait_ms = start_due(f, w, now);
		kick(f, w, &kicked, start, now);
		/* poll(2) skips negative fds: no netlink, no pidfd */
		for (int i = 0; i < f->n; i++)
			p[2 + i] = (struct pollfd){ w[i].pidfd, POLLIN, 0 };
		if (poll(p, 2 + f->n, wait_ms) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			while (read(f->wake_fd, drain_buf,
			    sizeof(drain_buf)) > 0)
				;
		}
		if (nl >= 0 && p[1].revents)
			drain(nl);
	}
	for (int i = 0; i < f->n; i++) {
		if (w[i].pid > 0)
			stop_child(&w[i]);
	}
	if (nl >= 0)
		close(nl);
}
