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

#include "network/nl.h"
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

static int
master_parse(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	int *ret_master = arg;

	if (nh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nh) < sizeof(struct ifinfomsg))
		return -EBADMSG;
	lb_nl_attrs(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX);
	*ret_master = 0;
	if (tb[IFLA_MASTER] != NULL &&
	    mnl_attr_get_payload_len(tb[IFLA_MASTER]) >= sizeof(int))
		memcpy(ret_master, mnl_attr_get_payload(tb[IFLA_MASTER]),
		    sizeof(int));
	return 0;
}

/*
 * Sends 'req' (RTM_GETLINK of the port, or RTM_NEWLINK moving it) on a
 * socket of its own; 'what' says what failed.
 */
static int
port_talk(struct nlmsghdr *req, int (*cb)(const struct nlmsghdr *, void *),
    void *arg, const char *what, struct lb_err *err)
{
	struct lb_nl nl;
	int r = lb_nl_open(&nl);

	if (r < 0)
		return lb_err_set(err, r, "cannot open rtnetlink: %s",
		    strerror(-r));
	r = lb_nl_talk(&nl, req, cb, arg);
	if (r == -EBADMSG)
		r = lb_err_set(err, -EIO, "unexpected rtnetlink reply");
	else if (r < 0)
		r = lb_err_set(err, r, "%s: %s", what, lb_nl_why(&nl, r));
	lb_nl_close(&nl);
	return r;
}

/*
 * The bridge 'port' is enslaved to, over rtnetlink (sysfs may show another
 * namespace's interfaces).  0 with *ret_master = 0 when it has none.
 */
static int
get_master(int port, int *ret_master, struct lb_err *err)
{
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;

	req = lb_nl_link_req(buf, RTM_GETLINK, NLM_F_REQUEST, AF_UNSPEC, port);
	return port_talk(req, master_parse, ret_master,
	    "cannot talk to rtnetlink", err);
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
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;

	req = lb_nl_link_req(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK,
	    AF_UNSPEC, port);
	mnl_attr_put_u32(req, IFLA_MASTER, (uint32_t)bridge);
	return port_talk(req, NULL, NULL, "cannot move the port", err);
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
