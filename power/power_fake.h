/*
 * power_fake.h - the `fake` power and management interfaces and their test
 * knobs: driver_info keys, validated by lb_power_fake_parse() and
 * documented in lb_fake_properties (GET /v1/drivers/fake-hardware/
 * properties).  Test aids, not hardware:
 *   fake_bmc          a name: nodes with the same one share one BMC (key)
 *   fake_fail         every power call fails with this text
 *   fake_fail_rate    0..1: each power call fails with this probability
 *   fake_delay        every power call takes this many seconds
 *   fake_delay_jitter plus uniform(0, this) seconds per call
 *   fake_soft_off     "ignore": the guest ignores the power button, so a
 *                     soft power-off waits its timeout and fails -ETIMEDOUT
 * Delays run on the fake clock.  Any thread.
 */
#ifndef LB_POWER_FAKE_H
#define LB_POWER_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conductor/util/clock.h"
#include "power/power.h"

extern const struct lb_power_ops lb_power_fake;
extern const struct lb_management_ops lb_management_fake;
extern const struct lb_property lb_fake_properties[];

/* The knobs of one node; strings borrowed from the driver_info parsed. */
struct lb_fake_knobs {
	const char *bmc;	/* NULL: the node is its own BMC */
	const char *fail;	/* NULL: no forced failure */
	double fail_rate;	/* 0..1 */
	double delay;		/* seconds, >= 0 */
	double delay_jitter;	/* seconds, >= 0 */
	bool soft_off_ignore;
};

/*
 * Reads the knobs from 'driver_info' (missing keys: no effect).  Numbers
 * may be JSON numbers or strings holding one (the CLI sends strings).
 * -EINVAL with a message naming the key and the value on a wrong type or
 * range.
 */
int lb_power_fake_parse(const json_t *driver_info,
    struct lb_fake_knobs *ret_knobs, struct lb_err *err);

/* The clock fake_delay and fake_soft_off wait on (default: the system's;
 * tests pass their virtual one).  NULL restores the default. */
void lb_power_fake_set_clock(const struct lb_clock *clock);

/* Restarts the generator fake_fail_rate and fake_delay_jitter draw from
 * (seeded from the time at start), so a test sees a fixed sequence. */
void lb_power_fake_seed(uint64_t seed);

/* How many in-memory machines exist (one per node ever called). */
size_t lb_power_fake_machines(void);

#endif
