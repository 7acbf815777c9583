/*
 * nl.h - the one rtnetlink client of network/ (over libmnl): open a
 * socket, send one request and read its reply, dump or ACK with sequence
 * and sender checks, keeping the kernel's own error text (extack).  A
 * struct lb_nl belongs to one call on one worker thread.
 */
#ifndef LB_NL_H
#define LB_NL_H

#include <stddef.h>
#include <libmnl/libmnl.h>

#define LB_NL_REQ_SIZE	512	/* header, ifinfomsg, attrs */

struct lb_nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	char *buf;			/* LB_NL_BUF_SIZE bytes of replies */
	char ext[160];		/* the kernel's words on failure */
};

/* Opens an rtnetlink socket that gives up reading after 5 s. */
int lb_nl_open(struct lb_nl *nl);
/* Closes 'nl'; a zeroed or closed one is fine too. */
void lb_nl_close(struct lb_nl *nl);

/*
 * Puts the header of a request of 'type' with a struct ifinfomsg for
 * 'family' and interface 'index' into 'buf' (LB_NL_REQ_SIZE bytes).
 */
struct nlmsghdr *lb_nl_link_req(char *buf, unsigned short type,
    unsigned short flags, unsigned char family, int index);

/*
 * Sends 'req' and reads its replies: every message of a dump (up to
 * NLMSG_DONE), the one reply of a plain get, or the ACK of a change.
 * 'cb' (may be NULL) sees each message that is neither an error nor the
 * end; its first negative return is returned once the replies are read.
 * A kernel error is returned as its negative errno, its text kept for
 * lb_nl_why(); an interrupted dump is -EAGAIN, a silent kernel -ETIMEDOUT.
 */
int lb_nl_talk(struct lb_nl *nl, struct nlmsghdr *req,
    int (*cb)(const struct nlmsghdr *nh, void *arg), void *arg);

/* Why the last lb_nl_talk() failed with 'r': the kernel's text or errno's. */
const char *lb_nl_why(const struct lb_nl *nl, int r);

/*
 * Points tb[type] at the first attribute of each type up to 'max' (the
 * others NULL): those after 'hdrlen' payload bytes of 'nh', or those
 * nested in 'nest'.
 */
void lb_nl_attrs(const struct nlmsghdr *nh, size_t hdrlen,
    const struct nlattr **tb, unsigned max);
void lb_nl_nested(const struct nlattr *nest, const struct nlattr **tb,
    unsigned max);

#endif
