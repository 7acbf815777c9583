/*
 * agent_log.c - console logging for the rescue agent: a level threshold
 * and one write(2) per line.  Any thread.
 */
#include "agent_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "conductor/util/banned.h"

static volatile int log_threshold = RA_LOG_INFO;

static const char *const level_names[] = {
	[RA_LOG_DEBUG] = "DEBUG",
	[RA_LOG_INFO] = "INFO",
	[RA_LOG_WARNING] = "WARNING",
	[RA_LOG_ERROR] = "ERROR",
};

void
ra_log_set_debug(bool on)
{
	log_threshold = on ? RA_LOG_DEBUG : RA_LOG_INFO;
}

void
ra_log(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, m;

	if (level < log_threshold || level < 0 || level > RA_LOG_ERROR)
		return;
	n = snprintf(line, sizeof(line), "%s lifeboat-agent: ",
	    level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One event, one line: fold anything a peer put in a message. */
	for (int i = 0; i < n; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
