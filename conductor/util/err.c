/*
 * err.c - error messages and the errno -> HTTP status map.  Any thread.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

#include "conductor/util/banned.h"

int
lb_err_set(struct lb_err *err, int negerrno, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return negerrno;
}

int
lb_err_http_status(int negerrno)
{
	switch (-negerrno) {
	case EINVAL:
		return 400;
	case EACCES:
		return 401;
	case EPERM:
		return 403;
	case ENOENT:
		return 404;
	case ENOSYS:
		return 405;
	case ENOTSUP:
		return 406;
	case EEXIST:
	case EBUSY:
		return 409;
	case EMSGSIZE:
	case E2BIG:
		return 413;
	case EAGAIN:
	case ENOSPC:	/* the store's disk: see sq_db_error() */
		return 503;
	default:
		return 500;
	}
}
