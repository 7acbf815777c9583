/*
 * htpasswd.h - HTTP basic authentication against an Apache htpasswd file of
 * bcrypt entries, as Ironic's auth_strategy = http_basic does.  Loaded once
 * on the main thread; checks run on any API thread at the same time.
 */
#ifndef LB_HTPASSWD_H
#define LB_HTPASSWD_H

#include "conductor/util/err.h"

/* Longest Authorization header value looked at. */
#define LB_HTPASSWD_HEADER_MAX 4096
/* Largest htpasswd file accepted. */
#define LB_HTPASSWD_FILE_MAX (1024 * 1024)

struct lb_htpasswd;

/*
 * Reads 'path': one "user:hash" per line, the hash bcrypt ($2y$, $2b$ or
 * $2a$, as `htpasswd -B` writes); blank lines and lines starting with '#'
 * are skipped.  Returns 0 and *ret, or -ENOENT/-EACCES/... if the file cannot
 * be read, -EINVAL naming the line for a malformed or non-bcrypt entry, a
 * user listed twice, or a file without users, -ENOMEM.
 */
int lb_htpasswd_load(const char *path, struct lb_htpasswd **ret,
    struct lb_err *err);
void lb_htpasswd_free(struct lb_htpasswd *h);

/*
 * Checks an "Authorization" header value ("Basic base64(user:password)",
 * NULL when the request had none).  Returns 0 if the user is in the file and
 * the password matches, -EACCES if not, -ENOMEM.  Takes as long for an
 * unknown user as for a wrong password.  Thread-safe.
 */
int lb_htpasswd_check_header(const struct lb_htpasswd *h,
    const char *authorization);

#endif
