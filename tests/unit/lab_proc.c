/*
 * lab_proc.c - the live tests' lab processes; see lab_proc.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/lab_proc.h"
#include "conductor/util/banned.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
lab_free_tcp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool
port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool
log_has(const char *path, const char *word)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;
	bool found;

	if (f == NULL)
		return false;
	found = getdelim(&buf, &size, '\0', f) > 0 &&
	    strstr(buf, word) != NULL;
	free(buf);
	fclose(f);
	return found;
}

int
lab_proc_start(struct lab_proc *p, char *const argv[], const char *ready)
{
	int fd;

	snprintf(p->log, sizeof(p->log), "/tmp/lb-lab-proc-XXXXXX");
	fd = mkstemp(p->log);
	if (fd < 0)
		return -1;
	p->pid = fork();
	if (p->pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		execv(LAB_PYTHON, argv);
		_exit(127);
	}
	close(fd);
	if (p->pid < 0)
		return -1;
	for (double t0 = now_s(); now_s() - t0 < 20;) {
		if (ready != NULL ? log_has(p->log, ready) : port_open(p->port))
			return 0;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

void
lab_proc_stop(struct lab_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		for (int i = 0; i < 50 && p->pid > 0; i++) {
			if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
				p->pid = 0;
			else
				usleep(100000);
		}
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			p->pid = 0;
		}
	}
	if (p->log[0] != '\0')
		unlink(p->log);
}

bool
lab_script(const char *name, char *buf, size_t size)
{
	const char *dir = getenv("LB_LAB_DIR");
	const char *root = getenv("LB_SOURCE_ROOT");

	if (dir != NULL)
		snprintf(buf, size, "%s/%s", dir, name);
	else
		snprintf(buf, size, "%s/tests/lab/%s",
		    root != NULL ? root : ".", name);
	return access(LAB_PYTHON, X_OK) == 0 && access(buf, R_OK) == 0;
}
