/*
 * capture.h - a node's console capture log (console_capture.c):
 * <dir>/<uuid>.log, fed raw Serial-over-LAN bytes, written a whole line at
 * a time with secrets redacted before they reach the file, rotated to
 * <uuid>.log.1 at a size bound.  A capture is fed by one thread at a time
 * (the console's poll loop, under the console lock); the file functions
 * are called from worker threads.
 */
#ifndef LB_CONSOLE_CAPTURE_H
#define LB_CONSOLE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

/* A line longer than this is cut there (the rest up to its end dropped). */
#define LB_CAPTURE_LINE_MAX	1024

struct lb_capture;

/*
 * Creates 'dir' (mode 0700) if needed and truncates or creates
 * <dir>/<uuid>.log (mode 0600); the previous run's <uuid>.log.1 goes.
 * With 'resume' (lifeboatd restarted during the rescue) both stay and
 * lines are appended.  max_size is the bound the file is rotated at.
 */
int lb_capture_open(const char *dir, const char *uuid, size_t max_size,
    bool resume, struct lb_capture **ret, struct lb_err *err);
/* Records 'len' bytes of console output (any split across calls). */
void lb_capture_feed(struct lb_capture *cap, const char *buf, size_t len);
/* Writes the pending partial line and closes the file.  NULL is fine. */
void lb_capture_close(struct lb_capture *cap);

/*
 * The last 'lines' lines of <uuid>.log (reaching into <uuid>.log.1 if the
 * current file has fewer), ANSI escapes and control characters removed,
 * joined by '\n'; *ret is malloc'd, "" when nothing was captured.
 */
int lb_capture_tail(const char *dir, const char *uuid, unsigned int lines,
    char **ret, struct lb_err *err);
/* Removes <uuid>.log and <uuid>.log.1; 0 also when there were none. */
int lb_capture_remove(const char *dir, const char *uuid);

/*
 * Copies one line into 'out' with the value of every key=value whose key
 * holds token, password, passwd or secret (any case) replaced by ***; the
 * value runs to the next blank, or to its closing quote.  Returns the
 * length written ('out' is NUL-terminated, cut to 'size').
 */
size_t lb_capture_redact(const char *line, size_t len, char *out,
    size_t size);

#endif
