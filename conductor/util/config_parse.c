/*
 * config_parse.c - reading lifeboat.conf: the INI parser, the conversion
 * of each value by its row's type (config.c's table), defaults, and the
 * deep copy that leaves the old config untouched when a load fails.  Main
 * thread, at start-up (and `lifeboatd -n`).
 */
#include "conductor/util/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/util/banned.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void
strlist_clear(struct lb_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Splits at commas, trims each item and drops empty ones. */
static int
strlist_parse(const char *value, struct lb_strlist *ret)
{
	struct lb_strlist l = { NULL, 0 };
	size_t n = 1;
	const char *p, *q, *e;

	for (p = value; *p != '\0'; p++)
		n += *p == ',';
	l.items = calloc(n, sizeof(*l.items));
	if (l.items == NULL)
		return -ENOMEM;
	for (p = value;; p = e + 1) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		while (p < e && isspace((unsigned char)*p))
			p++;
		q = e;
		while (q > p && isspace((unsigned char)q[-1]))
			q--;
		if (q > p) {
			l.items[l.n] = strndup(p, q - p);
			if (l.items[l.n] == NULL) {
				strlist_clear(&l);
				return -ENOMEM;
			}
			l.n++;
		}
		if (*e == '\0')
			break;
	}
	*ret = l;
	return 0;
}

static int
strlist_copy(const struct lb_strlist *src, struct lb_strlist *ret)
{
	struct lb_strlist l = { NULL, 0 };

	l.items = calloc(src->n ? src->n : 1, sizeof(*l.items));
	if (l.items == NULL)
		return -ENOMEM;
	for (; l.n < src->n; l.n++) {
		l.items[l.n] = strdup(src->items[l.n]);
		if (l.items[l.n] == NULL) {
			strlist_clear(&l);
			return -ENOMEM;
		}
	}
	*ret = l;
	return 0;
}

static int
parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
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

/* Decimal, with an optional K, M or G multiplier if 'suffixes'. */
static int
parse_long(const char *s, bool suffixes, long *ret)
{
	long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s) && *s != '-' && *s != '+')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || errno != 0)
		return -EINVAL;
	if (suffixes && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K':
			mult = 1024;
			break;
		case 'm': case 'M':
			mult = 1024L * 1024;
			break;
		case 'g': case 'G':
			mult = 1024L * 1024 * 1024;
			break;
		default:
			return -EINVAL;
		}
		end++;
	}
	if (*end != '\0' || v > LONG_MAX / mult || v < LONG_MIN / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

static void
opt_clear(struct lb_config *cfg, const struct cfg_option *o)
{
	void *field = (char *)cfg + o->offset;

	switch (o->type) {
	case CFG_STRING:
	case CFG_PATH:
		free(*(char **)field);
		*(char **)field = NULL;
		break;
	case CFG_ENUM:
		if (!(o->flags & CFG_INDEX)) {
			free(*(char **)field);
			*(char **)field = NULL;
		}
		break;
	case CFG_LIST:
		strlist_clear(field);
		break;
	default:
		break;
	}
}

static int
set_string(char **field, const char *value)
{
	char *s = NULL;

	if (value != NULL && (s = strdup(value)) == NULL)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

/* set_string(), lower-cased for CFG_LOWER. */
static int
set_string_as(char **field, const char *value, bool lower)
{
	if (set_string(field, value) < 0)
		return -ENOMEM;
	for (char *c = *field; lower && *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

/* A decimal number (1, 0.5, 2.25) within the option's min..max. */
static int
set_float(double *field, const struct cfg_option *o, const char *value,
    const char *shown, char *why, size_t size)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (*value == '\0' || strchr("+-.0123456789", *value) == NULL ||
	    end == value || *end != '\0' || errno != 0 || !isfinite(v)) {
		snprintf(why, size, "%s is not a number", shown);
		return -EINVAL;
	}
	if (v < (double)o->min || v > (double)o->max) {
		snprintf(why, size, "%s is out of range %ld..%ld", shown,
		    o->min, o->max);
		return -EINVAL;
	}
	*field = v;
	return 0;
}

/*
 * Converts 'value' and stores it.  Returns 0, -ENOMEM, or -EINVAL with what
 * is wrong in 'why' (naming the value only as 'shown').
 */
static int
opt_set(struct lb_config *cfg, const struct cfg_option *o, const char *value,
    const char *shown, char *why, size_t size)
{
	void *field = (char *)cfg + o->offset;
	struct lb_strlist l;
	char pred[128];
	size_t i, n;
	long v;
	bool b;

	switch (o->type) {
	case CFG_STRING:
	case CFG_PATH:
		if (*value == '\0' && o->def == NULL)
			return set_string(field, NULL);
		if (*value == '\0') {
			snprintf(why, size, "value is empty");
			return -EINVAL;
		}
		if (o->type == CFG_PATH && *value != '/') {
			snprintf(why, size, "%s is not an absolute path", shown);
			return -EINVAL;
		}
		if (o->validate != NULL &&
		    o->validate(value, pred, sizeof(pred)) != 0) {
			snprintf(why, size, "%s %s", shown, pred);
			return -EINVAL;
		}
		return set_string_as(field, value, o->flags & CFG_LOWER);
	case CFG_BOOL:
		if (parse_bool(value, &b) != 0) {
			snprintf(why, size, "%s is not a boolean (true/false, "
			    "yes/no, on/off, 1/0)", shown);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	case CFG_INT:
	case CFG_SIZE:
		if (parse_long(value, o->type == CFG_SIZE, &v) != 0) {
			snprintf(why, size, "%s is not %s", shown,
			    o->type == CFG_SIZE ? "a size in bytes" :
			    "an integer");
			return -EINVAL;
		}
		if (v < o->min || v > o->max) {
			snprintf(why, size, "%s is out of range %ld..%ld", shown,
			    o->min, o->max);
			return -EINVAL;
		}
		if (o->type == CFG_INT)
			*(int *)field = (int)v;
		else
			*(long *)field = v;
		return 0;
	case CFG_FLOAT:
		return set_float(field, o, value, shown, why, size);
	case CFG_ENUM:
		for (i = 0; o->allowed[i] != NULL; i++)
			if (strcasecmp(value, o->allowed[i]) == 0)
				break;
		if (o->allowed[i] == NULL) {
			n = (size_t)snprintf(why, size, "%s is not one of", shown);
			for (i = 0; o->allowed[i] != NULL && n < size; i++)
				n += snprintf(why + n, size - n, "%s %s",
				    i ? "," : "", o->allowed[i]);
			return -EINVAL;
		}
		if (o->flags & CFG_INDEX) {
			*(int *)field = (int)i;
			return 0;
		}
		return set_string(field, o->allowed[i]);
	case CFG_LIST:
		if (strlist_parse(value, &l) != 0)
			return -ENOMEM;
		strlist_clear(field);
		*(struct lb_strlist *)field = l;
		return 0;
	}
	return -EINVAL;
}

void
lb_config_init(struct lb_config *cfg)
{
	char why[PROBLEM_LINE_MAX];
	const struct cfg_option *o;

	memset(cfg, 0, sizeof(*cfg));
	for (o = lb_cfg_options; o < lb_cfg_options + lb_cfg_n_options; o++) {
		if (o->compute_default != NULL) {
			char **field = (char **)((char *)cfg + o->offset);

			*field = o->compute_default();
			if (*field == NULL)
				abort();
		} else if (o->def != NULL &&
		    opt_set(cfg, o, o->def, o->def, why, sizeof(why)) != 0) {
			/* out of memory, or a bad row in the table */
			abort();
		}
	}
}

void
lb_config_release(struct lb_config *cfg)
{
	for (size_t i = 0; i < lb_cfg_n_options; i++)
		opt_clear(cfg, &lb_cfg_options[i]);
	memset(cfg, 0, sizeof(*cfg));
}

/* Whether the option's field holds memory that 'cfg' owns. */
static bool
opt_owns_memory(const struct cfg_option *o)
{
	return o->type == CFG_STRING || o->type == CFG_PATH ||
	    o->type == CFG_LIST ||
	    (o->type == CFG_ENUM && !(o->flags & CFG_INDEX));
}

/* A deep copy, so that a failed load leaves the original untouched. */
static int
config_copy(const struct lb_config *src, struct lb_config *dst)
{
	const struct cfg_option *o;

	memcpy(dst, src, sizeof(*dst));
	for (o = lb_cfg_options; o < lb_cfg_options + lb_cfg_n_options; o++) {
		void *df = (char *)dst + o->offset;

		if (o->type == CFG_LIST)
			memset(df, 0, sizeof(struct lb_strlist));
		else if (opt_owns_memory(o))
			*(char **)df = NULL;
	}
	for (o = lb_cfg_options; o < lb_cfg_options + lb_cfg_n_options; o++) {
		const void *sf = (const char *)src + o->offset;
		void *df = (char *)dst + o->offset;
		const char *s;

		if (o->type == CFG_LIST) {
			if (strlist_copy(sf, df) != 0)
				goto fail;
		} else if (opt_owns_memory(o)) {
			s = *(char *const *)sf;
			if (s != NULL && (*(char **)df = strdup(s)) == NULL)
				goto fail;
		}
	}
	return 0;
fail:
	lb_config_release(dst);
	return -ENOMEM;
}

static const struct cfg_option *
find_option(const char *section, const char *name)
{
	for (size_t i = 0; i < lb_cfg_n_options; i++)
		if (strcmp(lb_cfg_options[i].section, section) == 0 &&
		    strcmp(lb_cfg_options[i].name, name) == 0)
			return &lb_cfg_options[i];
	return NULL;
}

/* The table's spelling of a section ("DEFAULT", "api", ...), or NULL. */
static const char *
find_section(const char *name)
{
	for (size_t i = 0; i < lb_cfg_n_options; i++)
		if (strcasecmp(lb_cfg_options[i].section, name) == 0)
			return lb_cfg_options[i].section;
	return NULL;
}

struct parser {
	struct lb_config *cfg;
	struct problems pb;
	const char *name;
	unsigned int line;
	const char *section;	/* NULL before the first header */
	bool skip;		/* in an unknown section, already reported */
};

#define PROBLEM(p, fmt, ...)						\
	lb_cfg_problem_add(&(p)->pb, "%s:%u: " fmt, (p)->name,		\
	    (p)->line, ##__VA_ARGS__)

static void
parse_header(struct parser *p, char *s)
{
	char q[80];
	char *close = strchr(s, ']');
	const char *section;

	if (close == NULL) {
		PROBLEM(p, "missing ']' in section header");
		goto bad;
	}
	if (close[1] != '\0') {
		PROBLEM(p, "unexpected text after section header");
		goto bad;
	}
	*close = '\0';
	s = trim(s + 1);
	if (*s == '\0') {
		PROBLEM(p, "empty section name");
		goto bad;
	}
	section = find_section(s);
	if (section == NULL) {
		PROBLEM(p, "unknown section [%s]",
		    lb_cfg_clean(s, q, sizeof(q)));
		goto bad;
	}
	p->section = section;
	p->skip = false;
	return;
bad:
	/* what follows would only add noise */
	p->section = NULL;
	p->skip = true;
}

static int
parse_line(struct parser *p, char *s)
{
	char q[80], shown[80], why[PROBLEM_LINE_MAX];
	const struct cfg_option *o;
	char *eq, *name, *value;
	int r;

	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		parse_header(p, s);
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		PROBLEM(p, "missing '=' (expected 'name = value')");
		return 0;
	}
	*eq = '\0';
	name = trim(s);
	value = trim(eq + 1);
	if (*name == '\0') {
		PROBLEM(p, "missing option name before '='");
		return 0;
	}
	if (p->skip)
		return 0;
	if (p->section == NULL) {
		PROBLEM(p, "option %s before any [section]",
		    lb_cfg_quote(name, q, sizeof(q)));
		return 0;
	}
	o = find_option(p->section, name);
	if (o == NULL) {
		PROBLEM(p, "unknown option [%s] %s", p->section,
		    lb_cfg_clean(name, q, sizeof(q)));
		return 0;
	}
	r = opt_set(p->cfg, o, value, lb_cfg_show_value(o, value, shown,
	    sizeof(shown)), why, sizeof(why));
	if (r == -EINVAL)
		PROBLEM(p, "[%s] %s: %s", o->section, o->name, why);
	return r == -ENOMEM ? r : 0;
}

int
lb_config_load_buffer(struct lb_config *cfg, const char *name,
    const char *buf, size_t len, char **ret_problems, struct lb_err *err)
{
	struct parser p = { .name = name };
	struct lb_config tmp;
	char line[LB_CONFIG_LINE_MAX + 1];
	const char *s = buf, *end = buf + len, *nl;
	size_t n;
	int r = 0;

	if (len > LB_CONFIG_FILE_MAX) {
		lb_cfg_problem_add(&p.pb, "%s: larger than %d bytes", name,
		    LB_CONFIG_FILE_MAX);
		return lb_cfg_problems_finish(&p.pb, -EINVAL, ret_problems,
		    err);
	}
	if (config_copy(cfg, &tmp) != 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	p.cfg = &tmp;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (s < end && r == 0) {
		nl = memchr(s, '\n', end - s);
		n = (nl != NULL ? nl : end) - s;
		p.line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > LB_CONFIG_LINE_MAX)
			PROBLEM(&p, "line too long (more than %d bytes)",
			    LB_CONFIG_LINE_MAX);
		else if (memchr(s, '\0', n) != NULL)
			PROBLEM(&p, "line contains a NUL byte");
		else {
			memcpy(line, s, n);
			line[n] = '\0';
			r = parse_line(&p, line);
		}
		s = nl != NULL ? nl + 1 : end;
	}
	explicit_bzero(line, sizeof(line));
	if (r == -ENOMEM)
		p.pb.oom = true;
	r = lb_cfg_problems_finish(&p.pb, -EINVAL, ret_problems, err);
	if (r != 0) {
		lb_config_release(&tmp);
		return r;
	}
	if (tmp.debug)
		tmp.log_level = LB_LOG_DEBUG;
	lb_config_release(cfg);
	*cfg = tmp;
	return 0;
}

int
lb_config_load_file(struct lb_config *cfg, const char *path,
    char **ret_problems, struct lb_err *err)
{
	struct problems pb = { 0 };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t got;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		lb_cfg_problem_add(&pb, "%s: cannot open: %s", path,
		    strerror(-r));
		return lb_cfg_problems_finish(&pb, r, ret_problems, err);
	}
	/* read at most one byte past the limit, to tell that it is over */
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			char *nbuf;

			if (ncap > LB_CONFIG_FILE_MAX + 1)
				ncap = LB_CONFIG_FILE_MAX + 1;
			if (ncap == cap)
				break;
			nbuf = realloc(buf, ncap);
			if (nbuf == NULL) {
				r = lb_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			lb_cfg_problem_add(&pb, "%s: cannot read: %s", path,
			    strerror(-r));
			r = lb_cfg_problems_finish(&pb, r, ret_problems, err);
			goto out;
		}
		if (got == 0)
			break;
		len += got;
	}
	r = lb_config_load_buffer(cfg, path, buf, len, ret_problems, err);
out:
	close(fd);
	if (buf != NULL)
		explicit_bzero(buf, cap);
	free(buf);
	return r;
}
