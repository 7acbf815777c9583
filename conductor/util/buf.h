/*
 * buf.h - a growable byte buffer for rendering replies and reading request
 * bodies, with JSON string escaping.  Allocation failure is sticky: the
 * buffer stops growing and lb_buf_failed() says so once at the end.  A
 * secret buffer zeroes every block it lets go of.  Any thread (not shared).
 */
#ifndef LB_BUF_H
#define LB_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct lb_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
	bool secret;		/* zero memory before it is freed */
};

void lb_buf_init(struct lb_buf *b);
/*
 * A buffer for bytes that may hold a password (request bodies): growing
 * copies into a new block and zeroes the old one, release zeroes all of it.
 * Stealing hands the data over unwiped: the new owner wipes it.
 */
void lb_buf_init_secret(struct lb_buf *b);
void lb_buf_release(struct lb_buf *b);
/* Hands the NUL-terminated data to the caller (who frees it); b is reset. */
char *lb_buf_steal(struct lb_buf *b, size_t *ret_len);
bool lb_buf_failed(const struct lb_buf *b);

void lb_buf_add(struct lb_buf *b, const void *data, size_t len);
void lb_buf_adds(struct lb_buf *b, const char *s);
void lb_buf_addc(struct lb_buf *b, char c);
void lb_buf_addf(struct lb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string, or null when s is NULL. */
void lb_buf_add_json_string(struct lb_buf *b, const char *s);

#endif
