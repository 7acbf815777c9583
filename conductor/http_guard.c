/*
 * http_guard.c - per-daemon limits on HTTP connections.  A connection is
 * on the guard's list from accept to close with the time its request head
 * is due; the sweeper thread shuts down (SHUT_RDWR) each one past due, and
 * MHD, reading the end of the stream, closes it.  MHD's timeout alone is
 * an idle timeout, which a head trickled a byte at a time never meets.
 * Notify callbacks run on MHD's threads, the sweeper on its own.
 */
#include "conductor/http_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "conductor/util/clock.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

/*
 * The sweeper sleeps until the earliest due time, but sweeps at most once
 * per SWEEP_MS (under a flood one pass cuts many): a head is cut at most
 * this late.  With nothing due it sleeps until something is.
 */
#define SWEEP_MS 250
#define NEVER UINT64_MAX

struct guard_conn {
	struct guard_conn *prev, *next;
	struct lb_http_guard *g;
	int fd;
	uint64_t due_ms;		/* head due by (monotonic), 0: none */
};

struct lb_http_guard {
	const char *name;
	unsigned int head_timeout, idle_timeout;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t sweeper;
	bool stop;
	struct guard_conn *conns;
	uint64_t wake_ms;		/* the sweeper's next look, NEVER: none */
	unsigned long cut;		/* heads cut since the last log line */
	uint64_t logged;		/* second MHD was last logged in */
	unsigned long quiet;		/* MHD messages not logged since */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned int
lb_http_conn_limit(unsigned int percent)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		n = 1 << 20;
	else
		n = rl.rlim_cur;
	n = n > LB_HTTP_FD_HEADROOM ?
	    (n - LB_HTTP_FD_HEADROOM) / 100 * percent : 0;
	return n < 64 ? 64 : n > (1u << 20) ? 1u << 20 : (unsigned int)n;
}

static void *
sweep(void *arg)
{
	struct lb_http_guard *g = arg;
	uint64_t now, next;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		now = now_ms();
		next = NEVER;
		/*
		 * Shut down under the lock: MHD's NOTIFY_CLOSED takes it
		 * before MHD closes the fd, so the fd is still this one's.
		 */
		for (struct guard_conn *c = g->conns; c != NULL; c = c->next) {
			if (c->due_ms == 0)
				continue;
			if (c->due_ms > now) {
				if (c->due_ms < next)
					next = c->due_ms;
				continue;
			}
			c->due_ms = 0;
			shutdown(c->fd, SHUT_RDWR);
			g->cut++;
		}
		if (g->cut > 0) {
			log_info("%s: closed %lu connection(s) whose request "
			    "head did not arrive in time", g->name, g->cut);
			g->cut = 0;
		}
		if (next != NEVER && next < now + SWEEP_MS)
			next = now + SWEEP_MS;
		g->wake_ms = next;
		if (next == NEVER)
			pthread_cond_wait(&g->wake, &g->lock);
		else
			lb_cond_wait_for(&g->wake, &g->lock,
			    (double)(next - now) / 1000.0);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Under g->lock: a new due time wakes the sweeper if it sleeps past it. */
static void
due_changed(struct lb_http_guard *g, uint64_t due_ms)
{
	if (due_ms != 0 && due_ms < g->wake_ms) {
		g->wake_ms = due_ms;
		pthread_cond_signal(&g->wake);
	}
}

int
lb_http_guard_new(const char *name, unsigned int head_timeout,
    unsigned int idle_timeout, struct lb_http_guard **ret,
    struct lb_err *err)
{
	struct lb_http_guard *g;
	int r;

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	g->name = name;
	g->head_timeout = head_timeout;
	g->idle_timeout = idle_timeout;
	g->wake_ms = NEVER;
	pthread_mutex_init(&g->lock, NULL);
	lb_cond_init_monotonic(&g->wake);
	r = pthread_create(&g->sweeper, NULL, sweep, g);
	if (r != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return lb_err_set(err, -r, "cannot start the %s connection "
		    "sweeper: %s", name, strerror(r));
	}
	*ret = g;
	return 0;
}

void
lb_http_guard_free(struct lb_http_guard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->sweeper, NULL);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void
lb_http_guard_notify(void *cls, struct MHD_Connection *conn,
    void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct lb_http_guard *g = cls;
	const union MHD_ConnectionInfo *info;
	struct guard_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (c == NULL || info == NULL) {
			free(c);	/* unguarded: MHD's timeout holds */
			return;
		}
		c->g = g;
		c->fd = info->connect_fd;
		c->due_ms = now_ms() + (uint64_t)g->head_timeout * 1000;
		pthread_mutex_lock(&g->lock);
		c->next = g->conns;
		if (g->conns != NULL)
			g->conns->prev = c;
		g->conns = c;
		due_changed(g, c->due_ms);
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&g->lock);
	free(c);
	*socket_context = NULL;
}

static struct guard_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

static void
set_due(struct guard_conn *c, unsigned int seconds)
{
	pthread_mutex_lock(&c->g->lock);
	c->due_ms = seconds > 0 ? now_ms() + (uint64_t)seconds * 1000 : 0;
	due_changed(c->g, c->due_ms);
	pthread_mutex_unlock(&c->g->lock);
}

void
lb_http_guard_head_done(struct MHD_Connection *conn)
{
	struct guard_conn *c = conn_of(conn);

	if (c == NULL)
		return;
	set_due(c, 0);
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
	    c->g->idle_timeout);
}

void
lb_http_guard_request_done(struct MHD_Connection *conn)
{
	struct guard_conn *c = conn_of(conn);

	if (c != NULL)
		set_due(c, c->g->idle_timeout);
}

void
lb_http_guard_log(void *cls, const char *fmt, va_list ap)
{
	struct lb_http_guard *g = cls;
	char msg[256];
	size_t n;
	uint64_t now = now_ms() / 1000;
	unsigned long quiet;

	/* A flood makes MHD say "connection limit" per connection. */
	pthread_mutex_lock(&g->lock);
	if (now == g->logged) {
		g->quiet++;
		pthread_mutex_unlock(&g->lock);
		return;
	}
	g->logged = now;
	quiet = g->quiet;
	g->quiet = 0;
	pthread_mutex_unlock(&g->lock);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (quiet > 0)
		log_warning("%s: %s (and %lu earlier messages not logged)",
		    g->name, msg, quiet);
	else
		log_warning("%s: %s", g->name, msg);
}
