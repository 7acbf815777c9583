/*
 * power_fake.c - the `fake` power and management interfaces: an in-memory
 * machine per node, for tests and benchmarks, with the test knobs of
 * power_fake.h.  Any worker thread; the table is guarded by one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "power/power_fake.h"
#include "conductor/util/stop.h"
#include "conductor/util/banned.h"

struct fake_machine {
	char uuid[40];
	enum lb_power_state state;
	enum lb_boot_device device;
	bool persistent;
	struct fake_machine *next;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_machine *fake_machines;

/* Called with fake_lock held. */
static struct fake_machine *
fake_find(const char *uuid)
{
	struct fake_machine *m;

	for (m = fake_machines; m != NULL; m = m->next) {
		if (strcmp(m->uuid, uuid) == 0)
			return m;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	m->state = LB_POWER_OFF;
	m->device = LB_BOOT_DEV_DISK;
	m->persistent = true;
	m->next = fake_machines;
	fake_machines = m;
	return m;
}

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

/* fake_delay, then fake_fail: 0 or the failure. */
static int
fake_knobs(const struct lb_task *task, struct lb_err *err)
{
	const json_t *fail = json_object_get(task->driver_info, "fake_fail");

	fake_sleep(json_number_value(json_object_get(task->driver_info,
	    "fake_delay")));
	if (json_is_string(fail))
		return lb_err_set(err, -EIO, "fake BMC: %s",
		    json_string_value(fail));
	return 0;
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
	struct fake_machine *m;

	if (fake_knobs(task, err) < 0)
		return -EIO;
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
	struct fake_machine *m;
	const char *soft = json_string_value(json_object_get(task->driver_info,
	    "fake_soft_off"));

	if (fake_knobs(task, err) < 0)
		return -EIO;
	if (action == LB_POWER_ACTION_SOFT_OFF && soft != NULL &&
	    strcmp(soft, "ignore") == 0) {
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
	.validate = NULL,
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
