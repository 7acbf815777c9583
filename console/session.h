/*
 * session.h - the consoles this lifeboatd serves (console_server.c): one
 * struct lb_con per node with a console started or a capture running, in
 * a list that one lock guards, and the poll-loop thread that moves every
 * node's bytes (SOL, listener, client, capture log) and reconnects lost
 * SOL sessions.  Worker threads change the list under the lock (the ops in
 * console_ipmi.c); the loop owns the descriptors while a con is listed.
 */
#ifndef LB_CONSOLE_SESSION_H
#define LB_CONSOLE_SESSION_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "conductor/util/err.h"
#include "conductor/util/ident.h"
#include "console/capture.h"
#include "console/sol.h"

/* Console output waiting for a slow client; beyond it, output is dropped. */
#define LB_CON_OUT_MAX		16384

#define LB_CON_START_PENDING	1

struct lb_con {
	struct lb_con *next;
	char uuid[LB_UUID_LEN + 1];
	struct lb_sol sol;
	bool sol_was_up;		/* "back" rather than "up" next time */
	int64_t retry_ms;		/* next SOL attempt, 0: none due */
	unsigned int backoff_ms;	/* before the next retry after that */
	struct lb_err sol_why;		/* why SOL is down */

	/* the console served on a TCP port (console enable) */
	bool serving;
	int listen_fd;
	unsigned int port;
	char address[INET6_ADDRSTRLEN];
	int terminal_timeout;		/* seconds, 0: never */
	int client_fd;
	char peer[INET6_ADDRSTRLEN + 8];
	int64_t client_io_ms;		/* last byte either way */
	char out[LB_CON_OUT_MAX];	/* to the client */
	size_t out_len;

	/* the capture log while a rescue runs; NULL: none */
	struct lb_capture *cap;

	/* start(): LB_CON_START_PENDING until SOL is up (0) or failed */
	int start_r;
	struct lb_err start_err;
};

/* A new con for 'uuid', nothing open (fds -1). */
struct lb_con *lb_con_new(const char *uuid);
/* Closes everything the con holds (SOL, sockets, capture); NULL is fine. */
void lb_con_free(struct lb_con *con);
/* Closes the listener and the client (told why); the con stays. */
void lb_con_unserve(struct lb_con *con, const char *why);

/* The lock every function below needs, and the time it runs on. */
void lb_con_lock(void);
void lb_con_unlock(void);
int64_t lb_con_now_ms(void);
/* Waits (lock held) for the loop to change a con, up to deadline_ms. */
void lb_con_wait(int64_t deadline_ms);
/* Lock held: wakes the waiters of lb_con_wait(). */
void lb_con_signal(void);

struct lb_con *lb_con_find(const char *uuid);
/* The ports of every serving con, into ports[max]; returns the count. */
size_t lb_con_ports(unsigned int *ports, size_t max);
/* Lists the con and has the loop (started on first use) watch it. */
int lb_con_add(struct lb_con *con, struct lb_err *err);
/*
 * Unlists it: the loop lets go of it (lb_con_quiesce() on a worker), the
 * caller frees it.
 */
void lb_con_remove(struct lb_con *con);
/* Lock held: waits until the loop polls none of the fds it took before. */
void lb_con_quiesce(void);

/*
 * The loop's work on one con (console_io.c), lock held: an event on one
 * of its descriptors, the timed work due at now_ms (SOL attempts,
 * retries, the idle timeout), and when that work is next due (INT64_MAX:
 * nothing timed).  A con that failed its start() is unlisted here.
 */
enum lb_con_fd {
	LB_CON_FD_LISTEN,
	LB_CON_FD_CLIENT,
	LB_CON_FD_SOL,
};
void lb_con_event(struct lb_con *con, enum lb_con_fd which, short revents,
    int64_t now_ms);
void lb_con_tick(struct lb_con *con, int64_t now_ms);
int64_t lb_con_due_ms(const struct lb_con *con);

/* Every con closed and the loop stopped.  Once, at exit. */
void lb_con_shutdown(void);

#endif
