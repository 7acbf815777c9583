/*
 * agent_main.c - lifeboat-agent, the rescue agent of lifeboat's ramdisk:
 * network up, lookup, then the command API (one thread per connection)
 * and heartbeats (one thread) until rescue.finalize_rescue; then the SSH
 * server and, in the ramdisk, DHCP clients that keep the node's address or
 * follow it onto the tenant network (agent_follow.c).  The main thread
 * orchestrates and handles signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conductor/util/buf.h"
#include "ramdisk/agent_api.h"
#include "ramdisk/agent_cmdline.h"
#include "ramdisk/agent_follow.h"
#include "ramdisk/agent_http.h"
#include "ramdisk/agent_ironic.h"
#include "ramdisk/agent_log.h"
#include "ramdisk/agent_net.h"
#include "ramdisk/agent_rescue.h"
#include "ramdisk/agent_tls.h"
#include "conductor/util/banned.h"

#ifndef LB_VERSION
#define LB_VERSION "0.0.0"
#endif
/* The IPA release whose protocol this agent speaks; Ironic parses it. */
#define IPA_VERSION "11.2.0"
#define HTTP_TIMEOUT_MS 60000
#define CONN_TIMEOUT_MS 30000
/*
 * The TLS handshake and the request head must arrive this fast (Ironic
 * sends a command at once), and one address holds at most PEER_MAX_CONNS
 * of the MAX_CONNS connections: idle sockets from one peer cannot keep
 * the conductor's finalize_rescue out.
 */
#define HEAD_TIMEOUT_MS 5000
#define MAX_CONNS 32
#define PEER_MAX_CONNS 4
#define LOOKUP_MAX_INTERVAL 60.0
/* udhcpc -t 5 -n gives up in about 15 s; this bounds a hung one. */
#define DHCP_ROUND_TIMEOUT_MS 90000
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
	"/sbin:/bin"

struct agent {
	/* options */
	const char *cmdline_file;
	const char *root;
	const char *sshd;
	const char *sysfs;
	struct ra_dhcp dhcp;
	bool no_dhcp;
	double renew_delay;
	double carrier_wait;
	/* state */
	struct ra_cmdline cmd;
	struct ra_nic boot[RA_MAX_NICS];
	int n_boot;
	struct ra_dhcp_round dhcp_round;
	int winner;		/* index in boot of the first lease, or -1 */
	struct ra_ironic ic;
	struct ra_lookup lk;
	const char *token;	/* lk.token or cmd.agent_token */
	char advertise[RA_HOST_MAX];
	char callback_url[RA_HOST_MAX + 32];
	SSL_CTX *tls;
	char *pem;
	struct ra_api *api;
	int listen_fd;
	int server_stop[2];
	pthread_t server_thread;
	pthread_t hb_thread;
	pthread_mutex_t hb_lock;
	pthread_cond_t hb_cond;
	bool hb_stop;
	atomic_int conns;
	struct ra_peers peers;
	atomic_bool finalized;
	atomic_bool network_moves;	/* finalize's lifeboat_network_moves */
};

static int wake_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	int saved = errno;
	ssize_t n;

	got_signal = sig;
	/* A full pipe means a wake-up is pending already. */
	n = write(wake_pipe[1], "S", 1);
	(void)n;
	errno = saved;
}

static double
uniform(double lo, double hi)
{
	uint32_t x;

	/*
	 * Jitter needs no secret: GRND_INSECURE does not wait for the
	 * kernel's pool, which at boot under emulation takes a second.
	 */
	if (getrandom(&x, sizeof(x), GRND_INSECURE) != sizeof(x) &&
	    getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)rand();
	return lo + (hi - lo) * (x / 4294967296.0);
}

/* Sleeps up to 'seconds'; false when a signal or finalize woke us. */
static bool
nap(double seconds)
{
	int64_t end = ra_now_ms() + (int64_t)(seconds * 1000);
	struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
	char drain[16];

	while (!got_signal) {
		int64_t left = end - ra_now_ms();

		if (left <= 0)
			return true;
		if (poll(&p, 1, left > 60000 ? 60000 : (int)left) > 0 &&
		    read(wake_pipe[0], drain, sizeof(drain)) > 0)
			return false;
	}
	return false;
}

/* ---- the API server ---- */

struct conn_arg {
	struct agent *a;
	int fd;
	struct ra_peer_key peer;
};

static void
log_request(const char *method, const char *target, int status)
{
	/* Never the query: it carries the agent token. */
	int n = (int)strcspn(target, "?");

	ra_info("%s %.*s -> %d", method, n > 200 ? 200 : n, target, status);
}

/* werkzeug's texts for what the HTTP layer refuses. */
static void
bad_request(struct ra_api_reply *reply, int r)
{
	switch (r) {
	case -EMSGSIZE:
		return ra_api_fault(reply, 431, "431 Request Header Fields Too "
		    "Large: One or more header fields exceeds the maximum "
		    "size.");
	case -E2BIG:
		return ra_api_fault(reply, 413, "413 Request Entity Too Large: "
		    "The data value transmitted exceeds the capacity limit.");
	case -ENOTSUP:
		return ra_api_fault(reply, 501, "501 Not Implemented: The "
		    "server does not support the action requested by the "
		    "browser.");
	default:
		return ra_api_fault(reply, 400, "400 Bad Request: The browser "
		    "(or proxy) sent a request that this server could not "
		    "understand.");
	}
}

static void *
conn_main(void *p)
{
	struct conn_arg *ca = p;
	struct agent *a = ca->a;
	struct ra_conn c = { .fd = -1 };
	struct ra_api_reply reply = { 0 };
	struct ra_http_msg m = { 0 };
	struct lb_err err = { "" };
	int r;

	r = ra_conn_accept(&c, ca->fd, a->tls, HEAD_TIMEOUT_MS, &err);
	/* The head within HEAD_TIMEOUT_MS, all of it within the longer. */
	c.body_deadline = c.deadline - HEAD_TIMEOUT_MS + CONN_TIMEOUT_MS;
	if (r < 0) {
		ra_debug("connection dropped: %s", err.msg);
		goto out;
	}
	r = ra_http_read_msg(&c, true, false, &m, &err);
	if (r == -ECONNRESET || r == -ETIMEDOUT || r == -EPROTO) {
		ra_debug("connection dropped: %s", err.msg);
		goto out;
	}
	if (r < 0) {
		bad_request(&reply, r);
		ra_warn("bad request: %s -> %d", err.msg, reply.status);
		ra_http_write_reply(&c, reply.status, reply.content_type, "",
		    reply.body, reply.body_len, false);
		ra_conn_linger(&c, 1000);
		goto out;
	}
	ra_api_handle(a->api, &(struct ra_api_request){
		.method = m.method,
		.target = m.target,
		.host = ra_http_header(&m, "Host"),
		.body = m.body,
		.body_len = m.body_len,
	}, &reply);
	log_request(m.method, m.target, reply.status);
	r = ra_http_write_reply(&c, reply.status, reply.content_type ?
	    reply.content_type : "text/html; charset=utf-8", reply.headers,
	    reply.body, reply.body_len, strcmp(m.method, "HEAD") == 0);
	if (r < 0)
		ra_warn("cannot send the reply: %s", strerror(-r));
out:
	ra_conn_close(&c);
	/* The reply went out (or could not): only now stop serving. */
	if (reply.finalized) {
		atomic_store(&a->network_moves, reply.network_moves);
		atomic_store(&a->finalized, true);
		if (write(wake_pipe[1], "F", 1) < 0)
			ra_warn("cannot wake the main thread");
	}
	ra_api_reply_release(&reply);
	ra_http_msg_release(&m);
	ra_peers_put(&a->peers, &ca->peer);
	free(ca);
	atomic_fetch_sub(&a->conns, 1);
	return NULL;
}

static void *
server_main(void *p)
{
	struct agent *a = p;
	struct pollfd fds[2] = {
		{ .fd = a->listen_fd, .events = POLLIN },
		{ .fd = a->server_stop[0], .events = POLLIN },
	};
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		struct ra_peer_key key;
		struct conn_arg *ca;
		int fd;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents != 0)
			break;
		if (!(fds[0].revents & POLLIN))
			continue;
		fd = accept4(a->listen_fd, (struct sockaddr *)&peer, &peer_len,
		    SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&a->finalized) ||
		    atomic_load(&a->conns) >= MAX_CONNS) {
			close(fd);
			continue;
		}
		if (ra_peers_take(&a->peers, (struct sockaddr *)&peer,
		    &key) < 0) {
			ra_debug("connection refused: too many from one peer");
			close(fd);
			continue;
		}
		ca = malloc(sizeof(*ca));
		if (ca == NULL) {
			ra_peers_put(&a->peers, &key);
			close(fd);
			continue;
		}
		ca->a = a;
		ca->fd = fd;
		ca->peer = key;
		atomic_fetch_add(&a->conns, 1);
		if (pthread_create(&t, &attr, conn_main, ca) != 0) {
			atomic_fetch_sub(&a->conns, 1);
			ra_peers_put(&a->peers, &key);
			close(fd);
			free(ca);
		}
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* ---- heartbeats ---- */

/*
 * /init unpacks the repair tools and loads the storage drivers once the
 * first heartbeat is in (RA_HEARTBEAT_MARK), and says it is still at it
 * with RA_TOOLS_PENDING; both live under --root.
 */
#define RA_HEARTBEAT_MARK "/run/lifeboat/heartbeat"
#define RA_TOOLS_PENDING "/run/lifeboat/tools.unpacking"
/* udhcpc.script records leases here (LIFEBOAT_RUN, under --root). */
#define RA_RUN_DIR "/run/lifeboat"
#define TOOLS_WAIT_MS 120000

/* 'rel' (absolute in the ramdisk) under --root. */
static void
under_root(const struct agent *a, const char *rel, char *out, size_t size)
{
	snprintf(out, size, "%s%s", strcmp(a->root, "/") == 0 ? "" : a->root,
	    rel);
}

static void
mark_first_heartbeat(const struct agent *a)
{
	char path[PATH_MAX];
	int fd;

	under_root(a, RA_HEARTBEAT_MARK, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static void *
heartbeat_main(void *p)
{
	struct agent *a = p;
	struct ra_heartbeat hb = {
		.uuid = a->lk.uuid,
		.callback_url = a->callback_url,
		.token = a->token,
		.agent_version = IPA_VERSION,
		.verify_ca = a->pem,
	};
	int64_t due = ra_now_ms();
	struct lb_err err;
	double interval;
	int n = 0, status;

	pthread_mutex_lock(&a->hb_lock);
	while (!a->hb_stop) {
		struct timespec ts;
		int64_t now = ra_now_ms();

		if (now < due) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (due - now) / 1000;
			ts.tv_nsec += ((due - now) % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&a->hb_cond, &a->hb_lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&a->hb_lock);
		n++;
		err.msg[0] = '\0';
		if (ra_ironic_heartbeat(&a->ic, &hb, &status, &err) == 0) {
			if (n == 1)
				mark_first_heartbeat(a);
			interval = a->lk.heartbeat_timeout * uniform(0.3, 0.6);
			ra_info("heartbeat %d accepted, next in %.1f s", n,
			    interval);
		} else {
			interval = 5 * uniform(1.0, 2.0);
			ra_warn("heartbeat %d failed (%s), again in %.1f s", n,
			    err.msg, interval);
		}
		due = ra_now_ms() + (int64_t)(interval * 1000);
		pthread_mutex_lock(&a->hb_lock);
	}
	pthread_mutex_unlock(&a->hb_lock);
	return NULL;
}

/* ---- start-up ---- */

static int
read_cmdline(struct agent *a)
{
	struct lb_err err = { "" };
	char *text = calloc(1, RA_CMDLINE_MAX + 2);
	FILE *f = fopen(a->cmdline_file, "re");
	size_t n = 0;
	int r;

	if (text == NULL || f == NULL) {
		ra_error("cannot read '%s': %s", a->cmdline_file,
		    strerror(errno));
		if (f != NULL)
			fclose(f);
		free(text);
		return -EIO;
	}
	n = fread(text, 1, RA_CMDLINE_MAX + 1, f);
	fclose(f);
	text[n] = '\0';
	r = ra_cmdline_parse(text, &a->cmd, &err);
	explicit_bzero(text, n);
	free(text);
	if (r < 0) {
		ra_error("kernel command line: %s", err.msg);
		return r;
	}
	if (a->cmd.skipped_urls > 0)
		ra_warn("ipa-api-url: %d entr%s skipped (mdns is not "
		    "supported)", a->cmd.skipped_urls,
		    a->cmd.skipped_urls == 1 ? "y" : "ies");
	if (a->cmd.bootif_unusable)
		ra_warn("BOOTIF is not an Ethernet MAC address; using every "
		    "NIC");
	if (a->cmd.boot_method && strcmp(a->cmd.boot_method, "vmedia") == 0)
		ra_warn("boot_method=vmedia: the virtual media parameters "
		    "file is not read, the kernel command line is used");
	return 0;
}

/*
 * Which NIC the lookup goes out on: the one holding the address the route
 * to the API starts from.  Two leases may come within one poll, and the
 * one bound first holds the default route; else 'first', the first reaped.
 */
static int
route_nic(struct agent *a, int first)
{
	char src[RA_HOST_MAX], have[RA_HOST_MAX];
	struct ra_url u;

	if (ra_url_parse(a->cmd.api_url, &u, NULL) < 0 ||
	    ra_net_route_source(u.host, u.port, src, sizeof(src)) < 0)
		return first;
	for (int i = 0; i < a->n_boot; i++) {
		if (ra_net_ipv4(a->boot[i].name, have, sizeof(have)) == 0 &&
		    strcmp(have, src) == 0)
			return i;
	}
	return first;
}

/*
 * The NICs up and DHCP; returns the MAC list for lookup in *macs.  With a
 * BOOTIF NIC, DHCP on it alone; else on every NIC that shows a link.  The
 * first lease is enough to look up: the other clients go on meanwhile.
 */
static void
network(struct agent *a, struct lb_buf *macs)
{
	struct ra_dhcp_round *dr = &a->dhcp_round;
	struct ra_nic nics[RA_MAX_NICS];
	struct lb_err err = { "" };
	int n, r;

	n = ra_net_list(a->sysfs, nics, RA_MAX_NICS, &err);
	if (n < 0) {
		ra_warn("cannot list the NICs: %s", err.msg);
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(nics[i].mac, a->cmd.bootif) == 0)
			a->boot[a->n_boot++] = nics[i];
	}
	if (a->n_boot == 0) {
		if (a->cmd.bootif[0] != '\0')
			ra_warn("no NIC has the BOOTIF address %s; using "
			    "every NIC", a->cmd.bootif);
		memcpy(a->boot, nics, n * sizeof(*nics));
		a->n_boot = n;
		dr->need_carrier = true;
	}
	if (a->cmd.bootif[0] != '\0')
		lb_buf_adds(macs, a->cmd.bootif);
	for (int i = 0; i < n; i++) {
		if (strcmp(nics[i].mac, a->cmd.bootif) == 0)
			continue;
		if (macs->len > 0)
			lb_buf_addc(macs, ',');
		lb_buf_adds(macs, nics[i].mac);
	}
	lb_buf_addc(macs, '\0');
	if (a->no_dhcp || a->n_boot == 0)
		return;
	for (int i = 0; i < a->n_boot; i++) {
		if (ra_net_link_up(a->boot[i].name, &err) < 0)
			ra_warn("%s", err.msg);
	}
	ra_info("DHCP on %d NIC%s%s", a->n_boot, a->n_boot == 1 ? "" : "s",
	    dr->need_carrier ? ", each once it shows a link" : "");
	dr->dhcp = &a->dhcp;
	dr->sysfs = a->sysfs;
	memcpy(dr->nics, a->boot, a->n_boot * sizeof(*a->boot));
	dr->n = a->n_boot;
	dr->carrier_ms = (int)(a->carrier_wait * 1000);
	dr->timeout_ms = DHCP_ROUND_TIMEOUT_MS;
	if (ra_dhcp_round_start(dr, &err) < 0) {
		ra_warn("DHCP: %s", err.msg);
		return;
	}
	r = ra_dhcp_round_first(dr, &got_signal);
	if (r >= 0) {
		a->winner = route_nic(a, r);
		ra_info("DHCP: %s wins (the first lease), lookup starts",
		    a->boot[a->winner].name);
	} else if (r == -ENOENT)
		ra_warn("DHCP: no lease on any NIC; carrying on");
}

/*
 * After the round: the NICs that got a lease, for the lasting clients;
 * when none did (a lease that came some other way), those DHCP ran on.
 */
static void
leased_nics(struct agent *a)
{
	struct ra_dhcp_round *dr = &a->dhcp_round;
	struct ra_nic keep[RA_MAX_NICS];
	int n = 0;

	if (dr->n == 0)
		return;
	for (int i = 0; i < dr->n; i++) {
		if (ra_dhcp_round_state(dr, i) == RA_DHCP_LEASE)
			keep[n++] = dr->nics[i];
	}
	for (int i = 0; n == 0 && i < dr->n; i++) {
		if (ra_dhcp_round_state(dr, i) != RA_DHCP_SKIPPED)
			keep[n++] = dr->nics[i];
	}
	if (n == 0)
		return;
	memcpy(a->boot, keep, n * sizeof(*keep));
	a->n_boot = n;
}

/* IPA's lookup: random exponential backoff until ipa-lookup-timeout. */
static int
lookup(struct agent *a, const char *macs)
{
	static const double conflict_pauses[] = { 5, 10, 30 };
	int64_t start = ra_now_ms();
	double lo = a->cmd.lookup_interval, hi;
	struct lb_err err;
	int attempt = 0, conflicts = 0, r;

	ra_info("looking up the node at %s with %s", a->ic.api_url,
	    *macs ? macs : "no MAC address");
	for (;;) {
		attempt++;
		err.msg[0] = '\0';
		r = ra_ironic_lookup(&a->ic, macs, NULL, &a->lk, &err);
		if (r == 0)
			return 0;
		if (r == -EINVAL) {
			ra_error("lookup: %s", err.msg);
			return r;
		}
		ra_warn("lookup failed, retrying: %s", err.msg);
		if (r == -EBUSY) {
			double pause = conflict_pauses[conflicts < 2 ?
			    conflicts : 2];

			conflicts++;
			if (!nap(pause))
				return -EINTR;
		}
		if (ra_now_ms() - start >= a->cmd.lookup_timeout * 1000) {
			ra_error("Could not look up node info. Check logs for "
			    "details.");
			return -ETIMEDOUT;
		}
		/* tenacity's wait_random_exponential(min, max=60) */
		hi = attempt > 7 ? LOOKUP_MAX_INTERVAL :
		    (double)(1 << (attempt - 1));
		if (hi > LOOKUP_MAX_INTERVAL)
			hi = LOOKUP_MAX_INTERVAL;
		if (!nap(uniform(lo, hi > lo ? hi : lo)))
			return -EINTR;
	}
}

/* IPA's token rules: >= 32 characters replaces, "******" keeps. */
static void
take_token(struct agent *a)
{
	const char *t = a->lk.token;

	a->token = a->cmd.agent_token;
	if (t == NULL) {
		ra_info("no agent token in the lookup reply%s", a->token ?
		    "; using the one from the command line" : "");
	} else if (strlen(t) >= 32) {
		a->token = t;
		ra_info("agent token received at lookup");
	} else if (strcmp(t, "******") == 0) {
		ra_warn("The agent token has already been retrieved.");
		if (a->token == NULL && a->lk.token_required)
			ra_error("Ironic is signaling that agent tokens are "
			    "required, however we do not have a token on file. "
			    "This is likely **FATAL**.");
	} else {
		ra_info("An invalid token was received.");
	}
}

static int
advertise(struct agent *a)
{
	struct ra_url u;

	if (a->cmd.advertise_host != NULL) {
		snprintf(a->advertise, sizeof(a->advertise), "%s",
		    a->cmd.advertise_host);
		return 0;
	}
	if (ra_url_parse(a->ic.api_url, &u, NULL) == 0 &&
	    ra_net_route_source(u.host, u.port, a->advertise,
	    sizeof(a->advertise)) == 0)
		return 0;
	if (a->winner >= 0 && ra_net_ipv4(a->boot[a->winner].name,
	    a->advertise, sizeof(a->advertise)) == 0)
		return 0;
	for (int i = 0; i < a->n_boot; i++) {
		if (ra_net_ipv4(a->boot[i].name, a->advertise,
		    sizeof(a->advertise)) == 0)
			return 0;
	}
	ra_error("no address to advertise: set ipa-advertise-host");
	return -EADDRNOTAVAIL;
}

static int
serve(struct agent *a)
{
	struct ra_api_config cfg = { 0 };
	struct lb_err err = { "" };
	char host_port[RA_HOST_MAX + 16];
	const char *scheme;
	struct timespec now;
	bool v6 = strchr(a->advertise, ':') != NULL;
	int port, r;

	scheme = a->cmd.advertise_protocol;
	if ((a->cmd.auto_tls && ra_ironic_version(&a->ic) >=
	    RA_VERIFY_CA_MINOR) || strcmp(scheme, "https") == 0) {
		r = ra_tls_self_signed(a->advertise, &a->tls, &a->pem, &err);
		if (r < 0) {
			ra_error("auto-TLS: %s", err.msg);
			return r;
		}
		scheme = "https";
		ra_info("auto-TLS: self-signed EC P-384 certificate for %s",
		    a->advertise);
	}
	r = ra_http_listen(a->cmd.listen_host, a->cmd.listen_port,
	    &a->listen_fd, &port, &err);
	if (r < 0) {
		ra_error("%s", err.msg);
		return r;
	}
	if (a->cmd.advertise_port > 0)
		port = a->cmd.advertise_port;
	snprintf(host_port, sizeof(host_port), "%s%s%s:%d", v6 ? "[" : "",
	    a->advertise, v6 ? "]" : "", port);
	snprintf(a->callback_url, sizeof(a->callback_url), "%s://%s", scheme,
	    host_port);
	clock_gettime(CLOCK_REALTIME, &now);
	cfg.scheme = scheme;
	cfg.default_host = host_port;
	cfg.agent_version = IPA_VERSION;
	cfg.root = a->root;
	cfg.started_at = now.tv_sec + now.tv_nsec / 1e9;
	a->api = ra_api_new(&cfg);
	if (a->api == NULL || ra_api_set_token(a->api, a->token,
	    a->lk.token_required) < 0) {
		ra_error("out of memory");
		return -ENOMEM;
	}
	if (pipe2(a->server_stop, O_CLOEXEC) < 0 ||
	    pthread_create(&a->server_thread, NULL, server_main, a) != 0) {
		ra_error("cannot start the API server");
		return -EIO;
	}
	ra_info("serving the agent API at %s", a->callback_url);
	return 0;
}

/* ---- after finalize ---- */

static void
stop_serving(struct agent *a)
{
	struct timespec ts;

	pthread_mutex_lock(&a->hb_lock);
	a->hb_stop = true;
	pthread_cond_signal(&a->hb_cond);
	pthread_mutex_unlock(&a->hb_lock);
	/*
	 * A heartbeat already on the wire may take up to the HTTP timeout;
	 * it is the last one either way, so do not wait long for it.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(a->hb_thread, NULL, &ts) != 0)
		ra_warn("a heartbeat is still in flight; it is the last one");
	if (write(a->server_stop[1], "x", 1) == 1)
		pthread_join(a->server_thread, NULL);
	close(a->listen_fd);
	/* Let replies in flight finish before the process goes. */
	for (int i = 0; i < 100 && atomic_load(&a->conns) > 0; i++)
		usleep(50 * 1000);
}

/*
 * DHCP clients on every NIC that got a lease before lookup (or every NIC
 * DHCP ran on, when none did), until a signal.
 */
static void
follow_network(struct agent *a)
{
	char run_dir[PATH_MAX];

	under_root(a, RA_RUN_DIR, run_dir, sizeof(run_dir));
	ra_follow_run(&(struct ra_follow){
		.dhcp = &a->dhcp,
		.sysfs = a->sysfs,
		.run_dir = run_dir,
		.nics = a->boot,
		.n = a->n_boot,
		.moves = atomic_load(&a->network_moves),
		.first_delay = a->renew_delay,
		.wake_fd = wake_pipe[0],
		.stop = &got_signal,
	});
}

/*
 * The rescue user's sudo, mount and the rest arrive with the tools: SSH
 * waits for them (bounded: a broken unpack must not keep the user out).
 */
static void
wait_for_tools(const struct agent *a)
{
	char path[PATH_MAX];
	int64_t end = ra_now_ms() + TOOLS_WAIT_MS;

	under_root(a, RA_TOOLS_PENDING, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return;
	ra_info("waiting for the repair tools to be unpacked");
	/* not nap(): the wake pipe is follow_network's, on another thread */
	while (access(path, F_OK) == 0 && ra_now_ms() < end && !got_signal)
		usleep(100 * 1000);
	if (access(path, F_OK) == 0)
		ra_warn("the repair tools are still not unpacked; starting "
		    "the SSH server anyway");
}

/*
 * The SSH server once the tools are in.  A thread of its own, so that the
 * network is followed meanwhile: when the node moves to its tenant
 * network, the new lease comes while the tools still unpack.
 */
static void *
start_sshd(void *arg)
{
	struct agent *a = arg;
	struct lb_err err = { "" };

	wait_for_tools(a);
	if (ra_rescue_start_sshd(a->sshd, 3000, &err) < 0)
		ra_error("%s", err.msg);
	else
		ra_info("SSH server '%s' started", a->sshd);
	return NULL;
}

static void
after_finalize(struct agent *a)
{
	bool follow = !a->no_dhcp && a->n_boot > 0;
	pthread_t sshd;

	ra_info("rescue finalized: user %s is ready; no more heartbeats or "
	    "commands", RA_RESCUE_USER);
	stop_serving(a);
	/*
	 * One-shot clients still trying now are for the provisioning
	 * network Ironic is taking away; the lasting ones replace them.
	 */
	ra_dhcp_round_end(&a->dhcp_round, true);
	leased_nics(a);
	if (follow && pthread_create(&sshd, NULL, start_sshd, a) == 0) {
		follow_network(a);
		pthread_join(sshd, NULL);
		return;
	}
	start_sshd(a);
	if (follow)
		follow_network(a);
}

/* ---- main ---- */

static void
usage(FILE *f)
{
	fprintf(f, "usage: lifeboat-agent [options]\n"
	    "  --cmdline-file FILE   kernel command line (/proc/cmdline)\n"
	    "  --root DIR            where /etc and /home are (/)\n"
	    "  --sshd CMD            SSH server, run as CMD -R -E -p 22 "
	    "(dropbear)\n"
	    "  --dhcp-cmd CMD        DHCP client, udhcpc-compatible "
	    "(udhcpc)\n"
	    "  --dhcp-script PATH    its -s script "
	    "(/usr/share/udhcpc/default.script)\n"
	    "  --dhcp-renew-delay S  when finalize says the network moves, "
	    "wait S seconds\n"
	    "                        before the first look for its DHCP "
	    "server (0)\n"
	    "  --carrier-wait S      without BOOTIF, how long NICs may take "
	    "to show a link (10)\n"
	    "  --no-dhcp             leave the network alone\n"
	    "  --sys-class-net DIR   where the NICs are (/sys/class/net)\n"
	    "  --debug               log debug lines too\n"
	    "  --version\n");
}

static int
parse_args(struct agent *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cmdline-file", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "sshd", required_argument, NULL, 's' },
		{ "dhcp-cmd", required_argument, NULL, 'd' },
		{ "dhcp-script", required_argument, NULL, 'S' },
		{ "dhcp-renew-delay", required_argument, NULL, 'R' },
		{ "carrier-wait", required_argument, NULL, 'W' },
		{ "no-dhcp", no_argument, NULL, 'n' },
		{ "sys-class-net", required_argument, NULL, 'N' },
		{ "debug", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->cmdline_file = optarg; break;
		case 'r': a->root = optarg; break;
		case 's': a->sshd = optarg; break;
		case 'd': a->dhcp.cmd = optarg; break;
		case 'S': a->dhcp.script = optarg; break;
		case 'n': a->no_dhcp = true; break;
		case 'N': a->sysfs = optarg; break;
		case 'D': ra_log_set_debug(true); break;
		case 'R':
			a->renew_delay = strtod(optarg, &end);
			if (*end != '\0' || !(a->renew_delay >= 0))
				return -EINVAL;
			break;
		case 'W':
			a->carrier_wait = strtod(optarg, &end);
			if (*end != '\0' || !(a->carrier_wait >= 0) ||
			    a->carrier_wait > 600)
				return -EINVAL;
			break;
		case 'V':
			printf("lifeboat-agent %s (IPA protocol %s)\n",
			    LB_VERSION, IPA_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	return optind == argc ? 0 : -EINVAL;
}

static int
run(struct agent *a)
{
	struct lb_err err = { "" };
	struct lb_buf macs;
	int r;

	if (read_cmdline(a) < 0)
		return 1;
	if (a->cmd.debug)
		ra_log_set_debug(true);
	ra_info("lifeboat-agent %s starting (IPA protocol %s), API %s",
	    LB_VERSION, IPA_VERSION, a->cmd.api_url);
	lb_buf_init(&macs);
	network(a, &macs);
	r = ra_ironic_init(&a->ic, a->cmd.api_url, a->cmd.global_request_id,
	    a->cmd.api_minor, a->cmd.insecure, HTTP_TIMEOUT_MS, &err);
	if (r == 0)
		r = lb_buf_failed(&macs) ? -ENOMEM : lookup(a, macs.data);
	else
		ra_error("%s", err.msg);
	lb_buf_release(&macs);
	if (r == -EINTR)
		return 0;
	if (r < 0)
		return 1;
	ra_info("node %s found; heartbeat_timeout %.0f s", a->lk.uuid,
	    a->lk.heartbeat_timeout);
	take_token(a);
	if (advertise(a) < 0 || serve(a) < 0)
		return 1;
	if (pthread_create(&a->hb_thread, NULL, heartbeat_main, a) != 0) {
		ra_error("cannot start the heartbeat thread");
		return 1;
	}
	while (!got_signal && !atomic_load(&a->finalized))
		nap(60);
	if (atomic_load(&a->finalized)) {
		after_finalize(a);
	} else {
		ra_info("signal %d: stopping", (int)got_signal);
		stop_serving(a);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct agent a = {
		.cmdline_file = "/proc/cmdline",
		.root = "/",
		.sshd = "dropbear",
		.sysfs = "/sys/class/net",
		.dhcp = { "udhcpc", "/usr/share/udhcpc/default.script" },
		.renew_delay = 0,
		.carrier_wait = 10,
		.winner = -1,
		.listen_fd = -1,
	};
	struct sigaction sa = { .sa_handler = on_signal };
	char run_dir[PATH_MAX];
	pthread_condattr_t ca;
	int code;

	if (parse_args(&a, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (getenv("PATH") == NULL)
		setenv("PATH", DEFAULT_PATH, 1);
	/* Before any thread: where udhcpc.script records the leases. */
	under_root(&a, RA_RUN_DIR, run_dir, sizeof(run_dir));
	setenv("LIFEBOAT_RUN", run_dir, 1);
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pthread_mutex_init(&a.hb_lock, NULL);
	ra_peers_init(&a.peers, PEER_MAX_CONNS);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a.hb_cond, &ca);
	code = run(&a);
	/* DHCP clients of the first round do not outlive the agent. */
	ra_dhcp_round_end(&a.dhcp_round, true);
	ra_info("exit %d", code);
	/* Threads may still hold the API: let exit(3) reclaim it. */
	return code;
}
