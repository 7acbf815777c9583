/*
 * power_ipmi.c - the "ipmitool" power and management interfaces, spoken
 * natively with libfreeipmi (IPMI 2.0 lanplus or 1.5 lan; no ipmitool
 * process).  Conductor worker threads call it concurrently: each call opens
 * its own IPMI session, uses it and closes it, and the only shared state is
 * libfreeipmi's one-time crypto setup, behind pthread_once().
 */
#include "power/power_ipmi.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <freeipmi/freeipmi.h>

#include "power/ipmi_info.h"
#include "conductor/util/banned.h"

/*
 * libfreeipmi gives up on an unanswered request at the first retransmission
 * after the session timeout; with 1 s retransmissions those fall at 1, 3, 6,
 * 9, 12 s, so 9 s is a bound it keeps (10 s would really be 12 s).
 */
#define SESSION_TIMEOUT_MS	9000
#define RETRANSMIT_TIMEOUT_MS	1000
#define POLL_INTERVAL_MS	1000
/* Ironic's [conductor]power_state_change_timeout, for timeout_s <= 0. */
#define DEFAULT_WAIT_S		60

/* driver_internal_info keys: Ironic's, and two of lifeboat's own. */
#define KEY_PERSISTENT_DEVICE	"persistent_boot_device"
#define KEY_NEXT_PERSISTENT	"is_next_boot_persistent"
#define KEY_PERSISTENT_MODE	"ipmi_persistent_boot_mode"
#define KEY_PROBED_SUITE	"ipmi_probed_cipher_suite"

/* libfreeipmi's boot option names do not fit in 80 columns. */
#define BOOT_DEV(x)	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_DEVICE_##x
#define BOOT_TYPE(x)	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_BOOT_TYPE_##x
#define BOOT_FLAG(x)	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAG_##x
#define UNLOCKED	IPMI_SYSTEM_BOOT_OPTIONS_PARAMETER_VALID_UNLOCKED
#define MUX_DEFAULT \
	IPMI_SYSTEM_BOOT_OPTION_BOOT_FLAGS_SET_MUX_TO_RECOMENDED_AT_END_OF_POST

/* Ironic's preference when ipmi_cipher_suite is not given. */
static const int probe_suites[] = { 17, 3 };

static const char *const boot_device_names[] = {
	[LB_BOOT_DEV_PXE] = "pxe",
	[LB_BOOT_DEV_DISK] = "disk",
	[LB_BOOT_DEV_CDROM] = "cdrom",
	[LB_BOOT_DEV_BIOS] = "bios",
};

static const uint8_t boot_device_codes[] = {
	[LB_BOOT_DEV_PXE] = BOOT_DEV(FORCE_PXE),
	[LB_BOOT_DEV_DISK] = BOOT_DEV(FORCE_HARD_DRIVE),
	[LB_BOOT_DEV_CDROM] = BOOT_DEV(FORCE_CD_DVD),
	[LB_BOOT_DEV_BIOS] = BOOT_DEV(FORCE_BIOS_SETUP),
};

static pthread_once_t crypt_once = PTHREAD_ONCE_INIT;
static int crypt_ok;		/* written once, inside crypt_once */

/* One driver call's view of the BMC, and its session while open. */
struct ipmi_conn {
	struct lb_ipmi_info info;
	char where[LB_IPMI_WHERE_MAX + 1];
	ipmi_ctx_t ctx;			/* NULL while no session */
	char suites_note[40];		/* "cipher suite 3": messages */
	json_t *internal;		/* driver_internal_info, or NULL */
	unsigned int session_ms;	/* at most SESSION_TIMEOUT_MS */
};

static void
crypt_init(void)
{
	/* libgcrypt must be set up once, before threads race to use it. */
	crypt_ok = ipmi_rmcpplus_init() == 0;
}

static const char *
user_name(const struct ipmi_conn *c)
{
	return c->info.username[0] != '\0' ? c->info.username : "(null user)";
}

/* The session timeout in whole seconds, as an operator reads it. */
static int
session_s(const struct ipmi_conn *c)
{
	return (int)((c->session_ms + 999) / 1000);
}

/*
 * libfreeipmi refuses a retransmission timeout that is not below the
 * session timeout (IPMI_ERR_PARAMETERS); a call left with a second or less
 * of its caller's time retransmits within it and gives up soon after.
 */
static unsigned int
retransmit_ms(const struct ipmi_conn *c)
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
fail_login(const struct ipmi_conn *c, int errnum, struct lb_err *err)
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

/* Failures of a command inside an open session. */
static int
fail_cmd(const struct ipmi_conn *c, const char *what, fiid_obj_t rs,
    uint8_t netfn, struct lb_err *err)
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
		return 1;
	default:
		return 2;
	}
}

/*
 * Failures after which another cipher suite may still work: a BMC without
 * the suite may say so, answer with another suite's algorithms (which
 * looks like a wrong password: pyghmi does that), tie privilege levels to
 * suites, or just not answer.
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
		return true;
	default:
		return false;
	}
}

static int
probed_suite(const struct ipmi_conn *c)
{
	const json_t *v = json_object_get(c->internal, KEY_PROBED_SUITE);

	return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

/* Opens an IPMI 2.0 session, with the given suite or probing 17 then 3. */
static int
open_2_0(struct ipmi_conn *c, struct lb_err *err)
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
		    (uint8_t)suites[i], c->session_ms,
		    retransmit_ms(c), IPMI_WORKAROUND_FLAGS_DEFAULT,
		    IPMI_FLAGS_DEFAULT) == 0) {
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
open_1_5(struct ipmi_conn *c, struct lb_err *err)
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
		    IPMI_WORKAROUND_FLAGS_DEFAULT, IPMI_FLAGS_DEFAULT) == 0) {
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

static void
conn_close(struct ipmi_conn *c)
{
	if (c->ctx != NULL) {
		ipmi_ctx_close(c->ctx);
		ipmi_ctx_destroy(c->ctx);
		c->ctx = NULL;
	}
}

static int
conn_open(struct ipmi_conn *c, struct lb_err *err)
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
		r = fail_cmd(c, "bridging setup", NULL, 0, err);
		conn_close(c);
	}
	return r;
}

/* What power_ipmi.c adds to ipmi_info.c: the limits of libfreeipmi. */
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

static int
conn_init(struct ipmi_conn *c, const struct lb_task *task,
    struct lb_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = lb_ipmi_info_parse(task->driver_info, &c->info, err);
	if (r == 0)
		r = check_supported(&c->info, err);
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
	return 0;
}

static void
conn_release(struct ipmi_conn *c)
{
	conn_close(c);
	lb_ipmi_info_clear(&c->info);
}

static int
get_power(struct ipmi_conn *c, enum lb_power_state *ret_state,
    struct lb_err *err)
{
	fiid_obj_t rs;
	uint64_t on;
	int r;

	r = conn_open(c, err);
	if (r < 0)
		return r;
	rs = fiid_obj_create(tmpl_cmd_get_chassis_status_rs);
	if (rs == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (ipmi_cmd_get_chassis_status(c->ctx, rs) < 0)
		r = fail_cmd(c, "Get Chassis Status", rs,
		    IPMI_NET_FN_CHASSIS_RQ, err);
	else if (fiid_obj_get(rs, "current_power_state.power_is_on", &on) != 1)
		r = lb_err_set(err, -EIO, "BMC %s sent a Get Chassis Status "
		    "reply without the power state", c->where);
	else
		*ret_state = on ? LB_POWER_ON : LB_POWER_OFF;
	fiid_obj_destroy(rs);
	return r;
}

static int
chassis_control(struct ipmi_conn *c, uint8_t control, const char *what,
    struct lb_err *err)
{
	fiid_obj_t rs;
	int r;

	r = conn_open(c, err);
	if (r < 0)
		return r;
	rs = fiid_obj_create(tmpl_cmd_chassis_control_rs);
	if (rs == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (ipmi_cmd_chassis_control(c->ctx, control, rs) < 0)
		r = fail_cmd(c, what, rs, IPMI_NET_FN_CHASSIS_RQ, err);
	fiid_obj_destroy(rs);
	return r;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Polls the chassis status every second until it shows 'want', for at most
 * timeout_s.  A poll that times out or finds the BMC busy is not fatal: the
 * session is reopened for the next poll, as a BMC may drop sessions while
 * the host changes power state.
 */
static int
wait_power(struct ipmi_conn *c, enum lb_power_state want, const char *what,
    const char *hint, int timeout_s, struct lb_err *err)
{
	long long deadline = now_ms() + (long long)timeout_s * 1000, left;
	enum lb_power_state state = LB_POWER_UNKNOWN;
	struct lb_err poll_err;
	int r;

	for (;;) {
		r = get_power(c, &state, &poll_err);
		if (r == 0 && state == want)
			return 0;
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN)
			break;
		if (r < 0)
			conn_close(c);
		left = deadline - now_ms();
		if (left <= 0)
			break;
		sleep_ms(left < POLL_INTERVAL_MS ? left : POLL_INTERVAL_MS);
	}
	if (r < 0) {
		if (err != NULL)
			*err = poll_err;
		return r;
	}
	return lb_err_set(err, -ETIMEDOUT, "%s did not complete within %d s: "
	    "BMC %s still reports power %s%s", what, timeout_s, c->where,
	    state == LB_POWER_ON ? "on" : "off", hint);
}

/* Sends 'control' unless the power already is 'want', then waits. */
static int
power_to(struct ipmi_conn *c, enum lb_power_state want, uint8_t control,
    const char *what, int timeout_s, struct lb_err *err)
{
	enum lb_power_state state;
	int r;

	r = get_power(c, &state, err);
	if (r < 0 || state == want)
		return r;
	r = chassis_control(c, control, what, err);
	if (r < 0)
		return r;
	return wait_power(c, want, what,
	    control == IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN ?
	    " (the operating system did not act on the ACPI power button)" :
	    "", timeout_s, err);
}

/* A refusal (not a timeout) of an optional boot options step is ignored. */
static bool
refused(struct ipmi_conn *c)
{
	int errnum = ipmi_ctx_errnum(c->ctx);

	return errnum == IPMI_ERR_BAD_COMPLETION_CODE ||
	    errnum == IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED;
}

/*
 * Get System Boot Options, parameter 5.  *ret_valid false means no
 * override is set (the other fields are then left alone).
 */
static int
get_boot_flags(struct ipmi_conn *c, bool *ret_valid, uint8_t *ret_device,
    bool *ret_persistent, bool *ret_efi, struct lb_err *err)
{
	uint64_t valid = 0, device = 0, persistent = 0, efi = 0;
	fiid_obj_t rs;
	int r;

	r = conn_open(c, err);
	if (r < 0)
		return r;
	rs = fiid_obj_create(tmpl_cmd_get_system_boot_options_boot_flags_rs);
	if (rs == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (ipmi_cmd_get_system_boot_options_boot_flags(c->ctx,
	    IPMI_SYSTEM_BOOT_OPTIONS_NO_SET_SELECTOR,
	    IPMI_SYSTEM_BOOT_OPTIONS_NO_BLOCK_SELECTOR, rs) < 0)
		r = fail_cmd(c, "Get System Boot Options (boot flags)", rs,
		    IPMI_NET_FN_CHASSIS_RQ, err);
	else if (fiid_obj_get(rs, "boot_flags_valid", &valid) != 1 ||
	    fiid_obj_get(rs, "boot_device", &device) != 1 ||
	    fiid_obj_get(rs, "boot_flags_persistent", &persistent) != 1 ||
	    fiid_obj_get(rs, "bios_boot_type", &efi) != 1)
		r = lb_err_set(err, -EIO, "BMC %s sent a malformed boot flags "
		    "reply", c->where);
	fiid_obj_destroy(rs);
	if (r < 0)
		return r;
	*ret_valid = valid != 0 && device != BOOT_DEV(NO_OVERRIDE);
	if (*ret_valid) {
		*ret_device = (uint8_t)device;
		*ret_persistent = persistent != 0;
		*ret_efi = efi == BOOT_TYPE(EFI);
	}
	return 0;
}

/* The boot type bit to send: asked for, or else what the BMC has now. */
static int
boot_type(struct ipmi_conn *c, enum lb_boot_mode mode, uint8_t *ret_type,
    struct lb_err *err)
{
	bool valid = false, persistent, efi = false;
	uint8_t device;
	int r;

	*ret_type = mode == LB_BOOT_MODE_UEFI ? BOOT_TYPE(EFI) :
	    BOOT_TYPE(PC_COMPATIBLE);
	if (mode != LB_BOOT_MODE_UNSET)
		return 0;
	r = get_boot_flags(c, &valid, &device, &persistent, &efi, err);
	if (r < 0 && !refused(c))
		return r;
	if (r == 0 && valid && efi)
		*ret_type = BOOT_TYPE(EFI);
	return 0;
}

static void
set_in_progress(struct ipmi_conn *c, uint8_t state, fiid_obj_t rs)
{
	ipmi_cmd_set_system_boot_options_set_in_progress(c->ctx, UNLOCKED,
	    state, rs);
}

/*
 * What "ipmitool chassis bootdev" and Ironic do: keep the flags from
 * expiring 60 s after being set (the raw 0x00 0x08 0x03 0x08 Ironic sends),
 * mark the boot info unacknowledged for the BIOS, and write the boot flags,
 * inside set-in-progress / commit-write / set-complete where the BMC has it.
 */
static int
set_boot(struct ipmi_conn *c, enum lb_boot_device device, bool persistent,
    enum lb_boot_mode mode, struct lb_err *err)
{
	/*
	 * Boot info acknowledge: write mask "BIOS/POST" only, set (as
	 * ipmitool does); libfreeipmi's own helper also sets reserved bits.
	 */
	static const uint8_t ack[] = { 0x01, 0x01 };
	uint8_t type;
	bool in_progress = false;
	fiid_obj_t rs;
	int r;

	r = boot_type(c, mode, &type, err);
	if (r == 0)
		r = conn_open(c, err);
	if (r < 0)
		return r;
	rs = fiid_obj_create(tmpl_cmd_set_system_boot_options_rs);
	if (rs == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (c->info.disable_boot_timeout &&
	    ipmi_cmd_set_system_boot_options_BMC_boot_flag_valid_bit_clearing(
	    c->ctx, UNLOCKED, 0, 0, 0,
	    IPMI_SYSTEM_BOOT_OPTION_DONT_CLEAR_VALID_BIT, 0, rs) < 0) {
		r = fail_cmd(c, "disabling the 60 s boot flags timeout (set "
		    "ipmi_disable_boot_timeout to false for BMCs without it)",
		    rs, IPMI_NET_FN_CHASSIS_RQ, err);
		goto out;
	}
	if (ipmi_cmd_set_system_boot_options_set_in_progress(c->ctx, UNLOCKED,
	    IPMI_SYSTEM_BOOT_OPTION_SET_IN_PROGRESS, rs) == 0)
		in_progress = true;
	else if (!refused(c))
		goto fail;
	if (ipmi_cmd_set_system_boot_options(c->ctx,
	    IPMI_SYSTEM_BOOT_OPTION_PARAMETER_BOOT_INFO_ACKNOWLEDGE, UNLOCKED,
	    ack, sizeof(ack), rs) < 0 && !refused(c))
		goto fail;
	if (ipmi_cmd_set_system_boot_options_boot_flags(c->ctx, UNLOCKED, type,
	    persistent ? BOOT_FLAG(VALID_PERSISTENTLY) :
	    BOOT_FLAG(VALID_FOR_NEXT_BOOT), BOOT_FLAG(VALID), 0, 0,
	    boot_device_codes[device], 0, 0,
	    BOOT_FLAG(CONSOLE_REDIRECTION_DEFAULT), 0, 0, 0,
	    BOOT_FLAG(FIRMWARE_BIOS_VERBOSITY_DEFAULT), 0, MUX_DEFAULT, 0, 0,
	    rs) < 0)
		goto fail;
	if (in_progress)
		set_in_progress(c, IPMI_SYSTEM_BOOT_OPTION_SET_COMMIT_WRITE,
		    rs);
	goto out;
fail:
	r = fail_cmd(c, "Set System Boot Options", rs, IPMI_NET_FN_CHASSIS_RQ,
	    err);
out:
	if (in_progress)
		set_in_progress(c, IPMI_SYSTEM_BOOT_OPTION_SET_COMPLETE, rs);
	fiid_obj_destroy(rs);
	return r;
}

static const char *
boot_mode_name(enum lb_boot_mode mode)
{
	return mode == LB_BOOT_MODE_UEFI ? "uefi" :
	    mode == LB_BOOT_MODE_BIOS ? "bios" : NULL;
}

/*
 * Ironic's driver_utils.ensure_next_boot_device(): with
 * ipmi_force_boot_device, re-send the persistent boot device before every
 * power on, for BMCs that forget it; a one-time device was sent already.
 */
static int
ensure_boot_device(struct ipmi_conn *c, struct lb_err *err)
{
	enum lb_boot_mode mode = LB_BOOT_MODE_UNSET;
	const char *name, *mode_name;

	if (!c->info.force_boot_device || c->internal == NULL)
		return 0;
	if (json_is_false(json_object_get(c->internal, KEY_NEXT_PERSISTENT))) {
		json_object_del(c->internal, KEY_NEXT_PERSISTENT);
		return 0;
	}
	name = json_string_value(json_object_get(c->internal,
	    KEY_PERSISTENT_DEVICE));
	mode_name = json_string_value(json_object_get(c->internal,
	    KEY_PERSISTENT_MODE));
	if (name == NULL)
		return 0;
	if (mode_name != NULL && strcmp(mode_name, "uefi") == 0)
		mode = LB_BOOT_MODE_UEFI;
	else if (mode_name != NULL && strcmp(mode_name, "bios") == 0)
		mode = LB_BOOT_MODE_BIOS;
	for (int d = LB_BOOT_DEV_PXE; d <= LB_BOOT_DEV_BIOS; d++)
		if (strcmp(name, boot_device_names[d]) == 0)
			return set_boot(c, (enum lb_boot_device)d, false, mode,
			    err);
	return 0;
}

static int
power_on(struct ipmi_conn *c, int timeout_s, struct lb_err *err)
{
	enum lb_power_state state;
	int r;

	r = get_power(c, &state, err);
	if (r < 0 || state == LB_POWER_ON)
		return r;
	r = ensure_boot_device(c, err);
	if (r < 0)
		return r;
	r = chassis_control(c, IPMI_CHASSIS_CONTROL_POWER_UP, "power on", err);
	if (r < 0)
		return r;
	return wait_power(c, LB_POWER_ON, "power on", "", timeout_s, err);
}

static int
ipmi_validate(const struct lb_task *task, struct lb_err *err)
{
	struct ipmi_conn c;
	int r;

	r = conn_init(&c, task, err);
	if (r == 0)
		conn_release(&c);
	return r;
}

static int
ipmi_bmc_key(const struct lb_task *task, char *buf, size_t size)
{
	struct lb_ipmi_info info;
	int r;

	r = lb_ipmi_info_parse(task->driver_info, &info, NULL);
	if (r == 0)
		r = lb_ipmi_info_bmc_key(&info, buf, size);
	lb_ipmi_info_clear(&info);
	return r;
}

static int
ipmi_get_state(const struct lb_task *task, enum lb_power_state *ret_state,
    struct lb_err *err)
{
	struct ipmi_conn c;
	int r;

	r = conn_init(&c, task, err);
	if (r < 0)
		return r;
	r = get_power(&c, ret_state, err);
	conn_release(&c);
	return r;
}

/*
 * Ironic's semantics: reboot is power off (if on) then power on, not a
 * reset; soft reboot is a soft power off then power on; each step waits up
 * to timeout_s.
 */
static int
ipmi_set_state(const struct lb_task *task, enum lb_power_action action,
    int timeout_s, struct lb_err *err)
{
	struct ipmi_conn c;
	int r;

	r = conn_init(&c, task, err);
	if (r < 0)
		return r;
	if (timeout_s <= 0)
		timeout_s = DEFAULT_WAIT_S;
	/* An unanswering BMC must not hold the call past the caller's time. */
	if ((unsigned int)timeout_s * 1000 < c.session_ms)
		c.session_ms = (unsigned int)timeout_s * 1000;
	switch (action) {
	case LB_POWER_ACTION_ON:
		r = power_on(&c, timeout_s, err);
		break;
	case LB_POWER_ACTION_OFF:
		r = power_to(&c, LB_POWER_OFF, IPMI_CHASSIS_CONTROL_POWER_DOWN,
		    "power off", timeout_s, err);
		break;
	case LB_POWER_ACTION_REBOOT:
	case LB_POWER_ACTION_SOFT_REBOOT:
		if (action == LB_POWER_ACTION_REBOOT)
			r = power_to(&c, LB_POWER_OFF,
			    IPMI_CHASSIS_CONTROL_POWER_DOWN, "power off",
			    timeout_s, err);
		else
			r = power_to(&c, LB_POWER_OFF,
			    IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN,
			    "soft power off", timeout_s, err);
		if (r == 0)
			r = power_on(&c, timeout_s, err);
		break;
	case LB_POWER_ACTION_SOFT_OFF:
		r = power_to(&c, LB_POWER_OFF,
		    IPMI_CHASSIS_CONTROL_INITIATE_SOFT_SHUTDOWN,
		    "soft power off", timeout_s, err);
		break;
	default:
		r = lb_err_set(err, -EINVAL, "unknown power action %d",
		    (int)action);
		break;
	}
	conn_release(&c);
	return r;
}

/*
 * With ipmi_force_boot_device the device is remembered in
 * driver_internal_info as Ironic does (and re-sent at power on), and the
 * BMC is only ever given a one-time device.
 */
static int
ipmi_set_boot_device(const struct lb_task *task, enum lb_boot_device device,
    bool persistent, enum lb_boot_mode mode, struct lb_err *err)
{
	struct ipmi_conn c;
	bool remember;
	int r;

	if (device < LB_BOOT_DEV_PXE || device > LB_BOOT_DEV_BIOS)
		return lb_err_set(err, -EINVAL, "unknown boot device %d",
		    (int)device);
	r = conn_init(&c, task, err);
	if (r < 0)
		return r;
	remember = c.info.force_boot_device && c.internal != NULL;
	r = set_boot(&c, device, persistent && !c.info.force_boot_device, mode,
	    err);
	if (r == 0 && remember && persistent) {
		json_object_del(c.internal, KEY_NEXT_PERSISTENT);
		json_object_set_new(c.internal, KEY_PERSISTENT_DEVICE,
		    json_string(boot_device_names[device]));
		if (boot_mode_name(mode) != NULL)
			json_object_set_new(c.internal, KEY_PERSISTENT_MODE,
			    json_string(boot_mode_name(mode)));
		else
			json_object_del(c.internal, KEY_PERSISTENT_MODE);
	} else if (r == 0 && remember) {
		json_object_set_new(c.internal, KEY_NEXT_PERSISTENT,
		    json_false());
	}
	conn_release(&c);
	return r;
}

/* The lifeboat device for a boot device selector, or -1. */
static int
device_from_code(uint8_t code)
{
	switch (code) {
	case BOOT_DEV(FORCE_PXE):
		return LB_BOOT_DEV_PXE;
	case BOOT_DEV(FORCE_HARD_DRIVE):
	case BOOT_DEV(FORCE_HARD_DRIVE_SAFE_MODE):
	case BOOT_DEV(FORCE_REMOTELY_CONNECTED_HARD_DRIVE):
		return LB_BOOT_DEV_DISK;
	case BOOT_DEV(FORCE_CD_DVD):
	case BOOT_DEV(FORCE_REMOTELY_CONNECTED_CD_DVD):
	case BOOT_DEV(FORCE_PRIMARY_REMOTE_MEDIA):
		return LB_BOOT_DEV_CDROM;
	case BOOT_DEV(FORCE_BIOS_SETUP):
		return LB_BOOT_DEV_BIOS;
	default:
		return -1;
	}
}

/*
 * -ENODATA when no override is set (Ironic shows boot_device null then):
 * the BMC then boots by its own order, which no lb_boot_device names.
 */
static int
ipmi_get_boot_device(const struct lb_task *task,
    enum lb_boot_device *ret_device, bool *ret_persistent, struct lb_err *err)
{
	bool valid = false, persistent = false, efi = false;
	const char *name;
	struct ipmi_conn c;
	uint8_t code = 0;
	int r, dev = -1;

	r = conn_init(&c, task, err);
	if (r < 0)
		return r;
	/* Ironic answers from driver_internal_info in this case. */
	name = json_string_value(json_object_get(c.internal,
	    KEY_PERSISTENT_DEVICE));
	if (c.info.force_boot_device && name != NULL &&
	    !json_is_false(json_object_get(c.internal, KEY_NEXT_PERSISTENT))) {
		for (int d = LB_BOOT_DEV_PXE; d <= LB_BOOT_DEV_BIOS; d++)
			if (strcmp(name, boot_device_names[d]) == 0)
				dev = d;
		persistent = true;
		valid = dev >= 0;
	}
	if (dev < 0) {
		r = get_boot_flags(&c, &valid, &code, &persistent, &efi, err);
		dev = valid ? device_from_code(code) : -1;
	}
	if (r == 0 && !valid)
		r = lb_err_set(err, -ENODATA, "BMC %s has no boot device "
		    "override set", c.where);
	else if (r == 0 && dev < 0)
		r = lb_err_set(err, -ENODATA, "BMC %s boots from boot device "
		    "selector 0x%x, which lifeboat has no name for", c.where,
		    code);
	if (r == 0) {
		*ret_device = (enum lb_boot_device)dev;
		*ret_persistent = persistent;
	}
	conn_release(&c);
	return r;
}

const struct lb_power_ops lb_power_ipmitool = {
	.name = "ipmitool",
	.validate = ipmi_validate,
	.bmc_key = ipmi_bmc_key,
	.get_state = ipmi_get_state,
	.set_state = ipmi_set_state,
	.bmc_policy = lb_bmc_policy_ipmi,
};

const struct lb_management_ops lb_management_ipmitool = {
	.name = "ipmitool",
	.validate = ipmi_validate,
	.set_boot_device = ipmi_set_boot_device,
	.get_boot_device = ipmi_get_boot_device,
};
