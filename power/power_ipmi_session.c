/*
 * power_ipmi_session.c - one IPMI driver call's session with its BMC over
 * libfreeipmi: driver_info checked against libfreeipmi's limits, IPMI 2.0
 * with the cipher suite given or probed, or IPMI 1.5 with the strongest
 * authentication type, the FreeIPMI workaround flags of the node (or
 * [ipmi] workarounds), and failures in words an operator can act on.
 * Conductor worker threads, concurrently: each call opens its own session;
 * the only shared state is libfreeipmi's crypto setup, behind pthread_once().
 */
#include "power/power_ipmi_session.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conductor/util/config.h"
#include "conductor/util/banned.h"

/*
 * libfreeipmi gives up on an unanswered request at the first retransmission
 * after the session timeout; with 1 s retransmissions those fall at 1, 3, 6,
 * 9, 12 s, so 9 s is a bound it keeps (10 s would really be 12 s).
 */
#define SESSION_TIMEOUT_MS	9000
#define RETRANSMIT_TIMEOUT_MS	1000

/* driver_internal_info: the cipher suite that worked last (lifeboat's own). */
#define KEY_PROBED_SUITE	"ipmi_probed_cipher_suite"

/* Ironic's preference when ipmi_cipher_suite is not given. */
static const int probe_suites[] = { 17, 3 };

static pthread_once_t crypt_once = PTHREAD_ONCE_INIT;
static int crypt_ok;		/* written once, inside crypt_once */

static void
crypt_init(void)
{
	/* libgcrypt must be set up once, before threads race to use it. */
	crypt_ok = ipmi_rmcpplus_init() == 0;
}

static const char *
user_name(const struct lb_ipmi_conn *c)
{
	return c->info.username[0] != '\0' ? c->info.username : "(null user)";
}

/* The session timeout in whole seconds, as an operator reads it. */
static int
session_s(const struct lb_ipmi_conn *c)
{
	return (int)((c->session_ms + 999) / 1000);
}

/*
 * libfreeipmi refuses a retransmission timeout that is not below the
 * session timeout (IPMI_ERR_PARAMETERS); a call left with a second or less
 * of its caller's time retransmits within it and gives up soon after.
 */
static unsigned int
retransmit_ms(const struct lb_ipmi_conn *c)
{
	return c->session_ms > RETRANSMIT_TIMEOUT_MS ? RETRANSMIT_TIMEOUT_MS :
	    c->session_ms / 3;
}

/* " (completion code 0xc1: invalid command)", or "" */
static void
completion_code(fiid_obj_t rs, uint8_t netfn, char *buf, size_t size)
{
	char text[IPMI_ERR_STR_MAX_LEN];
	uint64_t cc;

	buf[0] = '\0';
	if (rs == NULL || fiid_obj_get(rs, "comp_code", &cc) != 1)
		return;
	if (ipmi_completion_code_strerror_cmd_r(rs, netfn, text,
	    sizeof(text)) < 0)
		snprintf(text, sizeof(text), "unknown");
	snprintf(buf, size, " (completion code 0x%02x: %s)", (unsigned)cc,
	    text);
}

/* Session set-up failures: who is at fault, in words an operator can use. */
static int
login_error(const struct lb_ipmi_conn *c, int errnum, struct lb_err *err)
{
	const char *w = c->where;

	switch (errnum) {
	case IPMI_ERR_USERNAME_INVALID:
		return lb_err_set(err, -EACCES, "IPMI authentication to %s "
		    "failed: the BMC does not know user '%s' (check "
		    "ipmi_username)", w, user_name(c));
	case IPMI_ERR_PASSWORD_INVALID:
	case IPMI_ERR_PASSWORD_VERIFICATION_TIMEOUT:
		/*
		 * libfreeipmi does not check the algorithms a BMC picks, so a
		 * BMC that answers a suite 17 request with suite 3 looks like
		 * a wrong password.
		 */
		if (c->info.cipher_suite >= 0 && c->info.cipher_suite != 3)
			return lb_err_set(err, -EACCES, "IPMI authentication "
			    "to %s failed: wrong password for user '%s' (check "
			    "ipmi_password), or the BMC does not support %s "
			    "(check ipmi_cipher_suite)", w, user_name(c),
			    c->suites_note);
		return lb_err_set(err, -EACCES, "IPMI authentication to %s "
		    "failed: wrong password for user '%s' (check ipmi_password"
		    "%s%s)", w, user_name(c), c->suites_note[0] ? "; " : "",
		    c->suites_note);
	case IPMI_ERR_K_G_INVALID:
		return lb_err_set(err, -EACCES, "IPMI authentication to %s "
		    "failed: wrong Kg key (check ipmi_hex_kg_key)", w);
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
		return lb_err_set(err, -EACCES, "IPMI authentication to %s "
		    "failed: user '%s' may not use privilege level %s (check "
		    "ipmi_priv_level and the user's privilege on the BMC)", w,
		    user_name(c), lb_ipmi_priv_name(c->info.priv_level));
	case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
		return lb_err_set(err, -EACCES, "IPMI 1.5 authentication to %s "
		    "failed: the BMC offers no authentication type for "
		    "privilege level %s", w,
		    lb_ipmi_priv_name(c->info.priv_level));
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
		return lb_err_set(err, -EIO, "BMC %s does not support IPMI %s "
		    "(set ipmi_cipher_suite to one it does)", w,
		    c->suites_note);
	case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
		return lb_err_set(err, -EIO, "BMC %s does not speak IPMI 2.0 "
		    "(set ipmi_protocol_version to 1.5)", w);
	case IPMI_ERR_CONNECTION_TIMEOUT:
		return lb_err_set(err, -ETIMEDOUT, "IPMI call to %s timed out: "
		    "no answer within %d s (check ipmi_address, ipmi_port and "
		    "that the BMC is reachable)", w, session_s(c));
	case IPMI_ERR_SESSION_TIMEOUT:
		return lb_err_set(err, -ETIMEDOUT, "IPMI call to %s timed out: "
		    "the BMC stopped answering while opening a session (%s)",
		    w, c->suites_note[0] ? c->suites_note : "IPMI 1.5");
	case IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE:
		return lb_err_set(err, -EACCES, "IPMI authentication to %s "
		    "failed: the BMC refused the session (RMCP+ error; check "
		    "ipmi_username, ipmi_priv_level and ipmi_cipher_suite)", w);
	case IPMI_ERR_BMC_BUSY:
		return lb_err_set(err, -EAGAIN, "BMC %s has no free IPMI "
		    "session", w);
	case IPMI_ERR_HOSTNAME_INVALID:
		return lb_err_set(err, -EHOSTUNREACH, "cannot resolve IPMI "
		    "address '%s'", c->info.address);
	default:
		return lb_err_set(err, -EIO, "IPMI session to %s failed: %s", w,
		    ipmi_ctx_strerror(errnum));
	}
}

/*
 * login_error(), and where a FreeIPMI workaround flag not yet set fixes
 * such a failure on some BMCs, libfreeipmi's own words for it and the
 * ipmi_workarounds value that adds the flag.
 */
static int
fail_login(const struct lb_ipmi_conn *c, int errnum, struct lb_err *err)
{
	char set[LB_IPMI_WA_NAMES_MAX + 32];
	const char *flag;
	struct lb_err base;
	int r;

	r = login_error(c, errnum, &base);
	flag = lb_ipmi_wa_hint(errnum, c->info.protocol, c->info.workarounds);
	if (flag == NULL || lb_ipmi_wa_suggest(flag, c->info.workarounds, set,
	    sizeof(set)) < 0) {
		if (err != NULL)
			*err = base;
		return r;
	}
	return lb_err_set(err, r, "%s; libfreeipmi: \"%s\" (the BMC may need "
	    "%s)", base.msg, ipmi_ctx_strerror(errnum), set);
}

/* Failures of a command inside an open session. */
int
lb_ipmi_fail_cmd(const struct lb_ipmi_conn *c, const char *what,
    fiid_obj_t rs, uint8_t netfn, struct lb_err *err)
{
	int errnum = ipmi_ctx_errnum(c->ctx);
	char cc[IPMI_ERR_STR_MAX_LEN + 64];

	switch (errnum) {
	case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
		return lb_err_set(err, -EACCES, "BMC %s refused %s: privilege "
		    "level %s is too low for it (check ipmi_priv_level)",
		    c->where, what, lb_ipmi_priv_name(c->info.priv_level));
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_CONNECTION_TIMEOUT:
		return lb_err_set(err, -ETIMEDOUT, "IPMI call to %s timed out: "
		    "no answer to %s within %d s", c->where, what,
		    session_s(c));
	case IPMI_ERR_MESSAGE_TIMEOUT:
		return lb_err_set(err, -ETIMEDOUT, "IPMI call to %s timed out: "
		    "the bridged %s got no answer from target 0x%02x on "
		    "channel %d", c->where, what, c->info.target_address,
		    c->info.target_channel);
	case IPMI_ERR_BMC_BUSY:
		completion_code(rs, netfn, cc, sizeof(cc));
		return lb_err_set(err, -EAGAIN, "BMC %s is busy, %s not done%s",
		    c->where, what, cc);
	case IPMI_ERR_BAD_COMPLETION_CODE:
	case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
		completion_code(rs, netfn, cc, sizeof(cc));
		return lb_err_set(err, -EIO, "BMC %s refused %s%s", c->where,
		    what, cc);
	default:
		return lb_err_set(err, -EIO, "IPMI %s on %s failed: %s", what,
		    c->where, ipmi_ctx_strerror(errnum));
	}
}

/* Lower is less telling: which of several failed logins to report. */
static int
login_error_rank(int errnum)
{
	switch (errnum) {
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
		return 0;
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_IPMI_ERROR:
		return 1;
	default:
		return 2;
	}
}

/*
 * Failures after which another cipher suite may still work: a BMC without
 * the suite may say so, answer with another suite's algorithms (which
 * looks like a wrong password: pyghmi does that), tie privilege levels to
 * suites, just not answer, or refuse it with a short Open Session
 * Response libfreeipmi cannot parse (an internal error: OpenIPMI's
 * ipmi_sim 2.0.33 does that for suite 17).
 */
static bool
try_next_suite(int errnum)
{
	switch (errnum) {
	case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
	case IPMI_ERR_PASSWORD_INVALID:
	case IPMI_ERR_K_G_INVALID:
	case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
	case IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE:
	case IPMI_ERR_SESSION_TIMEOUT:
	case IPMI_ERR_IPMI_ERROR:
		return true;
	default:
		return false;
	}
}

static int
probed_suite(const struct lb_ipmi_conn *c)
{
	const json_t *v = json_object_get(c->internal, KEY_PROBED_SUITE);

	return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

/* Opens an IPMI 2.0 session, with the given suite or probing 17 then 3. */
static int
open_2_0(struct lb_ipmi_conn *c, struct lb_err *err)
{
	int suites[2], nsuites = 0, best_rank = -1, best_r = -EIO;
	struct lb_err best;
	const struct lb_ipmi_info *in = &c->info;
	ipmi_ctx_t ctx;
	int errnum;

	if (in->cipher_suite >= 0) {
		suites[nsuites++] = in->cipher_suite;
	} else {
		/* The suite that worked last time first, then the others. */
		int known = probed_suite(c);

		if (known == probe_suites[0] || known == probe_suites[1])
			suites[nsuites++] = known;
		for (int i = 0; i < 2; i++)
			if (probe_suites[i] != known)
				suites[nsuites++] = probe_suites[i];
	}
	memset(&best, 0, sizeof(best));
	for (int i = 0; i < nsuites; i++) {
		ctx = ipmi_ctx_create();
		if (ctx == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		if (ipmi_ctx_open_outofband_2_0(ctx, c->where,
		    in->username[0] != '\0' ? in->username : NULL,
		    in->password, in->kg_len > 0 ? in->kg : NULL,
		    (unsigned int)in->kg_len, (uint8_t)in->priv_level,
		    (uint8_t)suites[i], c->session_ms, retransmit_ms(c),
		    lb_ipmi_wa_freeipmi_flags(in->workarounds,
		    LB_IPMI_PROTOCOL_2_0), IPMI_FLAGS_DEFAULT) == 0) {
			c->ctx = ctx;
			snprintf(c->suites_note, sizeof(c->suites_note),
			    "cipher suite %d", suites[i]);
			if (in->cipher_suite < 0 && suites[i] != probed_suite(c)
			    && json_is_object(c->internal))
				json_object_set_new(c->internal,
				    KEY_PROBED_SUITE, json_integer(suites[i]));
			return 0;
		}
		errnum = ipmi_ctx_errnum(ctx);
		ipmi_ctx_destroy(ctx);
		if (i == 0)
			snprintf(c->suites_note, sizeof(c->suites_note),
			    "cipher suite %d", suites[0]);
		else
			snprintf(c->suites_note, sizeof(c->suites_note),
			    "cipher suites %d and %d", suites[0], suites[1]);
		/* Ties go to the later attempt: its note names all suites. */
		if (login_error_rank(errnum) >= best_rank) {
			best_r = fail_login(c, errnum, &best);
			best_rank = login_error_rank(errnum);
		}
		if (!try_next_suite(errnum))
			break;
	}
	if (best_rank == 0 && nsuites > 1)
		return lb_err_set(err, -EIO, "BMC %s supports neither IPMI "
		    "cipher suite %d nor %d (set ipmi_cipher_suite to one it "
		    "does)", c->where, suites[0], suites[1]);
	if (err != NULL)
		*err = best;
	return best_r;
}

/* IPMI 1.5: the strongest authentication type the BMC offers. */
static int
open_1_5(struct lb_ipmi_conn *c, struct lb_err *err)
{
	static const uint8_t types[] = {
		IPMI_AUTHENTICATION_TYPE_MD5,
		IPMI_AUTHENTICATION_TYPE_MD2,
		IPMI_AUTHENTICATION_TYPE_STRAIGHT_PASSWORD_KEY,
		IPMI_AUTHENTICATION_TYPE_NONE,
	};
	const struct lb_ipmi_info *in = &c->info;
	ipmi_ctx_t ctx;
	int errnum = IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE;

	c->suites_note[0] = '\0';
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		ctx = ipmi_ctx_create();
		if (ctx == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		if (ipmi_ctx_open_outofband(ctx, c->where,
		    in->username[0] != '\0' ? in->username : NULL,
		    in->password, types[i], (uint8_t)in->priv_level,
		    c->session_ms, retransmit_ms(c),
		    lb_ipmi_wa_freeipmi_flags(in->workarounds,
		    LB_IPMI_PROTOCOL_1_5), IPMI_FLAGS_DEFAULT) == 0) {
			c->ctx = ctx;
			return 0;
		}
		errnum = ipmi_ctx_errnum(ctx);
		ipmi_ctx_destroy(ctx);
		if (errnum != IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE)
			break;
	}
	return fail_login(c, errnum, err);
}

void
lb_ipmi_conn_close(struct lb_ipmi_conn *c)
{
	if (c->ctx != NULL) {
		ipmi_ctx_close(c->ctx);
		ipmi_ctx_destroy(c->ctx);
		c->ctx = NULL;
	}
}

int
lb_ipmi_conn_open(struct lb_ipmi_conn *c, struct lb_err *err)
{
	uint8_t channel, address;
	int r;

	if (c->ctx != NULL)
		return 0;
	pthread_once(&crypt_once, crypt_init);
	if (!crypt_ok)
		return lb_err_set(err, -EIO, "cannot set up libfreeipmi's "
		    "crypto library (libgcrypt)");
	if (c->info.protocol == LB_IPMI_PROTOCOL_1_5)
		r = open_1_5(c, err);
	else
		r = open_2_0(c, err);
	if (r < 0 || c->info.bridging != LB_IPMI_BRIDGING_SINGLE)
		return r;
	channel = (uint8_t)c->info.target_channel;
	address = (uint8_t)c->info.target_address;
	if (ipmi_ctx_set_target(c->ctx, &channel, &address) < 0) {
		r = lb_ipmi_fail_cmd(c, "bridging setup", NULL, 0, err);
		lb_ipmi_conn_close(c);
	}
	return r;
}

int
lb_ipmi_cmd_begin(struct lb_ipmi_conn *c, fiid_template_t tmpl,
    fiid_obj_t *ret_rs, struct lb_err *err)
{
	int r;

	r = lb_ipmi_conn_open(c, err);
	if (r < 0)
		return r;
	*ret_rs = fiid_obj_create(tmpl);
	if (*ret_rs == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* What the driver adds to ipmi_info.c: the limits of libfreeipmi. */
static int
check_supported(const struct lb_ipmi_info *info, struct lb_err *err)
{
	if (info->bridging == LB_IPMI_BRIDGING_DUAL)
		return lb_err_set(err, -EINVAL, "Value for ipmi_bridging is "
		    "provided as dual, but dual IPMI bridging is not supported "
		    "by lifeboat's IPMI client (libfreeipmi); use single");
	if (info->local_address >= 0 &&
	    info->local_address != IPMI_SLAVE_ADDRESS_BMC)
		return lb_err_set(err, -EINVAL, "ipmi_local_address 0x%02x is "
		    "not supported: lifeboat's IPMI client always bridges from "
		    "0x%02x", (unsigned)info->local_address,
		    IPMI_SLAVE_ADDRESS_BMC);
	return 0;
}

int
lb_ipmi_conn_init(struct lb_ipmi_conn *c, const struct lb_task *task,
    struct lb_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = lb_ipmi_info_parse(task->driver_info, &c->info, err);
	if (r == 0)
		r = check_supported(&c->info, err);
	/* The node's ipmi_workarounds, else [ipmi] workarounds. */
	if (r == 0)
		r = lb_ipmi_wa_effective(&c->info, task->cfg != NULL ?
		    task->cfg->ipmi_workarounds : NULL, &c->info.workarounds,
		    err);
	if (r == 0 && lb_ipmi_info_where(&c->info, c->where,
	    sizeof(c->where)) < 0)
		r = lb_err_set(err, -EINVAL, "ipmi_address is too long");
	if (r < 0) {
		lb_ipmi_info_clear(&c->info);
		return r;
	}
	c->internal = json_is_object(task->driver_internal_info) ?
	    task->driver_internal_info : NULL;
	c->session_ms = SESSION_TIMEOUT_MS;
	/* [ipmi] command_retry_timeout: how long an unanswered command is
	 * retransmitted, up to the 9 s above. */
	if (task->cfg != NULL && task->cfg->ipmi_command_retry_timeout > 0 &&
	    (unsigned int)task->cfg->ipmi_command_retry_timeout * 1000 <
	    c->session_ms)
		c->session_ms =
		    (unsigned int)task->cfg->ipmi_command_retry_timeout * 1000;
	return 0;
}

void
lb_ipmi_conn_release(struct lb_ipmi_conn *c)
{
	lb_ipmi_conn_close(c);
	lb_ipmi_info_clear(&c->info);
}

/*
 * The console's Serial-over-LAN login (console/) words its failures alike;
 * it adds the hint of its own flags (libipmiconsole's), so none here.
 */
int
lb_ipmi_fail_login(const struct lb_ipmi_conn *c, int errnum,
    struct lb_err *err)
{
	return login_error(c, errnum, err);
}

bool
lb_ipmi_login_try_next_suite(int errnum)
{
	return try_next_suite(errnum);
}

int
lb_ipmi_login_error_rank(int errnum)
{
	return login_error_rank(errnum);
}
