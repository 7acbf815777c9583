/*
 * log.h - one-line log records on stderr (journald adds time stamps).
 *
 * Libraries and drivers log at debug only; the state machine and the API log
 * each failure once.  Secrets never reach these functions.  Any thread: a
 * record is written with a single write(2).
 */
#ifndef LB_LOG_H
#define LB_LOG_H

enum lb_log_level {
	LB_LOG_DEBUG,
	LB_LOG_INFO,
	LB_LOG_WARNING,
	LB_LOG_ERROR,
};

void lb_log_set_level(enum lb_log_level level);
enum lb_log_level lb_log_get_level(void);
/* Accepts debug, info, warning (or warn), error; returns -EINVAL otherwise. */
int lb_log_level_parse(const char *name, enum lb_log_level *ret_level);
void lb_log(enum lb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) lb_log(LB_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) lb_log(LB_LOG_INFO, __VA_ARGS__)
#define log_warning(...) lb_log(LB_LOG_WARNING, __VA_ARGS__)
#define log_error(...) lb_log(LB_LOG_ERROR, __VA_ARGS__)

#endif
