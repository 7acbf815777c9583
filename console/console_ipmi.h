/*
 * console_ipmi.h - what console_registry.c needs of the ipmitool-socat
 * console (console_ipmi.c) beyond its ops: its validate (no I/O, any
 * worker thread) and its shutdown (once, at exit).
 */
#ifndef LB_CONSOLE_IPMI_H
#define LB_CONSOLE_IPMI_H

#include "console/console.h"

extern const struct lb_console_ops lb_console_ipmitool;

int lb_console_ipmitool_validate(const struct lb_task *task,
    struct lb_err *err);
void lb_console_ipmitool_shutdown(void);

#endif
