/*
 * config_internal.h - what the config files share: the option table's row
 * type (config.c holds the table), the problem list the parser and the
 * checker fill (config_problems.c), and how a value is shown in it.  Main
 * thread, at start-up.  Not for use outside conductor/util/config*.c.
 */
#ifndef LB_CONFIG_INTERNAL_H
#define LB_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/config.h"
#include "conductor/util/err.h"


enum cfg_type {
	CFG_STRING,	/* char * */
	CFG_PATH,	/* char *, absolute */
	CFG_BOOL,	/* bool */
	CFG_INT,	/* int, min..max */
	CFG_FLOAT,	/* double, min..max */
	CFG_SIZE,	/* long bytes, min..max, K/M/G suffixes */
	CFG_ENUM,	/* char * one of 'allowed', or int with CFG_INDEX */
	CFG_LIST,	/* struct lb_strlist */
};

#define CFG_SECRET 0x1	/* never show the value (names with password, ...) */
#define CFG_INDEX 0x2	/* CFG_ENUM kept as the index into 'allowed' */
#define CFG_LOWER 0x4	/* CFG_STRING stored lower-cased */

struct cfg_option {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;		/* the default as text, NULL: unset */
	const char *help;
	const char *const *allowed;	/* CFG_ENUM, NULL-terminated */
	long min, max;			/* CFG_INT, CFG_SIZE, CFG_FLOAT */
	/* extra check of a string value, writes what is wrong into 'why' */
	int (*validate)(const char *value, char *why, size_t size);
	char *(*compute_default)(void);	/* a default only known at run time */
	const char *sample;		/* shown for it in the example file */
	unsigned int flags;
};

/* The table, in config.c: sections in the order the example file shows. */
extern const struct cfg_option *const lb_cfg_options;
extern const size_t lb_cfg_n_options;

/* Problems are collected, not returned one by one. */
#define PROBLEMS_MAX 100
#define PROBLEM_LINE_MAX 512

struct problems {
	char *buf;
	size_t len, cap;
	unsigned int count;
	bool oom;
	char first[LB_ERR_MSG_MAX];
};

void lb_cfg_problem_append(struct problems *pb, const char *line);
void lb_cfg_problem_add(struct problems *pb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the problems over; returns 0, 'rc' if there were any, or -ENOMEM. */
int lb_cfg_problems_finish(struct problems *pb, int rc, char **ret_problems,
    struct lb_err *err);

/*
 * Makes text fit for a problem line: bounded by 'size' (which must be more
 * than 6), "..." when cut, control and non-ASCII bytes made '?'.
 * lb_cfg_quote() also puts it in single quotes.
 */
const char *lb_cfg_clean(const char *s, char *buf, size_t size);
const char *lb_cfg_quote(const char *s, char *buf, size_t size);
/* The value as a problem line may show it ("value" for a secret). */
const char *lb_cfg_show_value(const struct cfg_option *o, const char *value,
    char *buf, size_t size);
/* Writes "a, b, c" into 'buf'. */
const char *lb_cfg_join(const char *const *names, char *buf, size_t size);

#endif
