/*
 * power_recovery.h - the periodic power-failure recovery
 * (power_recovery.c): registered at engine start, runs on the timer
 * thread and the worker pool.
 */
#ifndef LB_POWER_RECOVERY_H
#define LB_POWER_RECOVERY_H

struct lb_engine;

/* Registers the recovery with the timers (0 or -ENOMEM). */
int lb_power_recovery_register(struct lb_engine *e);

#endif
