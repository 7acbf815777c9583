/*
 * callback_timeout.h - the rescue callback-timeout check
 * (callback_timeout.c).  Registered at engine start; runs on the timer
 * thread.
 */
#ifndef LB_CALLBACK_TIMEOUT_H
#define LB_CALLBACK_TIMEOUT_H

struct lb_engine;

/* Registers the check every [conductor] check_rescue_state_interval. */
int lb_callback_timeout_register(struct lb_engine *e);

#endif
