/*
 * config_problems.c - the problems lb_config_load_*() and lb_config_check()
 * collect (all of them, not the first alone) and how a value is shown in
 * one: bounded, quoted, secrets never.  Main thread, at start-up.
 */
#include "conductor/util/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

void
lb_cfg_problem_append(struct problems *pb, const char *line)
{
	size_t n = strlen(line);
	char *nbuf;

	if (pb->oom)
		return;
	if (pb->len + n + 2 > pb->cap) {
		size_t ncap = pb->cap ? pb->cap * 2 : 1024;

		while (ncap < pb->len + n + 2)
			ncap *= 2;
		nbuf = realloc(pb->buf, ncap);
		if (nbuf == NULL) {
			pb->oom = true;
			return;
		}
		pb->buf = nbuf;
		pb->cap = ncap;
	}
	if (pb->len > 0)
		pb->buf[pb->len++] = '\n';
	memcpy(pb->buf + pb->len, line, n + 1);
	pb->len += n;
}

void
lb_cfg_problem_add(struct problems *pb, const char *fmt, ...)
{
	char line[PROBLEM_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (pb->count++ == 0)
		snprintf(pb->first, sizeof(pb->first), "%s", line);
	if (pb->count <= PROBLEMS_MAX)
		lb_cfg_problem_append(pb, line);
}

int
lb_cfg_problems_finish(struct problems *pb, int rc, char **ret_problems,
    struct lb_err *err)
{
	unsigned int count = pb->count;
	char line[64];

	if (count > PROBLEMS_MAX) {
		snprintf(line, sizeof(line), "... and %u more problems",
		    count - PROBLEMS_MAX);
		lb_cfg_problem_append(pb, line);
	}
	if (pb->oom) {
		free(pb->buf);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	if (ret_problems != NULL)
		*ret_problems = count ? pb->buf : NULL;
	else
		free(pb->buf);
	if (count == 0)
		return 0;
	return lb_err_set(err, rc, "%s", pb->first);
}

static bool
opt_is_secret(const struct cfg_option *o)
{
	return (o->flags & CFG_SECRET) || strstr(o->name, "password") ||
	    strstr(o->name, "secret") || strstr(o->name, "token");
}

const char *
lb_cfg_clean(const char *s, char *buf, size_t size)
{
	size_t i, n = 0, max = size - 4;

	for (i = 0; s[i] != '\0' && n < max; i++)
		buf[n++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

const char *
lb_cfg_quote(const char *s, char *buf, size_t size)
{
	size_t n;

	buf[0] = '\'';
	lb_cfg_clean(s, buf + 1, size - 2);
	n = strlen(buf);
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

const char *
lb_cfg_show_value(const struct cfg_option *o, const char *value, char *buf,
    size_t size)
{
	if (opt_is_secret(o)) {
		snprintf(buf, size, "value");
		return buf;
	}
	return lb_cfg_quote(value, buf, size);
}

const char *
lb_cfg_join(const char *const *names, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] != NULL && n < size; i++)
		n += snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
		    names[i]);
	return buf;
}
