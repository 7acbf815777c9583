/*
 * oslo.h - how OpenStack's oslo libraries read values that Ironic's API
 * takes as text: the strict boolean of strutils.bool_from_string(strict),
 * which Ironic's args.boolean uses.  Pure; any thread.
 */
#ifndef LB_OSLO_H
#define LB_OSLO_H

#include <stdbool.h>

/* What the error message lists, in oslo's (sorted) order. */
#define LB_OSLO_BOOL_VALUES "'0', '1', 'f', 'false', 'n', 'no', 'off', " \
	"'on', 't', 'true', 'y', 'yes'"

/* 0 and *ret for one of LB_OSLO_BOOL_VALUES (any case), else -EINVAL. */
int lb_oslo_bool(const char *s, bool *ret);

#endif
