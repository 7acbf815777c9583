/*
 * notify.c - sd_notify() messages for systemd's Type=notify unit and the
 * watchdog thread that sends WATCHDOG=1 only while lb_engine_health()
 * passes, so that a wedged lifeboatd is killed and restarted by systemd.
 * The main thread sends READY/STATUS/STOPPING; the watchdog thread its
 * pings.
 */
#include "conductor/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "conductor/util/clock.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

struct lb_watchdog {
	struct lb_engine *engine;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* on the monotonic clock */
	bool stopping;
	unsigned long long period_us;	/* half of WATCHDOG_USEC */
};

/* A status line goes out with what it accompanies, in one datagram. */
static void
send_status(const char *what, const char *status)
{
	int r = sd_notifyf(0, "%s%sSTATUS=%s", what ? what : "",
	    what ? "\n" : "", status);

	if (r < 0)
		log_warning("cannot notify systemd: %s", strerror(-r));
}

void
lb_notify_ready(const char *status)
{
	send_status("READY=1", status);
}

void
lb_notify_stopping(const char *status)
{
	send_status("STOPPING=1", status);
}

void
lb_notify_status(const char *status)
{
	send_status(NULL, status);
}

/*
 * One round: a ping when healthy; a log line when that changes.  A check
 * that took longer than the ping period (a store that waited for its
 * lock) is not healthy either, though it passed in the end.
 */
static void
check(struct lb_watchdog *w, bool *healthy)
{
	struct lb_err err = { "" };
	char status[LB_ERR_MSG_MAX + 32];
	double start = lb_monotonic(), took;
	int r;

	r = lb_engine_health(w->engine, &err);
	took = lb_monotonic() - start;
	if (r == 0 && took * 1e6 > (double)w->period_us)
		r = lb_err_set(&err, -EIO, "the health check took %.1f s",
		    took);
	if (r == 0) {
		sd_notify(0, "WATCHDOG=1");
		if (!*healthy)
			log_info("watchdog: healthy again, pinging systemd");
		*healthy = true;
		return;
	}
	if (*healthy) {
		log_warning("watchdog: not pinging systemd: %s", err.msg);
		snprintf(status, sizeof(status), "unhealthy: %s", err.msg);
		lb_notify_status(status);
	}
	*healthy = false;
}

static void *
watchdog_main(void *arg)
{
	struct lb_watchdog *w = arg;
	double next = lb_monotonic(), left;
	bool healthy = true;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		pthread_mutex_unlock(&w->lock);
		check(w, &healthy);
		pthread_mutex_lock(&w->lock);
		/* On a fixed beat; after a slow check, at once. */
		next += w->period_us / 1e6;
		if (next < lb_monotonic())
			next = lb_monotonic();
		while (!w->stopping && (left = next - lb_monotonic()) > 0)
			lb_cond_wait_for(&w->wake, &w->lock, left);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int
lb_watchdog_start(struct lb_engine *e, struct lb_watchdog **ret)
{
	struct lb_watchdog *w;
	uint64_t usec = 0;
	int r;

	*ret = NULL;
	r = sd_watchdog_enabled(0, &usec);
	if (r <= 0 || usec == 0)
		return r < 0 ? r : 0;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->engine = e;
	w->period_us = usec / 2;
	pthread_mutex_init(&w->lock, NULL);
	lb_cond_init_monotonic(&w->wake);
	if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -EAGAIN;
	}
	log_info("watchdog: pinging systemd every %.1f s while healthy",
	    w->period_us / 1e6);
	*ret = w;
	return 0;
}

void
lb_watchdog_stop(struct lb_watchdog *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
