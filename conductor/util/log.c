/*
 * log.c - stderr logging with a level threshold.  Any thread.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/util/banned.h"

static volatile enum lb_log_level log_threshold = LB_LOG_INFO;

static const char *const level_names[] = {
	[LB_LOG_DEBUG] = "DEBUG",
	[LB_LOG_INFO] = "INFO",
	[LB_LOG_WARNING] = "WARNING",
	[LB_LOG_ERROR] = "ERROR",
};

void
lb_log_set_level(enum lb_log_level level)
{
	log_threshold = level;
}

enum lb_log_level
lb_log_get_level(void)
{
	return log_threshold;
}

int
lb_log_level_parse(const char *name, enum lb_log_level *ret_level)
{
	if (strcasecmp(name, "debug") == 0)
		*ret_level = LB_LOG_DEBUG;
	else if (strcasecmp(name, "info") == 0)
		*ret_level = LB_LOG_INFO;
	else if (strcasecmp(name, "warning") == 0 ||
	    strcasecmp(name, "warn") == 0)
		*ret_level = LB_LOG_WARNING;
	else if (strcasecmp(name, "error") == 0)
		*ret_level = LB_LOG_ERROR;
	else
		return -EINVAL;
	return 0;
}

void
lb_log(enum lb_log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, m;

	if (level < log_threshold)
		return;
	n = snprintf(line, sizeof(line), "%s lifeboatd: ", level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per record keeps lines from different threads whole. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
