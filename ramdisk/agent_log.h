/*
 * agent_log.h - the agent's console log: one line per event on stderr,
 * "LEVEL lifeboat-agent: message".  Tokens and password hashes never reach
 * these functions.  Any thread: a line is written with a single write(2).
 */
#ifndef RA_LOG_H
#define RA_LOG_H

#include <stdbool.h>

void ra_log_set_debug(bool on);
void ra_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define RA_LOG_DEBUG 0
#define RA_LOG_INFO 1
#define RA_LOG_WARNING 2
#define RA_LOG_ERROR 3

#define ra_debug(...) ra_log(RA_LOG_DEBUG, __VA_ARGS__)
#define ra_info(...) ra_log(RA_LOG_INFO, __VA_ARGS__)
#define ra_warn(...) ra_log(RA_LOG_WARNING, __VA_ARGS__)
#define ra_error(...) ra_log(RA_LOG_ERROR, __VA_ARGS__)

#endif
