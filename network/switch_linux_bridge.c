/*
 * switch_linux_bridge.c - the linux-bridge switch backend: a Linux bridge
 * with VLAN filtering is the switch, switch_info names the bridge and
 * port_id its port, and the port's untagged PVID is its access VLAN.
 * Talks rtnetlink on a socket of its own per call; any thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "network/nl.h"
#include "network/switch_backend.h"
#include "conductor/util/banned.h"

#define NAME_MAX_LEN	15	/* IFNAMSIZ - 1 */

struct link {
	int index;
	int master;
	bool is_bridge;
	bool vlan_filtering;
};

struct port_vlans {
	int index;			/* the port asked about */
	bool found;
	int master;
	unsigned pvid;			/* 0: none */
	bool pvid_untagged;
};

/* ---- names ---- */

static int
check_name(const char *what, const char *name, struct lb_err *err)
{
	size_t n = strnlen(name, NAME_MAX_LEN + 1);

	if (n == 0 || n > NAME_MAX_LEN || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return lb_err_set(err, -EINVAL, "%s '%.64s' is not an "
		    "interface name (1 to %d characters)", what, name,
		    NAME_MAX_LEN);
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
bridge_check_port(const char *switch_info, const char *port_id,
    struct lb_err *err)
{
	int r = check_name("bridge (switch_info)", switch_info, err);

	if (r == 0)
		r = check_name("bridge port (port_id)", port_id, err);
	return r;
}

/* ---- rtnetlink ---- */

/* The link of an RTM_NEWLINK reply and its attributes up to IFLA_MAX. */
static const struct ifinfomsg *
ifinfo_attrs(const struct nlmsghdr *nh, const struct nlattr **tb)
{
	if (nh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nh) < sizeof(struct ifinfomsg))
		return NULL;
	lb_nl_attrs(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX);
	return mnl_nlmsg_get_payload(nh);
}

static void
get_master(const struct nlattr *a, int *ret_master)
{
	if (a != NULL && mnl_attr_get_payload_len(a) >= sizeof(*ret_master))
		memcpy(ret_master, mnl_attr_get_payload(a),
		    sizeof(*ret_master));
}

static int
link_parse(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
	const struct nlattr *br[IFLA_BR_MAX + 1], *a;
	const struct ifinfomsg *ifi = ifinfo_attrs(nh, tb);
	struct link *l = arg;

	if (ifi == NULL)
		return -EBADMSG;
	l->index = ifi->ifi_index;
	get_master(tb[IFLA_MASTER], &l->master);
	if (tb[IFLA_LINKINFO] == NULL)
		return 0;
	lb_nl_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
	a = info[IFLA_INFO_KIND];
	l->is_bridge = a != NULL && strnlen(mnl_attr_get_payload(a),
	    mnl_attr_get_payload_len(a)) == 6 &&
	    memcmp(mnl_attr_get_payload(a), "bridge", 6) == 0;
	if (!l->is_bridge || info[IFLA_INFO_DATA] == NULL)
		return 0;
	lb_nl_nested(info[IFLA_INFO_DATA], br, IFLA_BR_MAX);
	a = br[IFLA_BR_VLAN_FILTERING];
	l->vlan_filtering = a != NULL && mnl_attr_get_payload_len(a) >= 1 &&
	    *(const unsigned char *)mnl_attr_get_payload(a) != 0;
	return 0;
}

static int
link_get(struct lb_nl *nl, const char *name, struct link *ret_link)
{
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;

	memset(ret_link, 0, sizeof(*ret_link));
	req = lb_nl_link_req(buf, RTM_GETLINK, NLM_F_REQUEST, AF_UNSPEC, 0);
	if (!mnl_attr_put_strz_check(req, sizeof(buf), IFLA_IFNAME, name) ||
	    !mnl_attr_put_u32_check(req, sizeof(buf), IFLA_EXT_MASK,
	    RTEXT_FILTER_SKIP_STATS))
		return -EMSGSIZE;
	return lb_nl_talk(nl, req, link_parse, ret_link);
}

static int
vlans_parse(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *tb[IFLA_MAX + 1], *a;
	const struct ifinfomsg *ifi = ifinfo_attrs(nh, tb);
	struct port_vlans *pv = arg;

	if (ifi == NULL || ifi->ifi_index != pv->index)
		return 0;
	pv->found = true;
	get_master(tb[IFLA_MASTER], &pv->master);
	if (tb[IFLA_AF_SPEC] == NULL)
		return 0;
	mnl_attr_for_each_nested(a, tb[IFLA_AF_SPEC]) {
		struct bridge_vlan_info vi;

		if (mnl_attr_get_type(a) != IFLA_BRIDGE_VLAN_INFO ||
		    mnl_attr_get_payload_len(a) < sizeof(vi))
			continue;
		memcpy(&vi, mnl_attr_get_payload(a), sizeof(vi));
		if (vi.flags & BRIDGE_VLAN_INFO_PVID) {
			pv->pvid = vi.vid;
			pv->pvid_untagged =
			    vi.flags & BRIDGE_VLAN_INFO_UNTAGGED;
		}
	}
	return 0;
}

/* The kernel answers per-port VLANs only to a dump of every port. */
static int
vlans_get(struct lb_nl *nl, int index, struct port_vlans *ret_pv)
{
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;

	memset(ret_pv, 0, sizeof(*ret_pv));
	ret_pv->index = index;
	req = lb_nl_link_req(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP,
	    AF_BRIDGE, 0);
	if (!mnl_attr_put_u32_check(req, sizeof(buf), IFLA_EXT_MASK,
	    RTEXT_FILTER_BRVLAN))
		return -EMSGSIZE;
	return lb_nl_talk(nl, req, vlans_parse, ret_pv);
}

/* RTM_SETLINK adds (or updates) a VLAN of a port, RTM_DELLINK drops it. */
static int
vlan_change(struct lb_nl *nl, unsigned short type, int index, __u16 flags,
    unsigned vid)
{
	struct bridge_vlan_info vi = { .flags = flags, .vid = (__u16)vid };
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;
	struct nlattr *nest;

	req = lb_nl_link_req(buf, type, NLM_F_REQUEST | NLM_F_ACK, AF_BRIDGE,
	    index);
	nest = mnl_attr_nest_start_check(req, sizeof(buf), IFLA_AF_SPEC);
	if (nest == NULL || !mnl_attr_put_check(req, sizeof(buf),
	    IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi))
		return -EMSGSIZE;
	mnl_attr_nest_end(req, nest);
	return lb_nl_talk(nl, req, NULL, NULL);
}

/* ---- the backend ---- */

/*
 * Opens the socket and finds the port: 'bridge' must be a bridge that
 * filters VLANs and 'port' one of its ports.  On success the caller
 * closes 'nl'.
 */
static int
port_open(struct lb_nl *nl, const char *bridge, const char *port,
    struct port_vlans *ret_pv, struct lb_err *err)
{
	struct link br, p;
	int r;

	r = bridge_check_port(bridge, port, err);
	if (r < 0)
		return r;
	r = lb_nl_open(nl);
	if (r < 0)
		return lb_err_set(err, r, "cannot open a netlink socket: %s",
		    strerror(-r));
	r = link_get(nl, bridge, &br);
	if (r == -ENODEV)
		r = lb_err_set(err, -ENOENT, "bridge '%s' does not exist",
		    bridge);
	else if (r < 0)
		r = lb_err_set(err, r, "cannot read interface '%s': %s",
		    bridge, lb_nl_why(nl, r));
	else if (!br.is_bridge)
		r = lb_err_set(err, -EINVAL, "interface '%s' is not a bridge",
		    bridge);
	else if (!br.vlan_filtering)
		r = lb_err_set(err, -EINVAL, "bridge '%s' does not filter "
		    "vlans (vlan_filtering is 0)", bridge);
	if (r < 0)
		goto fail;
	r = link_get(nl, port, &p);
	if (r == -ENODEV)
		r = lb_err_set(err, -ENOENT, "bridge port '%s' does not exist",
		    port);
	else if (r < 0)
		r = lb_err_set(err, r, "cannot read interface '%s': %s", port,
		    lb_nl_why(nl, r));
	else if (p.master != br.index)
		r = lb_err_set(err, -ENOENT, "interface '%s' is not a port of "
		    "bridge '%s'", port, bridge);
	if (r < 0)
		goto fail;
	r = vlans_get(nl, p.index, ret_pv);
	if (r < 0)
		r = lb_err_set(err, r, "cannot read the vlans of port '%s' "
		    "of bridge '%s': %s", port, bridge, lb_nl_why(nl, r));
	else if (!ret_pv->found || ret_pv->master != br.index)
		r = lb_err_set(err, -EAGAIN, "interface '%s' left bridge '%s' "
		    "while its vlans were read", port, bridge);
	if (r < 0)
		goto fail;
	return 0;
fail:
	lb_nl_close(nl);
	return r;
}

static int
bridge_get_access_vlan(const char *switch_info, const char *port_id,
    unsigned *ret_vid, struct lb_err *err)
{
	struct port_vlans pv;
	struct lb_nl nl;
	int r;

	r = port_open(&nl, switch_info, port_id, &pv, err);
	if (r < 0)
		return r;
	lb_nl_close(&nl);
	if (pv.pvid == 0)
		return lb_err_set(err, -ENOENT, "port '%s' of bridge '%s' has "
		    "no pvid (access vlan)", port_id, switch_info);
	*ret_vid = pv.pvid;
	return 0;
}

/*
 * The new VLAN goes on first, so the port always has an access VLAN;
 * making it the PVID takes the PVID flag off the old one, which then goes.
 */
static int
bridge_set_access_vlan(const char *switch_info, const char *port_id,
    unsigned vid, struct lb_err *err)
{
	struct port_vlans pv;
	struct lb_nl nl;
	int r;

	if (vid < LB_VLAN_MIN || vid > LB_VLAN_MAX)
		return lb_err_set(err, -EINVAL, "vlan %u is not a vlan id "
		    "(%d..%d)", vid, LB_VLAN_MIN, LB_VLAN_MAX);
	r = port_open(&nl, switch_info, port_id, &pv, err);
	if (r < 0)
		return r;
	if (pv.pvid != vid || !pv.pvid_untagged) {
		r = vlan_change(&nl, RTM_SETLINK, pv.index,
		    BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, vid);
		if (r < 0)
			r = lb_err_set(err, r, "cannot set vlan %u on port "
			    "'%s' of bridge '%s': %s", vid, port_id,
			    switch_info, lb_nl_why(&nl, r));
	}
	if (r == 0 && pv.pvid != 0 && pv.pvid != vid) {
		r = vlan_change(&nl, RTM_DELLINK, pv.index, 0, pv.pvid);
		if (r < 0)
			r = lb_err_set(err, r, "cannot remove vlan %u from "
			    "port '%s' of bridge '%s': %s", pv.pvid, port_id,
			    switch_info, lb_nl_why(&nl, r));
	}
	lb_nl_close(&nl);
	return r;
}

const struct lb_switch_backend lb_switch_linux_bridge = {
	.name = "linux-bridge",
	.check_port = bridge_check_port,
	.get_access_vlan = bridge_get_access_vlan,
	.set_access_vlan = bridge_set_access_vlan,
};
