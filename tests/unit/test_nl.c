/*
 * test_nl.c - network/nl.c, the rtnetlink helper of the switch backends,
 * against the real kernel in a network namespace of this process's own
 * (the kernel removes it and all in it when the process exits): dumps
 * over several datagrams, plain gets, ACKs, the kernel's errors and their
 * extack text, and a socket that stays usable after a callback fails.
 * Needs root (exits 77 otherwise); no tools.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "network/nl.h"
#include "conductor/util/banned.h"

#define N_BRIDGES	60	/* more links than one dump datagram holds */

/* Makes a link of 'kind' named 'name' (a veth also makes 'peer'). */
static int
link_add(struct lb_nl *nl, const char *name, const char *kind,
    const char *peer)
{
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;
	struct nlattr *info, *data, *p;

	req = lb_nl_link_req(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK |
	    NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	mnl_attr_put_strz(req, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(req, IFLA_LINKINFO);
	mnl_attr_put_strz(req, IFLA_INFO_KIND, kind);
	if (peer != NULL) {
		data = mnl_attr_nest_start(req, IFLA_INFO_DATA);
		p = mnl_attr_nest_start(req, VETH_INFO_PEER);
		mnl_nlmsg_put_extra_header(req, sizeof(struct ifinfomsg));
		mnl_attr_put_strz(req, IFLA_IFNAME, peer);
		mnl_attr_nest_end(req, p);
		mnl_attr_nest_end(req, data);
	}
	mnl_attr_nest_end(req, info);
	return lb_nl_talk(nl, req, NULL, NULL);
}

static int
set_master(struct lb_nl *nl, const char *port, const char *master)
{
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;

	req = lb_nl_link_req(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK,
	    AF_UNSPEC, (int)if_nametoindex(port));
	mnl_attr_put_u32(req, IFLA_MASTER, if_nametoindex(master));
	return lb_nl_talk(nl, req, NULL, NULL);
}

struct seen {
	int links;			/* RTM_NEWLINK messages */
	int master;			/* IFLA_MASTER of the last one */
	int fail_at;			/* the callback fails on this one */
};

static int
count(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	struct seen *s = arg;

	if (nh->nlmsg_type != RTM_NEWLINK)
		return -EBADMSG;
	lb_nl_attrs(nh, sizeof(struct ifinfomsg), tb, IFLA_MAX);
	s->master = tb[IFLA_MASTER] != NULL ?
	    (int)mnl_attr_get_u32(tb[IFLA_MASTER]) : 0;
	if (++s->links == s->fail_at)
		return -EIO;
	return 0;
}

static int
dump(struct lb_nl *nl, struct seen *s)
{
	char buf[LB_NL_REQ_SIZE];

	return lb_nl_talk(nl, lb_nl_link_req(buf, RTM_GETLINK, NLM_F_REQUEST |
	    NLM_F_DUMP, AF_UNSPEC, 0), count, s);
}

static int
get(struct lb_nl *nl, const char *name, struct seen *s)
{
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;

	req = lb_nl_link_req(buf, RTM_GETLINK, NLM_F_REQUEST, AF_UNSPEC, 0);
	mnl_attr_put_strz(req, IFLA_IFNAME, name);
	return lb_nl_talk(nl, req, count, s);
}

static int
setup(void **state)
{
	struct lb_nl nl;
	char name[IFNAMSIZ];

	(void)state;
	assert_int_equal(lb_nl_open(&nl), 0);
	for (int i = 0; i < N_BRIDGES; i++) {
		snprintf(name, sizeof(name), "br%d", i);
		assert_int_equal(link_add(&nl, name, "bridge", NULL), 0);
	}
	assert_int_equal(link_add(&nl, "veth0", "veth", "peer0"), 0);
	lb_nl_close(&nl);
	return 0;
}

/* Every link comes back, the dump spanning many datagrams. */
static void
test_dump(void **state)
{
	struct if_nameindex *all = if_nameindex();
	struct seen s = { 0 };
	struct lb_nl nl;
	int n = 0;

	(void)state;
	assert_non_null(all);
	while (all[n].if_index != 0)
		n++;
	if_freenameindex(all);
	assert_int_equal(n, N_BRIDGES + 3);	/* lo, veth0, peer0 */
	assert_int_equal(lb_nl_open(&nl), 0);
	assert_int_equal(dump(&nl, &s), 0);
	assert_int_equal(s.links, n);
	lb_nl_close(&nl);
}

/* A get without NLM_F_ACK ends with its one reply, not a timeout. */
static void
test_get_and_ack(void **state)
{
	struct seen s = { 0 };
	struct lb_nl nl;

	(void)state;
	assert_int_equal(lb_nl_open(&nl), 0);
	assert_int_equal(get(&nl, "veth0", &s), 0);
	assert_int_equal(s.links, 1);
	assert_int_equal(s.master, 0);
	assert_int_equal(set_master(&nl, "veth0", "br7"), 0);
	assert_int_equal(get(&nl, "veth0", &s), 0);
	assert_int_equal(s.links, 2);
	assert_int_equal(s.master, (int)if_nametoindex("br7"));
	assert_int_equal(set_master(&nl, "veth0", "br8"), 0);
	assert_int_equal(get(&nl, "veth0", &s), 0);
	assert_int_equal(s.master, (int)if_nametoindex("br8"));
	lb_nl_close(&nl);
}

struct port {
	int index;			/* the port looked for */
	int master;			/* its IFLA_MASTER, once seen */
};

static int
find_port(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nh);
	struct port *p = arg;

	if (ifi->ifi_index != p->index)
		return 0;
	lb_nl_attrs(nh, sizeof(*ifi), tb, IFLA_MAX);
	if (tb[IFLA_MASTER] != NULL)
		p->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
	return 0;
}

/*
 * The dump the linux-bridge backend reads a port's VLANs from (AF_BRIDGE,
 * RTEXT_FILTER_BRVLAN): the port is in it, with its bridge.
 */
static void
test_bridge_port_dump(void **state)
{
	struct port p = { .index = (int)if_nametoindex("peer0") };
	char buf[LB_NL_REQ_SIZE];
	struct nlmsghdr *req;
	struct lb_nl nl;

	(void)state;
	assert_int_equal(lb_nl_open(&nl), 0);
	assert_int_equal(set_master(&nl, "peer0", "br9"), 0);
	req = lb_nl_link_req(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP,
	    AF_BRIDGE, 0);
	assert_true(mnl_attr_put_u32_check(req, sizeof(buf), IFLA_EXT_MASK,
	    RTEXT_FILTER_BRVLAN));
	assert_int_equal(lb_nl_talk(&nl, req, find_port, &p), 0);
	assert_int_equal(p.master, (int)if_nametoindex("br9"));
	lb_nl_close(&nl);
}

/* The kernel's errno comes back, with its own words where it has some. */
static void
test_kernel_errors(void **state)
{
	struct seen s = { 0 };
	struct lb_nl nl;
	int r;

	(void)state;
	assert_int_equal(lb_nl_open(&nl), 0);
	r = get(&nl, "nosuchlink", &s);
	assert_int_equal(r, -ENODEV);
	assert_int_equal(s.links, 0);
	r = set_master(&nl, "br1", "br2");
	assert_true(r < 0);
	assert_non_null(strstr(lb_nl_why(&nl, r),
	    "enslave a bridge to a bridge"));
	assert_int_equal(link_add(&nl, "br3", "bridge", NULL), -EEXIST);
	/* A success forgets the last failure's words. */
	assert_int_equal(get(&nl, "br3", &s), 0);
	assert_string_equal(lb_nl_why(&nl, -ENOENT), strerror(ENOENT));
	lb_nl_close(&nl);
}

/*
 * A callback's failure is returned only after the dump is read to its
 * end, so the next request on the socket gets its own replies.
 */
static void
test_callback_failure_drains(void **state)
{
	struct seen s = { .fail_at = 2 };
	struct lb_nl nl;

	(void)state;
	assert_int_equal(lb_nl_open(&nl), 0);
	assert_int_equal(dump(&nl, &s), -EIO);
	assert_int_equal(s.links, 2);
	s = (struct seen){ 0 };
	assert_int_equal(get(&nl, "br5", &s), 0);
	assert_int_equal(s.links, 1);
	s = (struct seen){ 0 };
	assert_int_equal(dump(&nl, &s), 0);
	assert_int_equal(s.links, N_BRIDGES + 3);
	lb_nl_close(&nl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_get_and_ack),
		cmocka_unit_test(test_bridge_port_dump),
		cmocka_unit_test(test_kernel_errors),
		cmocka_unit_test(test_callback_failure_drains),
	};

	/* Nothing below touches the host's network. */
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "# skipped: needs root and a network "
		    "namespace of its own\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, NULL);
}
