/*
 * console_server.c - the list of consoles this lifeboatd serves, its lock,
 * and the one poll-loop thread that watches every node's descriptors (SOL,
 * listener, client) and runs their timed work (console_io.c does the work
 * itself).  Worker threads add and remove cons under the lock; the loop
 * polls without it and drops a round's results if the list changed while
 * it slept, so it never touches a con that was removed.
 */
#include "console/session.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "conductor/util/clock.h"
#include "conductor/util/banned.h"

/* The loop wakes at least this often, whatever is due. */
#define LOOP_MAX_SLEEP_MS	1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static struct lb_con *head;
static uint64_t generation;	/* bumped when a con leaves the list */
static uint64_t rounds;		/* bumped when the loop is back from poll */
static int wake_fd = -1;
static pthread_t loop_thread;
static bool loop_running, loop_quit;

void
lb_con_lock(void)
{
	pthread_mutex_lock(&lock);
}

void
lb_con_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

int64_t
lb_con_now_ms(void)
{
	return (int64_t)(lb_monotonic() * 1000);
}

void
lb_con_wait(int64_t deadline_ms)
{
	int64_t left = deadline_ms - lb_con_now_ms();

	if (left > 0)
		lb_cond_wait_for(&changed, &lock, left / 1000.0);
}

static void
wake(void)
{
	uint64_t one = 1;

	if (wake_fd >= 0 && write(wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is already set: the loop wakes anyway */
	}
}

struct lb_con *
lb_con_find(const char *uuid)
{
	for (struct lb_con *c = head; c != NULL; c = c->next)
		if (strcmp(c->uuid, uuid) == 0)
			return c;
	return NULL;
}

size_t
lb_con_ports(unsigned int *ports, size_t max)
{
	size_t n = 0;

	for (struct lb_con *c = head; c != NULL && n < max; c = c->next)
		if (c->serving)
			ports[n++] = c->port;
	return n;
}

struct pollset {
	struct pollfd *fds;
	struct lb_con **cons;		/* NULL for the loop's own fds */
	enum lb_con_fd *which;
	size_t n, cap;
};

static int
pollset_add(struct pollset *ps, int fd, short events, struct lb_con *con,
    enum lb_con_fd which)
{
	if (fd < 0)
		return 0;
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 16;
		struct pollfd *f = realloc(ps->fds, cap * sizeof(*f));
		struct lb_con **c = f ? realloc(ps->cons, cap * sizeof(*c)) :
		    NULL;
		enum lb_con_fd *w = c ? realloc(ps->which, cap * sizeof(*w)) :
		    NULL;

		if (f != NULL)
			ps->fds = f;
		if (c != NULL)
			ps->cons = c;
		if (w == NULL)
			return -ENOMEM;
		ps->which = w;
		ps->cap = cap;
	}
	ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = events };
	ps->cons[ps->n] = con;
	ps->which[ps->n] = which;
	ps->n++;
	return 0;
}

/* Lock held: what to poll this round, and for how long. */
static int
build(struct pollset *ps, int64_t now, int *ret_timeout)
{
	int64_t due = now + LOOP_MAX_SLEEP_MS;
	int r;

	ps->n = 0;
	r = pollset_add(ps, wake_fd, POLLIN, NULL, LB_CON_FD_LISTEN);
	if (r == 0)
		r = pollset_add(ps, lb_sol_event_fd(), POLLIN, NULL,
		    LB_CON_FD_SOL);
	for (struct lb_con *c = head; c != NULL && r == 0; c = c->next) {
		int64_t d = lb_con_due_ms(c);

		if (d < due)
			due = d;
		r = pollset_add(ps, c->listen_fd, POLLIN, c, LB_CON_FD_LISTEN);
		if (r == 0)
			r = pollset_add(ps, c->client_fd, POLLIN |
			    (c->out_len > 0 ? POLLOUT : 0), c,
			    LB_CON_FD_CLIENT);
		if (r == 0 && c->sol.state == LB_SOL_UP)
			r = pollset_add(ps, c->sol.fd, POLLIN, c,
			    LB_CON_FD_SOL);
	}
	*ret_timeout = due <= now ? 0 : (int)(due - now);
	return r;
}

static void *
loop_main(void *arg)
{
	struct pollset ps = { 0 };
	uint64_t gen;
	int timeout;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!loop_quit) {
		if (build(&ps, lb_con_now_ms(), &timeout) < 0)
			timeout = LOOP_MAX_SLEEP_MS;
		gen = generation;
		pthread_mutex_unlock(&lock);
		if (poll(ps.fds, ps.n, timeout) < 0 && errno != EINTR)
			ps.n = 0;
		pthread_mutex_lock(&lock);
		rounds++;
		pthread_cond_broadcast(&changed);
		for (size_t i = 0; i < ps.n && generation == gen; i++) {
			if (ps.fds[i].revents == 0)
				continue;
			if (ps.cons[i] == NULL) {
				uint64_t v;

				if (read(ps.fds[i].fd, &v, sizeof(v)) < 0)
					continue;
			} else {
				lb_con_event(ps.cons[i], ps.which[i],
				    ps.fds[i].revents, lb_con_now_ms());
			}
		}
		/* a tick may unlist the con it runs on: step first */
		for (struct lb_con *c = head, *next; c != NULL; c = next) {
			next = c->next;
			lb_con_tick(c, lb_con_now_ms());
		}
	}
	pthread_mutex_unlock(&lock);
	free(ps.fds);
	free(ps.cons);
	free(ps.which);
	return NULL;
}

static int
start_loop(struct lb_err *err)
{
	if (loop_running)
		return 0;
	if (wake_fd < 0) {
		lb_cond_init_monotonic(&changed);
		wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (wake_fd < 0)
			return lb_err_set(err, -errno, "cannot start the "
			    "console loop: %s", strerror(errno));
	}
	if (lb_sol_event_fd() < 0)
		return lb_err_set(err, -EIO, "cannot start the console loop");
	loop_quit = false;
	if (pthread_create(&loop_thread, NULL, loop_main, NULL) != 0)
		return lb_err_set(err, -EAGAIN, "cannot start the console "
		    "loop's thread");
	loop_running = true;
	return 0;
}

int
lb_con_add(struct lb_con *con, struct lb_err *err)
{
	int r = start_loop(err);

	if (r < 0)
		return r;
	con->next = head;
	head = con;
	wake();
	return 0;
}

/*
 * Lock held, on a worker: returns once the loop is not inside poll() on
 * the descriptors it last took.  A descriptor closed while poll() holds it
 * stays open in the kernel until poll() returns: a listener would keep its
 * port until then, and a restart on that port would fail.
 */
void
lb_con_quiesce(void)
{
	uint64_t r = rounds;

	if (!loop_running || pthread_equal(pthread_self(), loop_thread))
		return;
	wake();
	while (rounds == r && loop_running)
		pthread_cond_wait(&changed, &lock);
}

void
lb_con_remove(struct lb_con *con)
{
	for (struct lb_con **p = &head; *p != NULL; p = &(*p)->next) {
		if (*p == con) {
			*p = con->next;
			con->next = NULL;
			generation++;
			break;
		}
	}
	pthread_cond_broadcast(&changed);
	lb_con_quiesce();
}

/* Lock held: a change a waiting start() should see. */
void
lb_con_signal(void)
{
	pthread_cond_broadcast(&changed);
}

void
lb_con_shutdown(void)
{
	struct lb_con *list;

	pthread_mutex_lock(&lock);
	list = head;
	head = NULL;
	generation++;
	loop_quit = true;
	wake();
	pthread_mutex_unlock(&lock);
	if (loop_running)
		pthread_join(loop_thread, NULL);
	loop_running = false;
	while (list != NULL) {
		struct lb_con *next = list->next;

		lb_con_unserve(list, "lifeboatd is stopping");
		lb_con_free(list);
		list = next;
	}
	lb_sol_shutdown();
}
