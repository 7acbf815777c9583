/*
 * power_ipmi.h - the "ipmitool" power and management interfaces, spoken
 * natively over IPMI 2.0 (lanplus) or 1.5 with libfreeipmi: no ipmitool
 * process.  Called from conductor worker threads, concurrently.
 */
#ifndef LB_POWER_IPMI_H
#define LB_POWER_IPMI_H

#include "power/power.h"

extern const struct lb_power_ops lb_power_ipmitool;
extern const struct lb_management_ops lb_management_ipmitool;

#endif
