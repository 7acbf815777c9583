/*
 * htpasswd.h - HTTP basic authentication against an Apache htpasswd file of
 * bcrypt entries, as Ironic's auth_strategy = http_basic does.  Loaded once
 * on the main thread; checks run on any API thread at the same time.
 */
#ifndef LB_HTPASSWD_H
#define LB_HTPASSWD_H

#include <stddef.h>
#include <stdint.h>

#include "conductor/util/err.h"

/* Longest Authorization header value looked at. */
#define LB_HTPASSWD_HEADER_MAX 4096
/* Largest htpasswd file accepted. */
#define LB_HTPASSWD_FILE_MAX (1024 * 1024)
/* Seconds a credential bcrypt accepted is taken without another run. */
#define LB_HTPASSWD_CACHE_SECONDS 60
/* Failed bcrypt runs one source may cost per window of so many seconds. */
#define LB_HTPASSWD_FAIL_MAX 5
#define LB_HTPASSWD_FAIL_WINDOW 10

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
 * NULL when the request had none) sent from 'source' (the client's address
 * as text, NULL: not known).  Returns 0 if the user is in the file and the
 * password matches, -EACCES if not, -ENOMEM.  Takes as long for an unknown
 * user as for a wrong password.  A credential bcrypt accepted is
 * remembered (as a salted hash, never the password) for
 * LB_HTPASSWD_CACHE_SECONDS and then needs no bcrypt run; a source whose
 * credentials failed LB_HTPASSWD_FAIL_MAX times within
 * LB_HTPASSWD_FAIL_WINDOW seconds gets -EACCES without a run until the
 * window ends.  Thread-safe.
 */
int lb_htpasswd_check(const struct lb_htpasswd *h, const char *authorization,
    const char *source);
/* The same at 'now', monotonic seconds (> 0), for tests. */
int lb_htpasswd_check_at(const struct lb_htpasswd *h,
    const char *authorization, const char *source, uint64_t now);
/* lb_htpasswd_check() from an unknown source. */
int lb_htpasswd_check_header(const struct lb_htpasswd *h,
    const char *authorization);
/*
 * The user name of a "Basic" header value (call it once the check passed)
 * into out (cut to 'size'); -EINVAL for anything else.  The password is
 * wiped from the buffer it was decoded into.
 */
int lb_htpasswd_user(const char *authorization, char *out, size_t size);
/* bcrypt runs so far (for tests and debugging). */
unsigned long lb_htpasswd_bcrypt_runs(const struct lb_htpasswd *h);

#endif
