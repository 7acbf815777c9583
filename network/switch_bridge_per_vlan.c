/*
 * switch_bridge_per_vlan.c - a `switch` backend for hosts whose VLANs are
 * separate Linux bridges (one bridge per VLAN, as on hypervisors without
 * bridge VLAN filtering): the access VLAN of a port is the bridge it is
 * enslaved to, named "<switch_info>v<VID>" ("labv100").  Moving a port
 * sets its master over rtnetlink.  Worker threads; one socket per call.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "network/switch_backend.h"
#include "conductor/util/banned.h"

/* "<prefix>v4094" must fit IFNAMSIZ - 1 = 15 characters. */
#define VLAN_PREFIX_MAX (IFNAMSIZ - 1 - 5)

static int
check_name(const char *what, const char *name, size_t max,
    struct lb_err *err)
{
	size_t n = strnlen(name, max + 1);

	if (n == 0 || n > max || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return lb_err_set(err, -EINVAL, "%s '%.64s' is not an "
		    "interface name (1 to %zu characters)", what, name, max);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return lb_err_set(err, -EINVAL, "%s '%.64s' is not "
			    "an interface name (only A-Z a-z 0-9 . _ -)", what,
			    name);
	}
	return 0;
}

static int
per_vlan_check_port(const char *switch_info, const char *port_id,
    struct lb_err *err)
{
	int r = check_name("VLAN bridge prefix (switch_info)", switch_info,
	    VLAN_PREFIX_MAX, err);

	if (r == 0)
		r = check_name("port (port_id)", port_id, IFNAMSIZ - 1, err);
	return r;
}

/*
 * The bridge 'port' is enslaved to, over rtnetlink (sysfs may show another
 * namespace's interfaces).  0 with *ret_master = 0 when it has none.
 */
static int
get_master(int port, int *ret_master, struct lb_err *err)
{
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
	} req;
	char reply[8192];
	struct timeval tv = { .tv_sec = 5 };
	struct nlmsghdr *h;
	struct rtattr *a;
	ssize_t got;
	int fd, len, r = -EIO;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.i));
	req.n.nlmsg_type = RTM_GETLINK;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.i.ifi_family = AF_UNSPEC;
	req.i.ifi_index = port;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return lb_err_set(err, -errno, "cannot open rtnetlink: %s",
		    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0 ||
	    (got = recv(fd, reply, sizeof(reply), 0)) < 0) {
		r = lb_err_set(err, -errno, "cannot talk to rtnetlink: %s",
		    strerror(errno));
		goto out;
	}
	h = (struct nlmsghdr *)reply;
	if (!NLMSG_OK(h, (size_t)got) || h->nlmsg_type != RTM_NEWLINK) {
		r = lb_err_set(err, -EIO, "unexpected rtnetlink reply");
		goto out;
	}
	*ret_master = 0;
	len = (int)IFLA_PAYLOAD(h);
	for (a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len);
	    a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MASTER &&
		    RTA_PAYLOAD(a) >= sizeof(int))
			memcpy(ret_master, RTA_DATA(a), sizeof(int));
	}
	r = 0;
out:
	close(fd);
	return r;
}

static int
per_vlan_get(const char *switch_info, const char *port_id, unsigned *ret_vid,
    struct lb_err *err)
{
	char master[IF_NAMESIZE], *end;
	size_t n = strlen(switch_info);
	unsigned long vid;
	int r, port, br = 0;

	r = per_vlan_check_port(switch_info, port_id, err);
	if (r < 0)
		return r;
	port = (int)if_nametoindex(port_id);
	if (port == 0)
		return lb_err_set(err, -ENOENT, "port '%s' does not exist",
		    port_id);
	r = get_master(port, &br, err);
	if (r < 0)
		return r;
	if (br == 0 || if_indextoname((unsigned)br, master) == NULL)
		return lb_err_set(err, -ENOENT, "port '%s' is in no bridge",
		    port_id);
	if (strncmp(master, switch_info, n) != 0 || master[n] != 'v' ||
	    master[n + 1] < '0' || master[n + 1] > '9')
		return lb_err_set(err, -ENOENT, "port '%s' is in bridge '%s', "
		    "not in a VLAN bridge of '%s' ('%sv<VLAN>')", port_id,
		    master, switch_info, switch_info);
	vid = strtoul(master + n + 1, &end, 10);
	if (*end != '\0' || vid < LB_VLAN_MIN || vid > LB_VLAN_MAX)
		return lb_err_set(err, -ENOENT, "bridge '%s' does not name a "
		    "VLAN", master);
	*ret_vid = (unsigned)vid;
	return 0;
}

/* RTM_NEWLINK on the port with IFLA_MASTER: the bridge it belongs to. */
static int
set_master(int port, int bridge, struct lb_err *err)
{
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char attrs[64];
	} req;
	struct {
		struct nlmsghdr n;
		struct nlmsgerr e;
		char more[256];
	} reply;
	struct timeval tv = { .tv_sec = 5 };
	struct rtattr *a;
	ssize_t got;
	int fd, r = 0;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.i));
	req.n.nlmsg_type = RTM_NEWLINK;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.i.ifi_family = AF_UNSPEC;
	req.i.ifi_index = port;
	a = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
	a->rta_type = IFLA_MASTER;
	a->rta_len = RTA_LENGTH(sizeof(int));
	memcpy(RTA_DATA(a), &bridge, sizeof(int));
	req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + RTA_ALIGN(a->rta_len);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return lb_err_set(err, -errno, "cannot open rtnetlink: %s",
		    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0) {
		r = lb_err_set(err, -errno, "cannot talk to rtnetlink: %s",
		    strerror(errno));
		goto out;
	}
	got = recv(fd, &reply, sizeof(reply), 0);
	if (got < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
	    reply.n.nlmsg_type != NLMSG_ERROR) {
		r = lb_err_set(err, -EIO, "no answer from rtnetlink");
		goto out;
	}
	if (reply.e.error != 0)
		r = lb_err_set(err, reply.e.error, "cannot move the port: %s",
		    strerror(-reply.e.error));
out:
	close(fd);
	return r;
}

static int
per_vlan_set(const char *switch_info, const char *port_id, unsigned vid,
    struct lb_err *err)
{
	char bridge[IFNAMSIZ];
	unsigned now;
	int r, port, br;

	r = per_vlan_check_port(switch_info, port_id, err);
	if (r < 0)
		return r;
	if (vid < LB_VLAN_MIN || vid > LB_VLAN_MAX)
		return lb_err_set(err, -EINVAL, "VLAN %u is out of range", vid);
	if (per_vlan_get(switch_info, port_id, &now, err) == 0 && now == vid)
		return 0;
	snprintf(bridge, sizeof(bridge), "%sv%u", switch_info, vid);
	port = (int)if_nametoindex(port_id);
	br = (int)if_nametoindex(bridge);
	if (port == 0)
		return lb_err_set(err, -ENOENT, "port '%s' does not exist",
		    port_id);
	if (br == 0)
		return lb_err_set(err, -ENOENT, "there is no bridge '%s' for "
		    "VLAN %u", bridge, vid);
	return set_master(port, br, err);
}

const struct lb_switch_backend lb_switch_bridge_per_vlan = {
	.name = "linux-bridge-per-vlan",
	.check_port = per_vlan_check_port,
	.get_access_vlan = per_vlan_get,
	.set_access_vlan = per_vlan_set,
};
