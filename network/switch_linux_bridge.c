/*
 * switch_linux_bridge.c - the linux-bridge switch backend: a Linux bridge
 * with VLAN filtering is the switch, switch_info names the bridge and
 * port_id its port, and the port's untagged PVID is its access VLAN.
 * Talks rtnetlink on a socket of its own per call; any thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "network/switch_backend.h"
#include "conductor/util/banned.h"

#define NAME_MAX_LEN	15	/* IFNAMSIZ - 1 */
#define NL_BUF_SIZE	65536	/* one reply datagram, dumps included */
#define NL_TIMEOUT_SEC	5

struct nl {
	int fd;
	unsigned seq;
	char *buf;			/* NL_BUF_SIZE bytes */
	char ext[160];			/* the kernel's own error message */
};

struct nl_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[128];
};

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

#define ATTR_DATA(a)	((const char *)(a) + RTA_LENGTH(0))
#define ATTR_LEN(a)	((size_t)(a)->rta_len - RTA_LENGTH(0))

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

static int
nl_open(struct nl *nl)
{
	struct timeval tv = { .tv_sec = NL_TIMEOUT_SEC };
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(NL_BUF_SIZE);
	if (nl->buf == NULL)
		return -ENOMEM;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0) {
		free(nl->buf);
		return -errno;
	}
	/* A kernel that hangs must not hold a worker thread for good. */
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) < 0) {
		int r = -errno;

		close(nl->fd);
		free(nl->buf);
		return r;
	}
	/* Best effort: only makes the kernel's messages better. */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
	    sizeof(one));
	return 0;
}

static void
nl_close(struct nl *nl)
{
	close(nl->fd);
	free(nl->buf);
}

static void
req_init(struct nl_req *req, unsigned short type, unsigned short flags,
    unsigned char family, int index)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(sizeof(req->ifi));
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = flags;
	req->ifi.ifi_family = family;
	req->ifi.ifi_index = index;
}

/* Appends an attribute; data NULL and len 0 begin a nest. */
static struct rtattr *
req_attr(struct nl_req *req, unsigned short type, const void *data,
    size_t len)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
	struct rtattr *a = (struct rtattr *)((char *)req + off);

	if (off + RTA_SPACE(len) > sizeof(*req))
		return NULL;
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	req->nh.nlmsg_len = off + RTA_SPACE(len);
	return a;
}

static void
req_nest_end(struct nl_req *req, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)req + req->nh.nlmsg_len -
	    (char *)nest);
}

/* The next attribute at *off in [p, p + len), or NULL at the end. */
static const struct rtattr *
attr_next(const char *p, size_t len, size_t *off)
{
	const struct rtattr *a;

	if (*off + sizeof(*a) > len)
		return NULL;
	a = (const struct rtattr *)(p + *off);
	if (a->rta_len < sizeof(*a) || a->rta_len > len - *off)
		return NULL;
	*off += RTA_ALIGN(a->rta_len);
	return a;
}

static const struct rtattr *
attr_find(const char *p, size_t len, unsigned short type)
{
	const struct rtattr *a;
	size_t off = 0;

	while ((a = attr_next(p, len, &off)) != NULL) {
		if ((a->rta_type & NLA_TYPE_MASK) == type)
			return a;
	}
	return NULL;
}

/* Keeps the kernel's own words about a failure (NLMSGERR_ATTR_MSG). */
static void
nl_ext_ack(struct nl *nl, const struct nlmsghdr *nh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	const struct rtattr *a;
	size_t off = NLMSG_LENGTH(sizeof(*e)), n;

	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(e->msg))
			return;
		off += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(e->msg));
	}
	if (off > nh->nlmsg_len)
		return;
	a = attr_find((const char *)nh + off, nh->nlmsg_len - off,
	    NLMSGERR_ATTR_MSG);
	if (a == NULL)
		return;
	n = strnlen(ATTR_DATA(a), ATTR_LEN(a));
	if (n >= sizeof(nl->ext))
		n = sizeof(nl->ext) - 1;
	memcpy(nl->ext, ATTR_DATA(a), n);
	nl->ext[n] = '\0';
}

/*
 * Sends 'req' and reads its replies: every message of a dump (up to
 * NLMSG_DONE), the one reply of a plain get, or the ack of a change.
 * 'cb' sees each message that is not an error or the end; its first
 * failure is returned once the replies are read.
 */
static int
nl_talk(struct nl *nl, struct nl_req *req,
    int (*cb)(const struct nlmsghdr *nh, void *arg), void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	bool dump = req->nh.nlmsg_flags & NLM_F_DUMP;
	int r = 0;

	req->nh.nlmsg_seq = ++nl->seq;
	nl->ext[0] = '\0';
	if (sendto(nl->fd, req, req->nh.nlmsg_len, 0,
	    (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { nl->buf, NL_BUF_SIZE };
		struct msghdr msg = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
		};
		ssize_t got = recvmsg(nl->fd, &msg, 0);
		size_t n, off = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (from.nl_pid != 0)
			continue;
		n = (size_t)got;
		while (off + sizeof(struct nlmsghdr) <= n) {
			const struct nlmsghdr *nh =
			    (const struct nlmsghdr *)(nl->buf + off);

			if (nh->nlmsg_len < sizeof(*nh) ||
			    nh->nlmsg_len > n - off)
				return -EBADMSG;
			off += NLMSG_ALIGN(nh->nlmsg_len);
			if (nh->nlmsg_seq != req->nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				if (e->error < 0)
					nl_ext_ack(nl, nh);
				return e->error < 0 ? e->error : r;
			}
			if (nh->nlmsg_type == NLMSG_DONE) {
				int done = 0;

				if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(done)))
					memcpy(&done, NLMSG_DATA(nh),
					    sizeof(done));
				return done < 0 ? done : r;
			}
			if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
				r = r < 0 ? r : -EAGAIN;
			if (r == 0 && cb != NULL)
				r = cb(nh, arg);
			if (!dump && !(req->nh.nlmsg_flags & NLM_F_ACK))
				return r;
		}
	}
}

static int
ifinfo_attrs(const struct nlmsghdr *nh, const struct ifinfomsg **ret_ifi,
    const char **ret_attrs, size_t *ret_len)
{
	if (nh->nlmsg_type != RTM_NEWLINK ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(**ret_ifi)))
		return -EBADMSG;
	*ret_ifi = NLMSG_DATA(nh);
	*ret_attrs = (const char *)nh + NLMSG_LENGTH(sizeof(**ret_ifi));
	*ret_len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(**ret_ifi));
	return 0;
}

static int
link_parse(const struct nlmsghdr *nh, void *arg)
{
	struct link *l = arg;
	const struct ifinfomsg *ifi;
	const struct rtattr *a, *info, *data;
	const char *attrs;
	size_t len;

	if (ifinfo_attrs(nh, &ifi, &attrs, &len) < 0)
		return -EBADMSG;
	l->index = ifi->ifi_index;
	a = attr_find(attrs, len, IFLA_MASTER);
	if (a != NULL && ATTR_LEN(a) >= sizeof(l->master))
		memcpy(&l->master, ATTR_DATA(a), sizeof(l->master));
	info = attr_find(attrs, len, IFLA_LINKINFO);
	if (info == NULL)
		return 0;
	a = attr_find(ATTR_DATA(info), ATTR_LEN(info), IFLA_INFO_KIND);
	l->is_bridge = a != NULL && strnlen(ATTR_DATA(a), ATTR_LEN(a)) == 6 &&
	    memcmp(ATTR_DATA(a), "bridge", 6) == 0;
	data = attr_find(ATTR_DATA(info), ATTR_LEN(info), IFLA_INFO_DATA);
	if (!l->is_bridge || data == NULL)
		return 0;
	a = attr_find(ATTR_DATA(data), ATTR_LEN(data), IFLA_BR_VLAN_FILTERING);
	l->vlan_filtering = a != NULL && ATTR_LEN(a) >= 1 &&
	    ATTR_DATA(a)[0] != 0;
	return 0;
}

static int
link_get(struct nl *nl, const char *name, struct link *ret_link)
{
	__u32 mask = RTEXT_FILTER_SKIP_STATS;
	struct nl_req req;

	memset(ret_link, 0, sizeof(*ret_link));
	req_init(&req, RTM_GETLINK, NLM_F_REQUEST, AF_UNSPEC, 0);
	if (req_attr(&req, IFLA_IFNAME, name, strlen(name) + 1) == NULL ||
	    req_attr(&req, IFLA_EXT_MASK, &mask, sizeof(mask)) == NULL)
		return -EMSGSIZE;
	return nl_talk(nl, &req, link_parse, ret_link);
}

static int
vlans_parse(const struct nlmsghdr *nh, void *arg)
{
	struct port_vlans *pv = arg;
	const struct ifinfomsg *ifi;
	const struct rtattr *a, *spec;
	const char *attrs;
	size_t len, off = 0;

	if (ifinfo_attrs(nh, &ifi, &attrs, &len) < 0 ||
	    ifi->ifi_index != pv->index)
		return 0;
	pv->found = true;
	a = attr_find(attrs, len, IFLA_MASTER);
	if (a != NULL && ATTR_LEN(a) >= sizeof(pv->master))
		memcpy(&pv->master, ATTR_DATA(a), sizeof(pv->master));
	spec = attr_find(attrs, len, IFLA_AF_SPEC);
	if (spec == NULL)
		return 0;
	while ((a = attr_next(ATTR_DATA(spec), ATTR_LEN(spec), &off))) {
		struct bridge_vlan_info vi;

		if ((a->rta_type & NLA_TYPE_MASK) != IFLA_BRIDGE_VLAN_INFO ||
		    ATTR_LEN(a) < sizeof(vi))
			continue;
		memcpy(&vi, ATTR_DATA(a), sizeof(vi));
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
vlans_get(struct nl *nl, int index, struct port_vlans *ret_pv)
{
	__u32 mask = RTEXT_FILTER_BRVLAN;
	struct nl_req req;

	memset(ret_pv, 0, sizeof(*ret_pv));
	ret_pv->index = index;
	req_init(&req, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, AF_BRIDGE, 0);
	if (req_attr(&req, IFLA_EXT_MASK, &mask, sizeof(mask)) == NULL)
		return -EMSGSIZE;
	return nl_talk(nl, &req, vlans_parse, ret_pv);
}

/* RTM_SETLINK adds (or updates) a VLAN of a port, RTM_DELLINK drops it. */
static int
vlan_change(struct nl *nl, unsigned short type, int index, __u16 flags,
    unsigned vid)
{
	struct bridge_vlan_info vi = { .flags = flags, .vid = (__u16)vid };
	struct rtattr *nest;
	struct nl_req req;

	req_init(&req, type, NLM_F_REQUEST | NLM_F_ACK, AF_BRIDGE, index);
	nest = req_attr(&req, IFLA_AF_SPEC, NULL, 0);
	if (nest == NULL ||
	    req_attr(&req, IFLA_BRIDGE_VLAN_INFO, &vi, sizeof(vi)) == NULL)
		return -EMSGSIZE;
	req_nest_end(&req, nest);
	return nl_talk(nl, &req, NULL, NULL);
}

/* ---- the backend ---- */

static const char *
why(const struct nl *nl, int r)
{
	return nl->ext[0] != '\0' ? nl->ext : strerror(-r);
}

/*
 * Opens the socket and finds the port: 'bridge' must be a bridge that
 * filters VLANs and 'port' one of its ports.  On success the caller
 * closes 'nl'.
 */
static int
port_open(struct nl *nl, const char *bridge, const char *port,
    struct port_vlans *ret_pv, struct lb_err *err)
{
	struct link br, p;
	int r;

	r = bridge_check_port(bridge, port, err);
	if (r < 0)
		return r;
	r = nl_open(nl);
	if (r < 0)
		return lb_err_set(err, r, "cannot open a netlink socket: %s",
		    strerror(-r));
	r = link_get(nl, bridge, &br);
	if (r == -ENODEV)
		r = lb_err_set(err, -ENOENT, "bridge '%s' does not exist",
		    bridge);
	else if (r < 0)
		r = lb_err_set(err, r, "cannot read interface '%s': %s",
		    bridge, why(nl, r));
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
		    why(nl, r));
	else if (p.master != br.index)
		r = lb_err_set(err, -ENOENT, "interface '%s' is not a port of "
		    "bridge '%s'", port, bridge);
	if (r < 0)
		goto fail;
	r = vlans_get(nl, p.index, ret_pv);
	if (r < 0)
		r = lb_err_set(err, r, "cannot read the vlans of port '%s' "
		    "of bridge '%s': %s", port, bridge, why(nl, r));
	else if (!ret_pv->found || ret_pv->master != br.index)
		r = lb_err_set(err, -EAGAIN, "interface '%s' left bridge '%s' "
		    "while its vlans were read", port, bridge);
	if (r < 0)
		goto fail;
	return 0;
fail:
	nl_close(nl);
	return r;
}

static int
bridge_get_access_vlan(const char *switch_info, const char *port_id,
    unsigned *ret_vid, struct lb_err *err)
{
	struct port_vlans pv;
	struct nl nl;
	int r;

	r = port_open(&nl, switch_info, port_id, &pv, err);
	if (r < 0)
		return r;
	nl_close(&nl);
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
	struct nl nl;
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
			    switch_info, why(&nl, r));
	}
	if (r == 0 && pv.pvid != 0 && pv.pvid != vid) {
		r = vlan_change(&nl, RTM_DELLINK, pv.index, 0, pv.pvid);
		if (r < 0)
			r = lb_err_set(err, r, "cannot remove vlan %u from "
			    "port '%s' of bridge '%s': %s", pv.pvid, port_id,
			    switch_info, why(&nl, r));
	}
	nl_close(&nl);
	return r;
}

const struct lb_switch_backend lb_switch_linux_bridge = {
	.name = "linux-bridge",
	.check_port = bridge_check_port,
	.get_access_vlan = bridge_get_access_vlan,
	.set_access_vlan = bridge_set_access_vlan,
};
