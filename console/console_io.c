/*
 * console_io.c - what the console loop does for one node: raw bytes both
 * ways between its SOL session and its one TCP client (and into the
 * capture log), a second client told it is busy and closed, the idle
 * timeout, SOL lost and reconnected with back-off, without taking SOL
 * back from whoever took it.  Runs on the console's poll-loop thread
 * with the console lock held (lb_con_new/free also on worker threads).
 */
#include "console/session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define IO_CHUNK		4096
#define RETRY_FIRST_MS		1000
#define RETRY_MAX_MS		30000

struct lb_con *
lb_con_new(const char *uuid)
{
	struct lb_con *con = calloc(1, sizeof(*con));

	if (con == NULL)
		return NULL;
	snprintf(con->uuid, sizeof(con->uuid), "%s", uuid);
	con->sol.fd = -1;
	con->listen_fd = -1;
	con->client_fd = -1;
	con->backoff_ms = RETRY_FIRST_MS;
	return con;
}

/* Best effort: a line the client should read before it is closed. */
static void
say(struct lb_con *con, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
say(struct lb_con *con, const char *fmt, ...)
{
	char line[LB_ERR_MSG_MAX + 128];
	va_list ap;
	int n;

	if (con->client_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (con->out_len + (size_t)n <= sizeof(con->out)) {
		memcpy(con->out + con->out_len, line, (size_t)n);
		con->out_len += (size_t)n;
	}
}

static void
flush_client(struct lb_con *con)
{
	ssize_t w;

	if (con->client_fd < 0 || con->out_len == 0)
		return;
	w = send(con->client_fd, con->out, con->out_len, MSG_NOSIGNAL);
	if (w <= 0)
		return;
	memmove(con->out, con->out + w, con->out_len - (size_t)w);
	con->out_len -= (size_t)w;
}

static void
close_client(struct lb_con *con, const char *why)
{
	if (con->client_fd < 0)
		return;
	flush_client(con);
	shutdown(con->client_fd, SHUT_RDWR);
	close(con->client_fd);
	con->client_fd = -1;
	con->out_len = 0;
	log_info("console of node %s: client %s closed%s", con->uuid,
	    con->peer, why);
}

void
lb_con_unserve(struct lb_con *con, const char *why)
{
	if (con->client_fd >= 0) {
		say(con, "\r\nlifeboat: the console of node %s is closed: "
		    "%s\r\n", con->uuid, why);
		close_client(con, "");
	}
	if (con->listen_fd >= 0)
		close(con->listen_fd);
	con->listen_fd = -1;
	con->serving = false;
}

void
lb_con_free(struct lb_con *con)
{
	if (con == NULL)
		return;
	lb_con_unserve(con, "the console was disabled");
	lb_sol_release(&con->sol);
	lb_capture_close(con->cap);
	free(con);
}

static void
peer_name(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static void
accept_client(struct lb_con *con, int64_t now)
{
	static const char busy[] = "lifeboat: the console of node %s is in "
	    "use by another client\r\n";
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char peer[sizeof(con->peer)], line[sizeof(busy) + LB_UUID_LEN];
	int fd = accept4(con->listen_fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	peer_name(&ss, peer, sizeof(peer));
	if (con->client_fd >= 0) {
		int n = snprintf(line, sizeof(line), busy, con->uuid);

		if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0) {
			/* it goes anyway */
		}
		close(fd);
		log_info("console of node %s: client %s refused: in use by %s",
		    con->uuid, peer, con->peer);
		return;
	}
	con->client_fd = fd;
	con->client_io_ms = now;
	memcpy(con->peer, peer, sizeof(peer));
	log_info("console of node %s: client connected from %s", con->uuid,
	    peer);
	if (con->sol.state != LB_SOL_UP && con->sol_why.msg[0] != '\0')
		say(con, "lifeboat: Serial-over-LAN of node %s is down (%s); "
		    "reconnecting\r\n", con->uuid, con->sol_why.msg);
}

static void
client_io(struct lb_con *con, short revents, int64_t now)
{
	char buf[IO_CHUNK];
	ssize_t n;

	if (revents & POLLOUT) {
		flush_client(con);
		con->client_io_ms = now;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = recv(con->client_fd, buf, sizeof(buf), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close_client(con, "");
		return;
	}
	if (n < 0)
		return;
	con->client_io_ms = now;
	/* Typing while SOL is down goes nowhere, as on a real line. */
	if (con->sol.state == LB_SOL_UP && write(con->sol.fd, buf,
	    (size_t)n) < 0) {
		/* a full SOL pipe drops input; EOF shows on the read side */
	}
}

static void
schedule_retry(struct lb_con *con, int64_t now)
{
	con->retry_ms = now + con->backoff_ms;
	con->backoff_ms = con->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
	    con->backoff_ms * 2;
}

static void
sol_io(struct lb_con *con, int64_t now)
{
	char buf[IO_CHUNK];
	ssize_t n = read(con->sol.fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		lb_sol_lost(&con->sol, &con->sol_why);
		log_info("console of node %s: SOL lost (%s)", con->uuid,
		    con->sol_why.msg);
		say(con, "\r\nlifeboat: Serial-over-LAN of node %s lost (%s); "
		    "reconnecting\r\n", con->uuid, con->sol_why.msg);
		flush_client(con);
		con->backoff_ms = RETRY_FIRST_MS;
		schedule_retry(con, now);
		return;
	}
	if (con->cap != NULL)
		lb_capture_feed(con->cap, buf, (size_t)n);
	if (con->client_fd < 0)
		return;
	if (con->out_len + (size_t)n <= sizeof(con->out)) {
		memcpy(con->out + con->out_len, buf, (size_t)n);
		con->out_len += (size_t)n;
	}
	con->client_io_ms = now;
	flush_client(con);
}

void
lb_con_event(struct lb_con *con, enum lb_con_fd which, short revents,
    int64_t now_ms)
{
	switch (which) {
	case LB_CON_FD_LISTEN:
		if (con->listen_fd >= 0)
			accept_client(con, now_ms);
		break;
	case LB_CON_FD_CLIENT:
		if (con->client_fd >= 0)
			client_io(con, revents, now_ms);
		break;
	case LB_CON_FD_SOL:
		if (con->sol.state == LB_SOL_UP)
			sol_io(con, now_ms);
		break;
	}
}

static void
sol_up(struct lb_con *con)
{
	con->backoff_ms = RETRY_FIRST_MS;
	con->sol_why.msg[0] = '\0';
	if (con->start_r == LB_CON_START_PENDING) {
		con->start_r = 0;
		lb_con_signal();
	}
	if (con->sol_was_up) {
		log_info("console of node %s: SOL back", con->uuid);
		say(con, "\r\nlifeboat: Serial-over-LAN of node %s is back"
		    "\r\n", con->uuid);
		flush_client(con);
	} else {
		log_info("console of node %s: SOL up (%s)", con->uuid,
		    con->sol.conn.suites_note);
	}
	con->sol_was_up = true;
}

/* The first attempt of start() failed: it fails, unless a capture runs. */
static void
start_failed(struct lb_con *con, const struct lb_err *why, int r,
    int64_t now)
{
	con->start_r = r;
	con->start_err = *why;
	lb_con_signal();
	if (con->cap == NULL) {
		lb_con_remove(con);
		return;
	}
	lb_con_unserve(con, why->msg);
	schedule_retry(con, now);
}

static void
sol_failed(struct lb_con *con, const struct lb_err *why, int r, int64_t now)
{
	bool changed = strcmp(con->sol_why.msg, why->msg) != 0;

	con->sol_why = *why;
	if (con->start_r == LB_CON_START_PENDING) {
		start_failed(con, why, r, now);
		return;
	}
	/* one line per new reason, not one per retry */
	if (changed)
		log_info("console of node %s: SOL reconnection failed (%s); "
		    "retrying", con->uuid, why->msg);
	schedule_retry(con, now);
}

void
lb_con_tick(struct lb_con *con, int64_t now_ms)
{
	struct lb_err e;
	int r;

	if (con->sol.state == LB_SOL_CONNECTING) {
		r = lb_sol_poll(&con->sol, now_ms, &e);
		if (r == 1)
			sol_up(con);
		else if (r < 0)
			sol_failed(con, &e, r, now_ms);
		if (r < 0 && con->start_r < 0 && con->cap == NULL)
			return;		/* unlisted: start() frees it */
	} else if (con->sol.state == LB_SOL_DOWN && con->retry_ms != 0 &&
	    now_ms >= con->retry_ms) {
		con->retry_ms = 0;
		/* Someone who took SOL keeps it: retry later instead. */
		r = lb_sol_begin(&con->sol, false, now_ms, &e);
		if (r < 0)
			sol_failed(con, &e, r, now_ms);
	}
	if (con->client_fd >= 0 && con->terminal_timeout > 0 &&
	    now_ms - con->client_io_ms >= con->terminal_timeout * 1000LL) {
		char why[64];

		say(con, "\r\nlifeboat: closing the console of node %s: no "
		    "data for %d s\r\n", con->uuid, con->terminal_timeout);
		snprintf(why, sizeof(why), " (idle %d s)",
		    con->terminal_timeout);
		close_client(con, why);
	}
}

int64_t
lb_con_due_ms(const struct lb_con *con)
{
	int64_t due = INT64_MAX;

	if (con->sol.state == LB_SOL_CONNECTING)
		due = con->sol.deadline_ms;
	else if (con->sol.state == LB_SOL_DOWN && con->retry_ms != 0)
		due = con->retry_ms;
	if (con->client_fd >= 0 && con->terminal_timeout > 0 &&
	    con->client_io_ms + con->terminal_timeout * 1000LL < due)
		due = con->client_io_ms + con->terminal_timeout * 1000LL;
	return due;
}
