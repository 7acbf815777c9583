/*
 * boot_tmp.h - the temporary names the boot files' atomic writes stage
 * under, and the sweep at start that removes those a killed conductor
 * left behind (see boot_tmp.c).
 */
#ifndef LB_BOOT_TMP_H
#define LB_BOOT_TMP_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

/* Hex digits of the random part of a temporary name. */
#define LB_BOOT_TMP_RANDOM 12

/*
 * ".<name>.<12 hex digits>" into 'buf': dnsmasq's hostsdir and optsdir
 * watchers skip dot files, so they never read a half-written temporary.
 */
void lb_boot_tmp_name(char *buf, size_t size, const char *name);

/* True when 'name' has the form lb_boot_tmp_name() gives. */
bool lb_boot_is_tmp_name(const char *name);

/*
 * Removes every temporary (files and symlinks named as above) directly in
 * the configured root 'root' and in its subdirectories one level down
 * (pxelinux.cfg/, a node's directory), never following a symlink.  Only
 * while nothing stages files there, i.e. at start before any job runs:
 * each one is a write a killed conductor never finished.  Returns the
 * number removed, 0 when 'root' is missing, or a negative errno ('what'
 * names the root in the message).
 */
int lb_boot_sweep_tmp(const char *root, const char *what, struct lb_err *err);

#endif
