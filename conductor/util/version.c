/*
 * version.c - microversion header parsing.  Pure; any thread.
 */
#include "version.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

int
lb_version_parse(const char *ironic, const char *generic, int min, int max,
    int *ret_minor, struct lb_err *err)
{
	const char *h = ironic;
	char *end;
	long minor;

	if (h == NULL && generic != NULL) {
		while (isspace((unsigned char)*generic))
			generic++;
		if (strncasecmp(generic, "baremetal ", 10) == 0)
			h = generic + 10;
	}
	if (h == NULL) {
		*ret_minor = min;
		return 0;
	}
	while (isspace((unsigned char)*h))
		h++;
	if (strcasecmp(h, "latest") == 0) {
		*ret_minor = max;
		return 0;
	}
	if (strncmp(h, "1.", 2) != 0 || !isdigit((unsigned char)h[2]))
		return lb_err_set(err, -ENOTSUP, "Invalid value for "
		    "X-OpenStack-Ironic-API-Version header: %.64s. The "
		    "supported version range is: [1.%d, 1.%d].", h, min, max);
	minor = strtol(h + 2, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || minor < min || minor > max)
		return lb_err_set(err, -ENOTSUP, "Version %.64s was requested "
		    "but the minor version is not supported by this service. "
		    "The supported version range is: [1.%d, 1.%d].", h, min,
		    max);
	*ret_minor = (int)minor;
	return 0;
}
