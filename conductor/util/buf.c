/*
 * buf.c - growable buffer.  Any thread (one buffer per thread).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

void
lb_buf_init(struct lb_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
lb_buf_init_secret(struct lb_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->secret = true;
}

void
lb_buf_release(struct lb_buf *b)
{
	bool secret = b->secret;

	if (secret && b->data != NULL)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	lb_buf_init(b);
	b->secret = secret;
}

char *
lb_buf_steal(struct lb_buf *b, size_t *ret_len)
{
	char *data;

	lb_buf_addc(b, '\0');
	if (b->failed) {
		lb_buf_release(b);
		return NULL;
	}
	data = b->data;
	if (ret_len != NULL)
		*ret_len = b->len - 1;
	b->data = NULL;
	lb_buf_release(b);
	return data;
}

bool
lb_buf_failed(const struct lb_buf *b)
{
	return b->failed;
}

static bool
buf_reserve(struct lb_buf *b, size_t extra)
{
	size_t cap;
	char *data;

	if (b->failed)
		return false;
	if (b->len + extra <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	if (b->secret) {
		/* realloc would free the old block as it is */
		data = malloc(cap);
		if (data != NULL && b->data != NULL) {
			memcpy(data, b->data, b->len);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
	} else {
		data = realloc(b->data, cap);
	}
	if (data == NULL) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void
lb_buf_add(struct lb_buf *b, const void *data, size_t len)
{
	if (len == 0 || !buf_reserve(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void
lb_buf_adds(struct lb_buf *b, const char *s)
{
	lb_buf_add(b, s, strlen(s));
}

void
lb_buf_addc(struct lb_buf *b, char c)
{
	if (!buf_reserve(b, 1))
		return;
	b->data[b->len++] = c;
}

void
lb_buf_addf(struct lb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

void
lb_buf_add_json_string(struct lb_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	const char *run;

	if (s == NULL) {
		lb_buf_add(b, "null", 4);
		return;
	}
	lb_buf_addc(b, '"');
	run = s;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		char esc[6];
		size_t n = 2;

		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		lb_buf_add(b, run, (const char *)p - run);
		esc[0] = '\\';
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			lb_buf_add(b, esc, 2);
			lb_buf_add(b, "00", 2);
			esc[0] = hex[*p >> 4];
			esc[1] = hex[*p & 0xf];
			break;
		}
		lb_buf_add(b, esc, n);
		run = (const char *)p + 1;
	}
	lb_buf_add(b, run, (const char *)p - run);
	lb_buf_addc(b, '"');
}
