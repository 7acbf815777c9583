/*
 * console_ipmi.c - the "ipmitool-socat" console (Ironic's name, so
 * configs and clients work): the node's IPMI Serial-over-LAN session,
 * opened in-process with libipmiconsole, served raw on a TCP port as
 * Ironic's socat serves ipmitool's, and recorded into the capture log
 * while a rescue runs.  The ops run on conductor worker threads (one node
 * at a time, the reservation serialises them); they hand each node's
 * session to the console loop (console_server.c) and wait for its start.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/config.h"
#include "conductor/util/log.h"
#include "console/console_ipmi.h"
#include "console/port.h"
#include "console/session.h"
#include "conductor/util/banned.h"

/* The most consoles (started or capturing) one lifeboatd serves. */
#define MAX_CONSOLES	4096

/* [console] and [DEFAULT] values with their defaults when cfg is NULL. */
struct settings {
	const char *state_path;
	const char *host;
	const char *address;
	const char *range;
	int terminal_timeout;
	unsigned int subprocess_ms;
	size_t capture_max;
};

static void
settings(const struct lb_task *task, struct settings *s)
{
	const struct lb_config *cfg = task->cfg;

	s->state_path = cfg && cfg->state_path ? cfg->state_path :
	    "/var/lib/lifeboat";
	s->host = cfg && cfg->host ? cfg->host : "localhost";
	s->address = cfg && cfg->console_socat_address ?
	    cfg->console_socat_address : "127.0.0.1";
	s->range = cfg ? cfg->console_port_range : NULL;
	s->terminal_timeout = cfg ? cfg->console_terminal_timeout : 600;
	s->subprocess_ms = (unsigned int)(cfg ?
	    cfg->console_subprocess_timeout : 10) * 1000;
	s->capture_max = cfg ? (size_t)cfg->console_capture_max_size :
	    1024 * 1024;
}

/* The settings, and the directory of the capture logs into dir[PATH_MAX]. */
static int
capture_dir(const struct lb_task *task, struct settings *s, char *dir,
    struct lb_err *err)
{
	int n;

	settings(task, s);
	n = snprintf(dir, PATH_MAX, "%s/console", s->state_path);
	if (n < 0 || n >= PATH_MAX)
		return lb_err_set(err, -ENAMETOOLONG, "[DEFAULT] state_path is "
		    "too long");
	return 0;
}

/* The node's ipmi_terminal_port (0: none), its driver_info checked. */
static int
terminal_port(const struct lb_task *task, unsigned int *ret,
    struct lb_err *err)
{
	struct lb_sol sol;
	int r = lb_sol_init(&sol, task, err);

	if (r < 0)
		return r;
	*ret = sol.conn.info.terminal_port;
	lb_sol_release(&sol);
	return 0;
}

static int
ipmi_console_validate(const struct lb_task *task, struct lb_err *err)
{
	struct settings s;
	unsigned int port;
	int r;

	settings(task, &s);
	r = terminal_port(task, &port, err);
	return r < 0 ? r : lb_console_port_configured(port, s.range, err);
}

/* driver_internal_info's allocated port, or 0. */
static unsigned int
allocated_port(const struct lb_task *task)
{
	const json_t *v = json_object_get(task->driver_internal_info,
	    LB_CONSOLE_KEY_PORT);

	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 65535)
		return 0;
	return (unsigned int)json_integer_value(v);
}

/* Lock held: binds the node's port into con (ipmi_terminal_port or one of
 * the range, recorded in driver_internal_info). */
static int
take_port(struct lb_con *con, const struct lb_task *task,
    const struct settings *s, struct lb_err *err)
{
	static unsigned int used[MAX_CONSOLES];
	struct lb_console_port_req req = {
		.address = s->address,
		.range = s->range,
		.host = s->host,
		.fixed = con->sol.conn.info.terminal_port,
		.preferred = allocated_port(task),
		.used = used,
	};
	int r;

	req.nused = lb_con_ports(used, MAX_CONSOLES);
	r = lb_console_port_take(&req, &con->listen_fd, &con->port, err);
	if (r < 0)
		return r;
	if (json_is_object(task->driver_internal_info)) {
		if (req.fixed != 0)
			json_object_del(task->driver_internal_info,
			    LB_CONSOLE_KEY_PORT);
		else
			json_object_set_new(task->driver_internal_info,
			    LB_CONSOLE_KEY_PORT, json_integer(con->port));
	}
	snprintf(con->address, sizeof(con->address), "%s", s->address);
	con->serving = true;
	con->terminal_timeout = s->terminal_timeout;
	return 0;
}

/* Lock held: a new con for the task's node, its SOL ready to begin. */
static int
con_create(const struct lb_task *task, const struct settings *s,
    struct lb_con **ret, struct lb_err *err)
{
	struct lb_con *con = lb_con_new(task->node_uuid);
	int r;

	if (con == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = lb_sol_init(&con->sol, task, err);
	if (r < 0) {
		free(con);
		return r;
	}
	con->sol.timeout_ms = s->subprocess_ms;
	*ret = con;
	return 0;
}

/* Lock held: waits for the loop's verdict on the con's first attempt. */
static int
await_start(struct lb_con *con, const struct settings *s,
    struct lb_err *err)
{
	/* the loop ends the attempt at its deadline; this is a backstop */
	int64_t deadline = lb_con_now_ms() + s->subprocess_ms + 2000;
	int r;

	while (con->start_r == LB_CON_START_PENDING &&
	    lb_con_now_ms() < deadline)
		lb_con_wait(deadline);
	if (con->start_r == 0)
		return 0;
	if (con->start_r == LB_CON_START_PENDING) {
		lb_con_remove(con);
		r = lb_err_set(err, -ETIMEDOUT, "Serial-over-LAN of node %s "
		    "did not come up within %u s", con->uuid,
		    s->subprocess_ms / 1000);
		lb_con_free(con);
		return r;
	}
	r = con->start_r < 0 ? con->start_r : -EIO;
	if (err != NULL)
		*err = con->start_err;
	/* A running capture keeps the con (and retries); otherwise it went. */
	if (lb_con_find(con->uuid) != con)
		lb_con_free(con);
	return r;
}

static int
ipmi_console_start(const struct lb_task *task, struct lb_err *err)
{
	struct lb_con *con, *old;
	struct settings s;
	int r;

	settings(task, &s);
	lb_con_lock();
	r = con_create(task, &s, &con, err);
	if (r < 0)
		goto out;
	/* Starting a started console restarts it; a capture carries over. */
	old = lb_con_find(task->node_uuid);
	if (old != NULL) {
		con->cap = old->cap;
		old->cap = NULL;
		lb_con_remove(old);
		lb_con_free(old);
	}
	r = take_port(con, task, &s, err);
	if (r == 0)
		r = lb_sol_begin(&con->sol, true, lb_con_now_ms(), err);
	if (r == 0)
		r = lb_con_add(con, err);
	if (r < 0) {
		lb_con_free(con);
		goto out;
	}
	con->start_r = LB_CON_START_PENDING;
	r = await_start(con, &s, err);
	if (r == 0)
		log_info("console of node %s: serving on %s%s%s:%u",
		    task->node_uuid, strchr(s.address, ':') ? "[" : "",
		    s.address, strchr(s.address, ':') ? "]" : "", con->port);
out:
	lb_con_unlock();
	/* a console that did not start holds no port */
	if (r < 0 && json_is_object(task->driver_internal_info))
		json_object_del(task->driver_internal_info,
		    LB_CONSOLE_KEY_PORT);
	return r;
}

static int
ipmi_console_stop(const struct lb_task *task, struct lb_err *err)
{
	struct lb_con *con;

	lb_con_lock();
	con = lb_con_find(task->node_uuid);
	if (con != NULL && con->cap != NULL) {
		/* the rescue's capture keeps the SOL session */
		lb_con_quiesce();
		lb_con_unserve(con, "the console was disabled");
		con = NULL;
	} else if (con != NULL) {
		lb_con_remove(con);
	}
	lb_con_unlock();
	lb_con_free(con);
	if (json_is_object(task->driver_internal_info))
		json_object_del(task->driver_internal_info,
		    LB_CONSOLE_KEY_PORT);
	return 0;
}

static int
ipmi_console_info(const struct lb_task *task, json_t **ret,
    struct lb_err *err)
{
	char url[INET6_ADDRSTRLEN + 32];
	struct settings s;
	unsigned int port;
	int r;

	settings(task, &s);
	r = terminal_port(task, &port, err);
	if (r < 0)
		return r;
	if (port == 0)
		port = allocated_port(task);
	if (port == 0)
		return lb_err_set(err, -EINVAL, "the console of node %s has no "
		    "port: enable it again", task->node_uuid);
	if (lb_console_url(s.address, port, url, sizeof(url)) < 0)
		return lb_err_set(err, -EINVAL, "[console] socat_address is "
		    "too long");
	*ret = json_pack("{s:s, s:s}", "type", "socat", "url", url);
	return *ret != NULL ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

/*
 * Lock held: waits up to the subprocess timeout for a new capture's
 * first SOL attempt, so that the rescue powers the node on with SOL
 * recording.  Whatever the verdict the capture stays (and retries).
 */
static int
await_capture(struct lb_con *con, const struct settings *s,
    struct lb_err *err)
{
	int64_t deadline = lb_con_now_ms() + s->subprocess_ms;

	while (con->start_r == LB_CON_START_PENDING &&
	    lb_con_now_ms() < deadline)
		lb_con_wait(deadline);
	if (con->start_r == 0)
		return 0;
	if (con->start_r == LB_CON_START_PENDING)
		return lb_err_set(err, -ETIMEDOUT, "Serial-over-LAN did not "
		    "come up within %u s", s->subprocess_ms / 1000);
	if (err != NULL)
		*err = con->start_err;
	return con->start_r < 0 ? con->start_r : -EIO;
}

static int
ipmi_capture_start(const struct lb_task *task, bool resume,
    struct lb_err *err)
{
	char dir[PATH_MAX];
	struct lb_capture *cap;
	struct lb_con *con;
	struct settings s;
	int r;

	r = capture_dir(task, &s, dir, err);
	if (r < 0)
		return r;
	lb_con_lock();
	con = lb_con_find(task->node_uuid);
	if (con == NULL) {
		r = con_create(task, &s, &con, err);
		if (r < 0)
			goto out;
		r = lb_capture_open(dir, task->node_uuid, s.capture_max,
		    resume, &con->cap, err);
		/* SOL failures are retried by the loop, never fatal here */
		if (r == 0 && lb_sol_begin(&con->sol, true, lb_con_now_ms(),
		    &con->sol_why) < 0)
			con->retry_ms = lb_con_now_ms();
		else if (r == 0)
			con->start_r = LB_CON_START_PENDING;
		if (r == 0)
			r = lb_con_add(con, err);
		if (r < 0) {
			lb_con_free(con);
			goto out;
		}
		if (con->start_r == LB_CON_START_PENDING)
			r = await_capture(con, &s, err);
		else
			r = lb_err_set(err, -EIO, "%s", con->sol_why.msg);
		goto out;
	}
	r = lb_capture_open(dir, task->node_uuid, s.capture_max, resume,
	    &cap, err);
	if (r == 0) {
		lb_capture_close(con->cap);
		con->cap = cap;
	}
out:
	lb_con_unlock();
	return r;
}

static void
ipmi_capture_stop(const struct lb_task *task)
{
	struct lb_con *con;

	lb_con_lock();
	con = lb_con_find(task->node_uuid);
	if (con != NULL) {
		lb_capture_close(con->cap);
		con->cap = NULL;
		if (con->serving)
			con = NULL;
		else
			lb_con_remove(con);
	}
	lb_con_unlock();
	lb_con_free(con);
}

static int
ipmi_capture_tail(const struct lb_task *task, unsigned int lines,
    char **ret, struct lb_err *err)
{
	char dir[PATH_MAX];
	struct settings s;
	int r;

	r = capture_dir(task, &s, dir, err);
	if (r < 0)
		return r;
	lb_con_lock();
	r = lb_capture_tail(dir, task->node_uuid, lines, ret, err);
	lb_con_unlock();
	return r;
}

static void
ipmi_console_forget(const struct lb_task *task)
{
	char dir[PATH_MAX];
	struct lb_con *con;
	struct settings s;

	lb_con_lock();
	con = lb_con_find(task->node_uuid);
	if (con != NULL)
		lb_con_remove(con);
	lb_con_unlock();
	lb_con_free(con);
	if (capture_dir(task, &s, dir, NULL) == 0)
		lb_capture_remove(dir, task->node_uuid);
}

const struct lb_console_ops lb_console_ipmitool = {
	.name = "ipmitool-socat",
	.start = ipmi_console_start,
	.stop = ipmi_console_stop,
	.info = ipmi_console_info,
	.capture_start = ipmi_capture_start,
	.capture_stop = ipmi_capture_stop,
	.capture_tail = ipmi_capture_tail,
	.forget = ipmi_console_forget,
};

/* The registry's validate for the row (no I/O). */
int
lb_console_ipmitool_validate(const struct lb_task *task, struct lb_err *err)
{
	return ipmi_console_validate(task, err);
}

void
lb_console_ipmitool_shutdown(void)
{
	lb_con_shutdown();
}
