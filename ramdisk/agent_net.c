/*
 * agent_net.c - NICs, links, DHCP and addresses for the rescue agent.
 * Main thread; the DHCP round before lookup runs in a thread of its own
 * (round_main), which alone starts and reaps its clients.
 */
#include "agent_net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ramdisk/agent_http.h"
#include "ramdisk/agent_log.h"
#include "ramdisk/agent_rescue.h"
#include "conductor/util/banned.h"

static int
read_line(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");
	char *nl;

	if (f == NULL)
		return -errno;
	if (fgets(out, (int)size, f) == NULL) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	nl = strchr(out, '\n');
	if (nl != NULL)
		*nl = '\0';
	return 0;
}

static int
nic_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ra_nic *)a)->name,
	    ((const struct ra_nic *)b)->name);
}

int
ra_net_list(const char *sysfs, struct ra_nic *out, int max,
    struct lb_err *err)
{
	DIR *d = opendir(sysfs);
	struct dirent *de;
	char path[512], line[64];
	int n = 0;

	if (d == NULL)
		return lb_err_set(err, -errno, "cannot list '%s'", sysfs);
	while ((de = readdir(d)) != NULL && n < max) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "lo") == 0 ||
		    strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		/* ARPHRD_ETHER only: no loopback, tunnels or InfiniBand. */
		snprintf(path, sizeof(path), "%s/%s/type", sysfs, de->d_name);
		if (read_line(path, line, sizeof(line)) < 0 ||
		    strcmp(line, "1") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/address", sysfs,
		    de->d_name);
		if (read_line(path, line, sizeof(line)) < 0 ||
		    ra_mac_normalize(line, out[n].mac) < 0 ||
		    strcmp(out[n].mac, "00:00:00:00:00:00") == 0)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	qsort(out, n, sizeof(*out), nic_cmp);
	return n;
}

int
ra_net_link_up(const char *ifname, struct lb_err *err)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return lb_err_set(err, -errno, "cannot open a socket");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = lb_err_set(err, -errno, "cannot read the flags of '%s': "
		    "%s", ifname, strerror(errno));
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = lb_err_set(err, -errno, "cannot bring '%s' up: %s",
			    ifname, strerror(errno));
	}
	close(fd);
	return r;
}

int
ra_net_ipv4(const char *ifname, char *out, size_t size)
{
	struct ifaddrs *ifa, *i;
	int r = -ENOENT;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i != NULL && r < 0; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, ifname) != 0)
			continue;
		if (inet_ntop(AF_INET, &((struct sockaddr_in *)
		    i->ifa_addr)->sin_addr, out, size) != NULL)
			r = 0;
	}
	freeifaddrs(ifa);
	return r;
}

int
ra_net_route_source(const char *host, int port, char *out, size_t size)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct addrinfo *ai;
	char sport[8];
	int fd, r = 0;

	snprintf(sport, sizeof(sport), "%d", port);
	if (getaddrinfo(host, sport, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* connect(2) on UDP sends nothing; it only picks a route. */
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		r = -ENETUNREACH;
	if (r == 0 && inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
	    (void *)&((struct sockaddr_in *)&ss)->sin_addr :
	    (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr, out,
	    size) == NULL)
		r = -ENETUNREACH;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return r;
}

enum dhcp_kind {
	DHCP_ROUND,	/* -q -t 5 -n: one lease or give up (~15 s) */
	DHCP_PROBE,	/* -q -t 1 -T 1 -n: one quick look (~1 s) */
	DHCP_KEEP,	/* renews and rediscovers for ever */
};

static int
dhcp_spawn(const struct ra_dhcp *d, const char *ifname, enum dhcp_kind kind,
    const char *request_ip, pid_t *ret_pid, struct lb_err *err)
{
	char *argv[32], *cmd = strdup(d->cmd), ifn[IF_NAMESIZE];
	char script[512], ip[INET_ADDRSTRLEN];
	int n, r;

	if (cmd == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	snprintf(ifn, sizeof(ifn), "%s", ifname);
	snprintf(script, sizeof(script), "%s", d->script);
	n = ra_split_words(cmd, argv, 16);
	if (n == 0) {
		free(cmd);
		return lb_err_set(err, -EINVAL, "no DHCP command");
	}
	argv[n++] = "-i";
	argv[n++] = ifn;
	argv[n++] = "-f";
	if (kind != DHCP_KEEP)
		argv[n++] = "-q";
	argv[n++] = "-t";
	argv[n++] = kind == DHCP_PROBE ? "1" : "5";
	if (kind == DHCP_PROBE) {
		argv[n++] = "-T";
		argv[n++] = "1";
	}
	if (kind != DHCP_KEEP)
		argv[n++] = "-n";
	if (request_ip != NULL) {
		snprintf(ip, sizeof(ip), "%s", request_ip);
		argv[n++] = "-r";
		argv[n++] = ip;
	}
	argv[n++] = "-s";
	argv[n++] = script;
	argv[n] = NULL;
	r = ra_spawn_env(argv, kind == DHCP_PROBE ? "LIFEBOAT_PROBE=1" : NULL,
	    kind == DHCP_KEEP, ret_pid, err);
	free(cmd);
	return r;
}

/* sysfs carrier: "1" with link; unreadable (EINVAL) while the NIC is down. */
static bool
has_carrier(const char *sysfs, const char *ifname)
{
	char path[512], line[8];

	snprintf(path, sizeof(path), "%s/%s/carrier", sysfs, ifname);
	return read_line(path, line, sizeof(line)) == 0 &&
	    strcmp(line, "1") == 0;
}

void
ra_net_link(const char *sysfs, const char *ifname, struct ra_link *out)
{
	char path[512], line[32], *end;
	unsigned long long v;

	snprintf(path, sizeof(path), "%s/%s/carrier", sysfs, ifname);
	out->carrier = read_line(path, line, sizeof(line)) < 0 ? -1 :
	    strcmp(line, "1") == 0;
	out->changes = -1;
	snprintf(path, sizeof(path), "%s/%s/carrier_changes", sysfs, ifname);
	if (read_line(path, line, sizeof(line)) < 0)
		return;
	errno = 0;
	v = strtoull(line, &end, 10);
	if (errno == 0 && end != line && *end == '\0' && v < INT64_MAX)
		out->changes = (int64_t)v;
}

/* Under r->lock. */
static void
round_spawn(struct ra_dhcp_round *r, int i, const char *why)
{
	struct lb_err err = { "" };

	if (dhcp_spawn(r->dhcp, r->nics[i].name, DHCP_ROUND, NULL, &r->pid[i],
	    &err) < 0) {
		ra_warn("DHCP on %s: %s", r->nics[i].name, err.msg);
		r->state[i] = RA_DHCP_FAILED;
		return;
	}
	r->state[i] = RA_DHCP_RUNNING;
	ra_info("DHCP on %s (%s)", r->nics[i].name, why);
}

/* Under r->lock: starts what is due; false once nothing waits for link. */
static bool
round_start_due(struct ra_dhcp_round *r, bool past_carrier_wait)
{
	int idle = 0, tried = 0;

	for (int i = 0; i < r->n; i++) {
		if (r->state[i] != RA_DHCP_IDLE) {
			tried++;
			continue;
		}
		if (!r->need_carrier)
			round_spawn(r, i, "BOOTIF");
		else if (has_carrier(r->sysfs, r->nics[i].name))
			round_spawn(r, i, "link up");
		else
			idle++;
	}
	if (idle == 0 || !past_carrier_wait)
		return idle > 0;
	if (tried == 0) {
		ra_warn("no NIC reported a link within %d s; DHCP on every "
		    "NIC", r->carrier_ms / 1000);
		for (int i = 0; i < r->n; i++)
			round_spawn(r, i, "no carrier reported");
		return false;
	}
	for (int i = 0; i < r->n; i++) {
		if (r->state[i] != RA_DHCP_IDLE)
			continue;
		r->state[i] = RA_DHCP_SKIPPED;
		ra_info("%s: no link within %d s; no DHCP on it",
		    r->nics[i].name, r->carrier_ms / 1000);
	}
	return false;
}

/* Under r->lock: reaps the clients that ended; the count still running. */
static int
round_reap(struct ra_dhcp_round *r, bool kill_all, const char *why)
{
	int running = 0, status;

	for (int i = 0; i < r->n; i++) {
		if (r->state[i] != RA_DHCP_RUNNING)
			continue;
		if (kill_all) {
			kill(r->pid[i], SIGKILL);
			waitpid(r->pid[i], &status, 0);
			ra_warn("DHCP on %s: %s", r->nics[i].name, why);
			r->state[i] = RA_DHCP_FAILED;
			continue;
		}
		if (waitpid(r->pid[i], &status, WNOHANG) != r->pid[i]) {
			running++;
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			r->state[i] = RA_DHCP_LEASE;
			ra_info("DHCP on %s: lease obtained", r->nics[i].name);
			if (r->winner < 0) {
				r->winner = i;
				pthread_cond_broadcast(&r->cond);
			}
		} else {
			r->state[i] = RA_DHCP_FAILED;
			ra_warn("DHCP on %s: no lease (exit status %d)",
			    r->nics[i].name, WIFEXITED(status) ?
			    WEXITSTATUS(status) : 128 + WTERMSIG(status));
		}
	}
	return running;
}

static void *
round_main(void *arg)
{
	struct ra_dhcp_round *r = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int64_t start = ra_now_ms();
	bool waiting = true;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		int64_t waited = ra_now_ms() - start;
		int running;

		if (waiting && !r->kill)
			waiting = round_start_due(r, waited >= r->carrier_ms);
		if (r->kill)
			running = round_reap(r, true, "stopped");
		else if (waited >= r->timeout_ms)
			running = round_reap(r, true, "no lease in time");
		else
			running = round_reap(r, false, NULL);
		if (running == 0 && (!waiting || r->kill))
			break;
		pthread_mutex_unlock(&r->lock);
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&r->lock);
	}
	for (int i = 0; i < r->n; i++) {
		if (r->state[i] == RA_DHCP_IDLE)
			r->state[i] = RA_DHCP_SKIPPED;
	}
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int
ra_dhcp_round_start(struct ra_dhcp_round *r, struct lb_err *err)
{
	pthread_condattr_t ca;

	r->winner = -1;
	r->done = r->kill = false;
	for (int i = 0; i < r->n; i++) {
		r->state[i] = RA_DHCP_IDLE;
		r->pid[i] = -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, round_main, r) != 0)
		return lb_err_set(err, -EAGAIN, "cannot start the DHCP thread");
	r->started = true;
	return 0;
}

int
ra_dhcp_round_first(struct ra_dhcp_round *r,
    const volatile sig_atomic_t *stop)
{
	struct timespec ts;
	int ret;

	if (!r->started)
		return -ENOENT;
	pthread_mutex_lock(&r->lock);
	/* A signal does not wake a condition wait: look every 100 ms. */
	while (r->winner < 0 && !r->done && !*stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	ret = r->winner >= 0 ? r->winner : *stop ? -EINTR : -ENOENT;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void
ra_dhcp_round_end(struct ra_dhcp_round *r, bool kill_clients)
{
	if (!r->started)
		return;
	if (kill_clients) {
		pthread_mutex_lock(&r->lock);
		r->kill = true;
		pthread_mutex_unlock(&r->lock);
	}
	pthread_join(r->thread, NULL);
	r->started = false;
}

int
ra_dhcp_keep(const struct ra_dhcp *d, const char *ifname,
    const char *request_ip, pid_t *ret_pid, struct lb_err *err)
{
	return dhcp_spawn(d, ifname, DHCP_KEEP, request_ip, ret_pid, err);
}

int
ra_dhcp_probe(const struct ra_dhcp *d, const char *ifname, pid_t *ret_pid,
    struct lb_err *err)
{
	return dhcp_spawn(d, ifname, DHCP_PROBE, NULL, ret_pid, err);
}

/* An address fits; anything longer is not one and reads as none. */
static void
lease_value(char *out, size_t size, const char *v)
{
	size_t len = strlen(v);

	if (len < size)
		memcpy(out, v, len + 1);
	else
		out[0] = '\0';
}

int
ra_lease_read(const char *dir, const char *ifname, struct ra_lease *out)
{
	char path[512], line[256];
	FILE *f;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/lease.%s", dir, ifname);
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ip=", 3) == 0)
			lease_value(out->ip, sizeof(out->ip), line + 3);
		else if (strncmp(line, "serverid=", 9) == 0)
			lease_value(out->serverid, sizeof(out->serverid),
			    line + 9);
	}
	fclose(f);
	return out->ip[0] != '\0' ? 0 : -ENOENT;
}

bool
ra_lease_same(const struct ra_lease *a, const struct ra_lease *b)
{
	return strcmp(a->ip, b->ip) == 0 &&
	    strcmp(a->serverid, b->serverid) == 0;
}
