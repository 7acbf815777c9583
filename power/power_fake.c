/*
 * power_fake.c - the `fake` power and management interfaces: an in-memory
 * machine per node, for tests and benchmarks, with the test knobs of
 * power_fake.h (their one table and parser are here).  Any worker thread;
 * the machine table (a hash table, 10,000+ nodes) is guarded by one mutex,
 * the random generator is lock-free.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "power/power_fake.h"
#include "conductor/util/hash.h"
#include "conductor/util/stop.h"
#include "conductor/util/banned.h"

/* ------------------------------------------------------------- knobs */

enum knob_kind {
	KNOB_NAME,		/* a string */
	KNOB_SECONDS,		/* a number >= 0 */
	KNOB_RATE,		/* a number from 0 to 1 */
	KNOB_IGNORE,		/* the string "ignore" */
};

/* Row i of knobs[] parses the key lb_fake_properties[i] documents. */
const struct lb_property lb_fake_properties[] = {
	{ "fake_bmc", "Test aid: nodes with the same name share one BMC "
	  "(its concurrency and spacing limits). Optional." },
	{ "fake_fail", "Test aid: every power call fails with this text. "
	  "Optional." },
	{ "fake_fail_rate", "Test aid: each power call fails with this "
	  "probability (0 to 1), as the fake BMC's injected failure. "
	  "Optional." },
	{ "fake_delay", "Test aid: seconds every power call takes. "
	  "Optional." },
	{ "fake_delay_jitter", "Test aid: each power call takes up to this "
	  "many seconds more than fake_delay (uniformly random). Optional." },
	{ "fake_soft_off", "Test aid: \"ignore\" makes the guest ignore the "
	  "power button, so a soft power off times out. Optional." },
	{ NULL, NULL },
};

static const struct {
	enum knob_kind kind;
	size_t offset;
} knobs[] = {
	{ KNOB_NAME, offsetof(struct lb_fake_knobs, bmc) },
	{ KNOB_NAME, offsetof(struct lb_fake_knobs, fail) },
	{ KNOB_RATE, offsetof(struct lb_fake_knobs, fail_rate) },
	{ KNOB_SECONDS, offsetof(struct lb_fake_knobs, delay) },
	{ KNOB_SECONDS, offsetof(struct lb_fake_knobs, delay_jitter) },
	{ KNOB_IGNORE, offsetof(struct lb_fake_knobs, soft_off_ignore) },
};
_Static_assert(sizeof(knobs) / sizeof(knobs[0]) + 1 ==
    sizeof(lb_fake_properties) / sizeof(lb_fake_properties[0]),
    "one knob row per documented property");

/* A JSON number, or a string that is one whole finite number. */
static int
knob_number(const json_t *v, double *ret)
{
	const char *s;
	char *end;
	double d;

	if (json_is_number(v)) {
		*ret = json_number_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (errno != 0 || *end != '\0' || !isfinite(d))
		return -EINVAL;
	*ret = d;
	return 0;
}

static int
knob_bad(const char *key, const json_t *v, const char *want,
    struct lb_err *err)
{
	char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	int r;

	r = lb_err_set(err, -EINVAL, "Invalid value for %s: %.64s (%s)", key,
	    text != NULL ? text : "?", want);
	free(text);
	return r;
}

static int
knob_parse(size_t i, const json_t *v, struct lb_fake_knobs *k,
    struct lb_err *err)
{
	const char *key = lb_fake_properties[i].name;
	char *field = (char *)k + knobs[i].offset;
	double d = 0;

	switch (knobs[i].kind) {
	case KNOB_NAME:
		if (!json_is_string(v))
			return knob_bad(key, v, "a string is required", err);
		*(const char **)field = json_string_value(v);
		return 0;
	case KNOB_IGNORE:
		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), "ignore") != 0)
			return knob_bad(key, v, "only \"ignore\" is known",
			    err);
		*(bool *)field = true;
		return 0;
	case KNOB_SECONDS:
		if (knob_number(v, &d) < 0 || d < 0)
			return knob_bad(key, v, "a number of seconds, 0 or "
			    "more, is required", err);
		break;
	case KNOB_RATE:
		if (knob_number(v, &d) < 0 || d < 0 || d > 1)
			return knob_bad(key, v, "a number from 0 to 1 is "
			    "required", err);
		break;
	}
	*(double *)field = d;
	return 0;
}

int
lb_power_fake_parse(const json_t *driver_info, struct lb_fake_knobs *ret,
    struct lb_err *err)
{
	struct lb_fake_knobs k = { 0 };
	const json_t *v;
	int r;

	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		v = json_object_get(driver_info, lb_fake_properties[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		r = knob_parse(i, v, &k, err);
		if (r < 0)
			return r;
	}
	*ret = k;
	return 0;
}

/* -------------------------------------------------- random, lock-free */

/* splitmix64: a counter stepped atomically, then mixed. */
static _Atomic uint64_t fake_rng = 0;
static atomic_flag fake_rng_seeded = ATOMIC_FLAG_INIT;

void
lb_power_fake_seed(uint64_t seed)
{
	atomic_flag_test_and_set(&fake_rng_seeded);
	fake_rng = seed;
}

/* Uniform in [0, 1). */
static double
fake_random(void)
{
	struct timespec ts;
	uint64_t z;

	if (!atomic_flag_test_and_set(&fake_rng_seeded)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		fake_rng = (uint64_t)ts.tv_sec * 1000000007u +
		    (uint64_t)ts.tv_nsec;
	}
	z = atomic_fetch_add(&fake_rng, 0x9e3779b97f4a7c15ull) +
	    0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------- the machines */

struct fake_machine {
	char uuid[40];
	enum lb_power_state state;
	enum lb_boot_device device;
	bool persistent;
	struct fake_machine *next;	/* in its bucket */
};

#define FAKE_BUCKETS_MIN 1024

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_machine **fake_buckets;
static size_t fake_nbuckets;		/* a power of two */
static size_t fake_count;

/* Doubles the buckets (at least FAKE_BUCKETS_MIN).  fake_lock held. */
static int
fake_grow(void)
{
	size_t n = fake_nbuckets ? fake_nbuckets * 2 : FAKE_BUCKETS_MIN;
	struct fake_machine **b = calloc(n, sizeof(*b)), *m, *next;

	if (b == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < fake_nbuckets; i++) {
		for (m = fake_buckets[i]; m != NULL; m = next) {
			next = m->next;
			m->next = b[lb_hash_str(m->uuid) & (n - 1)];
			b[lb_hash_str(m->uuid) & (n - 1)] = m;
		}
	}
	free(fake_buckets);
	fake_buckets = b;
	fake_nbuckets = n;
	return 0;
}

/* The node's machine, made (off, disk) on first use.  fake_lock held. */
static struct fake_machine *
fake_find(const char *uuid)
{
	struct fake_machine *m;
	size_t slot;

	if (fake_nbuckets != 0) {
		for (m = fake_buckets[lb_hash_str(uuid) & (fake_nbuckets - 1)];
		    m != NULL; m = m->next) {
			if (strcmp(m->uuid, uuid) == 0)
				return m;
		}
	}
	if (fake_count >= fake_nbuckets && fake_grow() < 0 &&
	    fake_nbuckets == 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	m->state = LB_POWER_OFF;
	m->device = LB_BOOT_DEV_DISK;
	m->persistent = true;
	slot = lb_hash_str(uuid) & (fake_nbuckets - 1);
	m->next = fake_buckets[slot];
	fake_buckets[slot] = m;
	fake_count++;
	return m;
}

size_t
lb_power_fake_machines(void)
{
	size_t n;

	pthread_mutex_lock(&fake_lock);
	n = fake_count;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* ---------------------------------------------------------- the calls */

static const struct lb_clock *_Atomic fake_clock = &lb_clock_system;

void
lb_power_fake_set_clock(const struct lb_clock *clock)
{
	fake_clock = clock != NULL ? clock : &lb_clock_system;
}

/* Sleeps 'seconds' of the fake clock (nothing signals the condvar). */
static void
fake_sleep(double seconds)
{
	const struct lb_clock *c = fake_clock;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	double end = c->monotonic(c) + seconds, left;

	if (!(seconds > 0))
		return;
	lb_cond_init_monotonic(&cond);
	pthread_mutex_lock(&lock);
	while ((left = end - c->monotonic(c)) > 0)
		c->wait_for(c, &cond, &lock, left);
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&cond);
}

/* The call's delay, then fake_fail, then fake_fail_rate: 0 or the
 * failure.  The knobs go to 'ret_knobs'. */
static int
fake_knobs(const struct lb_task *task, struct lb_fake_knobs *ret_knobs,
    struct lb_err *err)
{
	struct lb_fake_knobs k;
	int r;

	r = lb_power_fake_parse(task->driver_info, &k, err);
	if (r < 0)
		return r;
	fake_sleep(k.delay + (k.delay_jitter > 0 ?
	    k.delay_jitter * fake_random() : 0));
	if (k.fail != NULL)
		return lb_err_set(err, -EIO, "fake BMC: %s", k.fail);
	if (k.fail_rate > 0 && fake_random() < k.fail_rate)
		return lb_err_set(err, -EIO, "fake BMC: injected failure "
		    "(fake_fail_rate %g)", k.fail_rate);
	*ret_knobs = k;
	return 0;
}

static int
fake_validate(const struct lb_task *task, struct lb_err *err)
{
	struct lb_fake_knobs k;

	return lb_power_fake_parse(task->driver_info, &k, err);
}

static int
fake_bmc_key(const struct lb_task *task, char *buf, size_t size)
{
	const char *bmc = json_string_value(json_object_get(task->driver_info,
	    "fake_bmc"));

	if (bmc != NULL)
		snprintf(buf, size, "fake-bmc:%s", bmc);
	else
		snprintf(buf, size, "fake:%s", task->node_uuid);
	return 0;
}

static int
fake_get_state(const struct lb_task *task, enum lb_power_state *ret_state,
    struct lb_err *err)
{
	struct lb_fake_knobs k;
	struct fake_machine *m;
	int r;

	r = fake_knobs(task, &k, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fake_lock);
	m = fake_find(task->node_uuid);
	if (m != NULL)
		*ret_state = m->state;
	pthread_mutex_unlock(&fake_lock);
	return m ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

static int
fake_set_state(const struct lb_task *task, enum lb_power_action action,
    int timeout_s, struct lb_err *err)
{
	struct lb_fake_knobs k;
	struct fake_machine *m;
	int r;

	r = fake_knobs(task, &k, err);
	if (r < 0)
		return r;
	if (action == LB_POWER_ACTION_SOFT_OFF && k.soft_off_ignore) {
		/* The wait a real BMC makes: a graceful stop cuts it. */
		if (lb_stop_sleep(fake_clock, timeout_s) < 0)
			return lb_err_set(err, -ECANCELED, "soft power off not "
			    "confirmed: lifeboatd stopped waiting for it");
		return lb_err_set(err, -ETIMEDOUT, "soft power off did not "
		    "complete within %d s", timeout_s);
	}
	pthread_mutex_lock(&fake_lock);
	m = fake_find(task->node_uuid);
	if (m != NULL) {
		switch (action) {
		case LB_POWER_ACTION_ON:
		case LB_POWER_ACTION_REBOOT:
		case LB_POWER_ACTION_SOFT_REBOOT:
			m->state = LB_POWER_ON;
			break;
		case LB_POWER_ACTION_OFF:
		case LB_POWER_ACTION_SOFT_OFF:
			m->state = LB_POWER_OFF;
			break;
		}
	}
	pthread_mutex_unlock(&fake_lock);
	return m ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

static int
fake_set_boot_device(const struct lb_task *task, enum lb_boot_device device,
    bool persistent, enum lb_boot_mode mode, struct lb_err *err)
{
	struct fake_machine *m;

	(void)mode;
	pthread_mutex_lock(&fake_lock);
	m = fake_find(task->node_uuid);
	if (m != NULL) {
		m->device = device;
		m->persistent = persistent;
	}
	pthread_mutex_unlock(&fake_lock);
	return m ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

static int
fake_get_boot_device(const struct lb_task *task,
    enum lb_boot_device *ret_device, bool *ret_persistent, struct lb_err *err)
{
	struct fake_machine *m;

	pthread_mutex_lock(&fake_lock);
	m = fake_find(task->node_uuid);
	if (m != NULL) {
		*ret_device = m->device;
		*ret_persistent = m->persistent;
	}
	pthread_mutex_unlock(&fake_lock);
	return m ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}

const struct lb_power_ops lb_power_fake = {
	.name = "fake",
	.validate = fake_validate,
	.bmc_key = fake_bmc_key,
	.get_state = fake_get_state,
	.set_state = fake_set_state,
	.bmc_policy = lb_bmc_policy_redfish,	/* bounded like Redfish */
};

const struct lb_management_ops lb_management_fake = {
	.name = "fake",
	.validate = NULL,
	.set_boot_device = fake_set_boot_device,
	.get_boot_device = fake_get_boot_device,
};
