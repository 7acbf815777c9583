/*
 * err.h - the caller-owned error every fallible lifeboat call fills in.
 *
 * Functions return 0 (or a count) on success and a negative errno on failure;
 * the message in struct lb_err is safe to show to an API client.  The API maps
 * the errno to an HTTP status in exactly one place (lb_err_http_status()).
 * Any thread.
 */
#ifndef LB_ERR_H
#define LB_ERR_H

#include <errno.h>
#include <stddef.h>

#define LB_ERR_MSG_MAX 1024

struct lb_err {
	char msg[LB_ERR_MSG_MAX];
};

/*
 * Sets the message and returns 'negerrno' (a negative errno), so that a
 * failure reads as: return lb_err_set(err, -EINVAL, "bad MAC '%s'", mac);
 * 'err' may be NULL.
 */
int lb_err_set(struct lb_err *err, int negerrno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * errno -> HTTP status, the only such table in lifeboat:
 * EINVAL 400, EACCES 401, EPERM 403, ENOENT 404, ENOSYS 405 (method),
 * ENOTSUP/EOPNOTSUPP 406, EMSGSIZE/E2BIG 413, EEXIST/EBUSY 409, EAGAIN 503, anything else 500.
 */
int lb_err_http_status(int negerrno);

#endif
