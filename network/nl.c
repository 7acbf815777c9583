/*
 * nl.c - the rtnetlink client the switch backends share, over libmnl: one
 * socket per call, one request at a time, replies matched by sequence and
 * sender, the kernel's extack text kept.  Any worker thread; a struct
 * lb_nl is never shared between threads.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "network/nl.h"
#include "conductor/util/banned.h"

#define LB_NL_BUF_SIZE	65536	/* one reply datagram, dumps too */
#define LB_NL_TIMEOUT_SEC	5

/* One lb_nl_talk(): what the libmnl callbacks share. */
struct talk {
	struct lb_nl *nl;
	int (*cb)(const struct nlmsghdr *nh, void *arg);
	void *arg;
	int r;				/* cb's first failure */
	int kerr;			/* the kernel's error, negative */
	bool done;			/* the ACK, error or end came */
};

/* The first attribute of each type up to max. */
struct attrs {
	const struct nlattr **tb;
	unsigned max;
};

int
lb_nl_open(struct lb_nl *nl)
{
	struct timeval tv = { .tv_sec = LB_NL_TIMEOUT_SEC };
	int one = 1, r;

	memset(nl, 0, sizeof(*nl));
	nl->buf = malloc(LB_NL_BUF_SIZE);
	if (nl->buf == NULL)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL)
		goto fail;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* A kernel that hangs must not hold a worker thread for good. */
	if (setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO,
	    &tv, sizeof(tv)) < 0)
		goto fail;
	/* Best effort: only makes the kernel's messages better. */
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one,
	    sizeof(one));
	return 0;
fail:
	r = errno > 0 ? -errno : -EIO;
	lb_nl_close(nl);
	return r;
}

void
lb_nl_close(struct lb_nl *nl)
{
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	nl->sock = NULL;
	nl->buf = NULL;
}

struct nlmsghdr *
lb_nl_link_req(char *buf, unsigned short type, unsigned short flags,
    unsigned char family, int index)
{
	struct nlmsghdr *nh;
	struct ifinfomsg *ifi;

	memset(buf, 0, LB_NL_REQ_SIZE);
	nh = mnl_nlmsg_put_header(buf);
	nh->nlmsg_type = type;
	nh->nlmsg_flags = flags;
	ifi = mnl_nlmsg_put_extra_header(nh, sizeof(*ifi));
	ifi->ifi_family = family;
	ifi->ifi_index = index;
	return nh;
}

static int
attr_first(const struct nlattr *a, void *data)
{
	struct attrs *at = data;
	unsigned type = mnl_attr_get_type(a);

	if (type <= at->max && at->tb[type] == NULL)
		at->tb[type] = a;
	return MNL_CB_OK;
}

void
lb_nl_attrs(const struct nlmsghdr *nh, size_t hdrlen,
    const struct nlattr **tb, unsigned max)
{
	struct attrs at = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	(void)mnl_attr_parse(nh, (unsigned)hdrlen, attr_first, &at);
}

void
lb_nl_nested(const struct nlattr *nest, const struct nlattr **tb,
    unsigned max)
{
	struct attrs at = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	(void)mnl_attr_parse_nested(nest, attr_first, &at);
}

/* Keeps the kernel's own words about a failure (NLMSGERR_ATTR_MSG). */
static void
ext_ack(struct lb_nl *nl, const struct nlmsghdr *nh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nh);
	const struct nlattr *tb[NLMSGERR_ATTR_MSG + 1] = { NULL };
	struct attrs at = { tb, NLMSGERR_ATTR_MSG };
	const struct nlattr *a;
	size_t off = sizeof(*e), len = mnl_nlmsg_get_payload_len(nh), n;

	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < sizeof(e->msg))
			return;
		off += MNL_ALIGN(e->msg.nlmsg_len - sizeof(e->msg));
	}
	if (off > len)
		return;
	(void)mnl_attr_parse_payload((const char *)e + off, len - off,
	    attr_first, &at);
	a = tb[NLMSGERR_ATTR_MSG];
	if (a == NULL)
		return;
	n = strnlen(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
	if (n >= sizeof(nl->ext))
		n = sizeof(nl->ext) - 1;
	memcpy(nl->ext, mnl_attr_get_payload(a), n);
	nl->ext[n] = '\0';
}

static int
on_error(const struct nlmsghdr *nh, void *data)
{
	struct talk *t = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nh);

	t->done = true;
	if (nh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	ext_ack(t->nl, nh);
	t->kerr = e->error < 0 ? e->error : -e->error;
	return MNL_CB_ERROR;
}

/* The end of a dump carries the dump's own error, if it failed. */
static int
on_done(const struct nlmsghdr *nh, void *data)
{
	struct talk *t = data;
	int done = 0;

	t->done = true;
	if (mnl_nlmsg_get_payload_len(nh) >= sizeof(done))
		memcpy(&done, mnl_nlmsg_get_payload(nh), sizeof(done));
	if (done >= 0)
		return MNL_CB_STOP;
	t->kerr = done;
	return MNL_CB_ERROR;
}

static int
on_noop(const struct nlmsghdr *nh, void *data)
{
	(void)nh;
	(void)data;
	return MNL_CB_OK;
}

/* Sees every message but after cb's first failure, so the replies drain. */
static int
on_data(const struct nlmsghdr *nh, void *data)
{
	struct talk *t = data;

	if (t->r == 0 && t->cb != NULL)
		t->r = t->cb(nh, t->arg);
	return MNL_CB_OK;
}

/* libmnl takes the table non-const; nothing writes it. */
static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = on_noop,
	[NLMSG_ERROR] = on_error,
	[NLMSG_DONE] = on_done,
	[NLMSG_OVERRUN] = on_noop,
};

static int
recv_errno(int e)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		return -ETIMEDOUT;
	if (e == ENOSPC)		/* libmnl's word for MSG_TRUNC */
		return -EMSGSIZE;
	if (e == EINTR)		/* libmnl's word for NLM_F_DUMP_INTR */
		return -EAGAIN;
	return e > 0 ? -e : -EIO;
}

int
lb_nl_talk(struct lb_nl *nl, struct nlmsghdr *req,
    int (*cb)(const struct nlmsghdr *nh, void *arg), void *arg)
{
	struct talk t = { .nl = nl, .cb = cb, .arg = arg };
	bool more = req->nlmsg_flags & (NLM_F_DUMP | NLM_F_ACK);
	int ret;

	req->nlmsg_seq = ++nl->seq;
	nl->ext[0] = '\0';
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return errno > 0 ? -errno : -EIO;
	do {
		ssize_t got = mnl_socket_recvfrom(nl->sock, nl->buf,
		    LB_NL_BUF_SIZE);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return recv_errno(errno);
		errno = 0;
		ret = mnl_cb_run2(nl->buf, (size_t)got, req->nlmsg_seq,
		    nl->portid, on_data, &t, ctl_cbs, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return t.kerr != 0 ? t.kerr : recv_errno(errno);
		/* A plain get without an ACK ends with its one reply. */
	} while (ret > MNL_CB_STOP && !t.done && more);
	return t.r;
}

const char *
lb_nl_why(const struct lb_nl *nl, int r)
{
	return nl->ext[0] != '\0' ? nl->ext : strerror(-r);
}
