/*
 * power_fake.h - test knobs of the `fake` power interface.  The knobs
 * themselves are driver_info keys read on each call (fake only):
 *   fake_bmc      a name: nodes with the same one share one BMC (key)
 *   fake_fail     every call fails with this text
 *   fake_delay    every call takes this many seconds of the fake clock
 *   fake_soft_off "ignore": the guest ignores the power button, so a
 *                 soft power-off waits its timeout and fails -ETIMEDOUT
 * Any thread.
 */
#ifndef LB_POWER_FAKE_H
#define LB_POWER_FAKE_H

#include "conductor/util/clock.h"
#include "power/power.h"

extern const struct lb_power_ops lb_power_fake;
extern const struct lb_management_ops lb_management_fake;

/* The clock fake_delay and fake_soft_off wait on (default: the system's;
 * tests pass their virtual one).  NULL restores the default. */
void lb_power_fake_set_clock(const struct lb_clock *clock);

#endif
