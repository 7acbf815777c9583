/*
 * lab_proc.h - the live tests' lab processes (the tests/lab scripts, a Python
 * http.server): started on free 127.0.0.1 ports with their output in a
 * temporary log, waited for until ready, and stopped by PID.
 */
#ifndef LB_TESTS_LAB_PROC_H
#define LB_TESTS_LAB_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LAB_PYTHON	"/usr/bin/python3"

struct lab_proc {
	pid_t pid;
	int port;		/* the service's, or -1 */
	int control_port;	/* a lab BMC's control port, or -1 */
	char log[64];
};

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int lab_free_tcp_port(void);

/*
 * Runs LAB_PYTHON with argv, output to p->log; waits up to 20 s for 'ready'
 * in the log or, with ready NULL, for p->port to accept.  -1 if it exited
 * or never got ready.
 */
int lab_proc_start(struct lab_proc *p, char *const argv[], const char *ready);

/* SIGTERM, then SIGKILL after 5 s; removes the log. */
void lab_proc_stop(struct lab_proc *p);

/*
 * The path of the lab script 'name' in $LB_LAB_DIR, else
 * $LB_SOURCE_ROOT/tests/lab, else ./tests/lab; false if it or LAB_PYTHON
 * is missing.
 */
bool lab_script(const char *name, char *buf, size_t size);

#endif
