/*
 * console_sol.c - a node's Serial-over-LAN session with libipmiconsole:
 * driver_info parsed and checked as the IPMI power driver does, attempts
 * submitted to libipmiconsole's engine without blocking (cipher suite 17,
 * then 3, when ipmi_cipher_suite is not given, the one that worked first
 * next time), failures worded by the power driver's login messages.
 * The engine's own threads (two, started on first use) run the protocol;
 * their callback only wakes the console's poll loop, which calls
 * everything else here under the console lock.  Validation runs on
 * conductor worker threads and touches no engine state.
 */
#include "console/sol.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "conductor/util/banned.h"

/* The engine's threads: every console's packets, however many nodes. */
#define ENGINE_THREADS		2
/*
 * A BMC that deactivates SOL says nothing (ipmi_sim, and BMCs whose SOL
 * another session took): an empty SOL packet goes out when none came back
 * for SESSION_TIMEOUT_MS (IPMI keepalives every KEEPALIVE_MS), and after
 * RETRANSMISSIONS unanswered resends the session ends, about 10 s after
 * SOL went (libipmiconsole's defaults, 60 s and 16 resends, take a
 * minute and more).
 */
#define SESSION_TIMEOUT_MS	4000
#define KEEPALIVE_MS		2000
#define RETRANSMISSIONS		6

/* Ironic's preference when ipmi_cipher_suite is not given. */
static const int probe_suites[] = { 17, 3 };

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static int engine_ok;		/* written once, inside engine_once */
static int event_fd = -1;	/* likewise */

static void
engine_init(void)
{
	event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	engine_ok = event_fd >= 0 &&
	    ipmiconsole_engine_init(ENGINE_THREADS, 0) == 0;
}

/* Engine thread: an attempt established SOL or failed. */
static void
attempt_done(void *arg)
{
	uint64_t one = 1;

	(void)arg;
	if (write(event_fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the loop wakes anyway */
	}
}

int
lb_sol_event_fd(void)
{
	pthread_once(&engine_once, engine_init);
	return event_fd;
}

void
lb_sol_drain(void)
{
	uint64_t n;

	while (event_fd >= 0 && read(event_fd, &n, sizeof(n)) > 0)
		;
}

void
lb_sol_shutdown(void)
{
	if (engine_ok) {
		/* closes the sessions still open, so BMCs free SOL */
		ipmiconsole_engine_teardown(1);
		engine_ok = 0;
	}
}

/* libipmiconsole's errors that the power driver's login messages word. */
static int
ipmi_errnum(int errnum)
{
	static const int map[][2] = {
		{ IPMICONSOLE_ERR_HOSTNAME_INVALID, IPMI_ERR_HOSTNAME_INVALID },
		{ IPMICONSOLE_ERR_IPMI_2_0_UNAVAILABLE,
		  IPMI_ERR_IPMI_2_0_UNAVAILABLE },
		{ IPMICONSOLE_ERR_CIPHER_SUITE_ID_UNAVAILABLE,
		  IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE },
		{ IPMICONSOLE_ERR_USERNAME_INVALID, IPMI_ERR_USERNAME_INVALID },
		{ IPMICONSOLE_ERR_PASSWORD_INVALID, IPMI_ERR_PASSWORD_INVALID },
		{ IPMICONSOLE_ERR_K_G_INVALID, IPMI_ERR_K_G_INVALID },
		{ IPMICONSOLE_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED,
		  IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED },
		{ IPMICONSOLE_ERR_BMC_BUSY, IPMI_ERR_BMC_BUSY },
		{ IPMICONSOLE_ERR_CONNECTION_TIMEOUT,
		  IPMI_ERR_CONNECTION_TIMEOUT },
		{ IPMICONSOLE_ERR_SESSION_TIMEOUT, IPMI_ERR_SESSION_TIMEOUT },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (map[i][0] == errnum)
			return map[i][1];
	return -1;
}

/* What Serial-over-LAN itself can fail with, past the login. */
static int
sol_failure(const struct lb_sol *s, int errnum, struct lb_err *err)
{
	const char *w = s->conn.where;

	switch (errnum) {
	case IPMICONSOLE_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
		return lb_err_set(err, -EACCES, "BMC %s refused "
		    "Serial-over-LAN: privilege level %s is too low for it "
		    "(check ipmi_priv_level)", w,
		    lb_ipmi_priv_name(s->conn.info.priv_level));
	case IPMICONSOLE_ERR_SOL_UNAVAILABLE:
		return lb_err_set(err, -EIO, "BMC %s offers no "
		    "Serial-over-LAN (disabled, or not on this channel)", w);
	case IPMICONSOLE_ERR_SOL_INUSE:
		return lb_err_set(err, -EBUSY, "Serial-over-LAN of BMC %s is "
		    "in use by another session", w);
	case IPMICONSOLE_ERR_SOL_STOLEN:
		return lb_err_set(err, -EBUSY, "Serial-over-LAN of BMC %s was "
		    "taken over by another session", w);
	case IPMICONSOLE_ERR_SOL_REQUIRES_ENCRYPTION:
		return lb_err_set(err, -EIO, "BMC %s allows Serial-over-LAN "
		    "only encrypted (set ipmi_cipher_suite to one with "
		    "encryption, such as 3 or 17)", w);
	case IPMICONSOLE_ERR_SOL_REQUIRES_NO_ENCRYPTION:
		return lb_err_set(err, -EIO, "BMC %s allows Serial-over-LAN "
		    "only unencrypted (set ipmi_cipher_suite to one without "
		    "encryption, such as 2 or 16)", w);
	case IPMICONSOLE_ERR_BMC_ERROR:
	case IPMICONSOLE_ERR_BMC_IMPLEMENTATION:
	case IPMICONSOLE_ERR_EXCESS_ERRORS_RECEIVED:
		return lb_err_set(err, -EIO, "Serial-over-LAN session to %s "
		    "failed: %s (%s): the BMC's IPMI implementation "
		    "misbehaved", w, ipmiconsole_ctx_strerror(errnum),
		    s->conn.suites_note);
	case IPMICONSOLE_ERR_EXCESS_RETRANSMISSIONS_SENT:
		return lb_err_set(err, -ETIMEDOUT, "Serial-over-LAN session to "
		    "%s failed: the BMC stopped answering", w);
	default:
		return lb_err_set(err, -EIO, "Serial-over-LAN session to %s "
		    "failed: %s", w, ipmiconsole_ctx_strerror(errnum));
	}
}

static int
sol_error(const struct lb_sol *s, int errnum, struct lb_err *err)
{
	unsigned int wa = s->conn.info.workarounds;
	const char *hint = lb_ipmi_wa_hint_console(errnum, wa);
	int mapped = ipmi_errnum(errnum);
	char set[LB_IPMI_WA_VALUE_MAX + 32];
	size_t len;
	int r;

	if (mapped >= 0)
		r = lb_ipmi_fail_login(&s->conn, mapped, err);
	else
		r = sol_failure(s, errnum, err);
	/*
	 * The flag FreeIPMI documents as the fix, if the node lacks it, with
	 * libipmiconsole's words, as the power driver gives libfreeipmi's.
	 */
	if (err != NULL && hint != NULL &&
	    lb_ipmi_wa_suggest(hint, wa, set, sizeof(set)) >= 0) {
		len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, "; "
		    "libipmiconsole: \"%s\" (the BMC may need %s)",
		    ipmiconsole_ctx_strerror(errnum), set);
	}
	return r;
}

int
lb_sol_init(struct lb_sol *s, const struct lb_task *task,
    struct lb_err *err)
{
	struct lb_sol tmp;
	struct lb_sol *t = s != NULL ? s : &tmp;
	const struct lb_ipmi_info *in = &t->conn.info;
	int r;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->known_suite = -1;
	r = lb_ipmi_conn_init(&t->conn, task, err);
	if (r < 0)
		return r;
	if (in->protocol != LB_IPMI_PROTOCOL_2_0)
		r = lb_err_set(err, -EINVAL, "Serial over lan only works with "
		    "IPMI protocol version 2.0. Check the "
		    "'ipmi_protocol_version' parameter in node's driver_info");
	else if (in->priv_level == LB_IPMI_PRIV_CALLBACK)
		r = lb_err_set(err, -EINVAL, "Serial-over-LAN needs "
		    "ipmi_priv_level USER, OPERATOR or ADMINISTRATOR, not "
		    "CALLBACK");
	else if (in->bridging != LB_IPMI_BRIDGING_NO)
		r = lb_err_set(err, -EINVAL, "the console does not support "
		    "ipmi_bridging (libipmiconsole speaks to the BMC only)");
	/* FreeIPMI 1.6.10 reads HOST:PORT's port as a signed short. */
	else if (in->port > 32767)
		r = lb_err_set(err, -EINVAL, "the console cannot reach "
		    "ipmi_port %u: libipmiconsole takes ports up to 32767 "
		    "(power and management are not affected)", in->port);
	if (r < 0 || s == NULL)
		lb_sol_release(t);
	return r;
}

void
lb_sol_end(struct lb_sol *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->ctx != NULL)
		ipmiconsole_ctx_destroy(s->ctx);
	s->ctx = NULL;
	s->state = LB_SOL_DOWN;
}

void
lb_sol_release(struct lb_sol *s)
{
	lb_sol_end(s);
	lb_ipmi_conn_release(&s->conn);
}

static int
privilege(enum lb_ipmi_priv priv)
{
	switch (priv) {
	case LB_IPMI_PRIV_USER:
		return IPMICONSOLE_PRIVILEGE_USER;
	case LB_IPMI_PRIV_OPERATOR:
		return IPMICONSOLE_PRIVILEGE_OPERATOR;
	default:
		return IPMICONSOLE_PRIVILEGE_ADMIN;
	}
}

/* Submits the attempt with suite s->suites[s->attempt]. */
static int
submit(struct lb_sol *s, struct lb_err *err)
{
	struct lb_ipmi_info *in = &s->conn.info;
	struct ipmiconsole_ipmi_config ic = {
		.username = in->username[0] != '\0' ? in->username : NULL,
		.password = in->password,
		.k_g = in->kg_len > 0 ? in->kg : NULL,
		.k_g_len = (unsigned int)in->kg_len,
		.privilege_level = privilege(in->priv_level),
		.cipher_suite_id = s->suites[s->attempt],
		.workaround_flags = lb_ipmi_wa_console_flags(in->workarounds),
	};
	struct ipmiconsole_protocol_config pc = {
		.session_timeout_len = SESSION_TIMEOUT_MS,
		.retransmission_timeout_len = -1,
		.retransmission_backoff_count = -1,
		.keepalive_timeout_len = KEEPALIVE_MS,
		.retransmission_keepalive_timeout_len = KEEPALIVE_MS / 2,
		.acceptable_packet_errors_count = -1,
		.maximum_retransmission_count = RETRANSMISSIONS,
	};
	struct ipmiconsole_engine_config ec = {
		.engine_flags = IPMICONSOLE_ENGINE_SERIAL_KEEPALIVE_EMPTY,
		.behavior_flags = s->take_over ? 0 :
		    IPMICONSOLE_BEHAVIOR_ERROR_ON_SOL_INUSE,
		.debug_flags = 0,
	};

	if (s->attempt == 0)
		snprintf(s->conn.suites_note, sizeof(s->conn.suites_note),
		    "cipher suite %d", s->suites[0]);
	else
		snprintf(s->conn.suites_note, sizeof(s->conn.suites_note),
		    "cipher suites %d and %d", s->suites[0], s->suites[1]);
	s->ctx = ipmiconsole_ctx_create(s->conn.where, &ic, &pc, &ec);
	if (s->ctx == NULL)
		return lb_err_set(err, errno == ENOMEM ? -ENOMEM : -EIO,
		    "cannot set up a Serial-over-LAN session to %s: %s",
		    s->conn.where, strerror(errno));
	if (ipmiconsole_engine_submit(s->ctx, attempt_done, NULL) < 0) {
		int e = ipmiconsole_ctx_errnum(s->ctx);

		lb_sol_end(s);
		return sol_error(s, e, err);
	}
	s->state = LB_SOL_CONNECTING;
	return 0;
}

int
lb_sol_begin(struct lb_sol *s, bool take_over, int64_t now_ms,
    struct lb_err *err)
{
	const struct lb_ipmi_info *in = &s->conn.info;

	lb_sol_end(s);
	pthread_once(&engine_once, engine_init);
	if (!engine_ok)
		return lb_err_set(err, -EIO, "cannot start libipmiconsole's "
		    "engine");
	s->nsuites = 0;
	if (in->cipher_suite >= 0) {
		s->suites[s->nsuites++] = in->cipher_suite;
	} else {
		if (s->known_suite >= 0)
			s->suites[s->nsuites++] = s->known_suite;
		for (int i = 0; i < 2; i++)
			if (probe_suites[i] != s->known_suite)
				s->suites[s->nsuites++] = probe_suites[i];
	}
	s->attempt = 0;
	s->take_over = take_over;
	s->best_rank = -1;
	s->deadline_ms = now_ms + s->timeout_ms;
	s->conn.session_ms = s->timeout_ms;
	return submit(s, err);
}

/* An attempt failed with 'errnum': the next suite, or the best error. */
static int
attempt_failed(struct lb_sol *s, int errnum, struct lb_err *err)
{
	int mapped = ipmi_errnum(errnum);
	int rank = mapped >= 0 ? lb_ipmi_login_error_rank(mapped) : 2;
	int r;

	lb_sol_end(s);
	/* Ties go to the later attempt: its note names all suites. */
	if (rank >= s->best_rank) {
		s->best_r = sol_error(s, errnum, &s->best_err);
		s->best_rank = rank;
	}
	/* A BMC may also answer a suite it lacks with a plain error. */
	if ((errnum == IPMICONSOLE_ERR_BMC_ERROR ||
	    (mapped >= 0 && lb_ipmi_login_try_next_suite(mapped))) &&
	    s->attempt + 1 < s->nsuites) {
		s->attempt++;
		r = submit(s, err);
		return r < 0 ? r : 0;
	}
	if (s->best_rank == 0 && s->nsuites > 1)
		return lb_err_set(err, -EIO, "BMC %s supports neither IPMI "
		    "cipher suite %d nor %d (set ipmi_cipher_suite to one it "
		    "does)", s->conn.where, s->suites[0], s->suites[1]);
	if (err != NULL)
		*err = s->best_err;
	return s->best_r;
}

int
lb_sol_poll(struct lb_sol *s, int64_t now_ms, struct lb_err *err)
{
	ipmiconsole_ctx_status_t st;

	if (s->state == LB_SOL_UP)
		return 1;
	if (s->state != LB_SOL_CONNECTING)
		return lb_err_set(err, -EIO, "Serial-over-LAN is not "
		    "connecting");
	st = ipmiconsole_ctx_status(s->ctx);
	if (st == IPMICONSOLE_CTX_STATUS_SOL_ESTABLISHED) {
		s->fd = ipmiconsole_ctx_fd(s->ctx);
		if (s->fd < 0)
			return attempt_failed(s,
			    ipmiconsole_ctx_errnum(s->ctx), err);
		fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
		fcntl(s->fd, F_SETFD, FD_CLOEXEC);
		s->state = LB_SOL_UP;
		s->known_suite = s->suites[s->attempt];
		snprintf(s->conn.suites_note, sizeof(s->conn.suites_note),
		    "cipher suite %d", s->known_suite);
		return 1;
	}
	if (st == IPMICONSOLE_CTX_STATUS_ERROR ||
	    st == IPMICONSOLE_CTX_STATUS_SOL_ERROR)
		return attempt_failed(s, ipmiconsole_ctx_errnum(s->ctx), err);
	if (now_ms < s->deadline_ms)
		return 0;
	/* No answer in time: the remaining suites get no time either. */
	s->attempt = s->nsuites;
	return attempt_failed(s, IPMICONSOLE_ERR_CONNECTION_TIMEOUT, err);
}

void
lb_sol_lost(struct lb_sol *s, struct lb_err *why)
{
	int errnum = s->ctx != NULL ? ipmiconsole_ctx_errnum(s->ctx) :
	    IPMICONSOLE_ERR_SUCCESS;

	/* No workaround hints here: the same settings worked until now. */
	switch (errnum) {
	case IPMICONSOLE_ERR_SUCCESS:
		lb_err_set(why, -EIO, "the BMC ended the session");
		break;
	case IPMICONSOLE_ERR_SOL_STOLEN:
		lb_err_set(why, -EBUSY, "another session took Serial-over-LAN "
		    "over");
		break;
	case IPMICONSOLE_ERR_SESSION_TIMEOUT:
	case IPMICONSOLE_ERR_EXCESS_RETRANSMISSIONS_SENT:
		lb_err_set(why, -ETIMEDOUT, "the BMC stopped answering "
		    "(Serial-over-LAN deactivated, or the BMC restarted)");
		break;
	default:
		lb_err_set(why, -EIO, "%s", ipmiconsole_ctx_strerror(errnum));
		break;
	}
	lb_sol_end(s);
}
