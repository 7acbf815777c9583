/*
 * agent_net.c - NICs, links, DHCP and addresses for the rescue agent.
 * Main thread.
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

static int
dhcp_spawn(const struct ra_dhcp *d, const char *ifname, bool once,
    pid_t *ret_pid, struct lb_err *err)
{
	char *argv[32], *cmd = strdup(d->cmd), ifn[IF_NAMESIZE];
	char script[512];
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
	if (once)
		argv[n++] = "-q";
	argv[n++] = "-t";
	argv[n++] = "5";
	if (once)
		argv[n++] = "-n";
	argv[n++] = "-s";
	argv[n++] = script;
	argv[n] = NULL;
	r = ra_spawn(argv, !once, ret_pid, err);
	free(cmd);
	return r;
}

int
ra_dhcp_once(const struct ra_dhcp *d, const struct ra_nic *nics, int n,
    int timeout_ms, const volatile sig_atomic_t *stop)
{
	pid_t pids[RA_MAX_NICS];
	struct lb_err err = { "" };
	int running = 0, ok = 0, status;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	for (int i = 0; i < n && i < RA_MAX_NICS; i++) {
		pids[i] = -1;
		if (dhcp_spawn(d, nics[i].name, true, &pids[i], &err) < 0) {
			ra_warn("DHCP on %s: %s", nics[i].name, err.msg);
			continue;
		}
		running++;
	}
	for (int waited = 0; running > 0; waited += 50) {
		for (int i = 0; i < n && i < RA_MAX_NICS; i++) {
			if (pids[i] <= 0)
				continue;
			if (waited >= timeout_ms || *stop) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &status, 0);
				ra_warn("DHCP on %s: %s", nics[i].name, *stop ?
				    "interrupted" : "no lease in time");
			} else if (waitpid(pids[i], &status, WNOHANG) !=
			    pids[i]) {
				continue;
			} else if (WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0) {
				ra_info("DHCP on %s: lease obtained",
				    nics[i].name);
				ok++;
			} else {
				ra_warn("DHCP on %s: no lease (exit status "
				    "%d)", nics[i].name, WIFEXITED(status) ?
				    WEXITSTATUS(status) : 128 +
				    WTERMSIG(status));
			}
			pids[i] = -1;
			running--;
		}
		if (running > 0)
			nanosleep(&ts, NULL);
	}
	return ok;
}

int
ra_dhcp_keep(const struct ra_dhcp *d, const char *ifname, pid_t *ret_pid,
    struct lb_err *err)
{
	return dhcp_spawn(d, ifname, false, ret_pid, err);
}
