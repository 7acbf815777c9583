/*
 * agent_server.c - lifeboat-agent between lookup and finalize: the command
 * API server (its own thread, accepting; one detached thread per
 * connection) and the heartbeat thread.  ra_agent_serve(),
 * ra_agent_start_heartbeats() and ra_agent_stop_serving() run on the main
 * thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ramdisk/agent_log.h"
#include "ramdisk/agent_main.h"
#include "ramdisk/agent_tls.h"
#include "conductor/util/banned.h"

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

struct conn_arg {
	struct ra_agent *a;
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
	struct ra_agent *a = ca->a;
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
		if (write(ra_wake_pipe[1], "F", 1) < 0)
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
	struct ra_agent *a = p;
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

static void
mark_first_heartbeat(const struct ra_agent *a)
{
	char path[PATH_MAX];
	int fd;

	ra_agent_under_root(a, RA_HEARTBEAT_MARK, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static void *
heartbeat_main(void *p)
{
	struct ra_agent *a = p;
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
			interval = a->lk.heartbeat_timeout *
			    ra_agent_uniform(0.3, 0.6);
			ra_info("heartbeat %d accepted, next in %.1f s", n,
			    interval);
		} else {
			interval = 5 * ra_agent_uniform(1.0, 2.0);
			ra_warn("heartbeat %d failed (%s), again in %.1f s", n,
			    err.msg, interval);
		}
		due = ra_now_ms() + (int64_t)(interval * 1000);
		pthread_mutex_lock(&a->hb_lock);
	}
	pthread_mutex_unlock(&a->hb_lock);
	return NULL;
}

int
ra_agent_serve(struct ra_agent *a)
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
	ra_peers_init(&a->peers, PEER_MAX_CONNS);
	if (pipe2(a->server_stop, O_CLOEXEC) < 0 ||
	    pthread_create(&a->server_thread, NULL, server_main, a) != 0) {
		ra_error("cannot start the API server");
		return -EIO;
	}
	ra_info("serving the agent API at %s", a->callback_url);
	return 0;
}

int
ra_agent_start_heartbeats(struct ra_agent *a)
{
	if (pthread_create(&a->hb_thread, NULL, heartbeat_main, a) != 0) {
		ra_error("cannot start the heartbeat thread");
		return -EAGAIN;
	}
	return 0;
}

void
ra_agent_stop_serving(struct ra_agent *a)
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
