/*
 * console_capture.c - a node's console capture log: Serial-over-LAN bytes
 * gathered into lines, secrets redacted, appended to <uuid>.log, rotated
 * to <uuid>.log.1 at the size bound; and the cleaned tail operators and
 * last_error read.  Feeding runs on the console's poll-loop thread; open,
 * tail and remove on conductor worker threads (the console lock keeps a
 * rotation from running under a tail).
 */
#include "console/capture.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor/util/banned.h"

/* Keys whose values are never written (kernel command lines, agent logs). */
static const char *const secret_words[] = {
	"token", "password", "passwd", "secret",
};

struct lb_capture {
	int fd;
	char path[PATH_MAX];
	char old_path[PATH_MAX];
	size_t size;			/* bytes in the current file */
	size_t max_size;
	char line[LB_CAPTURE_LINE_MAX];
	size_t len;
	bool cut;			/* dropping the rest of a long line */
};

static int
capture_paths(const char *dir, const char *uuid, char *path, char *old_path)
{
	int n = snprintf(path, PATH_MAX, "%s/%s.log", dir, uuid);
	int m = snprintf(old_path, PATH_MAX, "%s/%s.log.1", dir, uuid);

	return n < 0 || n >= PATH_MAX || m < 0 || m >= PATH_MAX ?
	    -ENAMETOOLONG : 0;
}

static int
open_log(const char *path, bool append)
{
	int fd = open(path, O_WRONLY | O_CREAT | (append ? 0 : O_TRUNC) |
	    O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

	/* A file left by an older umask or by hand is made private too. */
	if (fd >= 0 && fchmod(fd, 0600) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
lb_capture_open(const char *dir, const char *uuid, size_t max_size,
    bool resume, struct lb_capture **ret, struct lb_err *err)
{
	struct lb_capture *cap;
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return lb_err_set(err, -errno, "cannot create console log "
		    "directory '%s': %s", dir, strerror(errno));
	cap = calloc(1, sizeof(*cap));
	if (cap == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	if (capture_paths(dir, uuid, cap->path, cap->old_path) < 0) {
		free(cap);
		return lb_err_set(err, -ENAMETOOLONG, "console log directory "
		    "'%s' is too long", dir);
	}
	cap->fd = open_log(cap->path, resume);
	if (cap->fd < 0) {
		int e = errno;

		free(cap);
		return lb_err_set(err, -e, "cannot open console log '%s/%s."
		    "log': %s", dir, uuid, strerror(e));
	}
	if (!resume)
		unlink(cap->old_path);
	else if (fstat(cap->fd, &st) == 0)
		cap->size = (size_t)st.st_size;
	cap->max_size = max_size;
	*ret = cap;
	return 0;
}

static bool
key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static bool
secret_key(const char *key, size_t len)
{
	for (size_t w = 0; w < sizeof(secret_words) / sizeof(*secret_words);
	    w++) {
		size_t wl = strlen(secret_words[w]);

		for (size_t i = 0; i + wl <= len; i++)
			if (strncasecmp(key + i, secret_words[w], wl) == 0)
				return true;
	}
	return false;
}

/* Where the value starting at 'v' ends: its closing quote, or a blank. */
static size_t
value_end(const char *line, size_t v, size_t len)
{
	size_t i = v;

	if (i < len && (line[i] == '"' || line[i] == '\'')) {
		char q = line[i];

		for (i++; i < len && line[i] != q; i++)
			;
		return i < len ? i + 1 : len;
	}
	while (i < len && line[i] != ' ' && line[i] != '\t')
		i++;
	return i;
}

size_t
lb_capture_redact(const char *line, size_t len, char *out, size_t size)
{
	size_t o = 0, i = 0, k;

	if (size == 0)
		return 0;
	while (i < len && o + 1 < size) {
		out[o++] = line[i];
		if (line[i] != '=') {
			i++;
			continue;
		}
		for (k = i; k > 0 && key_char(line[k - 1]); k--)
			;
		i++;
		if (!secret_key(line + k, i - 1 - k))
			continue;
		for (const char *m = "***"; *m != '\0' && o + 1 < size; m++)
			out[o++] = *m;
		i = value_end(line, i, len);
	}
	out[o] = '\0';
	return o;
}

static void
rotate(struct lb_capture *cap)
{
	close(cap->fd);
	if (rename(cap->path, cap->old_path) < 0)
		unlink(cap->path);
	cap->fd = open_log(cap->path, false);
	cap->size = 0;
}

static void
write_line(struct lb_capture *cap)
{
	char out[2 * LB_CAPTURE_LINE_MAX + 2];
	size_t n = lb_capture_redact(cap->line, cap->len, out,
	    sizeof(out) - 1);
	ssize_t w;

	out[n++] = '\n';
	cap->len = 0;
	if (cap->size > 0 && cap->size + n > cap->max_size)
		rotate(cap);
	if (cap->fd < 0)
		return;
	w = write(cap->fd, out, n);
	if (w > 0)
		cap->size += (size_t)w;
	explicit_bzero(out, sizeof(out));
}

void
lb_capture_feed(struct lb_capture *cap, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (!cap->cut || cap->len > 0)
				write_line(cap);
			cap->cut = false;
			continue;
		}
		/* CR of CRLF, and the NULs keepalives and terminals send */
		if (c == '\r' || c == '\0' || cap->cut)
			continue;
		if (cap->len == sizeof(cap->line)) {
			write_line(cap);
			cap->cut = true;
			continue;
		}
		cap->line[cap->len++] = c;
	}
}

void
lb_capture_close(struct lb_capture *cap)
{
	if (cap == NULL)
		return;
	if (cap->len > 0)
		write_line(cap);
	if (cap->fd >= 0)
		close(cap->fd);
	explicit_bzero(cap->line, sizeof(cap->line));
	free(cap);
}

int
lb_capture_remove(const char *dir, const char *uuid)
{
	char path[PATH_MAX], old_path[PATH_MAX];
	int r = 0;

	if (capture_paths(dir, uuid, path, old_path) < 0)
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT)
		r = -errno;
	if (unlink(old_path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

/*
 * Appends the last 'window' bytes of 'path' to buf at *len (a partial
 * first line dropped); a missing file adds nothing.
 */
static int
read_window(const char *path, char *buf, size_t *len, size_t window)
{
	struct stat st;
	off_t from;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EIO;
	}
	from = st.st_size > (off_t)window ? st.st_size - (off_t)window : 0;
	while (got < window && (n = pread(fd, buf + *len + got, window - got,
	    from + (off_t)got)) > 0)
		got += (size_t)n;
	close(fd);
	if (from > 0) {
		char *nl = memchr(buf + *len, '\n', got);
		size_t skip = nl != NULL ? (size_t)(nl - (buf + *len)) + 1 :
		    got;

		memmove(buf + *len, buf + *len + skip, got - skip);
		got -= skip;
	}
	*len += got;
	return 0;
}

/* Drops ANSI escape sequences and control characters, in place. */
static size_t
clean_line(char *s, size_t len)
{
	size_t o = 0, i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i++];

		if (c == 0x1b) {
			if (i < len && s[i] == '[') {
				/* CSI: parameters, then a final byte */
				for (i++; i < len && (s[i] < 0x40 ||
				    s[i] > 0x7e); i++)
					;
				i++;
			} else if (i < len && s[i] == ']') {
				/* OSC: up to BEL or ESC \ */
				while (i < len && s[i] != 0x07 && s[i] != 0x1b)
					i++;
				i += i < len && s[i] == 0x1b ? 2 : 1;
			} else {
				i++;
			}
			continue;
		}
		if (c == '\t')
			s[o++] = ' ';
		else if (c >= 0x20 && c != 0x7f)
			s[o++] = (char)c;
	}
	return o;
}

/* The last 'lines' lines of buf[0..len), each cleaned, malloc'd. */
static char *
last_lines(char *buf, size_t len, unsigned int lines)
{
	size_t start, count = 0, o = 0;
	char *out;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (lines == 0)
		len = 0;
	for (start = len; start > 0; start--)
		if (buf[start - 1] == '\n' && ++count == lines)
			break;
	out = malloc(len - start + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = start; i < len; ) {
		char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - buf) : len;

		o += clean_line(memcpy(out + o, buf + i, end - i), end - i);
		if (nl != NULL)
			out[o++] = '\n';
		i = end + 1;
	}
	out[o] = '\0';
	return out;
}

int
lb_capture_tail(const char *dir, const char *uuid, unsigned int lines,
    char **ret, struct lb_err *err)
{
	char path[PATH_MAX], old_path[PATH_MAX];
	size_t window = (size_t)lines * (2 * LB_CAPTURE_LINE_MAX + 2) + 1;
	size_t len = 0, nl = 0;
	char *buf;
	int r;

	if (capture_paths(dir, uuid, path, old_path) < 0)
		return lb_err_set(err, -ENAMETOOLONG, "console log directory "
		    "'%s' is too long", dir);
	buf = malloc(2 * window + 1);
	if (buf == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = read_window(path, buf, &len, window);
	for (size_t i = 0; i < len; i++)
		nl += buf[i] == '\n';
	if (r == 0 && nl < lines) {
		/* the rotated file first, then the current one after it */
		size_t cur = len;

		memmove(buf + window, buf, cur);
		len = 0;
		r = read_window(old_path, buf, &len, window);
		memmove(buf + len, buf + window, cur);
		len += cur;
	}
	if (r < 0) {
		free(buf);
		return lb_err_set(err, r, "cannot read console log '%s': %s",
		    path, strerror(-r));
	}
	*ret = last_lines(buf, len, lines);
	free(buf);
	return *ret != NULL ? 0 : lb_err_set(err, -ENOMEM, "out of memory");
}
