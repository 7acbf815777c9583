/*
 * version.h - Ironic microversion headers: "1.N", "latest", or the generic
 * "OpenStack-API-Version: baremetal 1.N".  Pure; any thread.
 */
#ifndef LB_VERSION_H
#define LB_VERSION_H

#include "conductor/util/err.h"

/*
 * The minor version a request asked for, given the value of
 * X-OpenStack-Ironic-API-Version (or NULL) and of OpenStack-API-Version
 * (or NULL), and the served range.  No header means the minimum, not the
 * maximum.  -ENOTSUP (406) with Ironic's message for anything outside the
 * range or unparsable.
 */
int lb_version_parse(const char *ironic, const char *generic, int min,
    int max, int *ret_minor, struct lb_err *err);

#endif
