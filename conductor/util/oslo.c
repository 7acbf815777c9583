/*
 * oslo.c - oslo's strict boolean (oslo.h).  Pure; any thread.
 */
#include "conductor/util/oslo.h"

#include <errno.h>
#include <stddef.h>
#include <strings.h>

#include "conductor/util/banned.h"

int
lb_oslo_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "t", "true", "on", "y",
	    "yes" };
	static const char *const no[] = { "0", "f", "false", "off", "n",
	    "no" };

	for (size_t i = 0; s != NULL && i < sizeof(yes) / sizeof(yes[0]);
	    i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}
